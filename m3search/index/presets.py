"""Named storage presets: ``compression="compact"`` selects the settings the certified
compression table chose (no torch).

A preset fills the index options left unset (multi-vector storage, token pooling, the FDE
first stage, the engine's quantisation, the HNSW graphs); an option given beside it takes precedence. It also
bounds the multi-vector width: a compact index needs a compact head
(``multilingual-e5-small-compact``, or one trained with ``m3search train --compact-colbert``).
Where the numbers come from: ``.venv/bin/python benchmarks/certify.py --publish`` and
``docs/results/compression.md``.

>>> PRESETS["compact"].max_colbert_dim
128
>>> preset("tiny")
Traceback (most recent call last):
...
m3search.errors.ConfigurationError: unknown compression preset 'tiny'; known: ['compact']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigurationError


@dataclass(frozen=True)
class Preset:
    """What a preset stores: each field an :class:`~m3search.index.IndexOptions` field."""

    name: str
    #: the widest multi-vector rows the preset accepts (``None``: any)
    max_colbert_dim: int | None
    #: the short name ``m3search index --compression NAME`` loads when no ``--model`` is given
    default_model: str
    colbert_storage: str
    dense_storage: str | None = None
    compression: Mapping[str, Any] = field(default_factory=dict)
    fde: Mapping[str, Any] | None = None
    quantization: Mapping[str, Any] | None = None
    hnsw: Mapping[str, Any] | None = None
    colbert_search: str | None = None

    def check_encoder(self, encoder_identity: Mapping[str, Any]) -> None:
        """Refuse an encoder whose multi-vectors are wider than the preset stores."""
        width = encoder_identity.get("colbert_dim")
        if self.max_colbert_dim is not None and width and int(width) > self.max_colbert_dim:
            raise ConfigurationError(
                f"compression={self.name!r} stores multi-vectors at most {self.max_colbert_dim} wide, and this "
                f"encoder's are {width}: load a compact head ({self.default_model!r}, or a head trained with "
                f"'m3search train --compact-colbert {self.max_colbert_dim} 64 32'), at colbert_dim <= "
                f"{self.max_colbert_dim}")


#: The presets by name. ``compact``: the nested head at 128, two tokens pooled into one, uint8
#: codes for the multi-vector rows and the dense vectors (a quarter of float32's bytes; 0.0002
#: nDCG@10 at most on the certified suites, and what takes the preset to a tenth of the
#: uncompressed bytes per document), HNSW graphs with 32 links and a build beam of 200 (at 100K
#: synthetic documents: dense recall 1.000 instead of 0.963 at the search's default beam, for a
#: 21% longer build and 35 bytes per document; docs/performance.md), and ``colbert`` by the
#: dense and sparse candidates, with no FDE first stage (on real paragraphs those candidates
#: hold 0.959 of ``colbert``'s exact top 10 and an FDE added 0.003, for 1 KB per document).
PRESETS: dict[str, Preset] = {
    "compact": Preset(
        name="compact", max_colbert_dim=128, default_model="multilingual-e5-small-compact",
        colbert_storage="uint8", dense_storage="uint8", compression={"colbert_pool_factor": 2},
        hnsw={"m": 32, "ef_construct": 200}, colbert_search="candidates"),
}


def preset(name: str) -> Preset:
    """The preset called ``name``, or a :class:`ConfigurationError` naming the known ones."""
    if name not in PRESETS:
        raise ConfigurationError(f"unknown compression preset {name!r}; known: {sorted(PRESETS)}")
    return PRESETS[name]
