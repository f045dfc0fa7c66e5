"""The restore-test journal: when somebody last proved that a location's backups restore.

A restore test is an action of a person, not something the agent can see, so it is recorded with
`sentinelle backup restore-tested --location NAME` into <state_dir>/restore-tests.json, in the
agent's own state directory on this machine (not in the inspected tree). The file keeps a bounded
history per location and is replaced atomically, so a crash never leaves half a journal.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sentinelle.errors import ConfigError, expect

JOURNAL_NAME = "restore-tests.json"
JOURNAL_VERSION = 1
# Years of monthly tests; the oldest entries go first.
MAX_HISTORY_PER_LOCATION = 100
MAX_NOTE_CHARS = 500


@dataclass(frozen=True)
class RestoreTest:
    """One recorded restore test of one location."""

    location: str
    when: datetime  # tz-aware UTC
    note: str = ""


def journal_path(state_dir: Path) -> Path:
    return Path(state_dir) / JOURNAL_NAME


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse_journal(path: Path, text: str) -> dict[str, list[RestoreTest]]:
    source = str(path)
    try:
        data: Any = json.loads(text)
    except ValueError as exc:
        raise ConfigError(source, "", expect("restore_journal_json"), str(exc)) from exc
    if not isinstance(data, dict) or not isinstance(data.get("locations"), dict):
        raise ConfigError(source, "locations", expect("restore_journal_locations"))
    journal: dict[str, list[RestoreTest]] = {}
    for name, entries in data["locations"].items():
        if not isinstance(entries, list):
            raise ConfigError(source, f"locations.{name}", expect("restore_test_list"), entries)
        tests = []
        for i, entry in enumerate(entries):
            key = f"locations.{name}[{i}]"
            try:
                when = datetime.fromisoformat(str(entry["tested_at"]).replace("Z", "+00:00"))
            except (KeyError, TypeError, ValueError) as exc:
                raise ConfigError(source, key + ".tested_at", expect("rfc3339_time"),
                                  entry) from exc
            if when.tzinfo is None:
                raise ConfigError(source, key + ".tested_at", expect("time_with_offset"), entry)
            tests.append(RestoreTest(str(name), when.astimezone(UTC), str(entry.get("note", ""))))
        journal[str(name)] = sorted(tests, key=lambda t: t.when)
    return journal


def load_restore_tests(state_dir: Path) -> dict[str, list[RestoreTest]]:
    """Recorded restore tests by location, oldest first; {} when none was ever recorded.

    Raises ConfigError (naming the file and the key) when the journal is damaged.
    """
    path = journal_path(state_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    return _parse_journal(path, text)


@contextlib.contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    # Two people recording at once must not lose one of the two entries (read-modify-write).
    if sys.platform == "win32":  # no flock: a second recorder at the same second is unlikely
        yield
        return
    import fcntl

    with open(state_dir / (JOURNAL_NAME + ".lock"), "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            # Readable by the agent when an administrator records as another user: not a secret.
            if sys.platform != "win32":  # no mode bits there: the directory's ACL rules
                os.fchmod(out.fileno(), 0o644)
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    # The rename itself must reach the disk, or a power cut could bring the old journal back.
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def record_restore_test(state_dir: Path, location: str, when: datetime, note: str = "") -> Path:
    """Add a restore test of `location` at `when` (tz-aware) to the journal; returns its path.

    Earlier tests are kept (up to MAX_HISTORY_PER_LOCATION per location). A damaged journal is
    a ConfigError and is left untouched.
    """
    if when.tzinfo is None:
        raise ValueError("the time of a restore test must be timezone-aware")
    if not location:
        raise ValueError("a restore test needs a location name")
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = journal_path(state_dir)
    with _locked(state_dir):
        journal = load_restore_tests(state_dir)
        tests = journal.setdefault(location, [])
        tests.append(RestoreTest(location, when.astimezone(UTC), note[:MAX_NOTE_CHARS]))
        tests.sort(key=lambda t: t.when)
        del tests[:-MAX_HISTORY_PER_LOCATION]
        data = {
            "version": JOURNAL_VERSION,
            "locations": {
                name: [{"tested_at": _stamp(t.when), "note": t.note} for t in entries]
                for name, entries in sorted(journal.items())
            },
        }
        _write_atomically(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    return path


def last_restore_test(journal: dict[str, list[RestoreTest]], location: str) -> RestoreTest | None:
    """The most recent test of a location, if any."""
    tests = journal.get(location) or []
    return tests[-1] if tests else None
