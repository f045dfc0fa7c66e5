"""A full disk under the state directory: the agent keeps cycling, keeps pushing (from memory),
says so in its health and on /metrics, logs once, and recovers by itself when space returns.

The integration test mounts a real 256 KiB tmpfs as the state directory and fills it, so every
write the agent makes meets a real ENOSPC from the kernel.
"""

from __future__ import annotations

import errno
import gzip
import json
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from sentinelle.agent.daemon import AGENT_STATE_FILE, Agent
from sentinelle.agent.enroll import enroll
from sentinelle.agent.exporter import agent_registry
from sentinelle.agent.push import HELD_MAX_REPORTS, Pusher
from sentinelle.agent.spool import STATE_FILE, Spool, StateWrites
from sentinelle.model import Report
from tests.agent.agent_rig import fast_setup, stored_health, wired_agent
from tests.agent.standin_collector import GOOD_TOKEN, Answer, StandinCollector, running_standin
from tests.conftest import need, need_tool

CHUNK = 4096
TMPFS_BYTES = 256 * 1024


def test_state_writes_count_every_failure_and_log_each_condition_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("test.state_writes")
    writes = StateWrites(logger, errors_total=5)  # a total read back from disk
    full = OSError(errno.ENOSPC, "No space left on device")
    caplog.set_level(logging.INFO, "test.state_writes")
    assert writes.writable
    for _ in range(10):
        writes.failed("/state/last-report.json", full)
    writes.failed("/state/spool", full)
    assert writes.errors_total == 16
    assert not writes.writable
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2  # one per file, not one per failure
    writes.failed("/state/last-report.json", OSError(errno.EROFS, "Read-only file system"))
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 3  # a new condition
    writes.succeeded("/state/last-report.json")
    assert not writes.writable  # the spool still fails
    writes.succeeded("/state/spool")
    writes.succeeded("/state/spool")  # already fine: nothing more to say
    assert writes.writable
    recovered = [r for r in caplog.records if "works again" in r.getMessage()]
    assert len(recovered) == 2


@pytest.fixture
def tiny_state_dir(tmp_path: Path) -> Iterator[Path]:
    need(os.geteuid() == 0, "needs root (mounts a tmpfs as the state directory)")
    need_tool("mount")
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES},mode=0750", "tmpfs", str(state_dir)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    # Root in a container without CAP_SYS_ADMIN cannot mount: a missing prerequisite too.
    need(mounted.returncode == 0, f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield state_dir
    finally:
        subprocess.run(["umount", "-l", str(state_dir)], check=False, timeout=30)


def fill(directory: Path) -> Path:
    """Fill the filesystem of `directory` to the last byte; returns the filler file."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for _ in range(TMPFS_BYTES // CHUNK + 16):  # bounded: more than the whole tmpfs
            try:
                os.write(fd, b"\0" * CHUNK)  # unbuffered: the error comes here, not at close
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
        else:
            raise AssertionError("the tmpfs never filled up")
    finally:
        os.close(fd)
    # Not even a page is left for a spool entry.
    probe = directory / "probe"
    with pytest.raises(OSError) as caught:
        probe.write_bytes(b"x" * 100)
    assert caught.value.errno == errno.ENOSPC
    probe.unlink(missing_ok=True)
    return filler


def conditions_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What each "cannot write" line was about, one entry per line logged."""
    return [
        str(r.args[0])
        for r in caplog.records
        if r.getMessage().startswith("cannot write") and isinstance(r.args, tuple)
    ]


@pytest.mark.integration
def test_a_full_state_directory_keeps_the_agent_cycling_pushing_and_telling(
    tiny_state_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state_dir = tiny_state_dir
    caplog.set_level(logging.INFO, "sentinelle")
    with running_standin() as standin:
        enroll(standin.url, GOOD_TOKEN, "mairie-srv", state_dir)
        # The pause between cycles returns at once: the loop itself runs, at test speed.
        agent, pusher = wired_agent(fast_setup(tmp_path / "etc", state_dir), wait=lambda s: False)
        pusher.start()
        try:
            run_full_disk_scenario(agent, pusher, standin, state_dir, caplog)
        finally:
            pusher.close()


def run_full_disk_scenario(
    agent: Agent,
    pusher: Pusher,
    standin: StandinCollector,
    state_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def cycle() -> Report:
        report = agent.cycle()
        assert report is not None, "a full disk must not fail the cycle"
        return report

    def pushed_soon(report_ids: list[str]) -> None:
        assert standin.wait_for(lambda: standin.stored_ids()[-len(report_ids) :] == report_ids, 10)

    # 1. Healthy: spooled, pushed, nothing to report.
    normal = cycle()
    pushed_soon([normal.report_id])
    assert stored_health(standin, normal.report_id)["state_dir_writable"] is True

    # 2. The disk fills up. The loop keeps cycling; every Report is built and pushed, from
    # memory.
    filler = fill(state_dir)
    full: list[Report] = []
    agent.hooks.append(full.append)
    agent.run_forever(max_cycles=5)
    agent.hooks.remove(full.append)
    assert len(full) == 5 and agent.state.snapshot()[2] == 0  # 5 cycles, none failed
    pushed_soon([r.report_id for r in full])
    health = [stored_health(standin, r.report_id) for r in full]
    assert all(h["state_dir_writable"] is False for h in health)
    errors = [h["state_write_errors_total"] for h in health]
    assert errors[0] >= 1 and errors == sorted(errors) and errors[-1] > errors[0]  # counted
    assert standin.wait_for(lambda: pusher.held() == 0, 5)  # all sent from memory
    assert pusher.spool.depth() == 0  # and nothing could go to disk
    logged = conditions_logged(caplog)
    # last-report.json, agent-state.json, the spool's entries: each said once, not per cycle
    assert len(logged) == len(set(logged)) == 3, logged
    metrics = generate_latest(agent_registry(agent.state)).decode()
    assert "sentinelle_agent_state_dir_writable 0.0" in metrics
    assert "sentinelle_agent_push_held_reports 0.0" in metrics

    # 3. Full disk and the collector down: Reports wait in memory, bounded, oldest dropped.
    standin.set_outage(Answer(503, "storage down"))
    waiting = [cycle() for _ in range(HELD_MAX_REPORTS + 2)]
    assert pusher.held() == HELD_MAX_REPORTS
    assert pusher.status().dropped_total == 2
    logged = conditions_logged(caplog)
    assert len(logged) == len(set(logged)) <= 4, logged  # + the spool's state file, once

    # 4. Space comes back (and the collector): nothing to do by hand.
    filler.unlink()
    standin.set_outage(None)
    recovered = cycle()  # moves the held Reports to the spool, oldest first, then its own
    assert pusher.held() == 0
    kept = [r.report_id for r in waiting[2:]] + [recovered.report_id]
    pushed_soon(kept)
    assert [i for i in standin.stored_ids() if i in set(kept)] == kept  # in order
    after = cycle()
    pushed_soon([after.report_id])
    final = stored_health(standin, after.report_id)
    assert final["state_dir_writable"] is True
    assert final["reports_dropped_total"] == 2
    assert final["state_write_errors_total"] >= errors[-1]
    assert any("works again" in r.getMessage() for r in caplog.records)
    metrics = generate_latest(agent_registry(agent.state)).decode()
    assert "sentinelle_agent_state_dir_writable 1.0" in metrics
    # The counts reached the disk once it had room again (they survive a restart).
    assert json.loads((state_dir / AGENT_STATE_FILE).read_text())["state_write_errors_total"] > 0
    spool_state = json.loads((state_dir / "spool" / STATE_FILE).read_text())
    assert spool_state["state_write_errors_total"] > 0 and spool_state["dropped_total"] == 2
    saved = json.loads((state_dir / "last-report.json").read_text())
    assert saved["report_id"] == after.report_id


def test_a_write_refused_by_a_full_disk_costs_no_spooled_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Spool(tmp_path, 3, 1_000_000) as spool:
        for i in range(3):  # at its bound: the next put must evict the oldest
            assert spool.put(f"r{i}", gzip.compress(json.dumps({"report_id": f"r{i}"}).encode()))

        def full(fd: int, data: object) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "write", full)
        with pytest.raises(OSError):
            spool.put("r3", gzip.compress(b'{"report_id": "r3"}'))
        monkeypatch.undo()
        assert spool.depth() == 3 and spool.dropped_total == 0  # nothing evicted for nothing
        assert spool.writes.errors_total == 1 and not spool.writes.writable
        assert spool.put("r4", gzip.compress(b'{"report_id": "r4"}'))
        assert spool.dropped_total == 1 and spool.writes.writable
        ids = []
        for _ in range(4):
            entry = spool.peek_oldest()
            if entry is None:
                break
            ids.append(entry.report_id)
            spool.remove(entry)
        assert ids == ["r1", "r2", "r4"]
