"""What every Windows check shares: run a collector and turn what went wrong into the check's
own skip or error finding (messages `not_available`, `failed`, `unreadable` in its YAML)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, TypeVar

from sentinelle.checks.base import Check
from sentinelle.errors import CommandError, CommandNotFound
from sentinelle.model import Finding, Status
from sentinelle.windows import psjson
from sentinelle.windows.collectors import collect

if TYPE_CHECKING:
    from sentinelle.host import Host

T = TypeVar("T")
DAY = 86400.0
HOUR = 3600.0
PARSE_ERRORS = (psjson.PsJsonError, ValueError, TypeError, KeyError, AttributeError)


class Unreadable(Exception):
    """A collector's output could not be parsed: carries the finding that says so."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.evidence.get("error"))
        self.finding = finding


class WindowsCheck(Check):
    """A check of a Windows machine through its collectors (sentinelle.windows)."""

    platforms: ClassVar[frozenset[str]] = frozenset({"windows"})

    def collected(self, host: Host, name: str) -> str | Finding:
        """The collector's raw output, or the finding that says why there is none: skip when
        it cannot run on this machine (a cmdlet this edition lacks, not recorded), error when
        it ran and failed."""
        try:
            return collect(host, name)
        except CommandNotFound as exc:
            return self.say(Status.SKIP, "not_available", {"collector": name},
                            {"reason": str(exc), "collector": name})
        except CommandError as exc:
            return self.say(Status.ERROR, "failed", {"collector": name},
                            {"error": str(exc)[:500], "collector": name})

    def parsed(self, host: Host, name: str, parse: Callable[[str], T]) -> T | Finding:
        """The collector's output through `parse`, or the finding that says why not (an
        output that does not parse is an error finding naming the collector)."""
        raw = self.collected(host, name)
        if isinstance(raw, Finding):
            return raw
        try:
            return parse(raw)
        except PARSE_ERRORS as exc:
            return self.unreadable(name, exc).finding

    def unreadable(self, name: str, exc: Exception) -> Unreadable:
        return Unreadable(self.say(Status.ERROR, "unreadable", {"collector": name},
                                   {"error": str(exc)[:500], "collector": name}))

