"""Dynamic batching: concurrent requests share forward passes on one encoder thread (no torch here).

Each request is tokenised in the handler, then queued as token ids. One worker thread owns the
encoder: it takes the oldest request, gathers whatever else arrives within ``wait_ms`` (up to
``max_batch_tokens`` tokens in all), encodes them together with
:meth:`Encoder.encode_tokens <m3search.encode.Encoder.encode_tokens>` (which length-sorts and
batches under the token budget) and hands each request its rows. So 8 concurrent clients fill
batches that 1 client cannot, and the event loop never waits on the model. If a merged batch
fails, each of its requests is retried alone, so one bad request fails alone. Beyond
``max_queue`` waiting requests :meth:`DynamicBatcher.submit` raises :class:`QueueFullError` at
once (the server answers 429) instead of queueing without bound.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..types import PARTS, Embeddings

if TYPE_CHECKING:
    from ..protocols import EncoderLike


class QueueFullError(Exception):
    """More requests are waiting than the server accepts."""


@dataclass
class _Job:
    token_ids: list[list[int]]
    parts: tuple[str, ...]
    future: asyncio.Future[Embeddings]
    loop: asyncio.AbstractEventLoop
    queued_at: float = field(default_factory=time.perf_counter)

    @property
    def tokens(self) -> int:
        return sum(len(t) for t in self.token_ids)


class DynamicBatcher:
    """One encoder thread fed by a bounded queue; ``observe`` receives batch statistics.

    ``observe(kind, value)`` is called from the worker with ``queue_seconds``, ``inference_seconds``,
    ``batch_requests``, ``batch_texts`` and ``batch_tokens``.
    """

    def __init__(self, encoder: EncoderLike, *, max_queue: int = 64, wait_ms: float = 5.0, max_batch_tokens: int = 16384,
                 batch_size: int = 64, observe: Callable[[str, float], None] | None = None) -> None:
        self.encoder = encoder
        self.max_queue = max_queue
        self.wait = wait_ms / 1000
        self.max_batch_tokens = max_batch_tokens
        #: padded tokens per forward pass: the backend's own budget (4,096 for torch on a CPU, where
        #: smaller passes run faster; 16,384 for ONNX Runtime, OpenVINO and GPUs), never above the
        #: tokens merged per round
        self.pass_tokens = min(max_batch_tokens, int(getattr(encoder, "batch_tokens", max_batch_tokens)))
        self.batch_size = batch_size
        self._observe = observe or (lambda kind, value: None)
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._waiting = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="m3search-encoder", daemon=True)
        self._thread.start()

    @property
    def depth(self) -> int:
        """Requests queued and not yet taken by the worker."""
        return self._waiting

    async def submit(self, token_ids: Sequence[Sequence[int]], parts: Sequence[str]) -> Embeddings:
        """The embeddings of ``token_ids`` (one request), computed with others' when they overlap."""
        with self._lock:
            if self._waiting >= self.max_queue:
                raise QueueFullError(f"{self._waiting} requests are waiting, the limit is {self.max_queue}: retry later")
            self._waiting += 1
        loop = asyncio.get_running_loop()
        job = _Job([list(t) for t in token_ids], tuple(parts), loop.create_future(), loop)
        self._queue.put(job)
        return await job.future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    # ------------------------------------------------------------------ worker
    def _take(self, job: _Job) -> _Job:
        with self._lock:
            self._waiting -= 1
        self._observe("queue_seconds", time.perf_counter() - job.queued_at)
        return job

    def _run(self) -> None:
        carried: _Job | None = None
        while True:
            first = carried or self._queue.get()
            carried = None
            if first is None:
                return
            jobs = [self._take(first)]
            tokens = first.tokens
            deadline = time.perf_counter() + self.wait
            while tokens < self.max_batch_tokens:
                remaining = deadline - time.perf_counter()
                try:
                    job = self._queue.get(timeout=max(remaining, 0)) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self._queue.put(None)  # finish this batch, then stop
                    break
                if tokens + job.tokens > self.max_batch_tokens:
                    carried = job  # it opens the next batch
                    break
                jobs.append(self._take(job))
                tokens += job.tokens
            self._encode(jobs, tokens)

    def _encode(self, jobs: list[_Job], tokens: int) -> None:
        parts = tuple(p for p in PARTS if any(p in j.parts for j in jobs))
        all_ids = [ids for j in jobs for ids in j.token_ids]
        started = time.perf_counter()
        try:
            merged = self.encoder.encode_tokens(all_ids, parts=parts, batch_size=self.batch_size,
                                                max_batch_tokens=self.pass_tokens, show_progress=False)
        except Exception as exc:  # noqa: BLE001 - handed to the request that caused it
            if len(jobs) == 1:
                jobs[0].loop.call_soon_threadsafe(_resolve, jobs[0].future, None, exc)
            else:  # isolate the request that broke the batch
                for job in jobs:
                    self._encode([job], job.tokens)
            return
        self._observe("inference_seconds", time.perf_counter() - started)
        self._observe("batch_requests", len(jobs))
        self._observe("batch_texts", len(all_ids))
        self._observe("batch_tokens", tokens)
        start = 0
        for job in jobs:
            rows = range(start, start + len(job.token_ids))
            start = rows.stop
            result = merged.take(rows)
            result = result.only(job.parts)
            job.loop.call_soon_threadsafe(_resolve, job.future, result, None)


def _resolve(future: asyncio.Future[Embeddings], result: Embeddings | None, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert result is not None
        future.set_result(result)
