"""What the server allows, and how it batches (``m3search serve`` flags map onto these)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ServeSettings:
    """Limits (beyond them: 413, naming the limit) and batching settings.

    >>> ServeSettings(max_texts=8).max_texts
    8
    """

    max_texts: int = 256  # texts (or documents) per request
    max_chars: int = 20_000  # characters per text
    max_tokens: int = 65_536  # tokens per request, after tokenisation
    max_body_bytes: int = 8 * 1024 * 1024  # request body, declared or streamed
    max_k: int = 1000  # hits per search
    max_queue: int = 64  # requests waiting for the encoder before 429
    batch_wait_ms: float = 5.0  # how long the encoder waits to fill a batch
    max_batch_tokens: int = 16_384  # padded tokens per forward pass
    api_key: str | None = None  # bearer token; None: no auth

    def public(self) -> dict[str, Any]:
        """The limits a client may see (``GET /info``): everything but the key."""
        out = asdict(self)
        out.pop("api_key")
        return out
