"""Patching on Windows: Windows Update's history and search (Microsoft.Update.Session), and a
reboot that would finish installing updates. End of support is patching.os_support's, which
reads Windows' build on a Windows host."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sentinelle.checks.base import register
from sentinelle.model import Finding, Measurement, Severity, Status
from sentinelle.params import param
from sentinelle.windows.checking import DAY, WindowsCheck
from sentinelle.windows.updates import parse_history, parse_search, reboot_pending

if TYPE_CHECKING:
    from sentinelle.host import Host


@register
class WindowsPendingUpdates(WindowsCheck):
    """No security update waits to be installed (Windows Update's own search)."""

    id = "patching.windows_pending"

    @dataclass(frozen=True)
    class Params:
        grace_days: int = param(minimum=0, maximum=90,
                                doc="a security update this recent only warns")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        pending = self.parsed(host, "update_search", parse_search)
        if isinstance(pending, Finding):
            yield pending
            return
        security = [u for u in pending if u.security]
        titles = [u.title for u in pending][:20]
        evidence = {"pending": len(pending), "security": len(security), "titles": titles,
                    "kb": sorted({kb for u in pending for kb in u.kb})[:40]}
        counts = [Measurement("pending_updates", len(security), {"kind": "security"}),
                  Measurement("pending_updates", len(pending) - len(security), {"kind": "other"})]
        if not pending:
            yield self.say(Status.PASS, "none", {}, evidence, measurements=counts)
            return
        now = host.now()
        released = [u.released for u in security if u.released is not None]
        oldest = min(released) if released else None
        args = {"count": len(pending), "security": len(security),
                "updates": [u.title for u in (security or pending)][:5]}
        if security and (oldest is None or (now - oldest).total_seconds()
                         > self.params.grace_days * DAY):
            yield self.say(Status.FAIL, "security_pending", args, evidence, measurements=counts)
        elif security:
            yield self.say(Status.WARN, "security_recent", args, evidence, measurements=counts)
        else:
            yield self.say(Status.WARN, "other_pending", args, evidence, measurements=counts,
                           severity=Severity.LOW)


@register
class WindowsLastUpdate(WindowsCheck):
    """Windows Update installed something successfully within the last weeks."""

    id = "patching.windows_last_update"

    @dataclass(frozen=True)
    class Params:
        max_age_days: int = param(minimum=1, maximum=365,
                                  doc="the last successful installation may be this old")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        history = self.parsed(host, "update_history", parse_history)
        if isinstance(history, Finding):
            yield history
            return
        done = [u for u in history if u.succeeded]
        failed = [u for u in history if not u.succeeded]
        evidence: dict[str, Any] = {"installations": len(history), "failed": len(failed)}
        if not done:
            yield self.say(Status.FAIL, "never", {"failed": len(failed)}, evidence)
            return
        last = done[0]
        age = (host.now() - last.date).total_seconds()
        evidence.update({"last": last.date.isoformat(), "title": last.title,
                         "age_days": round(age / DAY, 1)})
        args = {"title": last.title, "when": last.date.isoformat(), "ago": max(age, 0.0),
                "max": self.params.max_age_days * DAY}
        stamp = [Measurement("last_upgrade_timestamp_seconds", last.date.timestamp())]
        if age > self.params.max_age_days * DAY:
            yield self.say(Status.FAIL, "stale", args, evidence, measurements=stamp)
        else:
            yield self.say(Status.PASS, "recent", args, evidence, measurements=stamp)


@register
class WindowsRebootPending(WindowsCheck):
    """No installed update waits for a restart to take effect."""

    id = "patching.windows_reboot"

    def run(self, host: Host) -> Iterable[Finding]:
        keys = self.parsed(host, "reboot", reboot_pending)
        if isinstance(keys, Finding):
            yield keys
            return
        evidence = {"keys": keys}
        flag = [Measurement("reboot_required", 1.0 if keys else 0.0)]
        if keys:
            yield self.say(Status.WARN, "pending", {}, evidence, measurements=flag)
        else:
            yield self.say(Status.PASS, "none", {}, evidence, measurements=flag)
