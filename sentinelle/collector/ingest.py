"""Group commit: pushes wait together for one durable transaction, then get their answers.

The event loop never blocks on the disk: a writer thread takes every queued Report, stores the
batch in one transaction (one fsync for many Reports), and resolves each waiting future.

A commit has a fixed cost (the write lock, the fsync, waking both threads) several times that of
one more Report in it. Left to itself the writer commits as soon as anything is queued, and under
load that meant batches of two. So, as PostgreSQL's `commit_delay` does, when other pushes are
already on their way to the queue the writer waits `commit_delay` seconds before taking its
batch; a lone push is committed at once.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from dataclasses import dataclass

from sentinelle.collector.records import IncomingReport
from sentinelle.collector.store import Store, StoreError

log = logging.getLogger("sentinelle.collector.ingest")
STORE_DOWN_AFTER = 3  # Reports failing in a row, retried alone, before the rest fail at once
COMMIT_DELAY_SECONDS = 0.005


@dataclass
class _Item:
    report: IncomingReport
    future: asyncio.Future[bool]
    loop: asyncio.AbstractEventLoop


class GroupCommitter:
    """One writer thread in front of the store."""

    def __init__(
        self, store: Store, batch_max: int = 256, commit_delay: float = COMMIT_DELAY_SECONDS
    ) -> None:
        self.store = store
        self.batch_max = batch_max
        self.commit_delay = commit_delay
        # Pushes past authentication and not yet queued: kept by the event loop, read here
        # (an int under the GIL: a stale read only shortens or lengthens one wait).
        self.on_the_way = 0
        self._queue: queue.Queue[_Item | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self.batches = 0
        self.stored = 0
        self.retried_batches = 0
        self._thread.start()

    def submit(self, report: IncomingReport) -> asyncio.Future[bool]:
        """Queue one Report now; the future is True once it is durably stored, False when it
        was a replay. Call from the event loop."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bool] = loop.create_future()
        self._queue.put(_Item(report, fut, loop))
        return fut

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            if self.commit_delay > 0 and (self.on_the_way > 0 or not self._queue.empty()):
                time.sleep(self.commit_delay)
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
            if len(batch) == 1:
                self._commit_one(batch[0])
            else:
                self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Item]) -> None:
        try:
            results = self.store.store_reports([i.report for i in batch])
        except Exception:
            if len(batch) == 1:
                raise
            # One bad Report must not fail its neighbours: retry each on its own, so only the
            # item the store refuses gets its error (a 503, which its agent retries).
            log.warning("a batch of %d reports failed; storing them one by one", len(batch))
            self.retried_batches += 1
            failed_in_a_row = 0
            for n, item in enumerate(batch):
                if self._commit_one(item):
                    failed_in_a_row = 0
                    continue
                failed_in_a_row += 1
                if failed_in_a_row >= STORE_DOWN_AFTER:
                    # Several in a row: the store itself is failing, not one Report. The rest
                    # get their 503 now rather than one slow failure each.
                    exc = StoreError("the store failed several Reports in a row")
                    for rest in batch[n + 1 :]:
                        rest.loop.call_soon_threadsafe(_set_exception, rest.future, exc)
                    return
            return
        self.batches += 1
        self.stored += sum(results)
        # One wake-up of each event loop per batch, not one per Report: every
        # call_soon_threadsafe writes to the loop's wake-up pipe.
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[bool], bool]]] = {}
        for item, is_new in zip(batch, results, strict=True):
            by_loop.setdefault(item.loop, []).append((item.future, is_new))
        for loop, answers in by_loop.items():
            loop.call_soon_threadsafe(_set_results, answers)

    def _commit_one(self, item: _Item) -> bool:
        try:
            self._commit([item])
        except Exception as exc:  # answered as 503 by the server; the agent retries
            log.exception("storing report %s failed", item.report.report_id)
            item.loop.call_soon_threadsafe(_set_exception, item.future, exc)
            return False
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Finish what is queued, then stop the writer."""
        self._queue.put(None)
        self._thread.join(timeout)


def _set_results(answers: list[tuple[asyncio.Future[bool], bool]]) -> None:
    for fut, value in answers:
        if not fut.done():
            fut.set_result(value)


def _set_exception(fut: asyncio.Future[bool], exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)
