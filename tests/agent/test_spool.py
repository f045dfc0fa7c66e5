"""The push spool on real files: order, bounds, drop counting, restarts, corruption, atomicity."""

from __future__ import annotations

import gzip
import json
import os
import threading
import time
from pathlib import Path

import pytest

from sentinelle.agent.spool import (
    QUARANTINE_DIR,
    REJECTED_DIR,
    SIDE_KEEP_FILES,
    STATE_FILE,
    Spool,
    SpoolError,
)


def body(report_id: str, padding: int = 0) -> bytes:
    """A gzip JSON body like the agent spools; `padding` random-ish bytes resist compression."""
    data = {"report_id": report_id, "pad": os.urandom(padding).hex() if padding else ""}
    return gzip.compress(json.dumps(data).encode())


def drain_ids(spool: Spool) -> list[str]:
    """Pop everything oldest first (bounded by the depth)."""
    ids: list[str] = []
    for _ in range(spool.depth() + 1):
        entry = spool.peek_oldest()
        if entry is None:
            break
        ids.append(entry.report_id)
        spool.remove(entry)
    return ids


def no_tmp_files(directory: Path) -> bool:
    return not [p for p in directory.rglob("*") if p.name.startswith(".tmp-")]


def test_reports_come_back_oldest_first_with_their_bodies(tmp_path: Path) -> None:
    with Spool(tmp_path / "spool", 10, 1_000_000) as spool:
        bodies = {f"r{i}": body(f"r{i}") for i in range(5)}
        for rid, data in bodies.items():
            assert spool.put(rid, data)
        assert spool.depth() == 5
        assert spool.bytes() == sum(len(b) for b in bodies.values())
        first = spool.peek_oldest()
        assert first is not None and first.report_id == "r0" and first.body == bodies["r0"]
        # peek does not consume: the same entry until it is removed
        again = spool.peek_oldest()
        assert again is not None and again.seq == first.seq
        assert drain_ids(spool) == ["r0", "r1", "r2", "r3", "r4"]
        assert spool.depth() == 0 and spool.bytes() == 0
        assert spool.peek_oldest() is None
        files = [p.name for p in (tmp_path / "spool").iterdir() if p.name.endswith(".gz")]
        assert files == []


def test_file_names_sort_in_sequence_and_unsafe_ids_are_sanitized(tmp_path: Path) -> None:
    with Spool(tmp_path, 20, 1_000_000) as spool:
        for i in range(12):
            spool.put(f"id:{i}/../x", body(f"id:{i}/../x"))
        names = sorted(p.name for p in tmp_path.glob("*.json.gz"))
        assert [int(n.split("-", 1)[0]) for n in names] == list(range(12))
        assert all("/" not in n and ":" not in n for n in names)
        entry = spool.peek_oldest()
        assert entry is not None and entry.report_id == "id:0/../x"  # the exact id, from the body


def test_count_bound_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    with Spool(tmp_path, 3, 1_000_000) as spool:
        for i in range(5):
            assert spool.put(f"r{i}", body(f"r{i}"))
        assert spool.depth() == 3
        assert spool.dropped_total == 2
        assert drain_ids(spool) == ["r2", "r3", "r4"]


def test_byte_bound_drops_the_oldest_until_the_new_one_fits(tmp_path: Path) -> None:
    size = len(body("r0", 2000))
    with Spool(tmp_path, 100, int(size * 3.5)) as spool:
        for i in range(6):
            assert spool.put(f"r{i}", body(f"r{i}", 2000))
            assert spool.bytes() <= spool.max_bytes
        assert spool.depth() == 3
        assert spool.dropped_total == 3
        assert drain_ids(spool) == ["r3", "r4", "r5"]


def test_a_report_larger_than_the_whole_spool_is_dropped_not_stored(tmp_path: Path) -> None:
    with Spool(tmp_path, 10, 500) as spool:
        assert spool.put("small", body("small"))
        assert not spool.put("huge", body("huge", 1000))
        assert spool.dropped_total == 1
        assert drain_ids(spool) == ["small"]  # the small one was not evicted for nothing


def test_order_sequence_and_drop_count_survive_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 3, 1_000_000)
    for i in range(4):
        spool.put(f"r{i}", body(f"r{i}"))
    assert spool.dropped_total == 1
    spool.close()

    reopened = Spool(tmp_path, 3, 1_000_000)
    try:
        assert reopened.depth() == 3
        assert reopened.dropped_total == 1  # read back from state.json
        reopened.put("r4", body("r4"))  # evicts r1, continues the sequence after r3
        assert reopened.dropped_total == 2
        seqs = sorted(int(p.name.split("-", 1)[0]) for p in tmp_path.glob("*.json.gz"))
        assert seqs == [2, 3, 4]
        assert drain_ids(reopened) == ["r2", "r3", "r4"]
    finally:
        reopened.close()
    state = json.loads((tmp_path / STATE_FILE).read_text())
    assert state["dropped_total"] == 2


def test_smaller_bounds_on_restart_trim_the_oldest(tmp_path: Path) -> None:
    with Spool(tmp_path, 10, 1_000_000) as spool:
        for i in range(6):
            spool.put(f"r{i}", body(f"r{i}"))
    with Spool(tmp_path, 2, 1_000_000) as smaller:
        assert smaller.depth() == 2
        assert smaller.dropped_total == 4
        assert drain_ids(smaller) == ["r4", "r5"]


def test_corrupt_and_partial_files_are_quarantined_and_counted(tmp_path: Path) -> None:
    with Spool(tmp_path, 10, 1_000_000) as spool:
        for i in range(4):
            spool.put(f"r{i}", body(f"r{i}"))
        files = sorted(tmp_path.glob("*.json.gz"))
        good = files[1].read_bytes()
        files[1].write_bytes(good[: len(good) // 2])  # truncated gzip: a torn write
        files[2].write_bytes(gzip.compress(b"[1, 2]"))  # gzip JSON but not a Report
        assert drain_ids(spool) == ["r0", "r3"]
        assert spool.quarantined_total == 2
        quarantined = sorted(p.name for p in (tmp_path / QUARANTINE_DIR).iterdir())
        assert len(quarantined) == 2
        assert quarantined[0].endswith(files[1].name)
        assert spool.depth() == 0 and spool.bytes() == 0
    # the count survives a restart
    with Spool(tmp_path, 10, 1_000_000) as spool:
        assert spool.quarantined_total == 2


def test_leftovers_of_a_crash_are_quarantined_at_open(tmp_path: Path) -> None:
    with Spool(tmp_path, 10, 1_000_000) as spool:
        spool.put("r0", body("r0"))
    (tmp_path / ".tmp-000000000001-r1.json.gz.123.456").write_bytes(b"\x1f\x8b partial")
    (tmp_path / "000000000002-r2.json.gz").write_bytes(b"")  # created, never written
    (tmp_path / "notes.txt").write_text("what is this?")
    with Spool(tmp_path, 10, 1_000_000) as spool:
        assert spool.quarantined_total == 3
        assert drain_ids(spool) == ["r0"]
        assert no_tmp_files(tmp_path)
        assert len(list((tmp_path / QUARANTINE_DIR).iterdir())) == 3


def test_quarantine_keeps_only_its_newest_files(tmp_path: Path) -> None:
    with Spool(tmp_path, 100, 1_000_000) as spool:
        for i in range(SIDE_KEEP_FILES + 5):
            spool.put(f"r{i}", body(f"r{i}"))
        for path in tmp_path.glob("*.json.gz"):
            path.write_bytes(b"garbage")
        assert spool.peek_oldest() is None
        assert spool.quarantined_total == SIDE_KEEP_FILES + 5
        kept = list((tmp_path / QUARANTINE_DIR).iterdir())
        assert len(kept) == SIDE_KEEP_FILES


def test_refused_reports_are_set_aside_in_rejected(tmp_path: Path) -> None:
    with Spool(tmp_path, 10, 1_000_000) as spool:
        spool.put("bad", body("bad"))
        entry = spool.peek_oldest()
        assert entry is not None
        spool.remove(entry, set_aside=True)
        assert spool.depth() == 0
        (kept,) = list((tmp_path / REJECTED_DIR).iterdir())
        assert kept.read_bytes() == entry.body


def test_removing_an_entry_evicted_meanwhile_is_harmless(tmp_path: Path) -> None:
    with Spool(tmp_path, 1, 1_000_000) as spool:
        spool.put("r0", body("r0"))
        in_flight = spool.peek_oldest()
        assert in_flight is not None
        spool.put("r1", body("r1"))  # evicts r0 while it is "being sent"
        spool.remove(in_flight)
        assert drain_ids(spool) == ["r1"]
        assert spool.dropped_total == 1


def test_writes_are_atomic_no_temporary_file_survives_a_failed_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Spool(tmp_path, 10, 1_000_000) as spool:
        for i in range(3):
            spool.put(f"r{i}", body(f"r{i}"))
        assert no_tmp_files(tmp_path)

        def broken_fsync(fd: int) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "fsync", broken_fsync)
        with pytest.raises(OSError, match="No space left"):
            spool.put("r3", body("r3"))
        monkeypatch.undo()
        assert no_tmp_files(tmp_path)
        assert spool.depth() == 3
        assert len(list(tmp_path.glob("*.json.gz"))) == 3
        spool.put("r4", body("r4"))
        assert drain_ids(spool) == ["r0", "r1", "r2", "r4"]


def test_one_process_at_a_time(tmp_path: Path) -> None:
    first = Spool(tmp_path, 10, 1_000_000)
    try:
        with pytest.raises(SpoolError, match="in use by another"):
            Spool(tmp_path, 10, 1_000_000)
    finally:
        first.close()
    Spool(tmp_path, 10, 1_000_000).close()  # free again once closed


def test_unusable_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(SpoolError, match="cannot use the push spool"):
        Spool(blocker / "spool", 10, 1_000_000)


def test_concurrent_put_and_drain_lose_nothing_and_keep_order(tmp_path: Path) -> None:
    total = 60
    with Spool(tmp_path, 1000, 10_000_000) as spool:
        seen: list[str] = []
        done = threading.Event()

        def producer() -> None:
            for i in range(total):
                spool.put(f"r{i:03d}", body(f"r{i:03d}"))
            done.set()

        thread = threading.Thread(target=producer)
        thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # bounded in time
            entry = spool.peek_oldest()
            if entry is None:
                if done.is_set() and spool.depth() == 0:
                    break
                time.sleep(0.001)
                continue
            seen.append(entry.report_id)
            spool.remove(entry)
        thread.join(10)
        assert seen == [f"r{i:03d}" for i in range(total)]
