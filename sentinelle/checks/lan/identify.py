"""Who a device is: its vendor from its MAC prefix (netaddr's offline copy of the IEEE
registry), its name from reverse DNS and from mDNS, each bounded in time."""

from __future__ import annotations

import ipaddress
import queue
import socket
import struct
import threading
import time
from collections.abc import Iterable

MAX_NAME_WORKERS = 8
MDNS_PORT = 5353


def vendor_of(mac: str) -> str:
    """The organisation that registered the MAC's prefix; '' when unknown or locally
    administered (a random or virtual address belongs to nobody's registry entry)."""
    if int(mac[:2], 16) & 2:
        return ""
    import netaddr  # imported here: the idle agent does not need the registry in memory

    try:
        return str(netaddr.EUI(mac).oui.registration().org).strip()
    except (netaddr.NotRegisteredError, netaddr.AddrFormatError, IndexError, ValueError):
        return ""


def _reverse_dns(ip: str) -> str:
    try:
        return socket.gethostbyaddr(ip)[0].rstrip(".")
    except (OSError, UnicodeError):
        return ""


def _mdns_query(ip: str) -> bytes:
    reverse = ipaddress.ip_address(ip).reverse_pointer
    qname = b"".join(bytes([len(p)]) + p.encode() for p in reverse.split(".")) + b"\0"
    # id, flags 0 (standard query), one question: PTR (12), class IN with the unicast bit.
    return struct.pack("!HHHHHH", 0x5E17, 0, 1, 0, 0, 0) + qname + struct.pack("!HH", 12, 0x8001)


def _read_name(packet: bytes, offset: int, depth: int = 0) -> tuple[str, int]:
    labels: list[str] = []
    while depth < 16:
        length = packet[offset]
        if length == 0:
            return ".".join(labels), offset + 1
        if length & 0xC0 == 0xC0:
            pointer = struct.unpack("!H", packet[offset:offset + 2])[0] & 0x3FFF
            name, _ = _read_name(packet, pointer, depth + 1)
            return ".".join([*labels, name]) if name else ".".join(labels), offset + 2
        labels.append(packet[offset + 1:offset + 1 + length].decode("utf-8", "replace"))
        offset += 1 + length
    raise ValueError("name too deep")


def _mdns_name(ip: str, timeout: float) -> str:
    """The PTR answer of the device's own mDNS responder to a unicast query ('' for none)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            sock.sendto(_mdns_query(ip), (ip, MDNS_PORT))
            packet, _ = sock.recvfrom(1500)
    except OSError:
        return ""
    try:
        _, flags, questions, answers = struct.unpack("!HHHH", packet[:8])
        if not flags & 0x8000 or not answers:
            return ""
        offset = 12
        for _ in range(min(questions, 4)):
            _, offset = _read_name(packet, offset)
            offset += 4
        _, offset = _read_name(packet, offset)
        rtype = struct.unpack("!H", packet[offset:offset + 2])[0]
        if rtype != 12:
            return ""
        name, _ = _read_name(packet, offset + 10)
        return name.rstrip(".")
    except (IndexError, ValueError, struct.error):
        return ""


def _name_of(ip: str, timeout: float) -> str:
    return _reverse_dns(ip) or _mdns_name(ip, timeout)


def names_of(ips: Iterable[str], timeout: float) -> dict[str, str]:
    """Reverse DNS, else mDNS, name of each address, all within about `timeout` seconds: a
    lookup still running then is left to finish alone (a daemon thread: the agent never waits
    for it, even at exit) and the address stays nameless."""
    wanted = list(dict.fromkeys(ips))
    found: dict[str, str] = {}
    todo: queue.SimpleQueue[str] = queue.SimpleQueue()
    for ip in wanted:
        todo.put(ip)
    lock = threading.Lock()

    def work() -> None:
        while True:
            try:
                ip = todo.get_nowait()
            except queue.Empty:
                return
            name = _name_of(ip, timeout / 2)
            if name:
                with lock:
                    found[ip] = name

    workers = [threading.Thread(target=work, name="lan-names", daemon=True)
               for _ in range(min(MAX_NAME_WORKERS, len(wanted)))]
    deadline = time.monotonic() + timeout
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
    with lock:
        return dict(found)
