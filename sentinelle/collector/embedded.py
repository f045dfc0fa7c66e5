"""A collector running in a background thread of this process: for the demo and the tests."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from typing import Any

from sentinelle.collector.server import CollectorService, serve
from sentinelle.collector.settings import CollectorSettings
from sentinelle.collector.store import Store, open_store
from sentinelle.errors import SentinelleError
from sentinelle.rules import load_rules
from sentinelle.scoring import ScoringPolicy


class EmbeddedCollector:
    """Start with `start()`, stop with `stop()` (or use as a context manager)."""

    def __init__(self, settings: CollectorSettings, **overrides: Any) -> None:
        self.settings = replace(settings, **overrides)
        self.store: Store = open_store(self.settings.store)
        self.service = CollectorService(
            self.settings, self.store, ScoringPolicy.from_data(load_rules().scoring)
        )
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> str:
        """Serve in a thread; returns the base URL once the socket listens."""
        started = threading.Event()
        failure: list[BaseException] = []

        def ready(host: str, port: int) -> None:
            self.url = f"http://{host}:{port}"
            started.set()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._stop = asyncio.Event()
            try:
                self._loop.run_until_complete(serve(self.service, self._stop, ready))
            except BaseException as exc:  # surfaced to the caller of start()
                failure.append(exc)
                started.set()

        self._thread = threading.Thread(target=run, name="collector", daemon=True)
        self._thread.start()
        if not started.wait(timeout):
            raise SentinelleError(f"collector did not start within {timeout:g} s")
        if failure:
            raise failure[0]
        return self.url

    def stop(self, timeout: float = 30.0) -> None:
        if self._thread is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout)
        self._loop.close()
        self.store.close()

    def __enter__(self) -> EmbeddedCollector:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
