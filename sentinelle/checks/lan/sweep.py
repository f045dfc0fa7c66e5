"""The active ARP sweep with scapy: the only module of the agent that imports scapy, and only
inside its functions, so an agent with the lan checks disabled (or passive) never loads it.

One who-has per address of the subnet, paced (`rate` packets per second), answers collected
until `timeout` seconds after the last one is sent: bounded in count (the subnet's size, itself
bounded by the caller) and in time.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from sentinelle.checks.lan.neighbours import Neighbour, normal_mac


class SweepUnavailable(Exception):
    """scapy is not installed, or cannot open the raw socket (the reason is the message)."""


@dataclass(frozen=True)
class SweepResult:
    """Who answered, and how long the sweep took."""

    answered: tuple[Neighbour, ...]
    sent: int
    seconds: float


def scapy_available() -> bool:
    """True when scapy can be imported (the `scan` extra is installed)."""
    import importlib.util

    return importlib.util.find_spec("scapy") is not None


def arp_sweep(
    network: ipaddress.IPv4Network,
    interface: str,
    own_address: str,
    rate: int,
    timeout: float,
) -> SweepResult:
    """ARP who-has for every host address of `network` (but this server's) on `interface`."""
    import time

    # scapy logs a warning per odd packet; the agent's log is not the place for them.
    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    try:
        from scapy.config import conf
        from scapy.layers.l2 import ARP, Ether
        from scapy.sendrecv import srp
    except ImportError as exc:
        raise SweepUnavailable(f"scapy cannot be imported: {exc}") from exc
    conf.verb = 0
    targets = [str(a) for a in network.hosts() if str(a) != own_address]
    packets = [Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, pdst=ip) for ip in targets]
    started = time.monotonic()
    try:
        answered, _ = srp(packets, iface=interface or None, timeout=timeout,
                          inter=1.0 / rate, retry=0, verbose=0)
    except PermissionError as exc:
        raise SweepUnavailable(f"raw socket refused: {exc}") from exc
    except OSError as exc:
        raise SweepUnavailable(f"ARP sweep on {interface} failed: {exc}") from exc
    seconds = time.monotonic() - started
    found: dict[str, Neighbour] = {}
    for _, reply in answered:
        arp = reply.getlayer(ARP)
        if arp is None or arp.op != 2:
            continue
        mac = normal_mac(str(arp.hwsrc))
        ip = str(arp.psrc)
        try:
            inside = ipaddress.IPv4Address(ip) in network
        except ValueError:
            continue
        if mac is not None and inside:
            found.setdefault(ip, Neighbour(ip, mac, interface))
    return SweepResult(tuple(found.values()), len(packets), seconds)
