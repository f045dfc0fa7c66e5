"""The Windows firewall as it applies (Get-NetFirewallProfile -PolicyStore ActiveStore): a town
hall outside a domain, with the firewall on and no Group Policy, passes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sentinelle.checks.base import register
from sentinelle.model import Finding, Status
from sentinelle.windows.checking import WindowsCheck
from sentinelle.windows.protection import parse_firewall

if TYPE_CHECKING:
    from sentinelle.host import Host


@register
class WindowsFirewallProfiles(WindowsCheck):
    """Each firewall profile (domain, private, public) is on and blocks what comes in by
    default."""

    id = "firewall.windows_profiles"

    def run(self, host: Host) -> Iterable[Finding]:
        profiles = self.parsed(host, "firewall", parse_firewall)
        if isinstance(profiles, Finding):
            yield profiles
            return
        evidence = {"profiles": [{"name": p.name, "enabled": p.enabled, "inbound": p.inbound}
                                 for p in profiles]}
        if not profiles:
            yield self.say(Status.ERROR, "no_profile", {}, {**evidence, "collector": "firewall",
                                                            "error": "no profile"})
            return
        off = [p.name for p in profiles if not p.enabled]
        allowing = [p.name for p in profiles if p.enabled and p.inbound != "Block"]
        if off:
            yield self.say(Status.FAIL, "some_off", {"profiles": off}, evidence)
        elif allowing:
            yield self.say(Status.FAIL, "inbound_allowed", {"profiles": allowing}, evidence)
        else:
            yield self.say(Status.PASS, "all_on", {"count": len(profiles)}, evidence)
