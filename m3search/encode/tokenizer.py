"""Text to token ids, thread-safe and without torch.

A checkpoint with a ``tokenizer.json`` is read by the ``tokenizers`` library directly (no
``transformers``, no torch); any other tokenizer is converted once through ``transformers``'
``AutoTokenizer``. Truncation is done per call on each text's own encoding rather than by
switching the shared tokenizer's truncation setting, so threads encoding with different
``max_length`` never see each other's settings. The result is what Hugging Face's
``tokenizer(text, truncation=True, max_length=n)`` gives: the content is cut to ``n`` minus
the special tokens, which are then added around it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError

#: Files besides ``tokenizer.json`` that describe a tokenizer and travel with it when saved.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
#: Files that hold a vocabulary: without one, ``transformers`` builds an empty tokenizer that maps
#: every word to the unknown token, so a checkpoint lacking all of them is refused.
VOCABULARY_FILES = ("tokenizer.json", "sentencepiece.bpe.model", "spiece.model", "tokenizer.model", "vocab.txt",
                    "vocab.json")
_SPECIAL_KEYS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")


class TextTokenizer:
    """A ``tokenizers.Tokenizer`` plus what the pipeline needs to know of it.

    >>> from pathlib import Path
    >>> tok = TextTokenizer.load(Path("tests/fixtures/tiny-m3"))   # doctest: +SKIP
    >>> tok.encode(["Everest"], max_length=512)                      # doctest: +SKIP
    [[0, ..., 2]]
    """

    def __init__(self, backend: Any, *, special_ids: Sequence[int], pad_id: int, source: Path | None = None,
                 hf_tokenizer: Any = None) -> None:
        backend.no_truncation()
        backend.no_padding()
        self.backend = backend
        self.special_ids = np.array(sorted({int(i) for i in special_ids}), dtype=np.int64)
        self.pad_id = int(pad_id)
        self.num_special_tokens = int(backend.post_processor.num_special_tokens_to_add(False)) \
            if backend.post_processor is not None else 0
        self._source = source
        self._hf_tokenizer = hf_tokenizer

    @classmethod
    def load(cls, path: Path) -> TextTokenizer:
        """Read the tokenizer of a checkpoint directory."""
        if (path / "tokenizer.json").is_file():
            from tokenizers import Tokenizer

            try:
                backend = Tokenizer.from_file(str(path / "tokenizer.json"))
            except Exception as exc:  # the Rust library raises plain Exception on a bad file
                raise CheckpointError(f"cannot read {path / 'tokenizer.json'}: {exc}") from exc
            names = _special_token_names(path)
            vocab = backend.get_vocab(with_added_tokens=True)
            special = {vocab[n] for n in names.values() if n in vocab}
            special |= {i for i, t in backend.get_added_tokens_decoder().items() if t.special}
            pad = vocab.get(names.get("pad_token", ""), _config_pad_id(path))
            return cls(backend, special_ids=sorted(special), pad_id=pad, source=path)
        if not any((path / name).is_file() for name in VOCABULARY_FILES):
            raise CheckpointError(f"no tokenizer in {path}: a checkpoint needs one of {', '.join(VOCABULARY_FILES)} "
                                  "beside its weights")
        try:
            from transformers import AutoTokenizer

            hf = AutoTokenizer.from_pretrained(str(path))
        except (OSError, ValueError, ImportError) as exc:
            raise CheckpointError(f"cannot read the tokenizer in {path}: {exc}") from exc
        if not getattr(hf, "is_fast", False):
            raise CheckpointError(f"the tokenizer in {path} has no fast (Rust) version; m3search needs one")
        from tokenizers import Tokenizer

        backend = Tokenizer.from_str(hf.backend_tokenizer.to_str())
        pad = hf.pad_token_id if hf.pad_token_id is not None else _config_pad_id(path)
        return cls(backend, special_ids=hf.all_special_ids, pad_id=pad, hf_tokenizer=hf)

    def __len__(self) -> int:
        return int(self.backend.get_vocab_size(with_added_tokens=True))

    def encode(self, texts: Sequence[str], *, max_length: int | None) -> list[list[int]]:
        """Token ids with special tokens; the content is cut so that each list has at most
        ``max_length`` ids (``None``: no truncation)."""
        encodings = self.backend.encode_batch(list(texts), add_special_tokens=False)
        out = []
        for encoding in encodings:
            if max_length is not None and len(encoding.ids) > max_length - self.num_special_tokens:
                encoding.truncate(max(0, max_length - self.num_special_tokens))
            out.append(self.backend.post_process(encoding).ids)
        return out

    def token(self, token_id: int) -> str:
        """The vocabulary entry of one id."""
        return str(self.backend.id_to_token(int(token_id)))

    def save(self, directory: Path) -> None:
        """Write the tokenizer files into ``directory`` (readable by ``transformers`` too)."""
        if self._hf_tokenizer is not None:
            self._hf_tokenizer.save_pretrained(str(directory))
            return
        self.backend.save(str(directory / "tokenizer.json"))
        for name in TOKENIZER_FILES[1:]:
            if self._source is not None and (self._source / name).is_file() and self._source != directory:
                shutil.copyfile(self._source / name, directory / name)


def _special_token_names(path: Path) -> dict[str, str]:
    names: dict[str, str] = {}
    for file in ("special_tokens_map.json", "tokenizer_config.json"):
        if not (path / file).is_file():
            continue
        data = json.loads((path / file).read_text(encoding="utf-8"))
        for key in _SPECIAL_KEYS:
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("content")
            if isinstance(value, str):
                names.setdefault(key, value)
    return names


def _config_pad_id(path: Path) -> int:
    try:
        return int(json.loads((path / "config.json").read_text())["pad_token_id"])
    except (OSError, KeyError, TypeError, ValueError):
        return 0
