"""Directory locations: each file matching the pattern (at any depth) is one backup.

Files are read through the Host root, so the same code inspects this machine or a fixture tree.
"""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sentinelle.checks.backups.listing import (
    Backup,
    BackupReadError,
    Listing,
    ensure_readable,
    series_of_name,
)

if TYPE_CHECKING:
    from sentinelle.config import BackupLocation
    from sentinelle.host import Host

# A location pointed at a whole file tree (an rsync mirror) instead of a folder of archives would
# make every cycle walk millions of files: stop and ask for a narrower pattern instead.
MAX_SCANNED_FILES = 100_000


def glob_pattern(pattern: str) -> str:
    """The pattern searched at any depth, unless it already says where to look."""
    if "/" in pattern or pattern.startswith("**"):
        return pattern
    return "**/" + pattern


def list_directory(host: Host, location: BackupLocation) -> Listing:
    """The matching regular files of a directory location, with their mtimes and sizes."""
    base = host.path(location.path)
    # First: exists() and glob() pass over what they may not read (an unreadable folder would
    # look missing or empty).
    ensure_readable(base, f"directory {location.path}", location.path)
    if not base.exists():
        raise BackupReadError(
            f"directory {location.path} does not exist (is the disk or the share mounted?)",
            "missing_dir",
            path=location.path,
        )
    if not base.is_dir():
        raise BackupReadError(f"{location.path} is not a directory", "not_dir",
                              path=location.path)
    backups: list[Backup] = []
    scanned = 0
    try:
        for path in host.glob(location.path, glob_pattern(location.pattern)):
            scanned += 1
            if scanned > MAX_SCANNED_FILES:
                raise BackupReadError(
                    f"more than {MAX_SCANNED_FILES} entries match {location.pattern!r} under "
                    f"{location.path}: set a pattern that matches only the backup files",
                    "too_many",
                    path=location.path,
                    pattern=location.pattern,
                    limit=MAX_SCANNED_FILES,
                )
            rel = path.relative_to(base)
            # Hidden names are partial uploads and temporary files (rsync, cloud clients): a
            # half-written file must count neither as the newest backup nor as a shrink.
            if any(part.startswith(".") for part in rel.parts):
                continue
            # lstat: a "latest" symlink would count its target twice.
            st = path.lstat()
            if not stat.S_ISREG(st.st_mode):
                continue
            backups.append(
                Backup(
                    name=str(rel),
                    time=datetime.fromtimestamp(st.st_mtime, UTC),
                    series=series_of_name(str(rel)),
                    size=st.st_size,
                )
            )
    except OSError as exc:
        detail = exc.strerror or exc.__class__.__name__
        raise BackupReadError(f"cannot read {location.path}: {detail}", "os_error",
                              path=location.path, detail=detail) from exc
    return Listing(location, backups)
