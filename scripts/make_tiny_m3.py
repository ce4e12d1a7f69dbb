"""Build the tiny BGE-M3-layout checkpoint kept in ``tests/fixtures/tiny-m3``.

An XLM-RoBERTa-shaped model (2 layers, hidden 32) with random weights, a 5,000-piece unigram
tokenizer trained on XQuAD questions in 12 languages, and ``colbert_linear.pt`` /
``sparse_linear.pt`` beside it: the layout of BAAI/bge-m3, a few hundred KB in size. The
parity goldens (``scripts/make_parity_goldens.py``) are computed on it by FlagEmbedding.

Run once; the output is committed. Usage: python scripts/make_tiny_m3.py [SHARED_DATA_DIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaModel

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "tiny-m3"
LANGS = ["ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh"]
SPECIAL = ["<s>", "<pad>", "</s>", "<unk>"]


def questions(data_dir: Path) -> list[str]:
    texts = []
    for lang in LANGS:
        squad = json.loads((data_dir / "raw" / "xquad" / f"xquad.{lang}.json").read_text())
        for article in squad["data"]:
            for paragraph in article["paragraphs"]:
                texts.extend(qa["question"] for qa in paragraph["qas"])
    return texts


def train_tokenizer(texts: list[str]) -> Tokenizer:
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(" {2,}", " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(vocab_size=5000, special_tokens=SPECIAL, unk_token="<unk>", shrinking_factor=0.75)
    tok.train_from_iterator(texts, trainer)
    tok.add_special_tokens(["<mask>"])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    return tok


def main() -> None:
    data_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data"
    OUT.mkdir(parents=True, exist_ok=True)
    tok = train_tokenizer(questions(data_dir))
    assert [tok.token_to_id(t) for t in SPECIAL] == [0, 1, 2, 3], "special tokens must take ids 0-3 as in XLM-R"
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", cls_token="<s>", sep_token="</s>",
        pad_token="<pad>", unk_token="<unk>", mask_token="<mask>", model_max_length=512,
    )
    fast.save_pretrained(str(OUT))
    # a class name both transformers 4 (FlagEmbedding's) and 5 resolve
    tok_config_file = OUT / "tokenizer_config.json"
    tok_config = json.loads(tok_config_file.read_text())
    tok_config.pop("backend", None)
    tok_config["tokenizer_class"] = "PreTrainedTokenizerFast"
    tok_config_file.write_text(json.dumps(tok_config, indent=2))
    torch.manual_seed(0)
    config = XLMRobertaConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=514, pad_token_id=1, bos_token_id=0, eos_token_id=2,
        type_vocab_size=1,
    )
    model = XLMRobertaModel(config, add_pooling_layer=False)
    model.save_pretrained(str(OUT), safe_serialization=True)
    colbert = torch.nn.Linear(32, 32)
    sparse = torch.nn.Linear(32, 1)
    torch.save(colbert.state_dict(), OUT / "colbert_linear.pt")
    torch.save(sparse.state_dict(), OUT / "sparse_linear.pt")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
