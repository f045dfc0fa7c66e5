"""Windows Server Backup (`wbadmin get versions`): the newest backup is recent. The directory,
restic and borg locations of the other backups checks work on Windows as on Linux."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sentinelle.checks.base import register
from sentinelle.model import Finding, Measurement, Status
from sentinelle.params import param
from sentinelle.windows.checking import HOUR, WindowsCheck
from sentinelle.windows.supervision import parse_wbadmin_versions

if TYPE_CHECKING:
    from sentinelle.host import Host


@register
class WindowsServerBackup(WindowsCheck):
    """Windows Server Backup made a backup recently."""

    id = "backups.windows_server_backup"

    @dataclass(frozen=True)
    class Params:
        max_age_hours: float = param(minimum=1, doc="the newest backup may be this old")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        versions = self.parsed(host, "server_backup", parse_wbadmin_versions)
        if isinstance(versions, Finding):
            yield versions
            return
        evidence = {"versions": len(versions),
                    "newest": versions[0].isoformat() if versions else None}
        if not versions:
            yield self.say(Status.FAIL, "none", {}, evidence)
            return
        age = max((host.now() - versions[0]).total_seconds(), 0.0)
        args = {"when": versions[0].isoformat(), "ago": age,
                "max": self.params.max_age_hours * HOUR, "count": len(versions)}
        measurement = [Measurement("backup_age_seconds", age, {"location": "wbadmin"})]
        if age > self.params.max_age_hours * HOUR:
            yield self.say(Status.FAIL, "stale", args, evidence, measurements=measurement)
        else:
            yield self.say(Status.PASS, "recent", args, evidence, measurements=measurement)
