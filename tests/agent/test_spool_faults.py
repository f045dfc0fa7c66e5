"""Every shape of a broken spool: set aside, counted, never a crash (nor a crash loop at start),
and the good Reports still pushed in order — by the Spool, by the agent, and by the real
`sentinelle agent run --once` process."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sentinelle.agent.daemon import AGENT_STATE_FILE
from sentinelle.agent.enroll import enroll
from sentinelle.agent.push import encode_report
from sentinelle.agent.spool import LOCK_FILE, QUARANTINE_DIR, SIDE_KEEP_FILES, STATE_FILE, Spool
from tests.agent.agent_rig import agent_yaml, fast_setup, wired_agent
from tests.agent.standin_collector import GOOD_TOKEN, StandinCollector, running_standin
from tests.agent.test_push import make_report

ROOT = Path(__file__).resolve().parents[2]


def body(report_id: str) -> bytes:
    return gzip.compress(json.dumps({"report_id": report_id}).encode())


def entry_name(seq: int, report_id: str) -> str:
    return f"{seq:012d}-{report_id}.json.gz"


def _truncated(path: Path) -> None:
    good = body("lost")
    path.write_bytes(good[: len(good) // 2])  # a torn write


def _directory(path: Path) -> None:
    path.mkdir()
    (path / "inside").write_text("a directory where a spool file belongs")


# Each shape writes something broken at `path`, the name of an entry.
BROKEN_ENTRIES: dict[str, Callable[[Path], object]] = {
    "truncated gzip": _truncated,
    "not gzip": lambda p: p.write_bytes(b'{"report_id": "plain JSON, not gzip"}'),
    "gzip of non-JSON": lambda p: p.write_bytes(gzip.compress(b"\xff\xfe not JSON at all")),
    "gzip of a JSON list": lambda p: p.write_bytes(gzip.compress(b"[1, 2]")),
    "JSON without report_id": lambda p: p.write_bytes(gzip.compress(b'{"score": {}}')),
    "report_id not a string": lambda p: p.write_bytes(gzip.compress(b'{"report_id": 7}')),
    "zero-length": lambda p: p.write_bytes(b""),
    "gzip then garbage": lambda p: p.write_bytes(body("x") + b"\x00garbage"),
    "a directory": _directory,
}


def quarantined(directory: Path) -> list[str]:
    side = directory / QUARANTINE_DIR
    return sorted(p.name.split("-", 1)[1] for p in side.iterdir()) if side.is_dir() else []


def drain_ids(spool: Spool) -> list[str]:
    ids: list[str] = []
    for _ in range(spool.depth() + 1):  # bounded by the depth
        entry = spool.peek_oldest()
        if entry is None:
            break
        ids.append(entry.report_id)
        spool.remove(entry)
    return ids


@pytest.mark.parametrize("shape", sorted(BROKEN_ENTRIES))
@pytest.mark.parametrize("when", ["before start", "while running"])
def test_a_broken_entry_is_set_aside_and_counted(tmp_path: Path, shape: str, when: str) -> None:
    spool_dir = tmp_path / "spool"
    broken = spool_dir / entry_name(1, "broken")
    if when == "before start":
        spool_dir.mkdir()
        (spool_dir / entry_name(0, "r0")).write_bytes(body("r0"))
        BROKEN_ENTRIES[shape](broken)
        (spool_dir / entry_name(2, "r2")).write_bytes(body("r2"))
        spool = Spool(spool_dir, 10, 1_000_000)
    else:
        spool = Spool(spool_dir, 10, 1_000_000)
        for rid in ("r0", "broken", "r2"):
            spool.put(rid, body(rid))
        broken.unlink()
        BROKEN_ENTRIES[shape](broken)
    with spool:
        assert drain_ids(spool) == ["r0", "r2"]
        assert spool.quarantined_total == 1
        assert spool.depth() == 0 and spool.bytes() == 0
        spool.put("r3", body("r3"))  # the spool goes on, after the sequence it found
        assert drain_ids(spool) == ["r3"]
    assert quarantined(spool_dir) == [broken.name]
    assert not broken.exists()
    assert json.loads((spool_dir / STATE_FILE).read_text())["quarantined_total"] == 1
    with Spool(spool_dir, 10, 1_000_000) as again:  # and the count survives a restart
        assert again.quarantined_total == 1


def _state_dir_in_place(path: Path) -> None:
    path.mkdir()  # unreadable: reading a directory fails


STATE_SHAPES: dict[str, Callable[[Path], object]] = {
    "unreadable (a directory)": _state_dir_in_place,
    "garbage bytes": lambda p: p.write_bytes(b"\x1f\x8b\xff\x00 not json"),
    "truncated JSON": lambda p: p.write_text('{"dropped_total": 3, "quarant'),
    "a JSON list": lambda p: p.write_text("[3, 4]"),
    "empty": lambda p: p.write_bytes(b""),
}


@pytest.mark.parametrize("shape", sorted(STATE_SHAPES))
def test_a_broken_state_file_is_set_aside_counted_and_rewritten(tmp_path: Path, shape: str) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    (spool_dir / entry_name(0, "r0")).write_bytes(body("r0"))
    STATE_SHAPES[shape](spool_dir / STATE_FILE)
    with Spool(spool_dir, 10, 1_000_000) as spool:
        assert spool.quarantined_total == 1
        assert spool.dropped_total == 0
        assert drain_ids(spool) == ["r0"]
        assert spool.writes.writable  # the state file could be written again at once
    assert quarantined(spool_dir) == [STATE_FILE]
    state = json.loads((spool_dir / STATE_FILE).read_text())
    assert state["quarantined_total"] == 1


def test_bogus_counters_in_the_state_file_restart_at_zero(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    (spool_dir / STATE_FILE).write_text(
        json.dumps({"dropped_total": -4, "quarantined_total": True, "rejected_total": "9"})
    )
    with Spool(spool_dir, 10, 1_000_000) as spool:
        assert (spool.dropped_total, spool.quarantined_total, spool.rejected_total) == (0, 0, 0)


def test_our_own_names_taken_by_the_wrong_kind_of_file_do_not_stop_the_spool(
    tmp_path: Path,
) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    (spool_dir / entry_name(0, "r0")).write_bytes(body("r0"))
    (spool_dir / LOCK_FILE).mkdir()  # a directory where the lock file belongs
    (spool_dir / QUARANTINE_DIR).write_text("a file where the quarantine directory belongs")
    (spool_dir / entry_name(1, "bad")).write_bytes(b"junk")
    with Spool(spool_dir, 10, 1_000_000) as spool:
        assert drain_ids(spool) == ["r0"]
        assert spool.quarantined_total == 2  # the lock directory and the junk entry
    assert (spool_dir / QUARANTINE_DIR).is_dir()
    assert (spool_dir / LOCK_FILE).is_file()


def test_a_file_where_the_spool_directory_belongs_is_set_aside(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.write_text("not a directory")
    with Spool(spool_dir, 10, 1_000_000) as spool:
        assert spool.quarantined_total == 1
        assert spool.put("r0", body("r0"))
        assert drain_ids(spool) == ["r0"]
    assert (tmp_path / "spool.not-a-directory").read_text() == "not a directory"


def test_quarantined_directories_are_pruned_like_files(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    for seq in range(SIDE_KEEP_FILES + 3):
        _directory(spool_dir / entry_name(seq, f"d{seq}"))
    with Spool(spool_dir, 10, 1_000_000) as spool:
        assert spool.quarantined_total == SIDE_KEEP_FILES + 3
    assert len(list((spool_dir / QUARANTINE_DIR).iterdir())) == SIDE_KEEP_FILES


def seed_broken_state(state_dir: Path) -> list[str]:
    """A state directory with every broken shape between good Reports; returns the good ids."""
    spool_dir = state_dir / "spool"
    spool_dir.mkdir(parents=True)
    good: list[str] = []
    seq = 0
    for shape in sorted(BROKEN_ENTRIES):
        report = make_report(seq)
        (spool_dir / entry_name(seq, report.report_id)).write_bytes(encode_report(report))
        good.append(report.report_id)
        BROKEN_ENTRIES[shape](spool_dir / entry_name(seq + 1, f"broken{seq}"))
        seq += 2
    (spool_dir / f".tmp-{entry_name(seq, 'crash')}.1.2").write_bytes(b"\x1f\x8b half")
    (spool_dir / STATE_FILE).write_bytes(b"\x00\x01 corrupt")
    (state_dir / AGENT_STATE_FILE).write_text('{"cycle_failures_total": ')
    return good


BROKEN_FILES = len(BROKEN_ENTRIES) + 2  # the entries, the temporary file, the state file


@pytest.fixture
def standin() -> Iterator[StandinCollector]:
    with running_standin() as s:
        yield s


def test_the_agent_starts_on_a_broken_spool_and_pushes_the_good_reports_in_order(
    standin: StandinCollector, tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    good = seed_broken_state(state_dir)
    enroll(standin.url, GOOD_TOKEN, "mairie-srv", state_dir)
    agent, pusher = wired_agent(fast_setup(tmp_path, state_dir))
    try:
        first = agent.cycle()
        assert first is not None and first.agent_health is not None
        # What the start found by name or size is counted at once; bad content when read.
        assert first.agent_health.spool_quarantined_total == 4
        assert pusher.drain() == len(good) + 1
        second = agent.cycle()  # it keeps running
        assert second is not None and second.agent_health is not None
        assert pusher.drain() == 1
        assert second.agent_health.spool_quarantined_total == BROKEN_FILES
        assert second.agent_health.cycle_failures_total == 0  # the corrupt agent state: reset
        assert second.agent_health.state_dir_writable is True
        reports = [first, second]
    finally:
        pusher.close()
    assert standin.stored_ids() == [*good, *(r.report_id for r in reports)]
    assert (state_dir / f"{AGENT_STATE_FILE}.corrupt").exists()


def test_the_real_agent_process_starts_and_pushes_despite_a_broken_spool(
    standin: StandinCollector, tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    good = seed_broken_state(state_dir)
    enroll(standin.url, GOOD_TOKEN, "mairie-srv", state_dir)
    config = agent_yaml(tmp_path, state_dir)
    argv = [sys.executable, "-m", "sentinelle.cli", "agent", "run", "--once", "--config"]
    for run in range(2):  # and the next start finds a clean spool, not a crash loop
        out = subprocess.run(
            [*argv, str(config)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT), "SENTINELLE_LANG": "en"},
        )
        assert out.returncode == 0, out.stderr
        assert "; 0 Reports left in the spool" in out.stdout
        if run == 0:
            assert "quarantined" in out.stderr
    stored = standin.stored_ids()
    assert stored[: len(good)] == good and len(stored) == len(good) + 2
    last = json.loads((state_dir / "last-report.json").read_text())
    assert last["agent"]["health"]["spool_quarantined_total"] == BROKEN_FILES
