"""Remote access to Windows: Remote Desktop (allowed, Network Level Authentication, reachable
from the network) and remote-control tools installed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sentinelle.checks.base import register
from sentinelle.model import Finding, Status
from sentinelle.params import param
from sentinelle.windows.checking import WindowsCheck
from sentinelle.windows.remote import parse_rdp, parse_rdp_network, remote_tools

if TYPE_CHECKING:
    from sentinelle.host import Host


@register
class WindowsRemoteDesktop(WindowsCheck):
    """Remote Desktop is off, or asks for authentication before the session (NLA) and is not
    open to the network without need."""

    id = "remote_access.windows_rdp"

    def run(self, host: Host) -> Iterable[Finding]:
        rdp = self.parsed(host, "rdp", parse_rdp)
        if isinstance(rdp, Finding):
            yield rdp
            return
        evidence: dict[str, Any] = {"enabled": rdp.enabled, "nla": rdp.nla, "port": rdp.port,
                    "set_by_policy": rdp.set_by_policy}
        if not rdp.enabled:
            yield self.say(Status.PASS, "disabled", {}, evidence)
            return
        if not rdp.nla:
            yield self.say(Status.FAIL, "no_nla", {"port": rdp.port}, evidence)
            return
        network = self.parsed(host, "rdp_network",
                              lambda raw: parse_rdp_network(raw, rdp.port))
        if isinstance(network, Finding):
            yield network
            return
        evidence.update({"listening": list(network.listening),
                         "firewall_allows": network.firewall_allows})
        if network.listening and network.firewall_allows:
            yield self.say(Status.WARN, "reachable", {"port": rdp.port}, evidence)
        else:
            yield self.say(Status.PASS, "not_reachable", {"port": rdp.port}, evidence)


@register
class WindowsRemoteTools(WindowsCheck):
    """No remote-control tool (AnyDesk, TeamViewer, VNC…) is installed that the commune has not
    declared."""

    id = "remote_access.windows_tools"

    @dataclass(frozen=True)
    class Params:
        known: tuple[str, ...] = param(doc="names of remote-control tools to look for")
        allowed: tuple[str, ...] = param(doc="tools the commune uses on purpose")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        # The services are a second look: without them the programs still answer.
        services = self.collected(host, "services")
        found = self.parsed(host, "installed_programs", lambda raw: remote_tools(
            raw, None if isinstance(services, Finding) else services, self.params.known))
        if isinstance(found, Finding):
            yield found
            return
        allowed = {a.lower() for a in self.params.allowed}
        unexpected = [t for t in found if t.lower() not in allowed]
        evidence = {"found": found, "allowed": list(self.params.allowed)}
        if unexpected:
            yield self.say(Status.WARN, "found", {"tools": unexpected}, evidence)
        elif found:
            yield self.say(Status.PASS, "allowed_only", {"tools": found}, evidence)
        else:
            yield self.say(Status.PASS, "none", {}, evidence)
