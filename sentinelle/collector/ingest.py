"""Group commit: pushes wait together for one durable transaction, then get their answers.

The event loop never blocks on the disk: a writer thread takes every queued Report, stores the
batch in one transaction (one fsync for many Reports), and resolves each waiting future.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from dataclasses import dataclass

from sentinelle.collector.records import IncomingReport
from sentinelle.collector.store import Store

log = logging.getLogger("sentinelle.collector.ingest")


@dataclass
class _Item:
    report: IncomingReport
    future: asyncio.Future[bool]
    loop: asyncio.AbstractEventLoop


class GroupCommitter:
    """One writer thread in front of the store."""

    def __init__(self, store: Store, batch_max: int = 256) -> None:
        self.store = store
        self.batch_max = batch_max
        self._queue: queue.Queue[_Item | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self.batches = 0
        self.stored = 0
        self._thread.start()

    async def submit(self, report: IncomingReport) -> bool:
        """Durably store one Report; True when new, False when a replay."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bool] = loop.create_future()
        self._queue.put(_Item(report, fut, loop))
        return await fut

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self.batch_max:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Item]) -> None:
        try:
            results = self.store.store_reports([i.report for i in batch])
        except Exception as exc:  # answered as 503 by the server; the agent retries
            log.exception("storing a batch of %d reports failed", len(batch))
            for item in batch:
                item.loop.call_soon_threadsafe(_set_exception, item.future, exc)
            return
        self.batches += 1
        self.stored += sum(results)
        for item, is_new in zip(batch, results, strict=True):
            item.loop.call_soon_threadsafe(_set_result, item.future, is_new)

    def close(self, timeout: float = 30.0) -> None:
        """Finish what is queued, then stop the writer."""
        self._queue.put(None)
        self._thread.join(timeout)


def _set_result(fut: asyncio.Future[bool], value: bool) -> None:
    if not fut.done():
        fut.set_result(value)


def _set_exception(fut: asyncio.Future[bool], exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)


class RateLimiter:
    """A token bucket per agent; `check` returns 0 when allowed, else seconds to wait."""

    def __init__(self, per_second: float, burst: int) -> None:
        self.per_second = per_second
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.per_second)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.per_second
