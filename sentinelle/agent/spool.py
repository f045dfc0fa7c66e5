"""A bounded on-disk spool of Reports waiting to be pushed to the collector.

Layout of the spool directory (`<state_dir>/spool/`):

- `000000000042-<report id>.json.gz`: one Report each, the gzip-compressed JSON body exactly as
  it is sent. The zero-padded sequence number orders replay; it continues from the files found
  when the spool is opened again, so the order survives a restart or a reboot.
- `state.json`: counters that must survive restarts (Reports dropped because the spool was full,
  files quarantined, Reports the collector refused, failed writes under the spool directory).
- `quarantine/`: unreadable or partial files moved aside (never deleted silently, never a crash),
  including a corrupt `state.json` and anything that is not a regular file where an entry is.
- `rejected/`: Reports the collector refused with a 4xx, kept for diagnosis.
- `.lock`: held while a process uses the spool, so two agents never interleave sequences.

Every write is atomic (temporary file, fsync, rename, fsync of the directory): after a crash a
Report is either wholly in the spool or absent. The spool is bounded by count and by bytes; when
full, the oldest Reports make room and the drop is counted. The side directories keep only their
newest few files, so nothing here grows without bound.

A write that fails (a full disk, a read-only remount) is counted in `writes` (a `StateWrites`)
and logged once per condition; `put` then raises so the caller can keep the Report elsewhere,
and the state file is saved again after the next write that works.
"""

from __future__ import annotations

import builtins
import contextlib
import gzip
import json
import logging
import os
import re
import shutil
import sys
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from sentinelle.errors import SentinelleError

log = logging.getLogger("sentinelle.agent.spool")

ENTRY_NAME = re.compile(r"^(\d{12})-([A-Za-z0-9._-]{1,64})\.json\.gz$")
STATE_FILE = "state.json"
LOCK_FILE = ".lock"
TMP_PREFIX = ".tmp-"
QUARANTINE_DIR = "quarantine"
REJECTED_DIR = "rejected"
SIDE_KEEP_FILES = 20  # newest files kept in quarantine/ and rejected/
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class SpoolError(SentinelleError):
    """The spool directory cannot be used (locked by another process, not writable)."""


class CorruptEntry(Exception):
    """A spool file that does not hold a complete gzip-compressed JSON Report."""


class StateWrites:
    """Failed writes under the state directory: counted, and logged once per condition.

    A full disk fails the same writes at every cycle; logging each one would bury the one line
    that matters (and fill the journal on the same disk). So a condition (what is written, and
    the errno) is logged when it starts and when it clears; every failure is still counted.
    `writable` is False while any write last failed: it turns True again only when that same
    write works, which every cycle retries.
    """

    def __init__(self, logger: logging.Logger, errors_total: int = 0) -> None:
        self._log = logger
        self._lock = threading.Lock()
        self.errors_total = errors_total
        self._failing: dict[str, int | None] = {}  # what -> errno of its last failure

    def failed(self, what: str, exc: OSError) -> None:
        """Count one failed write of `what`; log it if this condition is new."""
        with self._lock:
            self.errors_total += 1
            new = what not in self._failing or self._failing[what] != exc.errno
            self._failing[what] = exc.errno
        if new:
            self._log.error(
                "cannot write %s: %s; the agent keeps running (Reports the spool cannot write "
                "are held in memory and pushed from there), counts each failed write in "
                "state_write_errors_total and says this again only when it changes",
                what,
                exc,
            )

    def succeeded(self, what: str) -> None:
        """`what` was written: the condition, if any, is over."""
        with self._lock:
            was_failing = what in self._failing
            self._failing.pop(what, None)
        if was_failing:
            self._log.warning("writing %s works again", what)

    @property
    def writable(self) -> bool:
        """True when no write under the state directory is currently failing."""
        with self._lock:
            return not self._failing


@dataclass(frozen=True)
class SpoolEntry:
    """One spooled Report: its place in the order, its id and the gzip body to send."""

    seq: int
    report_id: str
    path: Path
    size: int
    body: bytes


@dataclass
class _Slot:
    seq: int
    name: str
    size: int


def write_file_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write `path` so that a crash leaves the old content or the new one, never a mix.

    The temporary file is created with `mode` from the start (no window where a secret is
    readable by others), fsynced, renamed over `path`, then the directory is fsynced so the
    rename itself survives a power cut.
    """
    directory = path.parent
    tmp = directory / f"{TMP_PREFIX}{path.name}.{os.getpid()}.{time.monotonic_ns()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(directory)


def fsync_dir(directory: Path) -> None:
    """Make renames and unlinks in `directory` durable. Windows cannot open a directory as a
    file; NTFS journals the rename itself (MoveFileEx, which os.replace calls)."""
    if sys.platform == "win32":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_body(body: bytes) -> str:
    """The report id of a gzip-compressed JSON Report; CorruptEntry if it is not one."""
    try:
        data = json.loads(gzip.decompress(body))
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        raise CorruptEntry(f"not a complete gzip JSON body: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("report_id"), str):
        raise CorruptEntry("JSON body has no report_id")
    return str(data["report_id"])


class Spool:
    """Bounded, ordered, crash-safe storage of Reports not yet acknowledged by the collector.

    Thread-safe: the agent's cycle puts Reports while the push thread peeks and removes them.
    Never crash-loops on what it finds: anything that is not a complete entry (or a readable
    state file) is set aside in quarantine/ and counted, and the spool opens without it.
    """

    def __init__(self, directory: str | Path, max_reports: int, max_bytes: int) -> None:
        if max_reports < 1 or max_bytes < 1:
            raise ValueError("spool bounds must be positive")
        self.directory = Path(directory)
        self.max_reports = max_reports
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._slots: list[_Slot] = []  # ascending seq
        self._bytes = 0
        self._next_seq = 0
        self._last_side_stamp = 0  # names in the side directories only ever grow (see _move_aside)
        self.dropped_total = 0
        self.quarantined_total = 0
        self.rejected_total = 0
        self.writes = StateWrites(log)
        self._state_dirty = False  # counters changed but state.json could not be written yet
        self._lock_fd: int | None = None
        try:
            self._make_directory()
            self._acquire_lock()
            self._load_state()
            self._scan()
        except OSError as exc:
            self.close()
            raise SpoolError(f"cannot use the push spool {self.directory}: {exc}") from exc

    # Life cycle

    def _make_directory(self) -> None:
        if self.directory.exists() and not self.directory.is_dir():
            # A file where the spool directory belongs would stop every start: set it aside.
            aside = self.directory.with_name(f"{self.directory.name}.not-a-directory")
            log.warning("%s is not a directory; moved to %s", self.directory, aside)
            os.replace(self.directory, aside)
            self.quarantined_total += 1
            self._state_dirty = True
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o750)

    def _acquire_lock(self) -> None:
        lock_path = self.directory / LOCK_FILE
        if lock_path.is_dir() and not lock_path.is_symlink():
            self._quarantine_path(lock_path, "a directory where the lock file belongs")
        if sys.platform == "win32":  # msvcrt's byte-range lock, released when the fd closes
            import msvcrt

            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            except OSError:
                os.close(fd)
                raise SpoolError(
                    f"the push spool {self.directory} is in use by another Sentinelle process"
                ) from None
            self._lock_fd = fd
            return
        import fcntl

        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SpoolError(
                f"the push spool {self.directory} is in use by another Sentinelle process"
            ) from None
        self._lock_fd = fd

    def close(self) -> None:
        """Release the directory lock (the files stay for the next start)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _load_state(self) -> None:
        path = self.directory / STATE_FILE
        try:
            data: Any = json.loads(path.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            # Set aside (kept for diagnosis) so that the next save is not refused by the same
            # thing (a directory in its place), and counted like any quarantined file.
            self._quarantine_path(path, f"spool state unreadable ({exc}); counters restart at 0")
            self._state_dirty = True
            return
        if not isinstance(data, dict):
            self._quarantine_path(path, "spool state is not a JSON object; counters restart at 0")
            self._state_dirty = True
            return
        # Added to, not assigned: a spool directory set aside above was already counted.
        self.dropped_total += _count(data.get("dropped_total"))
        self.quarantined_total += _count(data.get("quarantined_total"))
        self.rejected_total += _count(data.get("rejected_total"))
        self.writes.errors_total += _count(data.get("state_write_errors_total"))

    def _save_state(self) -> None:
        """Write the counters (lock held or not needed); a failure is counted and retried after
        the next write that works."""
        state = {
            "dropped_total": self.dropped_total,
            "quarantined_total": self.quarantined_total,
            "rejected_total": self.rejected_total,
            "state_write_errors_total": self.writes.errors_total,
        }
        try:
            write_file_atomic(self.directory / STATE_FILE, json.dumps(state).encode(), 0o640)
        except OSError as exc:  # counters are worth less than the Reports: keep going
            self._state_dirty = True
            self.writes.failed(f"spool state {self.directory / STATE_FILE}", exc)
            return
        self._state_dirty = False
        self.writes.succeeded(f"spool state {self.directory / STATE_FILE}")

    def _scan(self) -> None:
        """Index the Reports left by a previous run; set aside whatever is not one."""
        slots: list[_Slot] = []
        strays: list[tuple[Path, str]] = []
        for path in self.directory.iterdir():
            name = path.name
            if name in (QUARANTINE_DIR, REJECTED_DIR):
                if not path.is_dir() or path.is_symlink():
                    # Our own side directory's name taken by something else: it cannot go
                    # into itself, and keeping it would make every move aside fail.
                    log.warning("%s is not a directory; removing it", path)
                    _remove(path)
                continue
            if name in (STATE_FILE, LOCK_FILE):
                continue
            match = ENTRY_NAME.match(name)
            if match is None:
                strays.append((path, "not a spool entry"))  # e.g. a temporary file of a crash
                continue
            if path.is_symlink() or not path.is_file():
                strays.append((path, "not a regular file"))
                continue
            size = path.stat().st_size
            if size == 0:
                strays.append((path, "empty (created, never written)"))
                continue
            slots.append(_Slot(int(match.group(1)), name, size))
        slots.sort(key=lambda s: s.seq)
        self._slots = slots
        self._bytes = sum(s.size for s in slots)
        self._next_seq = slots[-1].seq + 1 if slots else 0
        for path, why in strays:
            self._quarantine_path(path, why)
        # A spool written with larger bounds (config changed) is trimmed to the new ones now.
        self._evict_over_bounds(keep_newest=False)
        if strays or self._state_dirty:
            self._save_state()

    # Queries

    def depth(self) -> int:
        """Reports waiting."""
        with self._lock:
            return len(self._slots)

    def bytes(self) -> int:
        """Bytes of the Reports waiting (their compressed bodies)."""
        with self._lock:
            return self._bytes

    # Changes

    def put(self, report_id: str, body_gz: builtins.bytes) -> bool:
        """Append a Report; the oldest make room if the spool is full. False if it cannot fit.

        Raises OSError when the file cannot be written (counted in `writes`): the spool is
        unchanged then, and no older Report was evicted for nothing.
        """
        if not body_gz:
            raise ValueError("empty Report body")
        safe_id = _UNSAFE.sub("_", report_id)[:64] or "report"
        with self._lock:
            if len(body_gz) > self.max_bytes:
                self.dropped_total += 1
                self._save_state()
                log.error(
                    "Report %s (%d bytes compressed) exceeds the whole spool (%d bytes); dropped",
                    report_id,
                    len(body_gz),
                    self.max_bytes,
                )
                return False
            seq = self._next_seq
            name = f"{seq:012d}-{safe_id}.json.gz"
            try:
                write_file_atomic(self.directory / name, body_gz, 0o640)
            except OSError as exc:
                self.writes.failed(f"spool entries in {self.directory}", exc)
                raise
            self.writes.succeeded(f"spool entries in {self.directory}")
            self._next_seq = seq + 1
            self._slots.append(_Slot(seq, name, len(body_gz)))
            self._bytes += len(body_gz)
            # Evicted after the write, not before: a write refused by a full disk must not
            # also cost the oldest Report.
            if self._evict_over_bounds(keep_newest=True) or self._state_dirty:
                self._save_state()
            return True

    def record_dropped(self, count: int = 1) -> None:
        """Count Reports lost outside the files (e.g. held in memory while the disk was full)."""
        with self._lock:
            self.dropped_total += count
            self._save_state()

    def record_rejected(self) -> None:
        """Count a Report the collector refused for good (kept across restarts)."""
        with self._lock:
            self.rejected_total += 1
            self._save_state()

    def _evict_over_bounds(self, keep_newest: bool) -> int:
        """Drop the oldest until within both bounds (lock held); `keep_newest` spares the Report
        just written (put checked that it fits on its own)."""
        floor = 1 if keep_newest else 0
        evicted = 0
        while len(self._slots) > floor and (
            len(self._slots) > self.max_reports or self._bytes > self.max_bytes
        ):
            slot = self._slots.pop(0)
            self._bytes -= slot.size
            (self.directory / slot.name).unlink(missing_ok=True)
            evicted += 1
        if evicted:
            self.dropped_total += evicted
            log.warning(
                "push spool full (%d Reports, %d bytes max): dropped the %d oldest",
                self.max_reports,
                self.max_bytes,
                evicted,
            )
        return evicted

    def peek_oldest(self) -> SpoolEntry | None:
        """The oldest readable Report, or None; unreadable files met on the way are quarantined."""
        with self._lock:
            # Bounded: every turn either returns or removes one slot.
            while self._slots:
                slot = self._slots[0]
                path = self.directory / slot.name
                try:
                    body = path.read_bytes()  # a directory here raises IsADirectoryError
                    report_id = check_body(body)
                except FileNotFoundError:
                    log.warning("spool file %s vanished", path)
                    self._forget(slot)
                    continue
                except (OSError, CorruptEntry) as exc:
                    self._forget(slot)
                    self._quarantine_path(path, str(exc))
                    self._save_state()
                    continue
                return SpoolEntry(slot.seq, report_id, path, slot.size, body)
            return None

    def remove(self, entry: SpoolEntry, set_aside: bool = False) -> None:
        """Forget an entry once acknowledged (or refused: `set_aside` keeps it in rejected/)."""
        with self._lock:
            slot = next((s for s in self._slots if s.seq == entry.seq), None)
            if slot is None:  # already evicted while it was being sent
                return
            self._forget(slot)
            path = self.directory / slot.name
            if set_aside:
                self._move_aside(path, REJECTED_DIR)
            else:
                path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                fsync_dir(self.directory)

    def _forget(self, slot: _Slot) -> None:
        self._slots.remove(slot)
        self._bytes -= slot.size

    def _quarantine_path(self, path: Path, why: str) -> None:
        self.quarantined_total += 1
        log.warning("spool file %s quarantined: %s", path.name, why)
        self._move_aside(path, QUARANTINE_DIR)

    def _move_aside(self, path: Path, side: str) -> None:
        """Move a file (or a directory found where a file belongs) into a side directory that
        keeps only its newest few entries."""
        target_dir = self.directory / side
        try:
            target_dir.mkdir(exist_ok=True, mode=0o750)
            kept = sorted(target_dir.iterdir(), key=_side_stamp)
            # Names start with a stamp that only grows, even when the wall clock steps back:
            # pruning keeps the newest by name, so a stamp from the past would be pruned first.
            stamp = max(
                time.time_ns(), self._last_side_stamp + 1, *(_side_stamp(p) + 1 for p in kept)
            )
            self._last_side_stamp = stamp
            target = target_dir / f"{stamp}-{path.name.lstrip('.')}"
            os.replace(path, target)
            kept.append(target)
            for old in kept[:-SIDE_KEEP_FILES]:
                _remove(old)
        except OSError as exc:  # cannot move it: delete it rather than loop on it
            log.warning("cannot set %s aside (%s); deleting it", path, exc)
            _remove(path)


def _side_stamp(path: Path) -> int:
    """The stamp a side-directory name starts with (0 for a name without one)."""
    head = path.name.split("-", 1)[0]
    return int(head) if head.isdigit() else 0


def _remove(path: Path) -> None:
    """Delete a file, a symlink or a whole directory, whatever it is; errors are ignored."""
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
