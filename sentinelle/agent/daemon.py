"""`sentinelle agent run`: check every interval (with jitter), serve /metrics, stop on SIGTERM.

The daemon never stops for its own state directory: a write that fails there (a full disk, a
read-only remount) is counted and logged once, the Report is still built and handed to the push
hook (which holds it in memory if the spool cannot write it either), and every cycle tries the
writes again, so recovery needs nobody. Each Report carries the agent's health (`AgentHealth`):
the agent's own counters, completed by the health providers (the Pusher's spool and push state).

The schedule is measured on the monotonic clock only: a wall-clock step (NTP, a person, a VM
restored from a snapshot) neither brings the next cycle forward, nor causes a burst of catch-up
cycles, nor stalls the loop.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import gc
import json
import logging
import os
import random
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server

from sentinelle.agent.exporter import AgentState, agent_registry
from sentinelle.agent.spool import StateWrites
from sentinelle.host import Host
from sentinelle.model import AgentHealth, Report

if TYPE_CHECKING:
    from sentinelle.config import Config
    from sentinelle.runner import Setup

log = logging.getLogger("sentinelle.agent")
ReportHook = Callable[[Report], None]
HealthProvider = Callable[[AgentHealth], AgentHealth]
LAST_REPORT_FILE = "last-report.json"
AGENT_STATE_FILE = "agent-state.json"  # the agent's own counters, kept across restarts
WAIT_ROUNDS = 4  # waits per pause at most: a wait that ends early is resumed, never a spin


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
    """The long-running agent: owns the cycle loop, the /metrics server and the stop event.

    `monotonic` and `wait` (seconds -> True when stopped) are the schedule's clock and sleep;
    tests inject them to step the clocks. `health_providers` complete the agent's health in
    each Report; a hook that is a bound method of an object with a `fill_health` method (the
    Pusher's `on_report`) brings that object's provider along, so registering the hook is
    enough.
    """

    def __init__(
        self,
        setup: Setup | None,
        host: Host | None = None,
        hooks: list[ReportHook] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wait: Callable[[float], bool] | None = None,
        setup_source: Callable[[], Setup] | None = None,
        *,
        config: Config | None = None,
        run_cycle: Callable[[], Report] | None = None,
    ) -> None:
        """Either `setup` (the checks run in this process), or `config` and `run_cycle`
        (each cycle's Report comes from elsewhere: sentinelle.agent.cycle's child)."""
        if setup is None and (config is None or run_cycle is None):
            raise TypeError("Agent needs a setup, or a config and a run_cycle")
        self.setup = setup
        self.config: Config = config or setup.config  # type: ignore[union-attr]
        # Called before each cycle: the Setup under the syndicate's current policy
        # (sentinelle.agent.policy), the same one while nothing changed.
        self.setup_source = setup_source
        self.run_cycle = run_cycle
        self.host = host or Host()
        self.state = AgentState()
        self.hooks = list(hooks or [])
        self.health_providers: list[HealthProvider] = []
        self.stop_event = threading.Event()
        self.state_dir = Path(self.config.agent.state_dir)
        self._rng = random.Random()
        self._monotonic = monotonic
        self._wait = wait or self.stop_event.wait
        self._server: WSGIServer | None = None
        self.writes = StateWrites(log)
        self.cycle_failures_total = 0
        self._load_counters()
        self._saved_counters = self._counters()
        self.state.health_source = self.health

    # Counters kept across restarts

    def _counters(self) -> dict[str, int]:
        return {
            "cycle_failures_total": self.cycle_failures_total,
            "state_write_errors_total": self.writes.errors_total,
        }

    def _load_counters(self) -> None:
        path = self.state_dir / AGENT_STATE_FILE
        try:
            data: Any = json.loads(path.read_bytes())
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            # Kept aside for diagnosis (one file, replaced each time: bounded); the next save
            # must not be refused by the same thing, e.g. a directory in its place.
            aside = path.with_name(f"{path.name}.corrupt")
            log.warning("%s unreadable (%s); counters restart at 0 (kept as %s)", path, exc, aside)
            try:
                if aside.is_dir():
                    os.replace(aside, path.with_name(f"{path.name}.corrupt.old"))
                os.replace(path, aside)
            except OSError as move_exc:
                log.warning("cannot set %s aside: %s", path, move_exc)
            return
        self.cycle_failures_total = _count(data.get("cycle_failures_total"))
        self.writes.errors_total = _count(data.get("state_write_errors_total"))

    def _save_counters(self) -> None:
        """Persist the counters when they changed; a failure is counted and retried next cycle."""
        counters = self._counters()
        if counters == self._saved_counters:
            return
        if self._write_state(AGENT_STATE_FILE, json.dumps(counters).encode()):
            self._saved_counters = counters

    def _write_state(self, name: str, data: bytes) -> bool:
        """Write one file of the state directory; False (counted, logged once) when it fails."""
        path = self.state_dir / name
        try:
            atomic_write(path, data)
        except OSError as exc:
            self.writes.failed(str(path), exc)
            return False
        self.writes.succeeded(str(path))
        return True

    # Health

    def _providers(self) -> list[HealthProvider]:
        providers = list(self.health_providers)
        for hook in self.hooks:
            fill = getattr(getattr(hook, "__self__", None), "fill_health", None)
            if callable(fill) and fill not in providers:
                providers.append(fill)
        return providers

    def health(self) -> AgentHealth:
        """The agent's health now: its own counters, completed by every provider."""
        health = AgentHealth(
            cycle_failures_total=self.cycle_failures_total,
            state_write_errors_total=self.writes.errors_total,
            state_dir_writable=self.writes.writable,
        )
        for provider in self._providers():
            try:
                health = provider(health)
            except Exception:  # health is worth less than the Report it rides in
                log.exception("agent health provider failed")
        return health

    # The cycle

    def cycle(self) -> Report | None:
        """Run the checks once, keep the Report on disk, then hand it to the hooks (push).

        Only the checks can fail a cycle: a Report that cannot be written to the state
        directory is still handed to the hooks, with the failure in its health.
        """
        started = self._monotonic()
        report: Report | None = None
        if self.setup_source is not None:
            try:
                self.setup = self.setup_source()
            except Exception:  # the last settings stay; the cycle still runs
                log.exception("policy update failed")
        try:
            report = self._checks()
        except Exception:  # the daemon must survive a bad cycle and try again next time
            log.exception("check cycle failed")
            self.cycle_failures_total += 1
        if report is not None:
            report = dataclasses.replace(report, agent_health=self.health())
            self._write_state(
                LAST_REPORT_FILE, json.dumps(report.to_dict(), ensure_ascii=False).encode()
            )
        self._save_counters()
        if report is not None:
            # Again, so that the pushed Report says whether this cycle's writes worked.
            report = dataclasses.replace(report, agent_health=self.health())
        self.state.record_cycle(report, self._monotonic() - started)
        if report is not None:
            for hook in self.hooks:
                try:
                    hook(report)
                except Exception:
                    log.exception("report hook failed")
        return report

    def _checks(self) -> Report:
        if self.run_cycle is not None:
            return self.run_cycle()
        from sentinelle.runner import run_checks  # with every check: only where they run

        assert self.setup is not None  # __init__: a setup when there is no run_cycle
        return run_checks(self.setup, self.host)

    def serve(self) -> tuple[str, int]:
        """Start /metrics on the configured address; returns the bound (host, port)."""
        host, _, port = self.config.agent.listen_address.rpartition(":")
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
        settings = self.config.agent
        done = 0
        while not self.stop_event.is_set():
            self.cycle()
            done += 1
            if max_cycles is not None and done >= max_cycles:
                break
            release_memory()
            self.pause(next_delay(settings.interval_seconds, settings.jitter_fraction, self._rng))
        self.close()

    def pause(self, seconds: float) -> None:
        """Wait `seconds` on the monotonic clock, or until stopped.

        The deadline is relative to the monotonic clock, never a wall-clock time: a step of
        the wall clock cannot make it already past (a burst of cycles) or a day away (a stall).
        """
        due = self._monotonic() + seconds
        for _ in range(WAIT_ROUNDS):
            remaining = due - self._monotonic()
            if remaining <= 0 or self.stop_event.is_set():
                return
            if self._wait(remaining):
                return

    def close(self) -> None:
        """Stop serving /metrics (idempotent)."""
        server = self._server
        if server is not None:
            self._server = None
            server.shutdown()
            server.server_close()


def release_memory() -> None:
    """Give the cycle's garbage back to the system before an hour of idling: collect cycles,
    then ask glibc to return its free heap pages (without it, the arena keeps the peak of the
    cycle — Reports, command outputs, parsed files — resident while the agent waits)."""
    gc.collect()
    if sys.platform.startswith("linux"):
        # Not glibc (musl): no malloc_trim, nothing to trim.
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
