"""An encoder's identity: what an index records so that it is only ever searched with the
model that built it (no torch).

The identity describes the model, not where it was read from. Compared keys
(:data:`IDENTITY_KEYS`): the architecture, the dense and multi-vector dimensions, the vocabulary
size, a fingerprint of the weights (heads included), where the heads came from, and a hash of
the settings that change outputs (pooling, normalisation, prefixes, truncation length).
Recorded but not compared: ``name`` (for people) and ``source`` (how to load the model again:
a short name, a hub id or an absolute directory).

>>> a = {"dim": 384, "weights": "ab12", "heads": "checkpoint"}
>>> differences(a, {**a, "weights": "cd34", "name": "elsewhere"})
{'weights': ('ab12', 'cd34')}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

IDENTITY_KEYS = ("architecture", "dim", "colbert_dim", "vocab_size", "weights", "heads", "settings")


def differences(recorded: Mapping[str, Any], actual: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{key: (recorded, actual)}`` for each compared key on which the two disagree."""
    return {k: (recorded.get(k), actual.get(k)) for k in IDENTITY_KEYS if recorded.get(k) != actual.get(k)}


def identity_hash(identity: Mapping[str, Any]) -> str:
    """A short hash of the compared keys: equal for the same model wherever it lives.

    >>> identity_hash({"dim": 4, "name": "a"}) == identity_hash({"dim": 4, "name": "b"})
    True
    """
    payload = json.dumps({k: identity.get(k) for k in IDENTITY_KEYS}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
