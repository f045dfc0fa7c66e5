"""The town hall's LAN: which devices are on it (lan.devices), which of them the syndicate has
not approved (lan.unknown_devices), which leave a risky service open (lan.risky_services).

Passive by default: the kernel's neighbour table, the vendor of each MAC prefix and a class
from it. With `active: true` (the syndicate's policy or agent.yaml) an ARP sweep of the directly
attached subnets (scapy, CAP_NET_RAW), names from reverse DNS and mDNS, and an nmap probe of
the devices' usual ports. Nothing is ever sent beyond the directly attached subnets.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sentinelle.checks.base import Check, register
from sentinelle.checks.lan.classes import load_lan_rules
from sentinelle.checks.lan.neighbours import normal_mac
from sentinelle.checks.lan.survey import LanSettings, Survey, survey
from sentinelle.checks.privileges import lacking_args, lacking_reason
from sentinelle.model import Finding, Measurement, Status
from sentinelle.params import param

if TYPE_CHECKING:
    from sentinelle.host import Host

# Evidence of the inventory finding: the Report stays bounded whatever the LAN's size.
MAX_EVIDENCE_DEVICES = 256


@dataclass(frozen=True)
class LanParams:
    """The parameters of every lan check (set them once for the family: `checks: {lan: ...}`)."""

    active: bool = param(doc="sweep (ARP), name and probe (nmap) the devices; else passive")
    subnets: tuple[str, ...] = param(doc="subnets to discover (CIDR); empty: the attached ones")
    largest_prefix: int = param(minimum=16, maximum=30,
                                doc="the largest subnet swept, as a prefix length (22: /22)")
    sweep_rate: int = param(minimum=1, maximum=2000, doc="ARP requests per second")
    sweep_timeout_seconds: float = param(minimum=0.2, maximum=30,
                                         doc="how long answers are awaited after the last one")
    probe_ports: str = param(doc="TCP ports probed on each device (nmap -p), besides the "
                             "ports of rules/lan_classes.yaml")
    probe_timeout_seconds: float = param(minimum=2, maximum=600, doc="the whole probe's budget")
    name_timeout_seconds: float = param(minimum=0.1, maximum=30,
                                        doc="reverse DNS and mDNS budget for all devices")
    max_devices: int = param(minimum=1, maximum=4096, doc="devices listed at most")


class LanCheck(Check):
    """A lan check: its findings come from the cycle's survey of the LAN."""

    platforms = frozenset({"linux"})
    Params = LanParams
    params: LanParams

    def settings(self) -> LanSettings:
        p = self.params
        return LanSettings(p.active, tuple(p.subnets), p.largest_prefix, p.sweep_rate,
                           p.sweep_timeout_seconds, p.probe_ports, p.probe_timeout_seconds,
                           p.name_timeout_seconds, p.max_devices)

    def look(self, host: Host) -> Survey:
        return survey(host, self.settings(), load_lan_rules(self.context.rules))

    def cannot_look(self, found: Survey) -> Finding | None:
        """A skip when there is no LAN to look at (no attached subnet, none usable)."""
        if found.subnets:
            return None
        return self.say(Status.SKIP, "no_subnet", {},
                        {"reason": "no directly attached IPv4 subnet to discover",
                         "refused": [r.subnet for r in found.refused]})


def device_args(mac: str, ip: str, vendor: str) -> dict[str, Any]:
    return {"mac": mac, "ip": ip, "vendor": vendor}


@register
class LanDevices(LanCheck):
    """Every device seen on the directly attached subnets, with its vendor and class."""

    id = "lan.devices"

    def run(self, host: Host) -> Iterable[Finding]:
        found = self.look(host)
        yield from self._refusals(found)
        skip = self.cannot_look(found)
        if skip is not None:
            yield skip
            return
        yield from self._what_could_not_be_done(found)
        subnets = [str(s.network) for s in found.subnets]
        measurements = [
            Measurement("lan_device_info", 1.0,
                        {"mac": d.mac, "ip": d.ip, "vendor": d.vendor, "class": d.device_class})
            for d in found.devices
        ]
        evidence: dict[str, Any] = {
            "subnets": subnets,
            "mode": "active" if self.params.active else "passive",
            "sweep": found.sweep,
            "probe": found.probe,
            "neighbour_source": found.neighbour_source,
            "seconds": round(found.seconds, 3),
            "devices": [d.evidence() for d in found.devices[:MAX_EVIDENCE_DEVICES]],
        }
        if found.not_listed:
            evidence["not_listed"] = found.not_listed
        case = "inventory" if found.sweep == "done" else "inventory_passive"
        yield self.say(Status.PASS, case,
                       {"count": len(found.devices) + found.not_listed, "subnets": subnets},
                       evidence, measurements=measurements)
        for d in found.devices:
            case = d.device_class if d.vendor else f"{d.device_class}_no_vendor"
            yield self.say(Status.PASS, case, {**device_args(d.mac, d.ip, d.vendor),
                                               "name": d.name},
                           d.evidence(), key=d.mac)

    def _refusals(self, found: Survey) -> Iterator[Finding]:
        largest = self.params.largest_prefix
        for r in found.refused:
            args = {"subnet": r.subnet, "largest": largest}
            evidence = {"subnet": r.subnet, "largest_prefix": largest}
            if not self.params.subnets:  # an attached subnet too large: not asked for
                yield self.say(Status.SKIP, "attached_too_large", args,
                               {**evidence, "reason": f"{r.subnet} is larger than /{largest}"})
            else:
                yield self.say(Status.ERROR, f"subnet_{r.why}", args, evidence)

    def _what_could_not_be_done(self, found: Survey) -> Iterator[Finding]:
        if found.sweep == "no_capability":
            lacking = found.missing_capabilities
            yield self.say(Status.SKIP, "sweep_no_capability", lacking_args(lacking),
                           {"reason": lacking_reason(lacking, "send ARP requests (raw socket)"),
                            "missing_capabilities": lacking})
        elif found.sweep == "no_scapy":
            yield self.say(Status.SKIP, "sweep_no_scapy", {},
                           {"reason": "scapy is not installed (sentinelle[scan])"})
        elif found.sweep == "not_live":
            yield self.say(Status.SKIP, "sweep_not_live", {},
                           {"reason": "an inspected tree, not this machine's network"})
        elif found.sweep == "failed":
            yield self.say(Status.ERROR, "sweep_failed", {"detail": found.sweep_error},
                           {"error": found.sweep_error})
        if found.probe == "nmap_missing":
            yield self.say(Status.ERROR, "nmap_missing", {}, {"error": "nmap is not installed"})
        elif found.probe == "failed":
            yield self.say(Status.ERROR, "probe_failed", {"detail": found.probe_error},
                           {"error": found.probe_error, "nmap_args": found.probe_argv})


@register
class UnknownDevices(LanCheck):
    """Devices on the LAN that the syndicate or the technician has not approved (by MAC)."""

    id = "lan.unknown_devices"

    @dataclass(frozen=True)
    class Params(LanParams):
        approved: tuple[str, ...] = param(doc="approved MAC addresses (from the collector: "
                                          "sentinelle collector device approve)")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        found = self.look(host)
        skip = self.cannot_look(found)
        if skip is not None:
            yield skip
            return
        approved = {m for m in (normal_mac(a) for a in self.params.approved) if m}
        unknown = [d for d in found.devices if d.mac not in approved]
        for d in unknown:
            case = "unknown" if d.vendor else "unknown_no_vendor"
            yield self.say(Status.WARN, case, device_args(d.mac, d.ip, d.vendor),
                           {**d.evidence(), "approved": False}, key=d.mac)
        if not unknown:
            yield self.say(Status.PASS, "all_approved", {"count": len(found.devices)},
                           {"devices": len(found.devices), "approved": len(approved)})


@register
class RiskyLanServices(LanCheck):
    """Devices of the LAN that leave a risky service open (telnet, clear-text admin page, RTSP
    with no password, SMB)."""

    id = "lan.risky_services"

    def run(self, host: Host) -> Iterable[Finding]:
        found = self.look(host)
        skip = self.cannot_look(found)
        if skip is not None:
            yield skip
            return
        if found.probe == "off":
            yield self.say(Status.SKIP, "not_probed", {},
                           {"reason": "passive mode: the devices are not probed (active: false)"})
            return
        if found.probe in ("nmap_missing", "failed"):
            yield self.say(Status.SKIP, "probe_unavailable", {},
                           {"reason": f"the probe could not run ({found.probe})",
                            "error": found.probe_error})
            return
        rules = load_lan_rules(self.context.rules)
        severity = {s.name: s.severity for s in rules.services}
        risky = 0
        for d in found.devices:
            for r in d.risky:
                risky += 1
                yield self.say(Status.FAIL, r.service,
                               {**device_args(d.mac, d.ip, d.vendor), "port": r.port},
                               {**d.evidence(), "service": r.service, "port": r.port},
                               severity=severity[r.service], key=d.mac)
        if not risky:
            yield self.say(Status.PASS, "none", {"count": len(found.devices)},
                           {"devices": len(found.devices),
                            "probed_ports": found.probe_ports})
