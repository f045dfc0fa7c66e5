"""nmap as the network-scan check runs it: target validation, the command line, the XML result.

nmap runs through `Host.run` (no shell, a hard timeout) rather than python-nmap's PortScanner,
which would start nmap itself, outside the runner's timeout; its XML (`-oX -`) is read with the
standard library.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field

# RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens. A leading '-'
# is impossible, so a target can never be read as an nmap option.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*\.?$")
# nmap -p syntax restricted to TCP (the scan is a TCP connect scan): 22,80,8000-8100 or T:22.
_SPAN = r"(?:T:)?\d{1,5}(?:-\d{1,5})?"
_PORT_SPEC = re.compile(rf"^{_SPAN}(?:,{_SPAN})*$")


class ScanOutputError(ValueError):
    """nmap printed something that is not its XML report."""


def target_kind(target: str) -> str | None:
    """'ipv4', 'ipv6' or 'hostname' for a valid scan target; None for anything else.

    Networks (CIDR), ranges and wildcards are refused: the check scans the hosts the config names,
    one by one, and nothing else.
    """
    try:
        ip = ipaddress.ip_address(target)
    except ValueError:
        pass
    else:
        return "ipv6" if ip.version == 6 else "ipv4"
    if len(target) > 253 or not _HOSTNAME.match(target):
        return None
    # The last label must hold a letter: '10.0.0.1-5' is an nmap range, not a name.
    if not any(c.isalpha() for c in target.rstrip(".").rsplit(".", 1)[-1]):
        return None
    try:
        socket.inet_aton(target)  # '0x7f000001' would resolve to an address in disguise
    except OSError:
        return "hostname"
    return None


def valid_port_spec(spec: str) -> bool:
    """True for a TCP port list nmap accepts, with every port in 1-65535."""
    if not _PORT_SPEC.match(spec):
        return False
    for span in spec.split(","):
        bounds = [int(p) for p in span.removeprefix("T:").split("-")]
        if not all(1 <= p <= 65535 for p in bounds) or bounds[0] > bounds[-1]:
            return False
    return True


def nmap_argv(
    targets: Sequence[str], ports: str, host_timeout_seconds: float, ipv6: bool = False
) -> list[str]:
    """A TCP connect scan (no raw sockets, so no root needed) of exactly `targets`.

    -Pn: no ping first (hosts that drop ICMP still get scanned); -n: no reverse DNS, so nothing
    but the targets is contacted. No --open: with it nmap leaves a host with no open port out of
    its report, which would read as a target it never scanned.
    """
    argv = ["nmap", "-sT", "-Pn", "-n"]
    if ipv6:
        argv.append("-6")
    timeout_ms = max(1000, int(host_timeout_seconds * 1000))
    argv += ["--host-timeout", f"{timeout_ms}ms", "-p", ports, "-oX", "-", "--", *targets]
    return argv


@dataclass(frozen=True)
class OpenPort:
    """A port nmap found open."""

    port: int
    protocol: str
    nmap_service: str  # nmap's guess from its services table, "" when it has none


@dataclass(frozen=True)
class ScannedHost:
    """One <host> of nmap's report."""

    target: str  # the name given on the command line, else the address
    address: str
    timed_out: bool
    open_ports: tuple[OpenPort, ...] = field(default_factory=tuple)


def parse_nmap_xml(text: str) -> list[ScannedHost]:
    """The hosts of an nmap XML report with their open ports."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ScanOutputError(f"nmap output is not XML: {exc}") from exc
    if root.tag != "nmaprun":
        raise ScanOutputError(f"nmap output is not an nmap report (root element {root.tag!r})")
    hosts: list[ScannedHost] = []
    for host in root.iter("host"):
        address = ""
        for addr in host.iter("address"):
            if addr.get("addrtype") in ("ipv4", "ipv6"):
                address = addr.get("addr", "")
                break
        user_names = [h.get("name", "") for h in host.iter("hostname") if h.get("type") == "user"]
        target = user_names[0] if user_names and user_names[0] else address
        ports: list[OpenPort] = []
        for port in host.iter("port"):
            state = port.find("state")
            if state is None or state.get("state") != "open":
                continue
            service = port.find("service")
            ports.append(
                OpenPort(
                    port=int(port.get("portid", "0")),
                    protocol=port.get("protocol", "tcp"),
                    nmap_service=service.get("name", "") if service is not None else "",
                )
            )
        hosts.append(
            ScannedHost(
                target=target,
                address=address,
                timed_out=host.get("timedout") == "true",
                open_ports=tuple(sorted(ports, key=lambda p: (p.protocol, p.port))),
            )
        )
    return hosts
