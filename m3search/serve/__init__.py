"""The HTTP service (``pip install "m3search[serve]"``): ``m3search serve`` or :func:`create_app`.

Importing this package loads neither FastAPI nor a model; :func:`create_app` does the first.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ServeSettings", "create_app"]

from .settings import ServeSettings


def create_app(*args: Any, **kwargs: Any) -> Any:
    """See :func:`m3search.serve.app.create_app`."""
    try:
        from .app import create_app as build
    except ImportError as exc:  # the serve extra is missing
        from ..errors import ConfigurationError

        raise ConfigurationError(f"the server needs the serve extra: pip install 'm3search[serve]' ({exc.name} is missing)") from exc
    return build(*args, **kwargs)
