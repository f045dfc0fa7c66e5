"""The risky-services catalogue of rules/risky_ports.yaml, validated strictly.

Severities and ports are data so the syndicate can tune them without touching code; a mistake in
the file is a ConfigError naming the file, the line and the key, and what was expected in the
catalog's words (rules/messages/config.yaml).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sentinelle.errors import expect
from sentinelle.model import Severity
from sentinelle.rules import LANGS, RuleSet
from sentinelle.validation import Section

RISKY_PORTS_NAME = "risky_ports"
PROTOCOLS = ("tcp", "udp")
# Info would make an exposed risky service invisible in the score: not a meaningful choice here.
SERVICE_SEVERITIES = tuple(s.value for s in Severity if s is not Severity.INFO)
_RANGE = re.compile(r"^(\d{1,5})-(\d{1,5})$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


@dataclass(frozen=True)
class RiskyService:
    """One service that must not be reachable from the network."""

    name: str
    ports: tuple[tuple[int, int], ...]  # inclusive ranges
    protocols: tuple[str, ...]
    severity: Severity
    why: Mapping[str, str]

    def matches(self, port: int, protocol: str) -> bool:
        return protocol in self.protocols and any(lo <= port <= hi for lo, hi in self.ports)

    def describe_ports(self) -> str:
        """E.g. '5900-5910/tcp' or '111/tcp+udp', for summaries and remediation texts."""
        spans = ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in self.ports)
        return f"{spans}/{'+'.join(self.protocols)}"


@dataclass(frozen=True)
class RiskyCatalog:
    """All risky services; a port/protocol pair belongs to at most one of them."""

    services: tuple[RiskyService, ...]
    source: str

    def match(self, port: int, protocol: str) -> RiskyService | None:
        for service in self.services:
            if service.matches(port, protocol):
                return service
        return None

    def nmap_ports(self, protocol: str = "tcp") -> str:
        """The catalogue's ports of one protocol in nmap `-p` syntax, merged and sorted."""
        spans = sorted(span for s in self.services if protocol in s.protocols for span in s.ports)
        merged: list[list[int]] = []
        for lo, hi in spans:
            if merged and lo <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in merged)


def _port(sec: Section, key: str, item: object) -> tuple[int, int]:
    expected = expect("port_or_range")
    if isinstance(item, bool):
        raise sec.error(key, expected, item)
    if isinstance(item, int):
        lo = hi = item
    elif isinstance(item, str) and (m := _RANGE.match(item.strip())):
        lo, hi = int(m.group(1)), int(m.group(2))
    else:
        raise sec.error(key, expected, item)
    if not 1 <= lo <= hi <= 65535:
        raise sec.error(key, expected if lo == hi else expect("port_range_ordered"), item)
    return lo, hi


def _protocols(sec: Section) -> tuple[str, ...]:
    value = sec.raw("protocol")
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(p, str) and p in PROTOCOLS for p in items):
        raise sec.error("protocol", expect("protocols", choices=PROTOCOLS), value)
    return tuple(p for p in PROTOCOLS if p in items)


def _service(sec: Section) -> RiskyService:
    name = sec.str("name")
    if not _NAME.match(name):
        raise sec.error("name", expect("lowercase_name"), name)
    raw_ports = sec.raw("ports")
    if not isinstance(raw_ports, list) or not raw_ports:
        raise sec.error("ports", expect("port_list"), raw_ports)
    ports = tuple(_port(sec, f"ports[{i}]", item) for i, item in enumerate(raw_ports))
    protocols = _protocols(sec)
    severity = Severity(sec.choice("severity", SERVICE_SEVERITIES))
    why_sec = sec.section("why")
    why = {lang: why_sec.str(lang) for lang in LANGS}
    why_sec.done()
    sec.done()
    return RiskyService(name, ports, protocols, severity, why)


def parse_risky_services(data: Any, source: str) -> RiskyCatalog:
    """Validate the parsed YAML of risky_ports.yaml; errors name `source` and the key."""
    top = Section(source, "", data)
    services: list[RiskyService] = []
    owner: dict[tuple[str, int], str] = {}
    sections = top.sections("services")
    if not sections:
        raise top.error("services", expect("risky_services"))
    for sec in sections:
        service = _service(sec)
        if any(s.name == service.name for s in services):
            raise sec.error("name", expect("service_name_once"), service.name)
        for protocol in service.protocols:
            for lo, hi in service.ports:
                for port in range(lo, hi + 1):
                    other = owner.setdefault((protocol, port), service.name)
                    if other != service.name:
                        raise sec.error("ports", expect("port_not_listed",
                                                        port=f"{port}/{protocol}", service=other),
                                        port)
        services.append(service)
    top.done()
    return RiskyCatalog(tuple(services), source)


def load_risky_catalog(rules: RuleSet) -> RiskyCatalog:
    """The catalogue from the rules directory in use (rules/risky_ports.yaml)."""
    source = str(rules.directory / f"{RISKY_PORTS_NAME}.yaml")
    return parse_risky_services(rules.data(RISKY_PORTS_NAME), source)
