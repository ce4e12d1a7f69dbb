"""Prometheus metrics of one app (its own registry, so that several apps in a process never clash).

>>> metrics = Metrics()
>>> metrics.count("/v1/search", 413)
>>> b'm3search_failures_total{endpoint="/v1/search",kind="too_large"} 1.0' in metrics.text()
True
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """Request counts, failures by kind, latency, queue and inference time, batch sizes, queue depth."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("m3search_requests", "HTTP requests by endpoint and status", ["endpoint", "status"], registry=r)
        self.failures = Counter("m3search_failures", "Failed requests by endpoint and error kind", ["endpoint", "kind"], registry=r)
        self.latency = Histogram("m3search_request_seconds", "Request latency", ["endpoint"], buckets=LATENCY_BUCKETS, registry=r)
        self.queue_seconds = Histogram("m3search_queue_seconds", "Time a request waited for the encoder",
                                       buckets=LATENCY_BUCKETS, registry=r)
        self.inference_seconds = Histogram("m3search_inference_seconds", "Duration of one merged forward pass",
                                           buckets=LATENCY_BUCKETS, registry=r)
        self.batch_requests = Histogram("m3search_batch_requests", "Requests merged into one encoder call",
                                        buckets=(1, 2, 4, 8, 16, 32, 64), registry=r)
        self.batch_texts = Histogram("m3search_batch_texts", "Texts per encoder call",
                                     buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512), registry=r)
        self.batch_tokens = Histogram("m3search_batch_tokens", "Tokens per encoder call",
                                      buckets=(16, 64, 256, 1024, 4096, 16384, 65536), registry=r)
        self.queue_depth = Gauge("m3search_queue_depth", "Requests waiting for the encoder", registry=r)

    def observe(self, kind: str, value: float) -> None:
        """Batch statistics from the encoder thread (:class:`~m3search.serve.batcher.DynamicBatcher`)."""
        getattr(self, kind).observe(value)

    def count(self, route: str, status: int) -> None:
        """One answered request: by route template and status, and by error kind when it failed."""
        self.requests.labels(route, str(status)).inc()
        if status >= 400:
            self.failures.labels(route, failure_kind(status)).inc()

    def text(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


def failure_kind(status: int) -> str:
    """The ``kind`` label of a status: ``auth``, ``not_found``, ``too_large``, ``validation``,
    ``queue_full``, ``server`` or ``bad_request`` (``none`` below 400).

    >>> failure_kind(429), failure_kind(503), failure_kind(400)
    ('queue_full', 'server', 'bad_request')
    """
    if status < 400:
        return "none"
    named = {401: "auth", 404: "not_found", 413: "too_large", 422: "validation", 429: "queue_full"}
    return named.get(status, "server" if status >= 500 else "bad_request")
