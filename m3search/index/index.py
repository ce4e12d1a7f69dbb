"""Compatibility import path: :class:`~m3search.index.Index` and its companions now live in
:mod:`m3search.index.facade`, :mod:`m3search.index.documents` and :mod:`m3search.index.queries`;
import them from :mod:`m3search.index`."""

from __future__ import annotations

from .facade import Document, Index, QuerySpec, check_metadata, point_id

__all__ = ["Document", "Index", "QuerySpec", "check_metadata", "point_id"]
