"""The kernel's neighbour table, read passively: what this server has already talked to on its
LAN, also when the agent may not send raw packets (no CAP_NET_RAW)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sentinelle.errors import CommandError

if TYPE_CHECKING:
    from sentinelle.host import Host

NEIGH_ARGV = ("ip", "-j", "-4", "neigh", "show")
NEIGH_TIMEOUT = 5.0
PROC_ARP = "/proc/net/arp"
# States in which the kernel holds a MAC address that answered (FAILED and INCOMPLETE have none).
LIVE_STATES = frozenset({"REACHABLE", "STALE", "DELAY", "PROBE", "PERMANENT", "NOARP"})
MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
ATF_COM = 0x2  # /proc/net/arp flag: the entry is complete


@dataclass(frozen=True)
class Neighbour:
    """An IPv4 address and the MAC address the kernel holds for it."""

    ip: str
    mac: str  # lowercase, colon-separated
    interface: str


def normal_mac(text: str) -> str | None:
    """A MAC address as lowercase aa:bb:cc:dd:ee:ff; None when it is not one (or is zero,
    broadcast or multicast)."""
    mac = text.strip().lower().replace("-", ":")
    if not MAC.match(mac) or mac in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"):
        return None
    if int(mac[:2], 16) & 1:  # multicast
        return None
    return mac


def read_neighbours(host: Host) -> tuple[list[Neighbour], str]:
    """The complete IPv4 entries of the neighbour table and where they were read
    ('ip neigh' or '/proc/net/arp'); ([], '') when neither can be read."""
    if host.is_live:
        try:
            result = host.run(list(NEIGH_ARGV), timeout=NEIGH_TIMEOUT)
        except CommandError:
            result = None
        if result is not None and result.ok:
            parsed = parse_ip_neigh(result.stdout)
            if parsed is not None:
                return parsed, "ip neigh"
    text = host.read_text(PROC_ARP, default="")
    if not text:
        return [], ""
    return parse_proc_arp(text), PROC_ARP


def parse_ip_neigh(text: str) -> list[Neighbour] | None:
    """`ip -j neigh show` output; None when it is not that JSON."""
    try:
        entries: Any = json.loads(text or "[]")
    except ValueError:
        return None
    if not isinstance(entries, list):
        return None
    found: list[Neighbour] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        states = entry.get("state") or []
        mac = normal_mac(str(entry.get("lladdr", "")))
        if mac is None or not LIVE_STATES.intersection(states):
            continue
        found.append(Neighbour(str(entry.get("dst", "")), mac, str(entry.get("dev", ""))))
    return found


def parse_proc_arp(text: str) -> list[Neighbour]:
    """/proc/net/arp: 'IP HWtype Flags HWaddress Mask Device' after a header line."""
    found: list[Neighbour] = []
    for line in text.splitlines()[1:]:
        words = line.split()
        if len(words) < 6:
            continue
        try:
            flags = int(words[2], 16)
        except ValueError:
            continue
        mac = normal_mac(words[3])
        if mac is None or not flags & ATF_COM:
            continue
        found.append(Neighbour(words[0], mac, words[5]))
    return found
