"""The agent's configuration: embedded defaults, overridden by one YAML file.

Every key is known: an unknown key, a wrong type or an impossible value is a ConfigError that
names the file, the line and the dotted key. A check's parameters are validated against its
declared Params (sentinelle.params), whose defaults live in rules/checks/*.yaml.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentinelle.errors import expect, problem
from sentinelle.params import ParamSpec, as_specs, validate
from sentinelle.validation import Section, load_yaml_file


def default_state_dir() -> str:
    """Where the agent keeps its credentials, spool and last Report: /var/lib/sentinelle, and
    %ProgramData%\\Sentinelle on Windows (docs/windows.md)."""
    if sys.platform == "win32":
        return str(Path(os.environ.get("PROGRAMDATA") or r"C:\ProgramData") / "Sentinelle")
    return "/var/lib/sentinelle"


DEFAULT_STATE_DIR = default_state_dir()
DEFAULT_LISTEN = "127.0.0.1:9830"
BACKUP_KINDS = ("directory", "restic", "borg")


@dataclass(frozen=True)
class AgentSettings:
    """How the long-running agent behaves."""

    interval_seconds: float = 3600.0
    jitter_fraction: float = 0.1
    listen_address: str = DEFAULT_LISTEN
    state_dir: str = DEFAULT_STATE_DIR
    # Above twice the nmap budget (ports.scan_timeout_seconds): IPv4 and IPv6 targets scan apart.
    check_timeout_seconds: float = 300.0


@dataclass(frozen=True)
class BackupLocation:
    """One place where backups land: a directory of files, or a restic or borg repository."""

    name: str
    kind: str
    path: str
    pattern: str = "*"
    password_file: str | None = None
    offline: bool = False  # an offline or second copy, held to its own freshness threshold
    max_age_hours: float | None = None


@dataclass(frozen=True)
class PortSettings:
    """What the exposed-ports checks scan with nmap (loopback or the commune's own LAN only)."""

    scan_targets: tuple[str, ...] = ()
    scan_ports: str = ""  # nmap -p syntax; empty = the risky ports from rules/risky_ports.yaml
    scan_timeout_seconds: float = 120.0


@dataclass(frozen=True)
class PushSettings:
    """How the agent pushes Reports to the collector it enrolled with (outbound only)."""

    enabled: bool = True  # pushes only once `sentinelle agent enroll` stored credentials
    ca_bundle: str | None = None  # PEM file of a private CA; the system CAs otherwise
    timeout_seconds: float = 30.0
    spool_max_reports: int = 500
    spool_max_bytes: int = 50_000_000
    backoff_initial_seconds: float = 30.0
    backoff_max_seconds: float = 3600.0


@dataclass(frozen=True)
class CheckSettings:
    """Per-check switch and threshold overrides from the config file (or the syndicate's
    policy); `enabled` is None where nothing was said, so a layer below still decides."""

    enabled: bool | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    """The whole agent configuration."""

    source: str = "(embedded defaults)"
    agent: AgentSettings = AgentSettings()
    checks: dict[str, CheckSettings] = field(default_factory=dict)
    backups: tuple[BackupLocation, ...] = ()
    ports: PortSettings = PortSettings()
    push: PushSettings = PushSettings()
    rules_dir: str | None = None
    # Directories of declarative checks (docs/policy.md) added to rules/policies; a relative
    # one is relative to the config file's directory.
    policy_dirs: tuple[str, ...] = ()

    def check_enabled(self, check_id: str) -> bool:
        family = check_id.split(".", 1)[0]
        for key in (check_id, family):
            said = self.checks[key].enabled if key in self.checks else None
            if said is not None:
                return said
        return True


def _agent(sec: Section) -> AgentSettings:
    d = AgentSettings()
    listen = sec.str("listen_address", d.listen_address)
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise sec.error("listen_address", expect("host_port", example=DEFAULT_LISTEN), listen)
    out = AgentSettings(
        interval_seconds=sec.number("interval_seconds", d.interval_seconds, minimum=10),
        jitter_fraction=sec.number("jitter_fraction", d.jitter_fraction, minimum=0, maximum=0.5),
        listen_address=listen,
        state_dir=sec.str("state_dir", d.state_dir),
        check_timeout_seconds=sec.number(
            "check_timeout_seconds", d.check_timeout_seconds, minimum=1
        ),
    )
    sec.done()
    return out


def _backup(sec: Section) -> BackupLocation:
    kind = sec.choice("type", BACKUP_KINDS)
    loc = BackupLocation(
        name=sec.str("name"),
        kind=kind,
        path=sec.str("path"),
        pattern=sec.str("pattern", "*"),
        password_file=sec.str("password_file", None),
        offline=sec.bool("offline", False),
        max_age_hours=sec.number("max_age_hours", None, minimum=1),
    )
    if kind in ("restic", "borg") and sec.has("pattern"):
        raise sec.error("pattern", problem("pattern_not_for_repository", kind=kind))
    sec.done()
    return loc


def _ports(sec: Section) -> PortSettings:
    d = PortSettings()
    out = PortSettings(
        scan_targets=tuple(sec.str_list("scan_targets", list(d.scan_targets))),
        scan_ports=sec.raw("scan_ports", d.scan_ports) or "",
        scan_timeout_seconds=sec.number("scan_timeout_seconds", d.scan_timeout_seconds, minimum=5),
    )
    if not isinstance(out.scan_ports, str):
        raise sec.error("scan_ports", expect("nmap_ports"), out.scan_ports)
    sec.done()
    return out


def _push(sec: Section) -> PushSettings:
    d = PushSettings()
    out = PushSettings(
        enabled=sec.bool("enabled", d.enabled),
        ca_bundle=sec.str("ca_bundle", d.ca_bundle),
        timeout_seconds=sec.number("timeout_seconds", d.timeout_seconds, minimum=1),
        spool_max_reports=sec.number(
            "spool_max_reports", d.spool_max_reports, minimum=1, integer=True
        ),
        spool_max_bytes=sec.number(
            "spool_max_bytes", d.spool_max_bytes, minimum=10_000, integer=True
        ),
        backoff_initial_seconds=sec.number(
            "backoff_initial_seconds", d.backoff_initial_seconds, minimum=0.1
        ),
        backoff_max_seconds=sec.number("backoff_max_seconds", d.backoff_max_seconds, minimum=1),
    )
    sec.done()
    return out


# What the config may say about each check: its declared parameters (sentinelle.params specs
# by name), or, for callers that only know them, its default values by name.
KnownParams = Mapping[str, Mapping[str, Any]]


def parse_checks(data: Any, source: str, known: KnownParams | None) -> dict[str, CheckSettings]:
    """A `checks:` mapping of another document (the syndicate's policy) read like the
    config's own: the same keys, types and errors."""
    return _checks(Section(source, "checks", data), known)


def merge_checks(
    below: Mapping[str, CheckSettings], above: Mapping[str, CheckSettings]
) -> dict[str, CheckSettings]:
    """`above` over `below`, key by key: its switch where it says one, its parameters over
    those below (a parameter it does not name keeps the value from below)."""
    merged = dict(below)
    for key, settings in above.items():
        under = merged.get(key)
        if under is None:
            merged[key] = settings
            continue
        merged[key] = CheckSettings(
            enabled=settings.enabled if settings.enabled is not None else under.enabled,
            params={**under.params, **settings.params},
        )
    return merged


def _checks(sec: Section, known: KnownParams | None) -> dict[str, CheckSettings]:
    """`checks: {<check id or family>: {enabled: bool, <parameter>: value}}`, each parameter
    validated against the declaration of the checks it reaches (type, bounds, name)."""
    specs = {cid: as_specs(declared) for cid, declared in (known or {}).items()}
    result: dict[str, CheckSettings] = {}
    for key in list(sec.data):
        key = str(key)
        sub = sec.section(key)
        reached = [cid for cid in specs if cid == key or cid.startswith(key + ".")]
        if known is not None and not reached:
            raise sec.error(key, expect("known_check"), key)
        enabled = sub.bool("enabled", None)
        values = {str(n): sub.raw(str(n)) for n in list(sub.data) if n != "enabled"}
        params: dict[str, Any] = {}
        if known is None:
            params = values
        elif key in specs:
            params = validate(specs[key], values, sec.source, ["checks", key], lines=sub)
        else:
            # A family: each parameter reaches the checks of the family that declare it.
            declared: dict[str, ParamSpec] = {}
            for cid in reached:
                for name, spec in specs[cid].items():
                    declared.setdefault(name, spec)
            validate(declared, values, sec.source, ["checks", key], "param_of_family",
                     lines=sub)
            for cid in reached:  # valid for each of them (types may differ between checks)
                validate(specs[cid], {n: v for n, v in values.items() if n in specs[cid]},
                         sec.source, ["checks", key], lines=sub)
            params = values  # each check converts them to its own types
        sub.done()
        result[key] = CheckSettings(enabled=enabled, params=params)
    sec.done()
    return result


def overrides_for(config: Config, check_id: str, declared: Iterable[str]) -> dict[str, Any]:
    """The config's values for a check's parameters: its family's, then its own (which win);
    a family's value reaches only the checks that declare that parameter."""
    names = set(declared)
    out: dict[str, Any] = {}
    for key in (check_id.split(".", 1)[0], check_id):
        settings = config.checks.get(key)
        if settings is not None:
            out.update({n: v for n, v in settings.params.items() if n in names})
    return out


def parse_config(data: Any, source: str, known_params: KnownParams | None = None) -> Config:
    """Build a Config from parsed YAML; `known_params` maps check ids to their declared
    parameters (without it, check sections are not checked against any check)."""
    top = Section(source, "", data)
    agent = _agent(top.section("agent"))
    checks = _checks(top.section("checks"), known_params)
    backups_sec = top.section("backups")
    backups = tuple(_backup(s) for s in backups_sec.sections("locations"))
    backups_sec.done()
    names = [b.name for b in backups]
    if len(set(names)) != len(names):
        raise backups_sec.error("locations", expect("distinct_locations"), names)
    ports = _ports(top.section("ports"))
    push = _push(top.section("push"))
    rules_dir = top.str("rules_dir", None)
    policies = top.section("policies")
    base = Path(source).parent
    policy_dirs = tuple(str(base / d) for d in policies.str_list("directories", []))
    policies.done()
    top.done()
    return Config(source, agent, checks, backups, ports, push, rules_dir, policy_dirs)


def load_config(path: str | Path | None, known_params: KnownParams | None = None) -> Config:
    """The embedded defaults when `path` is None, else the file parsed strictly; an error names
    the file, the line and the key."""
    if path is None:
        return Config()
    p = Path(path)
    return parse_config(load_yaml_file(p), str(p), known_params)
