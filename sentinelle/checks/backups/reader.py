"""One read of each backup location per agent cycle, shared by the four backups checks.

The checks run one after the other on the same Host; listing a restic or borg repository costs a
key derivation and a read of the repository, and an unreachable one costs a timeout. So the
result of a read (a Listing or the error) is kept for a few minutes per Host object: long enough
for one cycle, short enough that the next cycle reads again. The agent reuses its Host from cycle
to cycle, so the lifetime is a clock, not the Host.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sentinelle.checks.backups.borg import list_borg
from sentinelle.checks.backups.directory import list_directory
from sentinelle.checks.backups.listing import BackupReadError, Listing
from sentinelle.checks.backups.restic import list_restic

if TYPE_CHECKING:
    from sentinelle.config import BackupLocation
    from sentinelle.host import Host

# Shorter than the shortest sensible agent interval, longer than the backups checks of one cycle.
CACHE_SECONDS = 300.0

_CacheKey = tuple[str, str, str, str | None, str]


@dataclass
class _Entry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    result: Listing | BackupReadError | None = None
    read_at: float = 0.0


_guard = threading.Lock()
_entries: weakref.WeakKeyDictionary[Host, dict[_CacheKey, _Entry]] = weakref.WeakKeyDictionary()


def tool_cache_dir(state_dir: Path, tool: str) -> Path | None:
    """The agent's own cache directory for a backup tool, or None when it cannot be created."""
    path = state_dir / "cache" / tool
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return None  # the tools then run without a cache: slower, still correct
    return path


def _read(host: Host, location: BackupLocation, state_dir: Path) -> Listing:
    if location.kind == "directory":
        return list_directory(host, location)
    if location.kind == "restic":
        return list_restic(host, location, tool_cache_dir(state_dir, "restic"))
    if location.kind == "borg":
        return list_borg(host, location, tool_cache_dir(state_dir, "borg"))
    raise BackupReadError(f"unknown backup location type {location.kind!r}", "unknown_kind",
                          kind=location.kind)


def read_location(host: Host, location: BackupLocation, state_dir: Path) -> Listing:
    """The backups of a location, read at most once per cache period; raises BackupReadError."""
    key: _CacheKey = (
        location.kind,
        location.path,
        location.pattern,
        location.password_file,
        str(state_dir),
    )
    with _guard:
        per_host = _entries.setdefault(host, {})
        entry = per_host.get(key)
        if entry is None or (
            entry.result is not None and time.monotonic() - entry.read_at > CACHE_SECONDS
        ):
            entry = per_host[key] = _Entry()
    # Held while reading, so a check started while another one reads waits for that result.
    with entry.lock:
        if entry.result is None:
            try:
                entry.result = _read(host, location, state_dir)
            except BackupReadError as exc:
                entry.result = exc
            entry.read_at = time.monotonic()
        result = entry.result
    if isinstance(result, BackupReadError):
        raise result.again()  # the same kind: access denied stays a skip
    return result


def forget_reads() -> None:
    """Drop every remembered read (tests; a config reload)."""
    with _guard:
        _entries.clear()
