"""What the server allows, and how it batches (``m3search serve`` flags map onto these)."""

from __future__ import annotations

import re
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
    #: Host header values served (lower case, no port); None: any. ``m3search serve`` bound to a
    #: loopback address allows only the local names, so that a web page on another site cannot
    #: reach a keyless server through DNS rebinding.
    allowed_hosts: tuple[str, ...] | None = None
    #: Error messages keep absolute paths (the index's, the model's); off, they name the last part only.
    debug: bool = False

    def public(self) -> dict[str, Any]:
        """The limits a client may see (``GET /info``): everything but the key, hosts and debug."""
        out = asdict(self)
        for private in ("api_key", "allowed_hosts", "debug"):
            out.pop(private)
        return out

    def host_allowed(self, host_header: str | None) -> bool:
        """Whether a request's ``Host`` header (``name[:port]``, IPv6 in brackets) is served.

        >>> s = ServeSettings(allowed_hosts=LOCAL_HOSTS)
        >>> s.host_allowed("localhost:8000"), s.host_allowed("[::1]:8000"), s.host_allowed("evil.example:8000")
        (True, True, False)
        """
        if self.allowed_hosts is None or "*" in self.allowed_hosts:
            return True
        return host_name(host_header or "") in self.allowed_hosts


#: The names a loopback-bound server answers to by default.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def host_name(header: str) -> str:
    """The host of a ``Host`` header, lower case, without port or IPv6 brackets.

    >>> host_name("[::1]:8000"), host_name("LocalHost:80"), host_name("example.org")
    ('::1', 'localhost', 'example.org')
    """
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def redact_paths(message: str) -> str:
    """Absolute paths in ``message`` shortened to their last part (``…/name``): error messages
    should not tell a client where the server keeps its files.

    >>> redact_paths("no index at /srv/data/indexes/news (see /srv/x.json)")
    'no index at …/news (see …/x.json)'
    """
    return _ABSOLUTE_PATH.sub(lambda m: "…/" + m.group(1), message)


_ABSOLUTE_PATH = re.compile(r"(?<![\w.~])/(?:[^\s'\"/]+/)*([^\s'\"/()]+)")
