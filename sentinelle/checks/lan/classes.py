"""rules/lan_classes.yaml: the class of a device (camera, NAS, printer...) from its vendor and
its open ports, and the services that make it risky; validated strictly (file, line, key)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sentinelle.errors import expect
from sentinelle.model import Severity
from sentinelle.rules import RuleSet
from sentinelle.validation import Section

LAN_CLASSES_NAME = "lan_classes"
CLASSES = ("camera", "nas", "printer", "network_equipment", "pc_or_server")
UNKNOWN = "unknown"
TESTS = ("open", "http_cleartext", "rtsp_open")
SEVERITIES = tuple(s.value for s in Severity if s is not Severity.INFO)
SERVICE_NAMES = ("telnet", "http_cleartext", "rtsp_open", "smb")  # the message cases


@dataclass(frozen=True)
class ClassRule:
    """One line of `classes:`: a vendor substring and/or an open port gives the class."""

    device_class: str
    vendors: tuple[str, ...]  # lowercase
    ports: tuple[int, ...]

    def matches(self, vendor: str, open_ports: Iterable[int]) -> bool:
        if self.vendors and not any(v in vendor.lower() for v in self.vendors):
            return False
        return not self.ports or bool(set(self.ports) & set(open_ports))


@dataclass(frozen=True)
class RiskyLanService:
    """A service that makes a device risky when the probe finds it."""

    name: str
    ports: tuple[int, ...]
    test: str
    severity: Severity


@dataclass(frozen=True)
class LanRules:
    """The classes rules, in order, and the risky services."""

    classes: tuple[ClassRule, ...]
    services: tuple[RiskyLanService, ...]
    source: str

    def classify(self, vendor: str, open_ports: Iterable[int]) -> str:
        ports = tuple(open_ports)
        for rule in self.classes:
            if rule.matches(vendor, ports):
                return rule.device_class
        return UNKNOWN

    def ports(self) -> set[int]:
        """Every port a rule or a service names."""
        found = {p for r in self.classes for p in r.ports}
        return found | {p for s in self.services for p in s.ports}


def _ports(sec: Section, name: str, required: bool) -> tuple[int, ...]:
    value = sec.raw(name) if required else sec.raw(name, None)
    if value is None:
        return ()
    if not isinstance(value, list) or not value or not all(
        isinstance(p, int) and not isinstance(p, bool) and 1 <= p <= 65535 for p in value
    ):
        raise sec.error(name, expect("port_list"), value)
    return tuple(value)


def parse_lan_rules(data: Any, source: str) -> LanRules:
    """The parsed YAML of lan_classes.yaml; errors name `source`, the line and the key."""
    top = Section(source, "", data)
    rules: list[ClassRule] = []
    for sec in top.sections("classes"):
        device_class = sec.choice("class", CLASSES)
        vendors = sec.str_list("vendors", [])
        ports = _ports(sec, "ports", required=False)
        if not vendors and not ports:
            raise sec.error("vendors", expect("required"))
        sec.done()
        rules.append(ClassRule(device_class, tuple(v.lower() for v in vendors), ports))
    services: list[RiskyLanService] = []
    for sec in top.sections("services"):
        name = sec.choice("name", SERVICE_NAMES)
        ports = _ports(sec, "ports", required=True)
        test = sec.choice("test", TESTS)
        severity = Severity(sec.choice("severity", SEVERITIES))
        sec.done()
        services.append(RiskyLanService(name, ports, test, severity))
    top.done()
    return LanRules(tuple(rules), tuple(services), source)


def load_lan_rules(rules: RuleSet) -> LanRules:
    """The rules of the rules directory in use (rules/lan_classes.yaml)."""
    source = str(rules.directory / f"{LAN_CLASSES_NAME}.yaml")
    return parse_lan_rules(rules.data(LAN_CLASSES_NAME), source)
