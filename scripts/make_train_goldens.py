"""Training-parity goldens: FlagEmbedding's M3 loss and gradients on the tiny M3 checkpoint.

FlagEmbedding needs transformers<5, so it runs in its own environment::

    python -m venv .venv-ref
    .venv-ref/bin/pip install torch==2.13.0 'transformers<5' FlagEmbedding
    .venv-ref/bin/python scripts/make_train_goldens.py

For one fixed batch (3 queries, groups of 3 passages) and three settings (hard labels with
self-distillation; teacher scores with ``m3_kd_loss``; teacher scores with ``kl_div``), it runs
``EncoderOnlyEmbedderM3Model.forward`` in training mode (dropout off, so that the run is
deterministic), back-propagates, and writes the token ids, the loss and every parameter's
gradient to ``tests/fixtures/tiny-m3-train-goldens.npz``; ``tests/train/test_parity.py`` must
match them to 1e-5.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from FlagEmbedding.finetune.embedder.encoder_only.m3.modeling import EncoderOnlyEmbedderM3Model
from transformers import AutoModel, AutoTokenizer

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "tests" / "fixtures" / "tiny-m3"
OUT = ROOT / "tests" / "fixtures" / "tiny-m3-train-goldens.npz"

QUERIES = ["Wie hoch ist der Mount Everest?", "Какая самая длинная река в мире?", "珠穆朗玛峰有多高？"]
PASSAGES = [
    ["Der Mount Everest ist mit 8848 Metern der höchste Berg der Erde.", "Der Nil fließt durch Ägypten.",
     "Canberra ist die Hauptstadt Australiens."],
    ["Нил — самая длинная река в мире, её длина 6650 км.", "Эверест — высочайшая гора.", "Волга впадает в Каспий."],
    ["珠穆朗玛峰海拔8848米，是世界最高峰。", "长江是中国最长的河流。", "北京是中国的首都。"],
]
TEACHER = [[3.0, 0.5, -1.0], [2.0, 1.0, 0.0], [4.0, -2.0, 1.0]]
SETTINGS = {
    "hard": {"teacher": False, "kd_loss_type": "m3_kd_loss"},
    "m3_kd_loss": {"teacher": True, "kd_loss_type": "m3_kd_loss"},
    "kl_div": {"teacher": True, "kd_loss_type": "kl_div"},
}


def build(kd_loss_type: str) -> EncoderOnlyEmbedderM3Model:
    tokenizer = AutoTokenizer.from_pretrained(str(MODEL))
    backbone = AutoModel.from_pretrained(str(MODEL), hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                                         add_pooling_layer=False, torch_dtype=torch.float32)
    hidden = backbone.config.hidden_size
    colbert = torch.nn.Linear(hidden, hidden)
    colbert.load_state_dict(torch.load(MODEL / "colbert_linear.pt", map_location="cpu"))
    sparse = torch.nn.Linear(hidden, 1)
    sparse.load_state_dict(torch.load(MODEL / "sparse_linear.pt", map_location="cpu"))
    model = EncoderOnlyEmbedderM3Model(
        {"model": backbone, "colbert_linear": colbert, "sparse_linear": sparse}, tokenizer=tokenizer,
        temperature=0.02, kd_loss_type=kd_loss_type, sentence_pooling_method="cls", normalize_embeddings=True,
        unified_finetuning=True, use_self_distill=True, self_distill_start_step=-1,
    )
    return model.train()


def main() -> None:
    tokenizer = AutoTokenizer.from_pretrained(str(MODEL))
    q = tokenizer(QUERIES, padding=True, truncation=True, max_length=32, return_tensors="pt")
    flat = [p for group in PASSAGES for p in group]
    p = tokenizer(flat, padding=True, truncation=True, max_length=64, return_tensors="pt")
    arrays: dict[str, np.ndarray] = {
        "query_ids": q["input_ids"].numpy(), "query_mask": q["attention_mask"].numpy(),
        "passage_ids": p["input_ids"].numpy(), "passage_mask": p["attention_mask"].numpy(),
        "teacher": np.array(TEACHER, dtype=np.float32),
        "queries": np.array(QUERIES), "passages": np.array(flat),
    }
    names: dict[str, list[str]] = {}
    for setting, options in SETTINGS.items():
        torch.manual_seed(0)
        model = build(options["kd_loss_type"])
        teacher = [s for row in TEACHER for s in row] if options["teacher"] else None
        features_q = {"input_ids": q["input_ids"], "attention_mask": q["attention_mask"]}
        features_p = {"input_ids": p["input_ids"], "attention_mask": p["attention_mask"]}
        out = model(features_q, features_p, teacher_scores=teacher)
        out.loss.backward()
        arrays[f"{setting}/loss"] = np.array(out.loss.item(), dtype=np.float64)
        names[setting] = []
        for name, parameter in model.named_parameters():
            key = name.replace("model.", "network.backbone.", 1) if name.startswith("model.") else f"network.{name}"
            names[setting].append(key)
            arrays[f"{setting}/grad/{key}"] = parameter.grad.detach().numpy().astype(np.float32)
    np.savez_compressed(OUT, **arrays)
    print(json.dumps({s: float(arrays[f"{s}/loss"]) for s in SETTINGS}), f"-> {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
