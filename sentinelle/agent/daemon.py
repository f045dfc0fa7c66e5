"""`sentinelle agent run`: check every interval (with jitter), serve /metrics, stop on SIGTERM."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server

from sentinelle.agent.exporter import AgentState, agent_registry
from sentinelle.host import Host
from sentinelle.model import Report
from sentinelle.runner import Setup, run_checks

log = logging.getLogger("sentinelle.agent")
ReportHook = Callable[[Report], None]


def atomic_write(path: Path, data: bytes, mode: int = 0o640) -> None:
    """Write a file so that a crash leaves either the old or the new content, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def next_delay(interval: float, jitter_fraction: float, rng: random.Random) -> float:
    """The wait before the next cycle: the interval, moved by up to ±jitter so fleets spread out."""
    return max(1.0, interval * (1 + rng.uniform(-jitter_fraction, jitter_fraction)))


class Agent:
    """The long-running agent: owns the cycle loop, the /metrics server and the stop event."""

    def __init__(
        self, setup: Setup, host: Host | None = None, hooks: list[ReportHook] | None = None
    ) -> None:
        self.setup = setup
        self.host = host or Host()
        self.state = AgentState()
        self.hooks = list(hooks or [])
        self.stop_event = threading.Event()
        self.state_dir = Path(setup.config.agent.state_dir)
        self._rng = random.Random()
        self._server: WSGIServer | None = None

    def cycle(self) -> Report | None:
        """Run the checks once, keep the Report on disk, then hand it to the hooks (push)."""
        started = time.monotonic()
        report: Report | None = None
        try:
            report = run_checks(self.setup, self.host)
            atomic_write(
                self.state_dir / "last-report.json",
                json.dumps(report.to_dict(), ensure_ascii=False).encode(),
            )
        except Exception:  # the daemon must survive a bad cycle and try again next time
            log.exception("check cycle failed")
        self.state.record_cycle(report, time.monotonic() - started)
        if report is not None:
            for hook in self.hooks:
                try:
                    hook(report)
                except Exception:
                    log.exception("report hook failed")
        return report

    def serve(self) -> tuple[str, int]:
        """Start /metrics on the configured address; returns the bound (host, port)."""
        host, _, port = self.setup.config.agent.listen_address.rpartition(":")
        host = host.strip("[]")
        server, _thread = start_http_server(
            int(port), addr=host, registry=agent_registry(self.state)
        )
        self._server = server
        bound = server.server_address
        return str(bound[0]), int(bound[1])

    def stop(self, *_: object) -> None:
        self.stop_event.set()

    def install_signal_handlers(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            log.info("signal %d received, stopping", signum)
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def run_forever(self, max_cycles: int | None = None) -> None:
        """Cycle until stopped (or `max_cycles`, for tests); the wait is interruptible."""
        settings = self.setup.config.agent
        done = 0
        while not self.stop_event.is_set():
            self.cycle()
            done += 1
            if max_cycles is not None and done >= max_cycles:
                break
            self.stop_event.wait(
                next_delay(settings.interval_seconds, settings.jitter_fraction, self._rng)
            )
        self.close()

    def close(self) -> None:
        """Stop serving /metrics (idempotent)."""
        server = self._server
        if server is not None:
            self._server = None
            server.shutdown()
            server.server_close()
