#!/usr/bin/env bash
# Train a compact (nested 128/64/32) multi-vector head for multilingual-e5-small on CPU, distilled
# from the shipped heads (the teacher) on the same training data as they were trained on.
#   bash scripts/train_compact_heads.sh [WORK_DIR]   (default: ~/.cache/m3search/heads-run)
# The training mix, the mined negatives and the cached token states are those of
# scripts/train_offline_heads.sh (made here when missing); the encoder and the shipped dense and
# sparse outputs stay as they are. Optional: DIMS="128 64 32", EPOCHS=1, LR=5e-4, SOURCE_WEIGHTS=
# (e.g. "sib200=2": the cross-lingual groups drawn twice an epoch) and COMPACT_OUT (the output
# folder; by default compact-WIDTHS, with the weights in its name when given).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-${M3SEARCH_CACHE:-$HOME/.cache/m3search}/heads-run}"
DIMS="${DIMS:-128 64 32}"
EPOCHS="${EPOCHS:-1}"
LR="${LR:-5e-4}"
SOURCE_WEIGHTS="${SOURCE_WEIGHTS:-}"
WEIGHTED="${SOURCE_WEIGHTS:+-w${SOURCE_WEIGHTS//[ =]/-}}"
COMPACT_OUT="${COMPACT_OUT:-$WORK/compact-${DIMS// /-}$WEIGHTED}"
SKIP_TRAIN=1 bash scripts/train_offline_heads.sh "$WORK"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
# shellcheck disable=SC2086  # DIMS is a list of widths
.venv/bin/m3search train --train-data "$WORK/mined.jsonl" --output-dir "$COMPACT_OUT" \
    --model multilingual-e5-small --freeze-encoder true --cache-states true --compact-colbert $DIMS \
    --cache-dir "$WORK/states" --epochs "$EPOCHS" --batch-size 16 --group-size 8 --query-max-len 64 \
    --passage-max-len 256 --learning-rate "$LR" --warmup-ratio 0.1 --temperature 0.02 \
    --same-source true --seed 0 --logging-steps 10 --device cpu \
    ${SOURCE_WEIGHTS:+--source-weights $SOURCE_WEIGHTS}
