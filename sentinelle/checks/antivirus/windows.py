"""Antivirus on Windows: Defender's state (Get-MpComputerStatus, which Windows Server has too)
or, where Security Center exists (client editions), another registered product."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sentinelle.checks.base import register
from sentinelle.model import Finding, Status
from sentinelle.params import param
from sentinelle.windows.checking import DAY, WindowsCheck
from sentinelle.windows.protection import parse_defender, parse_security_center

if TYPE_CHECKING:
    from sentinelle.host import Host


@register
class WindowsAntivirus(WindowsCheck):
    """An antivirus protects this machine in real time: Defender, or another product
    registered in Security Center."""

    id = "antivirus.windows_realtime"

    def run(self, host: Host) -> Iterable[Finding]:
        defender = self.parsed(host, "defender", parse_defender)
        if isinstance(defender, Finding) and defender.status is Status.ERROR:
            yield defender
            return
        status = None if isinstance(defender, Finding) else defender
        products = self.parsed(host, "security_center", parse_security_center)
        others = [] if isinstance(products, Finding) or products is None else [
            p for p in products if "defender" not in p.name.lower()]
        evidence = {
            "defender": None if status is None else {
                "service": status.service_enabled, "antivirus": status.antivirus_enabled,
                "realtime": status.realtime, "mode": status.running_mode},
            "security_center": None if isinstance(products, Finding) or products is None
            else [{"name": p.name, "enabled": p.enabled} for p in products],
        }
        if status is not None and status.active and status.realtime:
            yield self.say(Status.PASS, "defender_on", {}, evidence)
            return
        enabled = [p.name for p in others if p.enabled]
        if enabled:
            yield self.say(Status.PASS, "other_on", {"products": enabled}, evidence)
            return
        if status is not None and status.active:
            yield self.say(Status.FAIL, "realtime_off", {}, evidence)
        elif others:
            yield self.say(Status.FAIL, "other_off", {"products": [p.name for p in others]},
                           evidence)
        elif isinstance(defender, Finding) and (products is None or isinstance(
                products, Finding)):
            yield defender  # nothing to ask here: Defender's status cannot be read
        elif status is None and isinstance(products, Finding | None):
            # Nothing to ask: no Defender (removed from this Server) and no Security Center.
            yield self.say(Status.SKIP, "unknown", {},
                           {**evidence, "reason": "no Defender status and no Security Center"})
        else:
            yield self.say(Status.FAIL, "none", {}, evidence)


@register
class WindowsSignatures(WindowsCheck):
    """Defender's virus definitions are recent."""

    id = "antivirus.windows_signatures"

    @dataclass(frozen=True)
    class Params:
        warn_days: int = param(minimum=0, maximum=60, doc="definitions older than this warn")
        max_days: int = param(minimum=1, maximum=60, doc="definitions older than this fail")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        status = self.parsed(host, "defender", parse_defender)
        if isinstance(status, Finding):
            yield status
            return
        if status is None or not status.active:
            mode = "" if status is None else (status.running_mode or "")
            yield self.say(Status.SKIP, "not_active", {},
                           {"reason": "Defender is not the active antivirus", "mode": mode})
            return
        updated = status.signatures_updated
        if updated is None:
            yield self.say(Status.FAIL, "never", {}, {"version": status.signature_version})
            return
        age = max((host.now() - updated).total_seconds(), 0.0)
        args = {"version": status.signature_version or "?", "when": updated.isoformat(),
                "ago": age}
        evidence = {"version": status.signature_version, "updated": updated.isoformat(),
                    "age_days": round(age / DAY, 1)}
        if age > self.params.max_days * DAY:
            yield self.say(Status.FAIL, "stale", args, evidence)
        elif age > self.params.warn_days * DAY:
            yield self.say(Status.WARN, "aging", args, evidence)
        else:
            yield self.say(Status.PASS, "fresh", args, evidence)
