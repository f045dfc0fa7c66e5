"""Remote Desktop as it is in effect, and remote-control tools.

RDP is allowed when fDenyTSConnections is 0, the Group Policy value (under
SOFTWARE\\Policies) overriding the local one when it is set; Network Level Authentication the
same way with UserAuthentication. Whether it is reachable: a listener on the RDP port on an
address other than loopback, and the firewall letting it in (an enabled inbound allow rule of
the Remote Desktop group, or the firewall off).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sentinelle.windows import psjson
from sentinelle.windows.collectors import registry_value

TS = r"SYSTEM\CurrentControlSet\Control\Terminal Server"
RDP_TCP = TS + r"\WinStations\RDP-Tcp"
TS_POLICY = r"SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services"
DEFAULT_PORT = 3389
# NetSecurity enumerations of Get-NetFirewallRule (Enabled is True = 1, False = 2 there).
RULE_ENABLED = {1: "True", 2: "False"}
DIRECTION = {1: "Inbound", 2: "Outbound"}
RULE_ACTION = {0: "NotConfigured", 2: "Allow", 4: "Block"}


@dataclass(frozen=True)
class RdpSettings:
    enabled: bool
    nla: bool
    port: int
    set_by_policy: bool


def _effective(data: Any, name: str, local_key: str) -> tuple[Any, bool]:
    policy = registry_value(data, TS_POLICY, name)
    if policy is not None:
        return policy, True
    return registry_value(data, local_key, name), False


def parse_rdp(raw: str) -> RdpSettings:
    data = psjson.loads(raw)
    deny, by_policy = _effective(data, "fDenyTSConnections", TS)
    nla, nla_policy = _effective(data, "UserAuthentication", RDP_TCP)
    port = psjson.integer(registry_value(data, RDP_TCP, "PortNumber")) or DEFAULT_PORT
    # Windows' defaults when a value is missing: connections denied, NLA required.
    return RdpSettings(
        enabled=psjson.integer(deny) == 0 if deny is not None else False,
        nla=psjson.integer(nla) != 0 if nla is not None else True,
        port=port,
        set_by_policy=by_policy or nla_policy,
    )


@dataclass(frozen=True)
class RdpNetwork:
    listening: tuple[str, ...]  # the addresses listening on the RDP port, other than loopback
    firewall_allows: bool


def parse_rdp_network(raw: str, port: int) -> RdpNetwork:
    data = psjson.loads(raw)
    if not isinstance(data, dict):
        raise psjson.PsJsonError("expected {Listeners, Rules}")
    addresses = []
    for listener in psjson.records(data.get("Listeners")):
        if psjson.integer(listener.get("LocalPort")) != port:
            continue
        address = str(listener.get("LocalAddress") or "")
        try:
            if ipaddress.ip_address(address.split("%")[0]).is_loopback:
                continue
        except ValueError:
            pass
        addresses.append(address)
    allows = any(
        psjson.enum(r.get("Enabled"), RULE_ENABLED) == "True"
        and psjson.enum(r.get("Direction"), DIRECTION) == "Inbound"
        and psjson.enum(r.get("Action"), RULE_ACTION) == "Allow"
        for r in psjson.records(data.get("Rules"))
    )
    return RdpNetwork(tuple(sorted(set(addresses))), allows)


def remote_tools(programs_raw: str, services_raw: str | None,
                 known: Sequence[str]) -> list[str]:
    """The remote-control tools found among the installed programs and the services, by the
    names in `known` (case-insensitive substrings), sorted and unique."""
    found: dict[str, str] = {}
    names = [str(p.get("DisplayName") or "") for p in psjson.records(psjson.loads(programs_raw))]
    if services_raw is not None:
        for service in psjson.records(psjson.loads(services_raw)):
            names += [str(service.get("Name") or ""), str(service.get("DisplayName") or "")]
    for tool in known:
        for name in names:
            if tool.lower() in name.lower():
                found.setdefault(tool, name)
                break
    return sorted(found)
