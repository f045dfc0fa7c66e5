"""The Security event log of a Windows machine: on, large enough to go back weeks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sentinelle.checks.base import register
from sentinelle.model import Finding, Status
from sentinelle.params import param
from sentinelle.windows.checking import DAY, WindowsCheck
from sentinelle.windows.supervision import parse_security_log

if TYPE_CHECKING:
    from sentinelle.host import Host


@register
class WindowsSecurityLog(WindowsCheck):
    """The Security log is enabled, its maximum size is enough, and it keeps what it holds."""

    id = "logs.windows_security_log"

    @dataclass(frozen=True)
    class Params:
        min_bytes: int = param(minimum=1048576, doc="smallest acceptable maximum size")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        log = self.parsed(host, "security_log", parse_security_log)
        if isinstance(log, Finding):
            yield log
            return
        kept = None if log.oldest is None else max((host.now() - log.oldest).total_seconds(), 0)
        evidence = {"enabled": log.enabled, "max_bytes": log.max_bytes, "mode": log.mode,
                    "oldest": None if log.oldest is None else log.oldest.isoformat(),
                    "kept_days": None if kept is None else round(kept / DAY, 1)}
        args = {"size": log.max_bytes, "min": self.params.min_bytes}
        if not log.enabled:
            yield self.say(Status.FAIL, "disabled", args, evidence)
        elif log.max_bytes < self.params.min_bytes:
            if kept is not None:
                yield self.say(Status.WARN, "small_kept", {**args, "kept": kept}, evidence)
            else:
                yield self.say(Status.WARN, "small", args, evidence)
        elif kept is not None:
            yield self.say(Status.PASS, "sized_kept", {**args, "kept": kept}, evidence)
        else:
            yield self.say(Status.PASS, "sized", args, evidence)
