"""End-of-support dates of operating systems (rules/os_support.yaml), validated strictly.

The dates are data, so the syndicate updates them without touching code; a mistake in the file is
a ConfigError naming the file, the line and the key, and what was expected in the catalog's words
(rules/messages/config.yaml).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sentinelle.errors import expect
from sentinelle.rules import RuleSet
from sentinelle.validation import Section

OS_SUPPORT_NAME = "os_support"
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def normalize_version(version: str) -> str:
    """`2012 R2` and `2012r2` name the same Windows Server; `22.04` stays `22.04`."""
    return re.sub(r"[\s_-]+", "", version.strip().lower())


@dataclass(frozen=True)
class SupportWindow:
    """Security support of one OS version: `end` is the last day any free security fix comes."""

    os_id: str
    version: str
    name: str
    end: date
    regular_end: date | None  # when the first, regular phase ends (Debian LTS starts after it)
    later_phase: str  # what runs from regular_end to end, e.g. "LTS"
    extended_end: date | None  # a paid or subscription phase after `end`, for information
    extended_phase: str
    source: str


@dataclass(frozen=True)
class SupportTable:
    """All known OS versions, looked up by os-release ID and VERSION_ID."""

    windows: dict[tuple[str, str], SupportWindow]
    aliases: dict[tuple[str, str], str]
    source: str

    def lookup(self, os_id: str, version: str) -> SupportWindow | None:
        """Exact version, then an alias (Windows build), then the major version (RHEL 9.4 -> 9)."""
        os_id = os_id.strip().lower()
        wanted = normalize_version(version)
        for candidate in (wanted, self.aliases.get((os_id, wanted), ""), wanted.split(".")[0]):
            if candidate and (os_id, candidate) in self.windows:
                return self.windows[(os_id, candidate)]
        return None


def _date(sec: Section, key: str, required: bool) -> date | None:
    value = sec.raw(key, None)
    if value is None:
        if required:
            raise sec.error(key, expect("date_required"))
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise sec.error(key, expect("date"), value)


def _window(sec: Section, os_id: str, version: str, system_name: str, source: str) -> SupportWindow:
    end = _date(sec, "end", required=True)
    assert end is not None
    regular_end = _date(sec, "regular_end", required=False)
    if regular_end is not None and regular_end > end:
        raise sec.error("regular_end", expect("date_not_after", key="end", date=end.isoformat()),
                        regular_end)
    extended_end = _date(sec, "extended_end", required=False)
    if extended_end is not None and extended_end < end:
        raise sec.error("extended_end", expect("date_not_before", key="end",
                                               date=end.isoformat()), extended_end)
    window = SupportWindow(
        os_id=os_id,
        version=version,
        name=sec.str("name", f"{system_name} {version}"),
        end=end,
        regular_end=regular_end,
        later_phase=sec.str("later_phase", "LTS") if regular_end else "",
        extended_end=extended_end,
        extended_phase=sec.str("extended_phase", "extended") if extended_end else "",
        source=source,
    )
    sec.str_list("aliases", [])
    sec.done()
    return window


def parse_os_support(data: Any, source: str) -> SupportTable:
    """Validate the parsed YAML of os_support.yaml; errors name `source` and the key."""
    top = Section(source, "", data)
    systems = top.section("systems")
    if not systems.data:
        raise top.error("systems", expect("os_systems"))
    windows: dict[tuple[str, str], SupportWindow] = {}
    aliases: dict[tuple[str, str], str] = {}
    for raw_id in list(systems.data):
        os_id = str(raw_id)
        sys_sec = systems.section(os_id)
        if not _ID.match(os_id):
            raise sys_sec.error("", expect("os_release_id"), os_id)
        system_name = sys_sec.str("name")
        sys_source = sys_sec.str("source")
        versions = sys_sec.section("versions")
        if not versions.data:
            raise sys_sec.error("versions", expect("os_versions"))
        for raw_version in list(versions.data):
            if not isinstance(raw_version, str):
                # YAML reads 12 as a number and 22.10 as 22.1: versions must be quoted.
                raise versions.error(str(raw_version), expect("quoted_version"))
            key = normalize_version(raw_version)
            ver_sec = versions.section(raw_version)
            if (os_id, key) in windows:
                raise ver_sec.error("", expect("version_once"), raw_version)
            windows[(os_id, key)] = _window(ver_sec, os_id, raw_version, system_name, sys_source)
            for alias in ver_sec.data.get("aliases") or []:
                aliases[(os_id, normalize_version(alias))] = key
        versions.done()
        sys_sec.done()
    systems.done()
    top.done()
    return SupportTable(windows, aliases, source)


def load_os_support(rules: RuleSet) -> SupportTable:
    """The table from the rules directory in use (rules/os_support.yaml)."""
    source = str(rules.directory / f"{OS_SUPPORT_NAME}.yaml")
    return parse_os_support(rules.data(OS_SUPPORT_NAME), source)
