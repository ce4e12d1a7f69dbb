#!/usr/bin/env bash
# Reproduce the sparse and multi-vector heads shipped for multilingual-e5-small, on CPU.
# The encoder stays frozen (heads only), so dense retrieval is unchanged.
#   bash scripts/train_offline_heads.sh [WORK_DIR]   (default: ~/.cache/m3search/heads-run)
# Optional: SELF_DISTILL=false for the ablation without self-distillation; SIB_SENTENCES=0 EPOCHS=2
# for the same-language-QA-only variant tried for the sparse head (see docs/guide/train.md and the
# model card beside the heads, m3search/encode/checkpoints/heads/multilingual-e5-small/MODEL_CARD.md).
set -euo pipefail
cd "$(dirname "$0")/.."
M3=.venv/bin/m3search
WORK="${1:-${M3SEARCH_CACHE:-$HOME/.cache/m3search}/heads-run}"
SELF_DISTILL="${SELF_DISTILL:-true}"
SIB_SENTENCES="${SIB_SENTENCES:-100}"
EPOCHS="${EPOCHS:-1}"
mkdir -p "$WORK"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
# 1. The training mix: at most 2,000 questions per QA source, 100 SIB-200 sentences x 62 languages.
[ -s "$WORK/mix.jsonl" ] || $M3 data build-train --data ../shared/data -o "$WORK/mix.jsonl" \
    --max-per-source 2000 --sib-sentences "$SIB_SENTENCES" --seed 0
# 2. Hard negatives from e5-small's own dense ranking: 7 per query from ranks 2-100, 5% margin,
#    groups left short topped up with random passages of their own source.
[ -s "$WORK/mined.jsonl" ] || $M3 mine "$WORK/mix.jsonl" -o "$WORK/mined.jsonl" --model multilingual-e5-small \
    --heads none --negatives 7 --range 2-100 --relative-margin 0.05 --fill-random --seed 0
[ "${SKIP_TRAIN:-0}" = 1 ] && exit 0  # the data only (scripts/train_compact_heads.sh)
# 3. Heads only, on cached token states, from the baseline heads (identity multi-vector, uniform sparse).
$M3 train --train-data "$WORK/mined.jsonl" --output-dir "$WORK/model-sd-$SELF_DISTILL" \
    --model multilingual-e5-small --init-heads baseline --freeze-encoder true --cache-states true \
    --cache-dir "$WORK/states" --epochs "$EPOCHS" --batch-size 16 --group-size 8 --query-max-len 64 \
    --passage-max-len 256 --learning-rate 1e-4 --warmup-ratio 0.1 --temperature 0.02 \
    --self-distill "$SELF_DISTILL" --same-source true --seed 0 --logging-steps 10 --device cpu
