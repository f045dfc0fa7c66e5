"""The syndicate's policy at the collector: per-scope settings, waivers, each agent's effective
policy (sentinelle.syndicate says how an agent applies it)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Collection, Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from sentinelle.collector.records import (
    AgentRecord,
    Commune,
    DeviceRecord,
    PolicyRecord,
    WaiverRecord,
)
from sentinelle.config import KnownParams, parse_checks
from sentinelle.errors import ConfigError, expect, problem
from sentinelle.model import Waiver
from sentinelle.syndicate import (
    MAX_POLICY_FILE_BYTES,
    MAX_POLICY_FILES,
    POLICY_FILE_NAME,
    PolicyFile,
    ServedPolicy,
    build_served,
)
from sentinelle.validation import Section, load_yaml_file
from sentinelle.waivers import SCOPE_PATTERN, applies_to, check_expiry, expiry_date

# The check whose `approved` parameter carries the commune's approved devices to its agents.
APPROVED_CHECK = "lan.unknown_devices"


def approved_by_commune(devices: Iterable[DeviceRecord]) -> dict[str, list[str]]:
    """The approved MAC addresses of each commune."""
    out: dict[str, list[str]] = {}
    for d in devices:
        if d.approved:
            out.setdefault(d.commune, []).append(d.mac)
    return out


def scopes_of(agent: AgentRecord, commune: Commune | None) -> list[str]:
    """The scopes that reach an agent, broadest first (the narrower wins)."""
    scopes = ["fleet"]
    if commune is not None:
        scopes.append(f"departement:{commune.departement}")
    scopes += [f"commune:{agent.commune}", f"host:{agent.agent_id}"]
    return scopes


def effective_policy(
    agent: AgentRecord,
    commune: Commune | None,
    policies: Mapping[str, PolicyRecord],
    waivers: Iterable[WaiverRecord],
    approved_devices: Collection[str] = (),
) -> ServedPolicy:
    """What the collector serves to one agent: the settings of its scopes merged (a check's
    parameters key by key, policy files by name), and the active waivers of those scopes.

    `approved_devices`: the MAC addresses approved in the agent's commune (`sentinelle
    collector device approve`), served as the `approved` parameter of lan.unknown_devices,
    added to any a scope's policy lists; never another commune's."""
    checks: dict[str, dict[str, Any]] = {}
    files: dict[str, str] = {}
    used: list[str] = []
    for scope in scopes_of(agent, commune):
        record = policies.get(scope)
        if record is None:
            continue
        used.append(scope)
        document = json.loads(record.document)
        for key, settings in document.get("checks", {}).items():
            checks.setdefault(key, {}).update(settings)
        for item in document.get("policies", []):
            files[item["name"]] = item["content"]
    if approved_devices:
        settings = checks.setdefault(APPROVED_CHECK, {})
        listed = settings.get("approved") or []
        settings["approved"] = sorted({*map(str, listed), *approved_devices})
    departement = commune.departement if commune is not None else ""
    served = [
        w.waiver for w in waivers
        if w.revoked_at is None
        and applies_to(w.waiver.scope, agent.agent_id, agent.commune, departement)
    ]
    return build_served(
        checks,
        [PolicyFile(name, content) for name, content in sorted(files.items())],
        sorted(served, key=lambda w: (w.check, w.key or "", w.id)),
        used,
    )


def check_scope(scope: str) -> str:
    """A scope as the CLI takes it; a ConfigError otherwise."""
    if not SCOPE_PATTERN.match(scope):
        raise ConfigError("--scope", "--scope", expect("policy_scope"), scope)
    return scope


def read_policy_file(path: Path, known: KnownParams) -> dict[str, Any]:
    """A scope's policy as the SOC writes it (YAML: `checks:` like agent.yaml, `policies:` a
    list of declarative policy files, relative to this file), as the stored document. Errors
    name the file, the line and the key."""
    top = Section(str(path), "", load_yaml_file(path))
    checks_data = top.raw("checks", {})
    parse_checks(checks_data, str(path), known)  # validated now, at the SOC's desk
    names = top.str_list("policies", [])
    top.done()
    if len(names) > MAX_POLICY_FILES:
        raise top.error("policies", problem("too_many_policy_files", limit=MAX_POLICY_FILES))
    files = []
    validate_policy_files([(path.parent / name).resolve() for name in names])
    for name in names:
        file = (path.parent / name).resolve()
        if not POLICY_FILE_NAME.match(file.name):
            raise top.error("policies", expect("policy_file_name"), name)
        try:
            content = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise top.error("policies", problem("policy_file_unreadable", detail=str(exc)),
                            name) from exc
        if len(content.encode()) > MAX_POLICY_FILE_BYTES:
            raise top.error("policies", problem("policy_file_too_large",
                                                limit=MAX_POLICY_FILE_BYTES), name)
        files.append({"name": file.name, "content": content})
    return {"checks": _plain(checks_data), "policies": files}


def validate_policy_files(paths: list[Path]) -> None:
    """Load each declarative policy file as an agent will (its checks, sentences, conditions,
    allowed commands): a broken one is refused here, naming its own file, line and key."""
    from sentinelle.i18n import Catalog
    from sentinelle.policies.commands import COMMANDS_FILE, load_commands
    from sentinelle.policies.loader import load_policy_file
    from sentinelle.rules import load_rules

    rules = load_rules()
    commands = load_commands(rules.directory / COMMANDS_FILE)
    catalog = Catalog(list(rules.catalog))
    known = dict(rules.checks)
    framework = rules.frameworks.get("anssi")
    measures = [m.id for m in framework.measures] if framework else list(range(1, 43))
    for path in paths:
        if not path.is_file():
            continue  # said by the caller, with the file's name
        found = load_policy_file(path, commands=commands, catalog=catalog, known=known,
                                 measures=measures)
        known.update({k: policy.meta for k, policy in found.items()})


def _plain(value: Any) -> Any:
    """YAML's line-annotated containers as plain JSON values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def new_waiver(
    check: str,
    scope: str,
    reason: str,
    accepted_by: str,
    expires: str,
    today: date,
    key: str | None = None,
    known_checks: Collection[str] | None = None,
) -> Waiver:
    """A waiver as the SOC asks for it: a check of `known_checks` (when given), a scope, an
    expiry that is required, not past and at most a year away; ConfigError otherwise."""
    if known_checks is not None and check not in known_checks:
        raise ConfigError("waiver add", "--check", expect("known_check"), check)
    check_scope(scope)
    try:
        day = expiry_date(expires)
    except ValueError as exc:
        raise ConfigError("--expires", "--expires", expect("date_ymd"), expires) from exc
    why = check_expiry(day, today)
    if why is not None:
        raise ConfigError("--expires", "--expires", why, expires)
    for name, value in (("--reason", reason), ("--by", accepted_by)):
        if not value.strip():
            raise ConfigError(name, name, expect("required"))
    return Waiver("wvr_" + secrets.token_hex(6), check, scope, reason.strip(),
                  accepted_by.strip(), day.isoformat(), key)


def expiring(records: Iterable[WaiverRecord], today: date, days: int) -> list[WaiverRecord]:
    """Active waivers whose last day falls within `days` days (expired ones included)."""
    return [
        r for r in records
        if r.revoked_at is None and (expiry_date(r.waiver.expires) - today).days <= days
    ]

