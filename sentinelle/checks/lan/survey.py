"""One look at the LAN, shared by the lan checks of a cycle: subnets, devices, vendors, names,
open ports, classes and risky services.

The three lan checks run one after the other in a cycle and ask the same question; the survey
is made once and kept for `REUSE_SECONDS`, so the network sees one sweep and one probe per
cycle, not three.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sentinelle.checks.lan.classes import LanRules
from sentinelle.checks.lan.identify import names_of, vendor_of
from sentinelle.checks.lan.neighbours import Neighbour, read_neighbours
from sentinelle.checks.lan.probe import http_cleartext, probe_argv, rtsp_open
from sentinelle.checks.lan.subnets import Refused, Subnet, attached_subnets, choose_subnets
from sentinelle.checks.ports.scan import parse_nmap_xml, valid_port_spec
from sentinelle.checks.privileges import missing
from sentinelle.errors import CommandError, CommandNotFound

if TYPE_CHECKING:
    from sentinelle.host import Host

REUSE_SECONDS = 30.0
NET_RAW = "CAP_NET_RAW"


@dataclass(frozen=True)
class LanSettings:
    """The parameters every lan check shares (rules/checks/lan.yaml, `checks: {lan: ...}`)."""

    active: bool
    subnets: tuple[str, ...]
    largest_prefix: int
    sweep_rate: int
    sweep_timeout_seconds: float
    probe_ports: str
    probe_timeout_seconds: float
    name_timeout_seconds: float
    max_devices: int


@dataclass(frozen=True)
class RiskyFound:
    """A risky service the probe confirmed on a device."""

    service: str
    port: int


@dataclass(frozen=True)
class Device:
    """One device seen on the LAN."""

    mac: str
    ip: str
    interface: str
    seen_by: tuple[str, ...]  # "arp" (answered the sweep), "neighbours" (kernel table)
    vendor: str = ""
    name: str = ""
    open_ports: tuple[int, ...] = ()
    device_class: str = "unknown"
    risky: tuple[RiskyFound, ...] = ()

    def evidence(self) -> dict[str, Any]:
        return {
            "mac": self.mac,
            "ip": self.ip,
            "interface": self.interface,
            "vendor": self.vendor,
            "name": self.name,
            "class": self.device_class,
            "open_ports": list(self.open_ports),
            "seen_by": list(self.seen_by),
            "risky": [f"{r.service}:{r.port}" for r in self.risky],
        }


@dataclass
class Survey:
    """What one look at the LAN found, and what it could not do."""

    subnets: list[Subnet] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    not_listed: int = 0  # devices beyond max_devices
    neighbour_source: str = ""
    # "done", "off" (passive), "not_live" (a fixture tree), "no_capability", "no_scapy",
    # "failed" (with sweep_error)
    sweep: str = "off"
    sweep_error: str = ""
    sweep_seconds: float = 0.0
    missing_capabilities: list[str] = field(default_factory=list)
    # "done", "off", "nothing" (no device to probe), "nmap_missing", "failed" (probe_error)
    probe: str = "off"
    probe_error: str = ""
    probe_argv: list[str] = field(default_factory=list)
    probe_ports: str = ""
    seconds: float = 0.0


_cache: dict[tuple[int, LanSettings, str], tuple[float, Survey]] = {}
_lock = threading.Lock()


def survey(host: Host, settings: LanSettings, rules: LanRules) -> Survey:
    """The LAN as seen now, or as seen by this cycle's previous lan check."""
    key = (id(host), settings, rules.source)
    with _lock:
        held = _cache.get(key)
        if held is not None and time.monotonic() - held[0] < REUSE_SECONDS:
            return held[1]
        found = _look(host, settings, rules)
        _cache.clear()  # one survey held at a time: memory stays flat over cycles
        _cache[key] = (time.monotonic(), found)
        return found


def _inside(ip: str, subnets: list[Subnet]) -> Subnet | None:
    try:
        address = ipaddress.IPv4Address(ip)
    except ValueError:
        return None
    return next((s for s in subnets if address in s.network), None)


def _look(host: Host, settings: LanSettings, rules: LanRules) -> Survey:
    started = time.monotonic()
    out = Survey()
    try:
        attached = attached_subnets(host)
    except CommandError:
        attached = []
    out.subnets, out.refused = choose_subnets(attached, settings.subnets, settings.largest_prefix)
    own = {s.own_address for s in attached}
    seen: dict[str, tuple[Neighbour, list[str]]] = {}
    neighbours, out.neighbour_source = read_neighbours(host)
    if out.subnets:
        _sweep(host, settings, out, seen, own)
    for n in neighbours:
        if _inside(n.ip, out.subnets) and n.ip not in own:
            seen.setdefault(n.mac, (n, []))[1].append("neighbours")
    ordered = sorted(seen.values(), key=lambda item: ipaddress.IPv4Address(item[0].ip))
    out.not_listed = max(0, len(ordered) - settings.max_devices)
    devices = [
        Device(n.mac, n.ip, n.interface, tuple(sorted(set(by))), vendor=vendor_of(n.mac))
        for n, by in ordered[: settings.max_devices]
    ]
    if settings.active and host.is_live and devices:
        # Names are looked up while nmap probes: both mostly wait on the network.
        names: dict[str, str] = {}
        namer = threading.Thread(
            target=lambda: names.update(names_of([d.ip for d in devices],
                                                 settings.name_timeout_seconds)),
            name="lan-names", daemon=True)
        namer.start()
        ports = _probe(host, settings, rules, out, [d.ip for d in devices])
        namer.join(settings.name_timeout_seconds + 1)  # names_of is bounded by its timeout
        devices = [
            Device(d.mac, d.ip, d.interface, d.seen_by, d.vendor, names.get(d.ip, ""),
                   ports.get(d.ip, ()))
            for d in devices
        ]
    elif settings.active and host.is_live:
        out.probe = "nothing"
    out.devices = [_judged(d, rules, settings, out.probe == "done") for d in devices]
    out.seconds = time.monotonic() - started
    return out


def _sweep(host: Host, settings: LanSettings, out: Survey,
           seen: dict[str, tuple[Neighbour, list[str]]], own: set[str]) -> None:
    if not settings.active:
        out.sweep = "off"
        return
    if not host.is_live:
        out.sweep = "not_live"
        return
    from sentinelle.checks.lan import sweep  # the module that imports scapy, only now

    out.missing_capabilities = missing(NET_RAW)
    if out.missing_capabilities:
        out.sweep = "no_capability"
        return
    if not sweep.scapy_available():
        out.sweep = "no_scapy"
        return
    try:
        for subnet in out.subnets:
            result = sweep.arp_sweep(subnet.network, subnet.interface, subnet.own_address,
                                     settings.sweep_rate, settings.sweep_timeout_seconds)
            out.sweep_seconds += result.seconds
            for n in result.answered:
                if n.ip not in own:
                    seen.setdefault(n.mac, (n, []))[1].append("arp")
    except sweep.SweepUnavailable as exc:
        out.sweep, out.sweep_error = "failed", str(exc)
        return
    out.sweep = "done"


def _probe(host: Host, settings: LanSettings, rules: LanRules, out: Survey,
           ips: list[str]) -> dict[str, tuple[int, ...]]:
    wanted = {int(p) for p in settings.probe_ports.split(",") if p.isdigit()} | rules.ports()
    ports = ",".join(str(p) for p in sorted(wanted))
    if not valid_port_spec(ports):
        out.probe, out.probe_error = "failed", f"invalid port list {ports}"
        return {}
    budget = settings.probe_timeout_seconds
    argv = probe_argv(ips, ports, max(1.0, budget * 0.8), rate=max(10, settings.sweep_rate * 4))
    out.probe_argv, out.probe_ports = argv, ports
    try:
        result = host.run(argv, timeout=budget)
    except CommandNotFound:
        out.probe = "nmap_missing"
        return {}
    except CommandError as exc:
        out.probe, out.probe_error = "failed", str(exc)
        return {}
    if not result.ok:
        out.probe = "failed"
        out.probe_error = " / ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
        return {}
    try:
        scanned = parse_nmap_xml(result.stdout)
    except ValueError as exc:
        out.probe, out.probe_error = "failed", str(exc)
        return {}
    out.probe = "done"
    return {
        h.address: tuple(p.port for p in h.open_ports if p.protocol == "tcp")
        for h in scanned if not h.timed_out
    }


def _judged(device: Device, rules: LanRules, settings: LanSettings, probed: bool) -> Device:
    """The device with its class and, when it was probed, its risky services confirmed."""
    risky: list[RiskyFound] = []
    timeout = min(3.0, settings.probe_timeout_seconds / 4)
    if probed:
        for service in rules.services:
            for port in service.ports:
                if port not in device.open_ports:
                    continue
                if service.test == "http_cleartext" and not http_cleartext(device.ip, port,
                                                                           timeout):
                    continue
                if service.test == "rtsp_open" and not rtsp_open(device.ip, port, timeout):
                    continue
                risky.append(RiskyFound(service.name, port))
    return Device(device.mac, device.ip, device.interface, device.seen_by, device.vendor,
                  device.name, device.open_ports,
                  rules.classify(device.vendor, device.open_ports), tuple(risky))
