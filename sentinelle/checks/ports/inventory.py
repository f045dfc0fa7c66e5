"""Listening TCP and bound UDP sockets of a host, with their scope (loopback or network).

On the live host the sockets come from psutil, which also names the owning process. On a fixture
tree (or when psutil is refused) they come from <root>/proc/net/{tcp,tcp6,udp,udp6}, the very files
psutil parses on Linux, and the process is unknown. Both sources end in `build_inventory`, so
scope, deduplication and ordering have one code path.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from sentinelle.checks.privileges import missing

if TYPE_CHECKING:
    from sentinelle.host import Host

LOOPBACK = "loopback"
NETWORK = "network"
# Kernel socket states (include/net/tcp_states.h) as printed in /proc/net: a listening TCP socket
# is TCP_LISTEN; an unconnected UDP socket (one that receives from anyone) is TCP_CLOSE.
TCP_LISTEN = 0x0A
UDP_UNCONNECTED = 0x07
# Naming the program behind another user's socket means reading its /proc/PID/fd links.
OWNER_CAPABILITIES = ("CAP_DAC_READ_SEARCH", "CAP_SYS_PTRACE")
PROC_NET_FILES = (
    ("/proc/net/tcp", "tcp", socket.AF_INET),
    ("/proc/net/tcp6", "tcp", socket.AF_INET6),
    ("/proc/net/udp", "udp", socket.AF_INET),
    ("/proc/net/udp6", "udp", socket.AF_INET6),
)


@dataclass(frozen=True)
class RawSocket:
    """One socket as a source reports it, before deduplication."""

    address: str
    port: int
    protocol: str  # tcp or udp
    process: str | None = None


@dataclass(frozen=True)
class ListeningSocket:
    """A distinct listening address/port/protocol and the processes that hold it."""

    address: str
    port: int
    protocol: str
    processes: tuple[str, ...]
    scope: str  # LOOPBACK or NETWORK

    @property
    def process(self) -> str | None:
        return ",".join(self.processes) if self.processes else None

    @property
    def endpoint(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}/{self.protocol}"

    def describe(self) -> str:
        owner = f" ({self.process})" if self.process else ""
        return self.endpoint + owner


@dataclass(frozen=True)
class Inventory:
    """Every listening socket of a host, deduplicated and sorted, and where they were read."""

    sockets: tuple[ListeningSocket, ...]
    source: str
    unparsed_lines: int = 0
    # Sockets whose program psutil could not name, and the capabilities this agent lacks to
    # name them (empty when it has them: kernel sockets have no program at all).
    ownerless: int = 0
    missing_capabilities: tuple[str, ...] = ()


def scope_of(address: str) -> str:
    """Loopback for 127.0.0.0/8, ::1 and their IPv4-mapped forms; network for anything else.

    The wildcard addresses (0.0.0.0, ::) are network: they accept connections on every interface.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return NETWORK  # unknown form: assume the worst
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return LOOPBACK if ip.is_loopback else NETWORK


def decode_proc_address(text: str, family: int) -> tuple[str, int]:
    """Decode '0100007F:0016' (IPv4) or its 32-hex-digit IPv6 form into ('127.0.0.1', 22).

    The kernel prints the address as 32-bit words in host byte order; every Linux platform a town
    hall runs (x86, arm64) is little-endian, as are the recorded fixtures, so words are reversed.
    """
    hex_addr, _, hex_port = text.partition(":")
    size = 8 if family == socket.AF_INET else 32
    if len(hex_addr) != size or not hex_port:
        raise ValueError(f"not a /proc/net address: {text!r}")
    raw = b"".join(bytes.fromhex(hex_addr[i : i + 8])[::-1] for i in range(0, size, 8))
    return socket.inet_ntop(family, raw), int(hex_port, 16)


def parse_proc_net(text: str, protocol: str, family: int) -> tuple[list[RawSocket], int]:
    """Listening sockets of one /proc/net file and the count of lines that did not parse."""
    wanted = TCP_LISTEN if protocol == "tcp" else UDP_UNCONNECTED
    found: list[RawSocket] = []
    bad = 0
    for line in text.splitlines()[1:]:  # the first line is the column header
        fields = line.split()
        if not fields:
            continue
        try:
            address, port = decode_proc_address(fields[1], family)
            state = int(fields[3], 16)
        except (IndexError, ValueError):
            bad += 1
            continue
        # A UDP socket bound to port 0 is not bound at all (e.g. a client before sendto).
        if state == wanted and port != 0:
            found.append(RawSocket(address, port, protocol))
    return found, bad


def read_proc_net(host: Host) -> tuple[list[RawSocket], int] | None:
    """Sockets from the host's /proc/net files; None when the tree has none of them."""
    sockets: list[RawSocket] = []
    bad = 0
    seen_any = False
    for path, protocol, family in PROC_NET_FILES:
        text = host.read_text(path, default="")
        if not text:
            continue  # tcp6/udp6 are absent when IPv6 is disabled
        seen_any = True
        found, unparsed = parse_proc_net(text, protocol, family)
        sockets.extend(found)
        bad += unparsed
    return (sockets, bad) if seen_any else None


def read_psutil() -> list[RawSocket]:
    """Sockets of the live host with their process names (unknown without the privileges)."""
    import psutil  # imported here: only the ports checks need it

    names: dict[int, str | None] = {}

    def process_name(pid: int | None) -> str | None:
        if pid is None:
            return None
        if pid not in names:
            try:
                names[pid] = psutil.Process(pid).name() or None
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                names[pid] = None
        return names[pid]

    found: list[RawSocket] = []
    for conn in psutil.net_connections(kind="inet"):
        if not conn.laddr:
            continue
        if conn.type == socket.SOCK_STREAM:
            if conn.status != psutil.CONN_LISTEN:
                continue
            protocol = "tcp"
        elif conn.type == socket.SOCK_DGRAM:
            if conn.raddr or conn.laddr.port == 0:  # connected or unbound: not a server
                continue
            protocol = "udp"
        else:
            continue
        found.append(RawSocket(conn.laddr.ip, conn.laddr.port, protocol, process_name(conn.pid)))
    return found


def build_inventory(raw: Iterable[RawSocket], source: str, unparsed: int = 0) -> Inventory:
    """Deduplicate by address/port/protocol (keeping every owner) and classify each scope."""
    owners: dict[tuple[str, int, str], set[str]] = {}
    for s in raw:
        names = owners.setdefault((s.address, s.port, s.protocol), set())
        if s.process:
            names.add(s.process)
    sockets = tuple(
        ListeningSocket(address, port, protocol, tuple(sorted(names)), scope_of(address))
        for (address, port, protocol), names in owners.items()
    )
    ordered = sorted(sockets, key=lambda s: (s.protocol, s.port, s.address))
    return Inventory(tuple(ordered), source, unparsed)


def collect_inventory(host: Host) -> Inventory | None:
    """The host's listening sockets; None when a fixture tree holds no /proc/net file."""
    if host.is_live:
        import psutil

        try:
            inventory = build_inventory(read_psutil(), "psutil")
        except psutil.AccessDenied:
            pass  # some kernels refuse the per-process walk: /proc/net still lists sockets
        else:
            ownerless = sum(1 for s in inventory.sockets if not s.processes)
            if ownerless:
                lacking = missing(*OWNER_CAPABILITIES)
                inventory = replace(
                    inventory, ownerless=ownerless, missing_capabilities=tuple(lacking)
                )
            return inventory
    parsed = read_proc_net(host)
    if parsed is None:
        return None
    raw, bad = parsed
    return build_inventory(raw, "/proc/net", bad)


def by_scope(sockets: Sequence[ListeningSocket], scope: str) -> list[ListeningSocket]:
    return [s for s in sockets if s.scope == scope]
