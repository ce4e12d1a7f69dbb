"""Build two seeded tiny cross-encoders and FlagEmbedding's scores on them (the reranker goldens).

No package ships real multilingual cross-encoder weights offline, so parity is checked on
classifiers made here: ``tiny-reranker`` has the bge-reranker-v2-m3 layout (XLM-R sequence
classification, one logit; the tiny M3 checkpoint's tokenizer) and ``tiny-bert-reranker`` a
plain Hugging Face BERT cross-encoder (WordPiece, token types). FlagEmbedding needs
transformers<5, so this runs in the reference environment::

    .venv-ref/bin/python scripts/make_tiny_rerankers.py

It writes ``tests/fixtures/tiny-reranker/``, ``tests/fixtures/tiny-bert-reranker/`` and
``tests/fixtures/reranker-goldens.json`` (FlagReranker.compute_score at two lengths, raw and
normalised), which ``tests/rerank/test_parity.py`` reads.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from FlagEmbedding import FlagReranker
from tokenizers import BertWordPieceTokenizer
from tokenizers.processors import TemplateProcessing
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    XLMRobertaConfig,
    XLMRobertaForSequenceClassification,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
LONG = " ".join(["The Nile flows north through eleven countries before it reaches the Mediterranean Sea."] * 20)
PAIRS = [
    ["Wie hoch ist der Mount Everest?", "Der Mount Everest ist mit 8848 Metern der höchste Berg der Erde."],
    ["Wie hoch ist der Mount Everest?", "Canberra is the capital city of Australia."],
    ["What is the capital of Australia?", "Canberra is the capital city of Australia, chosen as a compromise."],
    ["Какая самая длинная река в мире?", "Нил — самая длинная река в мире, её длина около 6650 километров."],
    ["珠穆朗玛峰有多高？", "珠穆朗玛峰是世界最高峰，海拔8848米。"],
    ["ما هي عاصمة مصر؟", "القاهرة هي عاصمة جمهورية مصر العربية وأكبر مدنها."],
    ["Which river flows north into the Mediterranean? " * 6, LONG],
    ["Nile", LONG],
]
LENGTHS = (512, 32)


def build_xlmr(target: Path) -> None:
    base = json.loads((FIXTURES / "tiny-m3" / "config.json").read_text())
    keep = {k: base[k] for k in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                 "intermediate_size", "max_position_embeddings", "type_vocab_size", "pad_token_id",
                                 "bos_token_id", "eos_token_id", "layer_norm_eps")}
    torch.manual_seed(0)
    model = XLMRobertaForSequenceClassification(XLMRobertaConfig(**keep, num_labels=1, initializer_range=0.2))
    model.save_pretrained(target, safe_serialization=True)
    shutil.copy(FIXTURES / "tiny-m3" / "tokenizer.json", target / "tokenizer.json")
    config = json.loads((FIXTURES / "tiny-m3" / "tokenizer_config.json").read_text())
    # as bge-reranker-v2-m3's: an XLM-R tokenizer passes no token types
    (target / "tokenizer_config.json").write_text(json.dumps({**config, "tokenizer_class": "XLMRobertaTokenizerFast"},
                                                             indent=2))


def build_bert(target: Path) -> None:
    tokenizer = BertWordPieceTokenizer(lowercase=True)
    texts = [t for pair in PAIRS for t in pair] * 3
    tokenizer.train_from_iterator(texts, vocab_size=400, min_frequency=1)
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = TemplateProcessing(  # the pair template a Hugging Face BERT tokenizer.json carries
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    target.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(target / "tokenizer.json"))
    (target / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "BertTokenizerFast", "do_lower_case": True, "model_max_length": 512,
        "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]",
    }, indent=2))
    torch.manual_seed(1)
    config = BertConfig(vocab_size=tokenizer.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512, type_vocab_size=2, num_labels=1,
                        initializer_range=0.2, pad_token_id=tokenizer.token_to_id("[PAD]"))
    BertForSequenceClassification(config).save_pretrained(target, safe_serialization=True)


def goldens(model_dir: Path) -> dict:
    reranker = FlagReranker(str(model_dir), use_fp16=False, devices="cpu")
    out = {}
    for length in LENGTHS:
        out[str(length)] = {
            "logits": reranker.compute_score(PAIRS, max_length=length, batch_size=3),
            "normalized": reranker.compute_score(PAIRS, max_length=length, batch_size=3, normalize=True),
        }
    return out


def main() -> None:
    built = {"tiny-reranker": build_xlmr, "tiny-bert-reranker": build_bert}
    result = {"pairs": PAIRS, "lengths": list(LENGTHS), "models": {}}
    for name, build in built.items():
        target = FIXTURES / name
        shutil.rmtree(target, ignore_errors=True)
        build(target)
        result["models"][name] = goldens(target)
    (FIXTURES / "reranker-goldens.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
    print("wrote", FIXTURES / "reranker-goldens.json")


if __name__ == "__main__":
    main()
