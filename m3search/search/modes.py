"""The search modes and the parts each needs (no torch).

- ``dense``, ``sparse``, ``colbert``: one representation alone (``colbert`` scans every
  document's vectors, exact but slow on large indexes, or rescores the first stages'
  candidates on an index that says so: ``IndexOptions(colbert_search="candidates")``, an FDE);
- ``dense+sparse``: candidates from dense and from sparse, every candidate scored exactly in
  both, final = ``(w_d * dense + w_s * sparse) / (w_d + w_s)``;
- ``all``: as ``dense+sparse`` plus the exact multi-vector score of every candidate (the
  paper's "All");
- ``rrf``: reciprocal rank fusion of the dense and sparse candidate lists (and the
  multi-vector ranking of their union when the index holds it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..errors import ConfigurationError

MODES = ("dense", "sparse", "colbert", "dense+sparse", "all", "rrf")
#: Parts each mode needs from the index and the query.
MODE_PARTS: dict[str, tuple[str, ...]] = {
    "dense": ("dense",), "sparse": ("sparse",), "colbert": ("colbert",),
    "dense+sparse": ("dense", "sparse"), "all": ("dense", "sparse", "colbert"), "rrf": ("dense", "sparse"),
}
SINGLE_MODES = ("dense", "sparse", "colbert")


def modes_for(parts: Sequence[str]) -> list[str]:
    """The score-fusion modes (all but ``rrf``) that an encoder or index with ``parts`` supports.

    >>> modes_for(["dense", "sparse"])
    ['dense', 'sparse', 'dense+sparse']
    """
    return [m for m in MODES if m != "rrf" and all(p in parts for p in MODE_PARTS[m])]


def check_mode(mode: str, parts: Sequence[str], *, holder: str = "this index") -> None:
    """Raise :class:`ConfigurationError` unless ``mode`` exists and ``parts`` has what it needs.

    >>> check_mode("all", ["dense"], holder="model 'e5'")
    Traceback (most recent call last):
    ...
    m3search.errors.ConfigurationError: mode 'all' needs ['sparse', 'colbert'], but model 'e5' holds only ['dense']
    """
    if mode not in MODES:
        raise ConfigurationError(f"unknown mode {mode!r}; choose from {list(MODES)}")
    missing = [p for p in MODE_PARTS[mode] if p not in parts]
    if missing:
        raise ConfigurationError(f"mode {mode!r} needs {missing}, but {holder} holds only {list(parts)}")


def parts_for(modes: Iterable[str], available: Sequence[str]) -> tuple[str, ...]:
    """The parts to encode for ``modes``: what they need, plus multi-vector for ``rrf`` where available.

    >>> parts_for(["dense", "rrf"], ["dense", "sparse", "colbert"])
    ('dense', 'sparse', 'colbert')
    """
    modes = list(modes)
    needed = {p for m in modes for p in MODE_PARTS[m]}
    if "rrf" in modes and "colbert" in available:
        needed.add("colbert")
    return tuple(p for p in ("dense", "sparse", "colbert") if p in needed)


def default_mode(parts: Sequence[str]) -> str:
    """``all`` when all three parts are there, else ``dense+sparse``, else a single mode.

    >>> default_mode(["dense", "sparse"])
    'dense+sparse'
    """
    for mode in ("all", "dense+sparse", "dense", "sparse", "colbert"):
        if all(p in parts for p in MODE_PARTS[mode]):
            return mode
    raise ConfigurationError(f"no searchable part among {list(parts)}")
