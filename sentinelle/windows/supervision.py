"""The Security event log (Get-WinEvent -ListLog), time synchronisation (`w32tm /query
/status`, whose labels are translated: read by position, English and French forms known) and
Windows Server Backup (`wbadmin get versions`, whose version identifiers are
MM/DD/YYYY-HH:MM in UTC on every language: the -version: syntax of wbadmin)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sentinelle.windows import psjson

LOG_MODE = {0: "Circular", 1: "AutoBackup", 2: "Retain"}


@dataclass(frozen=True)
class SecurityLog:
    enabled: bool
    max_bytes: int
    mode: str
    oldest: datetime | None


def parse_security_log(raw: str) -> SecurityLog:
    found = psjson.records(psjson.loads(raw))
    if not found:
        raise psjson.PsJsonError("no Security log in the output")
    log = found[0]
    return SecurityLog(
        enabled=bool(psjson.boolean(log.get("IsEnabled"))),
        max_bytes=psjson.integer(log.get("MaximumSizeInBytes")) or 0,
        mode=psjson.enum(log.get("LogMode"), LOG_MODE) or "?",
        oldest=psjson.timestamp(log.get("OldestEvent")),
    )


@dataclass(frozen=True)
class TimeStatus:
    leap: int | None  # 3: not synchronised
    stratum: int | None
    source: str
    last_sync: datetime | None

    @property
    def synchronised(self) -> bool:
        local = self.source.lower().startswith(("local cmos clock", "free-running"))
        return self.leap != 3 and not local and bool(self.source)


# The order w32tm prints its status in (the same in every language).
_FIELDS = ("leap", "stratum", "precision", "delay", "dispersion", "reference", "last_sync",
           "source", "poll")
_DATE_FORMATS = ("%d/%m/%Y %H:%M:%S", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S",
                 "%Y-%m-%d %H:%M:%S", "%d.%m.%Y %H:%M:%S")


def parse_w32tm(text: str, culture: str | None = None) -> TimeStatus:
    """`w32tm /query /status`; the date of the last synchronisation is the machine's local
    time in its culture's format (day first in fr-FR, month first in en-US), taken as UTC."""
    values = []
    for line in text.lstrip("\ufeff").splitlines():
        if ":" in line and line.strip():
            values.append(line.split(":", 1)[1].strip())
    if len(values) < len(_FIELDS):
        raise psjson.PsJsonError(f"w32tm status: {len(values)} lines, expected {len(_FIELDS)}")
    by = dict(zip(_FIELDS, values, strict=False))
    # "Last Successful Sync Time" holds colons itself: rebuild it from its own line.
    sync_line = [line for line in text.splitlines() if line.strip()][_FIELDS.index("last_sync")]
    sync_text = sync_line.split(":", 1)[1].strip() if ":" in sync_line else ""
    number = re.compile(r"-?\d+")
    leap = number.match(by["leap"])
    stratum = number.match(by["stratum"])
    return TimeStatus(
        leap=int(leap.group(0)) if leap else None,
        stratum=int(stratum.group(0)) if stratum else None,
        source=by["source"].strip(),
        last_sync=_local_date(sync_text, culture),
    )


def _local_date(text: str, culture: str | None) -> datetime | None:
    text = text.strip()
    formats = list(_DATE_FORMATS)
    if culture and culture.lower().startswith("en-us"):
        formats = [f for f in formats if f.startswith("%m")] + formats
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


_VERSION = re.compile(r"(\d{2})/(\d{2})/(\d{4})-(\d{2}):(\d{2})")


def parse_wbadmin_versions(text: str) -> list[datetime]:
    """The backup versions, newest first (an empty list: no backup found)."""
    if "wbadmin" not in text.lower():  # its banner opens every answer, in every language
        raise psjson.PsJsonError("not the output of wbadmin get versions")
    out = []
    for line in text.splitlines():
        if ":" not in line:
            continue
        value = line.split(":", 1)[1].strip()
        match = _VERSION.fullmatch(value)
        if match:
            month, day, year, hour, minute = (int(g) for g in match.groups())
            out.append(datetime(year, month, day, hour, minute, tzinfo=UTC))
    return sorted(out, reverse=True)
