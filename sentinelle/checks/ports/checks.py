"""Exposed ports: what listens on this host, which risky services are reachable, what a scan sees.

The risky services and their severities are data (rules/risky_ports.yaml). The socket inventory
reads psutil on the live host and /proc/net on fixture trees (see inventory); the network
scan runs nmap through the Host runner on the targets of the config, and on nothing else.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from sentinelle.checks.base import Check, register
from sentinelle.checks.ports.inventory import (
    LOOPBACK,
    NETWORK,
    Inventory,
    ListeningSocket,
    by_scope,
    collect_inventory,
)
from sentinelle.checks.ports.risky import RiskyCatalog, RiskyService, load_risky_catalog
from sentinelle.checks.ports.scan import (
    OpenPort,
    ScannedHost,
    nmap_argv,
    parse_nmap_xml,
    target_kind,
    valid_port_spec,
)
from sentinelle.checks.privileges import lacking_args, lacking_reason
from sentinelle.errors import CommandNotFound, ConfigError, expect
from sentinelle.model import Finding, Measurement, Severity, Status

if TYPE_CHECKING:
    from sentinelle.host import Host

# A Report carries the inventory as evidence; a busy host must not make it unbounded.
MAX_LISTED_SOCKETS = 256
# nmap's per-host timeout stays well inside the scan budget, so a slow host is reported by nmap
# itself (timedout="true") before the runner's hard timeout kills the whole scan: nmap notices a
# host timeout only between probes, up to about a second late.
HOST_TIMEOUT_SHARE = 0.8
HOST_TIMEOUT_MARGIN_SECONDS = 5.0
MIN_HOST_TIMEOUT_SECONDS = 1.0


def host_timeout(budget: float) -> float:
    """nmap's --host-timeout for a scan allowed `budget` seconds in all."""
    share = min(budget * HOST_TIMEOUT_SHARE, budget - HOST_TIMEOUT_MARGIN_SECONDS)
    return max(MIN_HOST_TIMEOUT_SECONDS, share)


def _no_proc_net(check: Check) -> Finding:
    return check.say(Status.SKIP, "no_proc_net", {}, {"reason": "no /proc/net files"})


def _socket_evidence(s: ListeningSocket, service: RiskyService | None) -> dict[str, Any]:
    return {
        "address": s.address,
        "port": s.port,
        "protocol": s.protocol,
        "process": s.process,
        "scope": s.scope,
        "service": service.name if service else "",
    }


@register
class ListeningPorts(Check):
    """Inventory of listening TCP and bound UDP sockets, each classified loopback or network."""

    id = "ports.listening"

    def run(self, host: Host) -> Iterable[Finding]:
        inventory = collect_inventory(host)
        if inventory is None:
            yield _no_proc_net(self)
            return
        catalog = load_risky_catalog(self.context.rules)
        listed = inventory.sockets[:MAX_LISTED_SOCKETS]
        rows = [_socket_evidence(s, catalog.match(s.port, s.protocol)) for s in listed]
        measurements = [
            Measurement(
                "listening_port_info",
                1.0,
                {
                    "address": str(row["address"]),
                    "port": str(row["port"]),
                    "protocol": str(row["protocol"]),
                    "process": str(row["process"] or ""),  # empty: owner unknown
                    "scope": str(row["scope"]),
                    "service": str(row["service"]),
                },
            )
            for row in rows
        ]
        network = len(by_scope(inventory.sockets, NETWORK))
        loopback = len(by_scope(inventory.sockets, LOOPBACK))
        evidence: dict[str, Any] = {
            "source": inventory.source,
            "network": network,
            "loopback": loopback,
            "sockets": rows,
        }
        if len(inventory.sockets) > len(listed):
            evidence["not_listed"] = len(inventory.sockets) - len(listed)
        if inventory.unparsed_lines:
            evidence["unparsed_lines"] = inventory.unparsed_lines
        args = {"count": len(inventory.sockets), "network": network, "loopback": loopback}
        case = "inventory" if inventory.sockets else "none"
        yield self.say(Status.PASS, case, args, evidence, measurements=measurements)
        if inventory.missing_capabilities:
            lacking = list(inventory.missing_capabilities)
            reason = lacking_reason(lacking, "name the program behind another user's socket")
            yield self.say(
                Status.SKIP,
                "owners_unknown",
                {"count": inventory.ownerless, **lacking_args(lacking)},
                {
                    "reason": reason,
                    "missing_capabilities": list(inventory.missing_capabilities),
                    "sockets_without_program": inventory.ownerless,
                },
            )


@register
class RiskyServices(Check):
    """Risky services (telnet, FTP, SMB, RDP, databases, device admin pages...) on the network."""

    id = "ports.risky_services"

    def run(self, host: Host) -> Iterable[Finding]:
        inventory = collect_inventory(host)
        if inventory is None:
            yield _no_proc_net(self)
            return
        catalog = load_risky_catalog(self.context.rules)
        found = self._group(inventory, catalog)
        if not found:
            yield self.say(
                Status.PASS,
                "none",
                {},
                {
                    "source": inventory.source,
                    "listening_sockets": len(inventory.sockets),
                    "risky_services_known": len(catalog.services),
                },
            )
            return
        for service, sockets in found:
            yield self._service_finding(service, sockets, inventory.source)

    @staticmethod
    def _group(
        inventory: Inventory, catalog: RiskyCatalog
    ) -> list[tuple[RiskyService, list[ListeningSocket]]]:
        """Matched services, worst severity first, then in the catalogue's order."""
        found: dict[str, list[ListeningSocket]] = {}
        for s in inventory.sockets:
            service = catalog.match(s.port, s.protocol)
            if service is not None:
                found.setdefault(service.name, []).append(s)
        ranked = [(i, s) for i, s in enumerate(catalog.services) if s.name in found]
        ranked.sort(key=lambda item: (item[1].severity.rank, item[0]))
        return [(s, found[s.name]) for _, s in ranked]

    def _service_finding(
        self, service: RiskyService, sockets: list[ListeningSocket], source: str
    ) -> Finding:
        exposed = by_scope(sockets, NETWORK)
        evidence: dict[str, Any] = {
            "service": service.name,
            "ports": service.describe_ports(),
            "why": dict(service.why),
            "source": source,
            "network": [s.describe() for s in exposed],
            "loopback": [s.describe() for s in by_scope(sockets, LOOPBACK)],
        }
        shown = exposed or sockets
        args = {
            "service": service.name,
            "ports": service.describe_ports(),
            "addresses": [s.describe() for s in shown],
        }
        evidence["exposure"] = "network" if exposed else "loopback only"
        if exposed:
            return self.say(Status.FAIL, "exposed", args, evidence, severity=service.severity,
                            key=service.name)
        return self.say(Status.PASS, "loopback_only", args, evidence, severity=service.severity,
                        key=service.name)


def _result_for(target: str, scanned: list[ScannedHost]) -> ScannedHost | None:
    """nmap's result for one target: by the name given, else by its address spelt otherwise."""
    for host in scanned:
        if host.target == target:
            return host
    try:
        wanted = ipaddress.ip_address(target)
    except ValueError:
        return None
    for host in scanned:
        with contextlib.suppress(ValueError):
            if ipaddress.ip_address(host.address) == wanted and host.target == host.address:
                return host
    return None


@register
class NetworkScan(Check):
    """Open ports that nmap reaches on the configured targets (ports.scan_targets), TCP only.

    No targets configured: skip. Targets configured but nmap missing: error, because the scan the
    operator asked for did not happen. Targets that are not an IP address or a host name are
    refused with an error finding and never passed to nmap.
    """

    id = "ports.network_scan"

    def run(self, host: Host) -> Iterable[Finding]:
        settings = self.context.config.ports
        if not settings.scan_targets:
            yield self.say(Status.SKIP, "no_targets", {}, {"reason": "no scan target configured"})
            return
        targets: dict[str, str] = {}  # target -> kind, in config order, without duplicates
        for target in settings.scan_targets:
            kind = target_kind(target)
            if kind is None:
                yield self._error("refused_target", target)
            else:
                targets.setdefault(target, kind)
        if not targets:
            return
        catalog = load_risky_catalog(self.context.rules)
        ports = settings.scan_ports or catalog.nmap_ports("tcp")
        if not valid_port_spec(ports):
            raise ConfigError(self.context.config.source, "ports.scan_ports",
                              expect("nmap_ports"), ports)
        groups = (
            ([t for t, k in targets.items() if k != "ipv6"], False),
            ([t for t, k in targets.items() if k == "ipv6"], True),  # nmap needs -6 for these
        )
        for group, ipv6 in groups:
            if group:
                yield from self._scan(host, group, ports, ipv6, catalog)

    def _error(
        self, case: str, target: str, args: dict[str, Any] | None = None, **evidence: Any
    ) -> Finding:
        return self.say(Status.ERROR, case, {"target": target, **(args or {})},
                        {"target": target, **evidence})

    def _scan(
        self, host: Host, targets: list[str], ports: str, ipv6: bool, catalog: RiskyCatalog
    ) -> Iterator[Finding]:
        budget = self.context.config.ports.scan_timeout_seconds
        argv = nmap_argv(targets, ports, host_timeout(budget), ipv6=ipv6)
        try:
            # A timeout raises CommandTimeout: the runner turns it into this check's error.
            result = host.run(argv, timeout=budget)
        except CommandNotFound:
            for target in targets:
                yield self._error("nmap_missing", target)
            return
        if not result.ok:
            detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            args = {"code": result.returncode, "detail": " / ".join(detail)}
            for target in targets:
                yield self._error("nmap_failed", target, args, nmap_args=argv)
            return
        scanned = parse_nmap_xml(result.stdout)
        notes = [line for line in result.stderr.splitlines() if line.strip()]
        for target in targets:
            match = _result_for(target, scanned)
            if match is None:
                note = next((n for n in notes if target in n), None)
                if note is None:
                    yield self._error("not_scanned", target, nmap_args=argv)
                else:  # nmap's own words (e.g. it could not resolve the name)
                    yield self._error("not_scanned_note", target, {"note": note}, nmap_args=argv)
            elif match.timed_out:
                yield self._error(
                    "timed_out",
                    target,
                    {"seconds": host_timeout(budget)},
                    address=match.address,
                    nmap_args=argv,
                )
            else:
                yield from self._host_findings(target, match, ports, catalog, argv)

    def _host_findings(
        self,
        target: str,
        scanned: ScannedHost,
        ports: str,
        catalog: RiskyCatalog,
        argv: list[str],
    ) -> Iterator[Finding]:
        others: list[OpenPort] = []
        for open_port in scanned.open_ports:
            service = catalog.match(open_port.port, open_port.protocol)
            if service is None:
                others.append(open_port)
                continue
            where = f"{open_port.port}/{open_port.protocol}"
            yield self.say(
                Status.FAIL,
                "reachable",
                {"service": service.name, "port": where, "target": target},
                {
                    "target": target,
                    "address": scanned.address,
                    "port": open_port.port,
                    "protocol": open_port.protocol,
                    "service": service.name,
                    "nmap_service": open_port.nmap_service,
                    "why": dict(service.why),
                },
                severity=service.severity,
                measurements=[self._measurement(target, open_port, service.name)],
                key=f"{service.name}@{target}",
            )
        listed = [
            f"{p.port}/{p.protocol}" + (f" ({p.nmap_service})" if p.nmap_service else "")
            for p in others
        ]
        if listed:
            case = "others"
        elif scanned.open_ports:
            case = "only_risky"
        else:
            case = "nothing_open"
        yield self.say(
            Status.PASS,
            case,
            {"target": target, "count": len(listed), "ports": listed},
            {
                "target": target,
                "address": scanned.address,
                "scanned_ports": ports,
                "open_ports": listed,
                "nmap_args": argv,
            },
            severity=Severity.INFO,
            measurements=[self._measurement(target, p, "") for p in others],
        )

    @staticmethod
    def _measurement(target: str, open_port: OpenPort, service: str) -> Measurement:
        return Measurement(
            "network_scan_open_port_info",
            1.0,
            {
                "target": target,
                "port": str(open_port.port),
                "protocol": open_port.protocol,
                "service": service,
            },
        )
