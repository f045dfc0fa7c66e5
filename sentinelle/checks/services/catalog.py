"""Lists of software as data (rules/cleartext_services.yaml, rules/remote_tools.yaml), read
strictly: a mistake is a ConfigError naming the file, the line and the key."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sentinelle.errors import expect
from sentinelle.rules import RuleSet
from sentinelle.validation import Section

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_PACKAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._-]*$")
_PORT = re.compile(r"^([0-9]{1,5})/(tcp|udp)$")


@dataclass(frozen=True)
class Software:
    """One piece of software the check looks for: by package, by running program, by port."""

    name: str
    packages: tuple[str, ...]
    processes: tuple[str, ...] = ()
    ports: tuple[tuple[int, str], ...] = ()  # (port, protocol)
    # A package of the list that can enforce TLS (vsftpd) and its configuration files, read
    # in order, the first that exists deciding: it is not clear-text when that file enforces
    # TLS (services.cleartext).
    tls_package: str = ""
    tls_config: tuple[str, ...] = ()


def _names(sec: Section, key: str, pattern: re.Pattern[str], kind: str) -> tuple[str, ...]:
    items = sec.str_list(key, [])
    for item in items:
        if not pattern.match(item):
            raise sec.error(key, expect(kind), item)
    return tuple(items)


def _ports(sec: Section) -> tuple[tuple[int, str], ...]:
    out: list[tuple[int, str]] = []
    for item in sec.str_list("ports", []):
        match = _PORT.match(item)
        if not match or not 1 <= int(match.group(1)) <= 65535:
            raise sec.error("ports", expect("port_protocol"), item)
        out.append((int(match.group(1)), match.group(2)))
    return tuple(out)


def parse_software(data: Any, source: str, key: str) -> tuple[Software, ...]:
    """The entries under `key` of a parsed YAML file."""
    top = Section(source, "", data)
    found: list[Software] = []
    sections = top.sections(key)
    if not sections:
        raise top.error(key, expect("mapping_list"))
    for sec in sections:
        name = sec.str("name")
        if not _NAME.match(name):
            raise sec.error("name", expect("lowercase_name"), name)
        if any(s.name == name for s in found):
            raise sec.error("name", expect("service_name_once"), name)
        software = Software(
            name=name,
            packages=_names(sec, "packages", _PACKAGE, "package_name"),
            processes=_names(sec, "processes", _PACKAGE, "lowercase_name"),
            ports=_ports(sec),
            tls_package=sec.str("tls_package", ""),
            tls_config=tuple(sec.str_list("tls_config", [])),
        )
        if software.tls_package and software.tls_package not in software.packages:
            raise sec.error("tls_package", expect("choice", choices=list(software.packages)),
                            software.tls_package)
        if bool(software.tls_package) != bool(software.tls_config):
            raise sec.error("tls_config", expect("both_or_neither", first="tls_package",
                                                           second="tls_config"))
        for path in software.tls_config:
            if not path.startswith("/"):
                raise sec.error("tls_config", expect("policy_path"), path)
        if not (software.packages or software.processes or software.ports):
            raise sec.error("packages", expect("required"))
        sec.done()
        found.append(software)
    top.done()
    return tuple(found)


def load_software(rules: RuleSet, name: str, key: str) -> tuple[Software, ...]:
    """The list under `key` of rules/NAME.yaml, from the rules directory in use."""
    return parse_software(rules.data(name), str(rules.directory / f"{name}.yaml"), key)


def all_packages(software: Sequence[Software]) -> list[str]:
    return sorted({p for s in software for p in s.packages})
