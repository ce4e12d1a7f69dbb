"""Where an index lives (no torch): a target (a directory, a Qdrant URL or a backend) resolved to
a backend, and the three ways to reach the index there: create, open, open or create.

Each returns the backend with the manifest it holds; a failure closes the backend again (an
embedded shard releases its lock), so nothing is left held.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from ..errors import ConfigurationError, IndexFormatError
from .backends.engine import Backend, is_url
from .manifest import Manifest
from .options import IndexOptions

T = TypeVar("T")
Target = str | Path | Backend


def backend_for(target: Target, *, wait: float, create_dir: bool = False, settings: Any = None) -> Backend:
    """The backend a target names: a Qdrant URL, a directory (an embedded shard), or a backend."""
    if is_url(target):
        try:
            from .backends.remote import from_url
        except ImportError as exc:
            raise ConfigurationError(f'an index on a Qdrant server ({target}) needs qdrant-client: '
                                     'pip install "m3search[remote]"') from exc
        from .backends.edge import ShardSettings
        from .backends.remote import CollectionSettings

        if isinstance(settings, ShardSettings):  # --on-disk means the same on a server
            settings = CollectionSettings(on_disk=settings.on_disk)
        return from_url(str(target), settings)
    if isinstance(target, (str, Path)):
        from .backends.edge import EdgeBackend, ShardSettings

        if settings is not None and not isinstance(settings, ShardSettings):
            raise ConfigurationError(f"{target} is an index directory: shards, replicas and payload indexes lay out a "
                                     "collection on a Qdrant server (http://host:6333/name)")
        return EdgeBackend(target, wait=wait, create_dir=create_dir, settings=settings)
    return target


def _closing_on_error(backend: Backend, step: Callable[[], T]) -> T:
    """``step()``, with ``backend`` closed when it fails."""
    try:
        return step()
    except BaseException:
        backend.close()
        raise


def create_at(target: Target, manifest: Manifest, *, wait: float, settings: Any = None) -> Backend:
    """A new index holding nothing at ``target``; an index already there is a :class:`ConfigurationError`."""
    backend = backend_for(target, wait=wait, create_dir=True, settings=settings)

    def create() -> None:
        if backend.exists():
            raise ConfigurationError(f"an index already exists at {target}; open it, or choose another place")
        backend.create(manifest)

    _closing_on_error(backend, create)
    return backend


def open_at(target: Target, *, wait: float, encoder_identity: Mapping[str, Any] | None = None) -> tuple[Backend, Manifest]:
    """The index at ``target``, its manifest checked against its data (and against the encoder
    ``encoder_identity`` describes, when given)."""
    backend = backend_for(target, wait=wait)

    def load() -> Manifest:
        manifest = checked_manifest(backend, target)
        if encoder_identity is not None:
            manifest.check_encoder(dict(encoder_identity))
        return manifest

    return backend, _closing_on_error(backend, load)


def checked_manifest(backend: Backend, target: Target) -> Manifest:
    """The manifest of the index ``backend`` holds, refused when its data disagree with it or when
    it is a copy that never finished (a killed export or import)."""
    manifest = backend.load_manifest()
    if manifest.unfinished_copy is not None:
        raise IndexFormatError(f"{target} is an unfinished copy of {manifest.unfinished_copy}: run the same "
                               "export or import again to finish it, or delete it")
    backend.check_schema(manifest)
    recorded = manifest.extra.get("documents")
    if getattr(backend, "records_documents", False) and isinstance(recorded, int) and recorded > 0:
        held = backend.count(None)
        if held < recorded:
            raise IndexFormatError(f"{target} holds {held} documents but recorded {recorded} at its last write: its "
                                   "shard lost data (a removed or damaged segment); restore it from a copy or rebuild it")
    return manifest


def open_or_create_at(target: Target, encoder_identity: Mapping[str, Any], options: IndexOptions, *,
                      wait: float) -> tuple[Backend, Manifest, bool]:
    """``(backend, manifest, created)``, decided under the index's lock so that concurrent
    creators make one index; an existing one must match the encoder and every option given."""
    wanted = options.manifest(encoder_identity)
    backend = backend_for(target, wait=wait, create_dir=True, settings=options.settings)

    def reach() -> tuple[Manifest, bool]:
        if not backend.exists():
            backend.create(wanted)  # the lock is held: nobody created it since we looked
            return wanted, True
        manifest = checked_manifest(backend, target)
        manifest.check_encoder(dict(encoder_identity))
        on_disk = getattr(backend, "on_disk", None)
        options.refuse_differences(manifest, wanted, target, on_disk() if callable(on_disk) else None)
        return manifest, False

    manifest, created = _closing_on_error(backend, reach)
    return backend, manifest, created


def recorded_manifest(target: Target, *, wait: float) -> Manifest | None:
    """The manifest of the index at ``target``, or ``None`` when there is none yet (what a build
    that extends an index reads first: the model it records). A directory's manifest is read
    without taking its lock (it is written atomically).

    >>> import tempfile
    >>> recorded_manifest(tempfile.mkdtemp() + "/nothing", wait=0) is None
    True
    """
    if isinstance(target, (str, Path)) and not is_url(target):
        from .manifest import MANIFEST_FILE, read_manifest

        return read_manifest(Path(target)) if (Path(target) / MANIFEST_FILE).is_file() else None
    backend = backend_for(target, wait=wait)
    try:
        return backend.load_manifest() if backend.exists() else None
    finally:
        if backend is not target:  # a backend handed in stays open for its owner
            backend.close()
