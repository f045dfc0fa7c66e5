"""A wall clock that jumps a day forward or back between cycles keeps the schedule sane.

The agent's cycle schedule and the push backoff run on the monotonic clock; the tests inject a
monotonic clock they advance by hand and make the wall clock (time.time, the Host's clock, the
Pusher's clock) jump by a day between steps: the next cycle and the next push attempt still
come within their bounded delays, with no burst of catch-up cycles and no stall.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path

import pytest

from sentinelle.agent.daemon import WAIT_ROUNDS, Agent
from sentinelle.agent.enroll import enroll
from sentinelle.agent.push import Pusher
from sentinelle.agent.spool import QUARANTINE_DIR, SIDE_KEEP_FILES, Spool
from sentinelle.config import PushSettings
from sentinelle.host import Host
from sentinelle.model import Report
from tests.agent.agent_rig import fast_setup
from tests.agent.standin_collector import (
    GOOD_TOKEN,
    REPORTS,
    Answer,
    StandinCollector,
    running_standin,
)
from tests.agent.test_push import make_report

DAY = 86_400.0


class Clocks:
    """A monotonic clock the test advances, and a wall clock it can make jump."""

    def __init__(self) -> None:
        self.mono = 1_000.0
        self.wall_offset = 0.0
        self._real_time = time.time  # taken before any patching

    def monotonic(self) -> float:
        return self.mono

    def wall(self) -> float:
        return self._real_time() + self.wall_offset

    def jump(self, seconds: float) -> None:
        self.wall_offset += seconds


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


@pytest.fixture
def jumping_time(clocks: Clocks, monkeypatch: pytest.MonkeyPatch) -> Clocks:
    """`clocks`, with time.time itself following the jumps, so that any wall-clock read in the
    agent's loop would show (not for tests with a stand-in: its Date header must stay true)."""
    monkeypatch.setattr(time, "time", clocks.wall)
    return clocks


def test_cycles_keep_their_interval_when_the_wall_clock_jumps(
    tmp_path: Path, jumping_time: Clocks
) -> None:
    clocks = jumping_time
    setup = fast_setup(tmp_path, tmp_path / "state")
    interval, jitter = setup.config.agent.interval_seconds, setup.config.agent.jitter_fraction
    waits: list[float] = []
    starts: list[float] = []
    dates: list[datetime] = []
    jumps = iter([DAY, -DAY, -DAY, DAY, 7 * DAY, -7 * DAY])

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        clocks.mono += seconds  # the time really passes, on the monotonic clock
        clocks.jump(next(jumps))  # and the wall clock steps meanwhile
        return False

    agent = Agent(setup, monotonic=clocks.monotonic, wait=wait)
    agent.host = Host(clock=lambda: datetime.fromtimestamp(clocks.wall(), UTC))

    def seen(report: Report) -> None:
        starts.append(clocks.mono)
        dates.append(datetime.fromisoformat(report.generated_at.replace("Z", "+00:00")))

    agent.hooks.append(seen)
    agent.run_forever(max_cycles=7)

    assert len(starts) == 7  # no cycle lost, no extra one
    assert len(waits) == 6  # one wait per pause: no catch-up burst, no spin on a bad deadline
    low, high = interval * (1 - jitter), interval * (1 + jitter)
    for gap in (b - a for a, b in itertools.pairwise(starts)):
        assert low <= gap <= high + 1, f"{gap:.0f}s between cycles, outside [{low}, {high}]"
    # The jumps were real: the Reports' dates (wall clock, what people read) went back and
    # forth by days while the schedule did not move.
    steps = [(b - a).total_seconds() for a, b in itertools.pairwise(dates)]
    assert [round(step / DAY) for step in steps] == [1, -1, -1, 1, 7, -7]


def test_a_wait_that_ends_early_is_resumed_and_a_frozen_clock_cannot_stall(
    tmp_path: Path, jumping_time: Clocks
) -> None:
    clocks = jumping_time
    setup = fast_setup(tmp_path, tmp_path / "state")
    waits: list[float] = []

    def early(seconds: float) -> bool:  # wakes up at half the time asked (spurious wake-up)
        waits.append(seconds)
        clocks.mono += seconds / 2
        clocks.jump(-DAY)
        return False

    agent = Agent(setup, monotonic=clocks.monotonic, wait=early)
    start = clocks.mono
    agent.pause(600)
    assert clocks.mono - start >= 600 * (1 - 0.5**WAIT_ROUNDS)  # resumed, close to the full wait
    assert len(waits) == WAIT_ROUNDS

    calls: list[float] = []

    def frozen(seconds: float) -> bool:  # returns at once, the monotonic clock never moves
        calls.append(seconds)
        return False

    Agent(setup, monotonic=clocks.monotonic, wait=frozen).pause(600)
    assert len(calls) == WAIT_ROUNDS  # bounded: then the loop goes on, no spin, no stall

    calls.clear()

    def stopping(seconds: float) -> bool:  # the stop event was set during the wait
        calls.append(seconds)
        return True

    Agent(setup, monotonic=clocks.monotonic, wait=stopping).pause(600)
    assert len(calls) == 1


@pytest.fixture
def standin() -> Iterator[StandinCollector]:
    with running_standin() as s:
        yield s


def fake_clock_pusher(state_dir: Path, standin: StandinCollector, clocks: Clocks) -> Pusher:
    enroll(standin.url, GOOD_TOKEN, "mairie-srv", state_dir)
    push = PushSettings(backoff_initial_seconds=30.0, backoff_max_seconds=600.0)
    spool = Spool(state_dir / "spool", push.spool_max_reports, push.spool_max_bytes)
    return Pusher(spool, state_dir, push, clock=clocks.wall, monotonic=clocks.monotonic)


@pytest.mark.parametrize("jump", [DAY, -DAY])
def test_push_backoff_ignores_wall_clock_jumps(
    standin: StandinCollector, tmp_path: Path, clocks: Clocks, jump: float
) -> None:
    pusher = fake_clock_pusher(tmp_path / "state", standin, clocks)
    try:
        standin.set_outage(Answer(503, "down"))
        pusher.on_report(make_report())
        for failures in range(1, 6):
            sent = len(standin.requests(REPORTS))
            assert pusher.drain() == 0
            assert len(standin.requests(REPORTS)) == sent + 1
            remaining = pusher.status().backoff_remaining
            assert 30.0 <= remaining <= min(600.0, 30.0 * 2**failures)
            clocks.jump(jump)  # the wall clock steps during the backoff
            assert pusher.status().backoff_remaining == remaining  # no effect at all
            assert pusher.drain() == 0 and len(standin.requests(REPORTS)) == sent + 1  # no burst
            clocks.mono += remaining  # only the monotonic time brings the next attempt
        standin.set_outage(None)
        assert pusher.drain() == 1  # not stalled
    finally:
        pusher.close()


@pytest.mark.parametrize("jump", [DAY, -DAY])
def test_a_retry_after_date_is_read_against_the_collectors_clock(
    standin: StandinCollector, tmp_path: Path, clocks: Clocks, jump: float
) -> None:
    pusher = fake_clock_pusher(tmp_path / "state", standin, clocks)
    try:
        clocks.jump(jump)  # this machine's clock is a day off; the collector's is right
        # The stand-in's answer carries its own Date (http.server adds it), the real time.
        later = formatdate(time.time() + 90, usegmt=True)
        standin.program(REPORTS, Answer(429, "slow down", {"Retry-After": later}))
        pusher.on_report(make_report())
        assert pusher.drain() == 0
        # 90 s as the collector meant it (HTTP dates have whole seconds), not 0 and not a day.
        assert 88.0 <= pusher.status().backoff_remaining <= 91.0
    finally:
        pusher.close()


def test_a_zero_retry_after_cannot_make_the_agent_hammer(
    standin: StandinCollector, tmp_path: Path, clocks: Clocks
) -> None:
    pusher = fake_clock_pusher(tmp_path / "state", standin, clocks)
    try:
        standin.program(REPORTS, *[Answer(429, "", {"Retry-After": "0"})] * 3)
        pusher.on_report(make_report())
        for _ in range(3):
            assert pusher.drain() == 0
            assert pusher.status().backoff_remaining >= 30.0  # the initial backoff at least
            clocks.mono += pusher.status().backoff_remaining
        assert len(standin.requests(REPORTS)) == 3
    finally:
        pusher.close()


def test_the_newest_quarantined_file_is_kept_when_the_wall_clock_steps_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_ns = time.time_ns
    with Spool(tmp_path, 100, 1_000_000) as spool:
        for i in range(SIDE_KEEP_FILES):
            spool.put(f"old{i}", make_body(f"old{i}"))
        for path in tmp_path.glob("*.json.gz"):
            path.write_bytes(b"garbage")
        assert spool.peek_oldest() is None
        monkeypatch.setattr(time, "time_ns", lambda: real_ns() - int(DAY * 1e9))
        for name in ("newer", "newest"):  # two, so the first is met again by the next pruning
            spool.put(name, make_body(name))
            (path,) = tmp_path.glob(f"*-{name}.json.gz")
            path.write_bytes(b"garbage")
            assert spool.peek_oldest() is None
    kept = sorted(p.name for p in (tmp_path / QUARANTINE_DIR).iterdir())
    assert len(kept) == SIDE_KEEP_FILES
    for name in ("newer", "newest"):  # not pruned for a stamp from the past
        assert any(k.endswith(f"-{name}.json.gz") for k in kept), kept
    assert not any(k.endswith(("-old0.json.gz", "-old1.json.gz")) for k in kept)  # they went


def make_body(report_id: str) -> bytes:
    return gzip.compress(json.dumps({"report_id": report_id, "pad": os.urandom(8).hex()}).encode())
