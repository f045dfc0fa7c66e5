"""journald's effective settings and the age of its oldest kept entry, as systemd reads them.

`systemd-analyze cat-config systemd/journald.conf` prints journald.conf and its drop-ins in
the order systemd applies them (/etc over /run over /usr/lib, a drop-in masking another of the
same name), so the last value of a key is the effective one; `--root` reads a tree. The history
comes from `journalctl --header --directory=/var/log/journal`: each journal file's header
states its first entry's time, so nothing but the headers is read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

CAT_CONFIG = ("systemd-analyze", "cat-config", "systemd/journald.conf")
PERSISTENT_DIR = "/var/log/journal"
JOURNALD_BINARIES = ("/lib/systemd/systemd-journald", "/usr/lib/systemd/systemd-journald")
_HEAD = re.compile(r"^Head realtime timestamp: .*\(([0-9a-f]+)\)\s*$")
_ENTRIES = re.compile(r"^Entry objects: (\d+)\s*$")
# systemd time spans (systemd.time(7)) in seconds, for MaxRetentionSec=.
_UNITS = {
    "us": 1e-6, "usec": 1e-6, "ms": 1e-3, "msec": 1e-3, "s": 1, "sec": 1, "second": 1,
    "seconds": 1, "m": 60, "min": 60, "minute": 60, "minutes": 60, "h": 3600, "hr": 3600,
    "hour": 3600, "hours": 3600, "d": 86400, "day": 86400, "days": 86400, "w": 604800,
    "week": 604800, "weeks": 604800, "month": 2629800, "months": 2629800, "M": 2629800,
    "y": 31557600, "year": 31557600, "years": 31557600,
}
_SPAN_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([A-Za-z]*)")


@dataclass(frozen=True)
class JournaldSettings:
    """The [Journal] keys journald applies (last value wins)."""

    values: dict[str, str]

    @property
    def storage(self) -> str:
        return self.values.get("Storage", "auto").strip().lower() or "auto"

    @property
    def max_retention_seconds(self) -> float | None:
        raw = self.values.get("MaxRetentionSec", "").strip()
        return parse_timespan(raw) if raw else None


def parse_cat_config(text: str) -> JournaldSettings:
    section = ""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif section == "Journal" and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return JournaldSettings(values)


def parse_timespan(text: str) -> float | None:
    """Seconds of a systemd time span ("1month", "2w 3d", "3600"); None when unreadable; 0
    (journald's "no limit") stays 0."""
    total = 0.0
    pos = 0
    text = text.strip()
    for match in _SPAN_PART.finditer(text):
        if text[pos:match.start()].strip():
            return None
        unit = match[2] or "s"
        if unit not in _UNITS:
            return None
        total += float(match[1]) * _UNITS[unit]
        pos = match.end()
    if text[pos:].strip() or pos == 0:
        return None
    return total


def oldest_entry(header_text: str) -> datetime | None:
    """The earliest head timestamp among the journal files that hold entries."""
    heads: list[int] = []
    head: int | None = None
    for line in [*header_text.splitlines(), "File path: (end)"]:
        if line.startswith("File path:"):
            head = None
            continue
        match = _HEAD.match(line)
        if match:
            head = int(match[1], 16)
            continue
        entries = _ENTRIES.match(line)
        if entries and head is not None and int(entries[1]) > 0:
            heads.append(head)
    if not heads:
        return None
    return datetime.fromtimestamp(min(heads) / 1e6, UTC)


# logrotate periods in days.
_PERIODS = {"daily": 1, "weekly": 7, "monthly": 30, "yearly": 365}


def logrotate_retention_days(global_conf: str, stanzas: Iterable[str], log: str) -> float | None:
    """Days a rotated `log` is kept ((rotate + 1) × period, or maxage when shorter), from
    logrotate.conf's defaults and the logrotate.d file naming it; None when no file names it."""
    defaults = _directives(global_conf.split("{", 1)[0])
    for text in stanzas:
        for names, body in _blocks(text):
            if log in names:
                merged = {**defaults, **_directives(body)}
                period = next((_PERIODS[p] for p in reversed(list(merged)) if p in _PERIODS), 7)
                try:
                    rotate = int(merged.get("rotate", "1"))
                    days = float((rotate + 1) * period)
                    if "maxage" in merged:
                        days = min(days, float(merged["maxage"]))
                except ValueError:
                    return None
                return days
    return None


def _directives(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    skip = False
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] in ("postrotate", "prerotate", "firstaction", "lastaction", "preremove"):
            skip = True
        elif words[0] == "endscript":
            skip = False
        elif not skip:
            found[words[0]] = words[1] if len(words) > 1 else ""
    return found


def _blocks(text: str) -> list[tuple[list[str], str]]:
    """(log paths, body) of each `paths { ... }` block."""
    blocks: list[tuple[list[str], str]] = []
    rest = text
    while "{" in rest and "}" in rest:
        head, _, after = rest.partition("{")
        body, _, rest = after.partition("}")
        names = [w for line in head.splitlines() for w in line.split("#", 1)[0].split()
                 if w.startswith("/")]
        # Paths listed after the previous block's closing brace belong to this block.
        blocks.append((names, body))
    return blocks
