"""The one exception tree of m3search.

::

    M3SearchError                      base of everything raised on purpose
    ├── ConfigurationError (ValueError) a setting that cannot work (max_length, pooling, ...)
    │   └── MissingHeadError           sparse / multi-vector asked of a model without that head
    ├── CheckpointError                a checkpoint that cannot be found or read
    │   └── CheckpointNotFoundError    a local path or hub id that does not resolve
    ├── InputError (ValueError)        bad input data
    │   ├── InputTooLongError          a text longer than max_length with truncation off
    │   └── InvalidDocumentError       a document an index cannot take (names the document)
    └── SearchIndexError               index problems
        ├── IndexMismatchError         opened with another encoder than the one that built it
        ├── IndexFormatError           missing, damaged, or written by a newer m3search
        └── IndexLockedError           held by another process past the wait (names its pid)

A non-string text raises the built-in ``TypeError`` (naming its index), as Python does
for any wrong type.
"""

from __future__ import annotations


class M3SearchError(Exception):
    """Base class of every error m3search raises on purpose."""


class ConfigurationError(M3SearchError, ValueError):
    """A setting that cannot work, e.g. ``max_length`` beyond the model's positions."""


class MissingHeadError(ConfigurationError):
    """Sparse or multi-vector output was asked of a model that has no such head."""


class CheckpointError(M3SearchError):
    """A checkpoint that cannot be read."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """A local path or hub id that does not resolve to a checkpoint."""


class InputError(M3SearchError, ValueError):
    """Input data that cannot be processed."""


class InputTooLongError(InputError):
    """A text longer than ``max_length`` while truncation is switched off."""


class InvalidDocumentError(InputError):
    """A document that cannot be added to an index; the message names it."""


class SearchIndexError(M3SearchError):
    """Base of index problems (not ``IndexError``, which is Python's own)."""


class IndexMismatchError(SearchIndexError, ValueError):
    """An index opened with an encoder other than the one that built it."""


class IndexFormatError(SearchIndexError):
    """An index directory that is missing, damaged, or written by a newer m3search."""


class IndexLockedError(SearchIndexError):
    """An embedded index that another process holds open past the wait; the message names its pid."""
