"""``m3search serve``: the HTTP API and search page for a model and, optionally, an index."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from ..errors import ConfigurationError
from .common import add_model_args, add_rerank_backend_arg, add_wait_arg, load_cross_encoder, positive

if TYPE_CHECKING:
    from ..serve import ServeSettings

API_KEY_ENV = "M3SEARCH_API_KEY"


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="serve embeddings, rerank, search and documents over HTTP, with a search page")
    serve.add_argument("--index", default=None, help="index directory (held while serving) or Qdrant collection URL to search and write")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--max-texts", type=int, default=256, help="texts per request")
    serve.add_argument("--max-chars", type=int, default=20_000, help="characters per text")
    serve.add_argument("--max-tokens", type=int, default=65_536, help="tokens per request")
    serve.add_argument("--max-body-bytes", type=int, default=8 * 1024 * 1024, help="request body size")
    serve.add_argument("--max-k", type=int, default=1000, help="hits per search")
    serve.add_argument("--max-queue", type=int, default=64, help="requests waiting for the encoder before 429")
    serve.add_argument("--batch-wait-ms", type=float, default=5.0, help="how long the encoder waits to fill a batch")
    serve.add_argument("--allowed-hosts", default=None,
                       help="Host header names served, comma-separated ('*': any); default: the localhost names "
                            "when bound to a loopback address, else any")
    serve.add_argument("--debug", action="store_true", help="error messages and /info keep absolute paths")
    add_rerank_backend_arg(serve)
    serve.add_argument("--rerank", default=None, metavar="MODEL",
                       help="a cross-encoder for /v1/rerank (model: its name or 'cross-encoder') and /v1/search's rerank_depth")
    serve.add_argument("-q", "--quiet", action="store_true", help="no loading bars, no access log")
    add_wait_arg(serve)
    add_model_args(serve, recorded=True)
    serve.set_defaults(func=run)


def settings_from(args: argparse.Namespace) -> ServeSettings:
    """The server's limits from the command line's flags (and the key from ``$M3SEARCH_API_KEY``)."""
    from ..serve import ServeSettings

    for name in ("max_texts", "max_chars", "max_tokens", "max_body_bytes", "max_k", "max_queue", "port"):
        positive("--" + name.replace("_", "-"), getattr(args, name))
    if args.batch_wait_ms < 0:
        raise ConfigurationError(f"--batch-wait-ms must be >= 0, got {args.batch_wait_ms}")
    return ServeSettings(max_texts=args.max_texts, max_chars=args.max_chars, max_tokens=args.max_tokens,
                         max_body_bytes=args.max_body_bytes, max_k=args.max_k, max_queue=args.max_queue,
                         batch_wait_ms=args.batch_wait_ms, api_key=os.environ.get(API_KEY_ENV) or None,
                         allowed_hosts=allowed_hosts(args.allowed_hosts, args.host), debug=args.debug)


def allowed_hosts(value: str | None, bind: str) -> tuple[str, ...] | None:
    """``--allowed-hosts`` as names, or the default for the bind address: the localhost names for a
    loopback address (DNS rebinding cannot reach the server), else any (``None``).

    >>> allowed_hosts(None, "127.0.0.1"), allowed_hosts(None, "0.0.0.0"), allowed_hosts("Search.Example", "::1")
    (('localhost', '127.0.0.1', '::1'), None, ('search.example', 'localhost', '127.0.0.1', '::1'))
    """
    from ..serve.settings import LOCAL_HOSTS

    names = tuple(n.strip().lower() for n in (value or "").split(",") if n.strip())
    if "*" in names:
        return None
    if _is_loopback(bind):
        return (*names, *(h for h in LOCAL_HOSTS if h not in names))
    return names or None


def _is_loopback(address: str) -> bool:
    import ipaddress

    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    from ..serve import create_app
    from .common import load_encoder, load_recorded_encoder

    settings = settings_from(args)
    try:
        import uvicorn
    except ImportError as exc:
        raise ConfigurationError("the server needs the serve extra: pip install 'm3search[serve]'") from exc
    reranker = None
    if args.rerank is not None:  # before the index is held: a bad model name fails first
        reranker = load_cross_encoder(args.rerank, args)
    index = None
    if args.index is not None:
        from ..index import Index

        index = Index.open(args.index, wait=args.wait)
    try:
        if index is not None:  # the model, backend and heads the index records, unless named
            encoder = load_recorded_encoder(args, index.manifest.encoder, args.index)
        else:
            encoder = load_encoder(args)
        app = create_app(encoder, index, settings, reranker)
    except BaseException:
        if index is not None:
            index.close()
        raise
    auth = "bearer token required" if settings.api_key else f"no auth (set {API_KEY_ENV} to require one)"
    print(f"m3search serving {encoder.identity['name']} on http://{args.host}:{args.port} ({auth})", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning" if args.quiet else "info",
                access_log=not args.quiet)
    return 0

