"""ClamAV signature databases: when each was built, read from its own header.

A .cvd (as downloaded) or .cld (as freshclam keeps it after applying daily diffs) file starts
with a 512-byte header, `ClamAV-VDB:<build time>:<version>:<signatures>:<functionality
level>:<md5>:<signature>:<builder>:<stime>`, padded with spaces (libclamav/cvd.c, as
`sigtool --info` prints it). The build time says how old the signatures are, whatever the
file's mtime (a copied or restored file gets a new one). `stime` is the build time in Unix
seconds; older headers without it have only the text, e.g. `01 Dec 2026 07-28 +0000`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HEADER_SIZE = 512
MAGIC = "ClamAV-VDB:"
FRESHCLAM_CONF = "/etc/clamav/freshclam.conf"
DEFAULT_DATABASE_DIR = "/var/lib/clamav"
PATTERNS = ("*.cvd", "*.cld")


class HeaderError(ValueError):
    """Not a ClamAV database header."""


@dataclass(frozen=True)
class Database:
    """One signature database file."""

    name: str  # "daily", "main", "bytecode"
    file: str
    built: datetime
    version: int
    signatures: int


def parse_header(raw: bytes) -> tuple[datetime, int, int]:
    """(build time, version, number of signatures) of a database header."""
    text = raw[:HEADER_SIZE].decode("ascii", errors="replace").rstrip(" \0")
    if not text.startswith(MAGIC):
        raise HeaderError("no ClamAV-VDB header")
    fields = text.split(":")
    if len(fields) < 4:
        raise HeaderError("truncated header")
    try:
        version, signatures = int(fields[2]), int(fields[3])
    except ValueError as exc:
        raise HeaderError("version or signature count is not a number") from exc
    built: datetime | None = None
    if len(fields) >= 9 and fields[8].strip().isdigit():
        built = datetime.fromtimestamp(int(fields[8].strip()), UTC)
    else:
        try:
            built = datetime.strptime(fields[1].strip(), "%d %b %Y %H-%M %z").astimezone(UTC)
        except ValueError as exc:
            raise HeaderError(f"build time {fields[1]!r} is not a date") from exc
    return built, version, signatures


def read_database(path: Path, shown: str) -> Database:
    """The database at `path` (a real path); HeaderError or OSError when it cannot be read."""
    with path.open("rb") as handle:
        raw = handle.read(HEADER_SIZE)
    built, version, signatures = parse_header(raw)
    return Database(path.stem, shown, built, version, signatures)


def database_directory(freshclam_conf: str) -> str:
    """DatabaseDirectory from freshclam.conf (the last one wins), else ClamAV's default."""
    found = DEFAULT_DATABASE_DIR
    for line in freshclam_conf.splitlines():
        words = line.split("#", 1)[0].split(None, 1)
        if len(words) == 2 and words[0] == "DatabaseDirectory":
            found = words[1].strip()
    return found
