"""Windows Update as the Microsoft.Update.Session COM object sees it: the history of installed
updates (IUpdateHistoryEntry) and the search for the ones not installed (IUpdate). Get-HotFix
alone lists only Win32_QuickFixEngineering, which misses what Windows Update installs through
the servicing stack (cumulative updates are there, Defender platform and .NET ones are not)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sentinelle.windows import psjson
from sentinelle.windows.collectors import registry_key_exists

# OperationResultCode (wuapi.h): 2 succeeded, 3 succeeded with errors, 4 failed, 5 aborted.
SUCCEEDED = {2, 3}
# Update classification ids (the same GUIDs on every language of Windows; their names are
# translated): https://learn.microsoft.com/previous-versions/windows/desktop/ff357803(v=vs.85)
SECURITY_UPDATES = "0fa1201d-4330-4fa8-8ae9-b877473b6441"
CRITICAL_UPDATES = "e6cf1350-c01b-414d-a61f-263d14d133b4"
DEFINITION_UPDATES = "e0789628-ce08-4437-be74-2495b842f43b"
REBOOT_KEYS = (
    r"SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending",
    r"SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired",
)


@dataclass(frozen=True)
class InstalledUpdate:
    """One installation in the Windows Update history."""

    title: str
    date: datetime
    succeeded: bool


@dataclass(frozen=True)
class PendingUpdate:
    """An applicable update that is not installed (and not hidden)."""

    title: str
    kb: tuple[str, ...]
    security: bool
    severity: str | None
    released: datetime | None


def parse_history(raw: str) -> list[InstalledUpdate]:
    out = []
    for entry in psjson.records(psjson.loads(raw)):
        date = psjson.timestamp(entry.get("Date"))
        if date is None:
            continue
        code = psjson.integer(entry.get("ResultCode"))
        out.append(InstalledUpdate(str(entry.get("Title") or ""), date, code in SUCCEEDED))
    return sorted(out, key=lambda u: u.date, reverse=True)


def parse_search(raw: str) -> list[PendingUpdate]:
    out = []
    for entry in psjson.records(psjson.loads(raw)):
        categories = {str(c).lower() for c in _list(entry.get("Categories"))}
        severity = psjson.text(entry.get("MsrcSeverity")) or None
        # Defender's definition updates come every few hours: they are the antivirus checks'.
        if DEFINITION_UPDATES in categories:
            continue
        out.append(PendingUpdate(
            title=str(entry.get("Title") or ""),
            kb=tuple(f"KB{k}" for k in _list(entry.get("KB"))),
            security=bool(categories & {SECURITY_UPDATES, CRITICAL_UPDATES}) or bool(severity),
            severity=severity,
            released=psjson.timestamp(entry.get("Released")),
        ))
    return out


def reboot_pending(raw: str) -> list[str]:
    """The registry keys that say a reboot is pending (Windows Update, servicing stack)."""
    data = psjson.loads(raw)
    return [key for key in REBOOT_KEYS if registry_key_exists(data, key)]


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
