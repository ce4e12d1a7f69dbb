"""Regenerate the parity goldens: FlagEmbedding's outputs on the tiny M3 checkpoint.

FlagEmbedding needs transformers<5, so it runs in its own environment::

    python -m venv .venv-ref
    .venv-ref/bin/pip install torch==2.13.0 'transformers<5' FlagEmbedding
    .venv-ref/bin/python scripts/make_parity_goldens.py

It writes ``tests/fixtures/tiny-m3-goldens.json``, which ``tests/model/test_parity.py`` reads.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from FlagEmbedding import BGEM3FlagModel

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "tests" / "fixtures" / "tiny-m3"
OUT = ROOT / "tests" / "fixtures" / "tiny-m3-goldens.json"

QUERIES = [
    "Wie hoch ist der Mount Everest?",
    "What is the capital of Australia?",
    "Какая самая длинная река в мире?",
    "珠穆朗玛峰有多高？",
    "ما هي عاصمة مصر؟",
    "भारत की राजधानी क्या है?",
]
PASSAGES = [
    "Der Mount Everest ist mit 8848 Metern der höchste Berg der Erde.",
    "Canberra is the capital city of Australia, chosen as a compromise between Sydney and Melbourne.",
    "Нил — самая длинная река в мире, её длина около 6650 километров.",
    "珠穆朗玛峰是世界最高峰，海拔8848米。",
    "القاهرة هي عاصمة جمهورية مصر العربية وأكبر مدنها.",
    "नई दिल्ली भारत की राजधानी है। यह दिल्ली राष्ट्रीय राजधानी क्षेत्र का हिस्सा है।",
    "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας. ",
    "ประเทศไทยมีกรุงเทพมหานครเป็นเมืองหลวง",
]
TRUNCATE_TO = 8


def encoded(model: BGEM3FlagModel, texts: list[str], max_length: int) -> dict:
    out = model.encode(
        texts, batch_size=4, max_length=max_length, return_dense=True, return_sparse=True, return_colbert_vecs=True
    )
    return {
        "dense": np.asarray(out["dense_vecs"], dtype=np.float64).tolist(),
        "lexical_weights": [{k: float(v) for k, v in lw.items()} for lw in out["lexical_weights"]],
        "colbert": [np.asarray(c, dtype=np.float64).tolist() for c in out["colbert_vecs"]],
        "_raw": out,
    }


def main() -> None:
    model = BGEM3FlagModel(str(MODEL), use_fp16=False, devices="cpu", normalize_embeddings=True)
    queries = encoded(model, QUERIES, 512)
    passages = encoded(model, PASSAGES, 512)
    truncated = encoded(model, PASSAGES, TRUNCATE_TO)
    lexical = model.compute_lexical_matching_score(
        queries["_raw"]["lexical_weights"], passages["_raw"]["lexical_weights"]
    )
    colbert = [
        [float(model.colbert_score(q, p)) for p in passages["_raw"]["colbert_vecs"]]
        for q in queries["_raw"]["colbert_vecs"]
    ]
    pairs = [[q, p] for q, p in zip(QUERIES, PASSAGES)]
    compute_score = {}
    for weights in ([0.4, 0.2, 0.4], [1.0, 0.3, 1.0]):
        result = model.compute_score(pairs, max_passage_length=512, weights_for_different_modes=weights)
        compute_score[json.dumps(weights)] = {k: [float(x) for x in v] for k, v in result.items()}
    for part in (queries, passages, truncated):
        del part["_raw"]
    golden = {
        "model": "tests/fixtures/tiny-m3",
        "queries": QUERIES,
        "passages": PASSAGES,
        "truncate_to": TRUNCATE_TO,
        "encode_queries": queries,
        "encode_passages": passages,
        "encode_passages_truncated": truncated,
        "lexical_matching_score": np.asarray(lexical, dtype=np.float64).tolist(),
        "colbert_score": colbert,
        "pairs": pairs,
        "compute_score": compute_score,
    }
    OUT.write_text(json.dumps(golden))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
