"""When each account last logged in: wtmp, lastlog and lastlog2, as glibc and util-linux write
them.

- wtmp (`/var/log/wtmp`, and `wtmp.1` once logrotate has turned it): glibc's `struct utmp`,
  384 bytes on Linux (x86_64 and arm64 alike: 32-bit times, bits/utmp.h); a login is a
  USER_PROCESS record (ut_type 7).
- lastlog (`/var/log/lastlog`): `struct lastlog` (32-bit time, 32-byte line, 256-byte host),
  292 bytes, at offset UID × 292; a sparse file, zeros where an account never logged in.
- lastlog2 (`/var/lib/lastlog/lastlog2.db`, util-linux 2.40 and later, Debian 13): SQLite, table
  `Lastlog2(Name, Time, TTY, RemoteHost, Service)`.
The most recent of the three is the account's last login.
"""

from __future__ import annotations

import sqlite3
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sentinelle.host import Host

WTMP_FILES = ("/var/log/wtmp", "/var/log/wtmp.1")
LASTLOG = "/var/log/lastlog"
LASTLOG2 = "/var/lib/lastlog/lastlog2.db"
UTMP = struct.Struct("<h2xi32s4s32s256shhi2i4i20s")
LASTLOG_RECORD = struct.Struct("<i32s256s")
USER_PROCESS = 7
# Bounds: the newest records of a wtmp (32 MiB is about 87,000 logins), lastlog up to this UID.
MAX_WTMP_BYTES = 32 * 1024 * 1024
MAX_LASTLOG_UID = 1_000_000
CHUNK_RECORDS = 2048  # 768 KiB of wtmp at a time


@dataclass
class LoginRecords:
    """The last login time (Unix seconds) of each account, and which sources were read."""

    last: dict[str, int] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    def saw(self, name: str, when: int) -> None:
        if when > 0 and when > self.last.get(name, 0):
            self.last[name] = when


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", errors="replace")


def parse_wtmp(data: bytes, records: LoginRecords) -> None:
    """Logins (USER_PROCESS records) of a wtmp file's bytes; a torn last record is ignored."""
    usable = len(data) - len(data) % UTMP.size
    for fields in UTMP.iter_unpack(data[:usable]):
        ut_type, user, seconds = fields[0], fields[4], fields[9]
        if ut_type == USER_PROCESS:
            name = _text(user)
            if name:
                records.saw(name, seconds)


def parse_lastlog(data: bytes, uids: dict[int, str], records: LoginRecords) -> None:
    """The lastlog record of each account of `uids` (UID -> name)."""
    for uid, name in uids.items():
        offset = uid * LASTLOG_RECORD.size
        if uid < 0 or uid > MAX_LASTLOG_UID or offset + LASTLOG_RECORD.size > len(data):
            continue
        (seconds, _line, _host) = LASTLOG_RECORD.unpack_from(data, offset)
        records.saw(name, seconds)


def _parse_tail(host: Host, path: str, limit: int, records: LoginRecords) -> None:
    """The logins of the last `limit` bytes of a wtmp file, read a chunk at a time (a busy
    server's wtmp is tens of MiB: the agent's memory must not follow)."""
    with host.path(path).open("rb") as f:
        size = f.seek(0, 2)
        start = max(0, size - limit)
        start -= start % UTMP.size
        f.seek(start)
        while chunk := f.read(CHUNK_RECORDS * UTMP.size):
            parse_wtmp(chunk, records)


def read_logins(host: Host, uids: dict[int, str]) -> LoginRecords:
    """Every source this host has; an unreadable one is listed, not taken for "no login"."""
    records = LoginRecords()
    for path in WTMP_FILES:
        if not host.exists(path):
            continue
        try:
            _parse_tail(host, path, MAX_WTMP_BYTES, records)
        except OSError:
            records.unreadable.append(path)
            continue
        records.sources.append(path)
    if host.exists(LASTLOG):
        try:
            with host.path(LASTLOG).open("rb") as f:
                # Sparse: read only up to the highest UID asked about.
                top = (min(max(uids, default=0), MAX_LASTLOG_UID) + 1) * LASTLOG_RECORD.size
                data = f.read(top)
        except OSError:
            records.unreadable.append(LASTLOG)
        else:
            parse_lastlog(data, uids, records)
            records.sources.append(LASTLOG)
    if host.exists(LASTLOG2):
        try:
            read_lastlog2(host, records)
        except (OSError, sqlite3.Error):
            records.unreadable.append(LASTLOG2)
        else:
            records.sources.append(LASTLOG2)
    return records


def read_lastlog2(host: Host, records: LoginRecords) -> None:
    """util-linux's lastlog2 database, opened read-only."""
    uri = host.path(LASTLOG2).resolve().as_uri() + "?mode=ro"
    db = sqlite3.connect(uri, uri=True, timeout=2.0)
    try:
        for name, seconds in db.execute("SELECT Name, Time FROM Lastlog2 LIMIT 100000"):
            if isinstance(name, str) and isinstance(seconds, int):
                records.saw(name, seconds)
    finally:
        db.close()
