"""BitLocker on each fixed volume of a Windows machine (Get-BitLockerVolume)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sentinelle.checks.base import register
from sentinelle.model import Finding, Status
from sentinelle.windows.checking import WindowsCheck
from sentinelle.windows.protection import parse_bitlocker

if TYPE_CHECKING:
    from sentinelle.host import Host


@register
class WindowsBitLocker(WindowsCheck):
    """The system volume and the data volumes are encrypted with BitLocker, protection on."""

    id = "encryption.windows_bitlocker"

    def run(self, host: Host) -> Iterable[Finding]:
        volumes = self.parsed(host, "bitlocker", parse_bitlocker)
        if isinstance(volumes, Finding):
            yield volumes
            return
        evidence = {"volumes": [{"mount": v.mount_point, "system": v.system,
                                 "protected": v.protected, "status": v.status,
                                 "percent": v.percent} for v in volumes]}
        if not volumes:
            yield self.say(Status.SKIP, "no_volume", {}, {**evidence, "reason": "no volume"})
            return
        clear = [v.mount_point for v in volumes if not v.protected]
        system_clear = any(v.system and not v.protected for v in volumes)
        if system_clear:
            yield self.say(Status.FAIL, "system_clear", {"volumes": clear}, evidence)
        elif clear:
            yield self.say(Status.WARN, "data_clear", {"volumes": clear}, evidence)
        else:
            yield self.say(Status.PASS, "encrypted", {"count": len(volumes)}, evidence)
