"""Which subnets the lan checks may sweep: those the server is directly attached to (the
kernel's link-scope routes), or the configured ones, each bounded in size.

Never a routed network: a configured subnet must lie inside a directly attached one (an ARP
sweep does not cross a router, and the checks never probe beyond the town hall's own LAN).
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentinelle.host import Host

ROUTE_ARGV = ("ip", "-j", "-4", "route", "show", "table", "main")
PROC_ROUTE = "/proc/net/route"
RTF_GATEWAY = 0x2
ROUTE_TIMEOUT = 5.0


@dataclass(frozen=True)
class Subnet:
    """An IPv4 subnet to discover, the interface it is on and this server's own address."""

    network: ipaddress.IPv4Network
    interface: str
    own_address: str  # "" when the kernel names none (prefsrc)


@dataclass(frozen=True)
class Refused:
    """A configured subnet the checks will not sweep, and why ('invalid', 'too_large',
    'not_attached')."""

    subnet: str
    why: str


def attached_subnets(host: Host) -> list[Subnet]:
    """The IPv4 subnets of the kernel's main table with scope link (directly attached),
    loopback and link-local aside; raises CommandError when `ip` cannot be run. An inspected
    tree that holds its own /proc/net/route is read from it (its routes, not this machine's)."""
    if not host.is_live and host.exists(PROC_ROUTE):
        return parse_proc_route(host.read_text(PROC_ROUTE))
    result = host.run(list(ROUTE_ARGV), timeout=ROUTE_TIMEOUT)
    if not result.ok:
        return []
    return parse_routes(result.stdout)


def parse_routes(text: str) -> list[Subnet]:
    """`ip -j -4 route show` output as Subnets (link-scope routes only)."""
    try:
        routes: Any = json.loads(text or "[]")
    except ValueError:
        return []
    found: list[Subnet] = []
    for route in routes if isinstance(routes, list) else []:
        if not isinstance(route, dict) or route.get("scope") != "link":
            continue
        try:
            network = ipaddress.IPv4Network(str(route.get("dst", "")), strict=False)
        except ValueError:
            continue
        if network.is_loopback or network.is_link_local or network.prefixlen >= 31:
            continue
        found.append(Subnet(network, str(route.get("dev", "")), str(route.get("prefsrc", ""))))
    return found


def _le_ipv4(word: str) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(int.from_bytes(bytes.fromhex(word), "little"))


def parse_proc_route(text: str) -> list[Subnet]:
    """/proc/net/route: the routes without a gateway (directly attached); addresses are
    little-endian hex. It names no source address."""
    found: list[Subnet] = []
    for line in text.splitlines()[1:]:
        words = line.split()
        if len(words) < 8:
            continue
        try:
            flags = int(words[3], 16)
            network = ipaddress.IPv4Network(f"{_le_ipv4(words[1])}/{_le_ipv4(words[7])}")
        except ValueError:
            continue
        if flags & RTF_GATEWAY or network.prefixlen == 0:
            continue
        if network.is_loopback or network.is_link_local or network.prefixlen >= 31:
            continue
        found.append(Subnet(network, words[0], ""))
    return found


def choose_subnets(
    attached: list[Subnet], configured: tuple[str, ...], largest_prefix: int
) -> tuple[list[Subnet], list[Refused]]:
    """The subnets to discover and the configured ones refused. Without configured subnets:
    every attached one within the size bound (a larger one is refused too: it is named)."""
    chosen: list[Subnet] = []
    refused: list[Refused] = []
    if not configured:
        for subnet in attached:
            if subnet.network.prefixlen < largest_prefix:
                refused.append(Refused(str(subnet.network), "too_large"))
            else:
                chosen.append(subnet)
        return chosen, refused
    for text in configured:
        try:
            network = ipaddress.IPv4Network(text, strict=False)
        except ValueError:
            refused.append(Refused(text, "invalid"))
            continue
        if network.prefixlen < largest_prefix:
            refused.append(Refused(text, "too_large"))
            continue
        on = [s for s in attached if network.subnet_of(s.network)]
        if on:
            chosen.append(Subnet(network, on[0].interface, on[0].own_address))
        else:
            refused.append(Refused(text, "not_attached"))
    return chosen, refused
