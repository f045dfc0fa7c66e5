"""Time synchronisation of a Windows machine (the Windows Time service, `w32tm`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sentinelle.checks.base import register
from sentinelle.errors import CommandError
from sentinelle.model import Finding, Status
from sentinelle.params import param
from sentinelle.windows import psjson
from sentinelle.windows.checking import HOUR, WindowsCheck
from sentinelle.windows.collectors import collect
from sentinelle.windows.supervision import parse_w32tm

if TYPE_CHECKING:
    from sentinelle.host import Host


@register
class WindowsTimeSync(WindowsCheck):
    """The clock follows a time source and synchronised recently."""

    id = "time.windows_sync"

    @dataclass(frozen=True)
    class Params:
        max_age_hours: float = param(minimum=1, maximum=720,
                                     doc="the last synchronisation may be this old")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        culture = None
        try:  # the date format of w32tm's output is the machine's culture's
            env = psjson.loads(collect(host, "environment"))
            culture = str(env.get("Culture")) if isinstance(env, dict) else None
        except (CommandError, psjson.PsJsonError):
            pass
        status = self.parsed(host, "time_status", lambda raw: parse_w32tm(raw, culture))
        if isinstance(status, Finding):
            yield status
            return
        evidence = {"source": status.source, "stratum": status.stratum, "leap": status.leap,
                    "last_sync": None if status.last_sync is None
                    else status.last_sync.isoformat()}
        if not status.synchronised:
            yield self.say(Status.FAIL, "unsynchronised", {"source": status.source}, evidence)
            return
        if status.last_sync is None:
            yield self.say(Status.PASS, "synchronised", {"source": status.source}, evidence)
            return
        # w32tm prints local time: the margin absorbs the offset from UTC.
        age = max((host.now() - status.last_sync).total_seconds(), 0.0)
        args = {"source": status.source, "ago": age, "max": self.params.max_age_hours * HOUR}
        if age > self.params.max_age_hours * HOUR + 14 * HOUR:
            yield self.say(Status.WARN, "stale", args, evidence)
        else:
            yield self.say(Status.PASS, "recent", args, evidence)
