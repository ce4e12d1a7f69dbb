"""The HTTP service (``pip install "m3search[serve]"``): ``m3search serve`` or :func:`create_app`.

Importing this package loads neither FastAPI nor a model; :func:`create_app` does the first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["ServeSettings", "create_app"]

from .settings import ServeSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ..index import Index
    from ..protocols import EncoderLike, RerankerLike


def create_app(encoder: EncoderLike, index: Index | None = None, settings: ServeSettings | None = None,
               reranker: RerankerLike | None = None) -> FastAPI:
    """See :func:`m3search.serve.app.create_app`."""
    try:
        from .app import create_app as build
    except ImportError as exc:  # the serve extra is missing
        from ..errors import ConfigurationError

        raise ConfigurationError(f"the server needs the serve extra: pip install 'm3search[serve]' ({exc.name} is missing)") from exc
    return build(encoder, index, settings, reranker)
