"""The syndicate's policy as the collector serves it to one agent, and how the agent applies it.

The collector merges, for each agent, the policy of the whole fleet, of its département, of its
commune and of its host (in that order, the narrower scope winning key by key), and adds the
waivers of those scopes. The agent fetches that document with its own key, keeps the last one
on disk and applies it at each cycle, also while the collector cannot be reached.

Which way round: the **technician's local config wins** where it says something. The syndicate
sets the defaults of the commune's fleet; a value written in the host's own agent.yaml (a
threshold, a check switched off or on) is a decision taken on site, and stays. Within each
source a check's own setting beats its family's (as in the config alone). Waivers come only
from the syndicate: an accepted risk is recorded centrally with who accepted it and until when.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sentinelle.config import CheckSettings, Config, KnownParams, merge_checks, parse_checks
from sentinelle.model import Waiver
from sentinelle.waivers import SCOPE_PATTERN, expiry_date

POLICY_FILE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}\.yaml\Z")
MAX_POLICY_FILES = 64
MAX_POLICY_FILE_BYTES = 256 * 1024
MAX_WAIVERS = 2000


class ServedPolicyError(ValueError):
    """A served or cached policy document that is not one (the agent keeps the previous)."""


@dataclass(frozen=True)
class PolicyFile:
    """A declarative policy file the syndicate adds (rules/policies format)."""

    name: str
    content: str


@dataclass(frozen=True)
class ServedPolicy:
    """The effective policy of one agent: checks settings, extra policy files and waivers."""

    version: str
    checks: Mapping[str, Any] = field(default_factory=dict)  # raw `checks:` mapping
    files: tuple[PolicyFile, ...] = ()
    waivers: tuple[Waiver, ...] = ()
    scopes: tuple[str, ...] = ()  # the scopes that had a policy, broadest first

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "scopes": list(self.scopes),
            "checks": dict(self.checks),
            "policies": [{"name": f.name, "content": f.content} for f in self.files],
            "waivers": [w.to_dict() for w in self.waivers],
        }


def policy_version(document: Mapping[str, Any]) -> str:
    """A short digest of a policy document (without its version): equal documents, equal
    versions, whichever worker or collector computed it."""
    body = {k: v for k, v in document.items() if k != "version"}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def build_served(
    checks: Mapping[str, Any],
    files: Sequence[PolicyFile],
    waivers: Sequence[Waiver],
    scopes: Sequence[str],
) -> ServedPolicy:
    """A served policy with its version computed from its content."""
    unversioned = ServedPolicy("", dict(checks), tuple(files), tuple(waivers), tuple(scopes))
    return replace(unversioned, version=policy_version(unversioned.to_dict()))


def parse_served(data: Any) -> ServedPolicy:
    """A served policy from its JSON form; raises ServedPolicyError naming what is wrong. The
    `checks` mapping is checked against the check parameters later (`merged_config`)."""
    if not isinstance(data, dict):
        raise ServedPolicyError("the policy is not a JSON object")
    version = data.get("version")
    if not isinstance(version, str) or not re.fullmatch(r"[0-9a-f]{8,64}", version):
        raise ServedPolicyError("version: expected a hexadecimal digest")
    checks = data.get("checks", {})
    if not isinstance(checks, dict):
        raise ServedPolicyError("checks: expected an object")
    files = _files(data.get("policies", []))
    waivers = _waivers(data.get("waivers", []))
    scopes = data.get("scopes", [])
    if not isinstance(scopes, list) or not all(
        isinstance(s, str) and SCOPE_PATTERN.match(s) for s in scopes
    ):
        raise ServedPolicyError("scopes: expected a list of scopes")
    policy = ServedPolicy(version, checks, files, waivers, tuple(scopes))
    if policy_version(policy.to_dict()) != version:
        raise ServedPolicyError("version: does not match the content (altered or truncated)")
    return policy


def _files(value: Any) -> tuple[PolicyFile, ...]:
    if not isinstance(value, list) or len(value) > MAX_POLICY_FILES:
        raise ServedPolicyError(f"policies: expected a list of at most {MAX_POLICY_FILES}")
    out: list[PolicyFile] = []
    for i, item in enumerate(value):
        name = item.get("name") if isinstance(item, dict) else None
        content = item.get("content") if isinstance(item, dict) else None
        if not isinstance(name, str) or not POLICY_FILE_NAME.match(name):
            raise ServedPolicyError(f"policies[{i}].name: expected a file name like ssh.yaml")
        if not isinstance(content, str) or len(content.encode()) > MAX_POLICY_FILE_BYTES:
            raise ServedPolicyError(f"policies[{i}].content: expected YAML text")
        out.append(PolicyFile(name, content))
    return tuple(out)


def _waivers(value: Any) -> tuple[Waiver, ...]:
    if not isinstance(value, list) or len(value) > MAX_WAIVERS:
        raise ServedPolicyError(f"waivers: expected a list of at most {MAX_WAIVERS}")
    out: list[Waiver] = []
    for i, item in enumerate(value):
        try:
            waiver = Waiver.from_dict(item)
            expiry_date(waiver.expires)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ServedPolicyError(f"waivers[{i}]: not a waiver ({exc})") from exc
        if not SCOPE_PATTERN.match(waiver.scope):
            raise ServedPolicyError(f"waivers[{i}].scope: not a scope")
        out.append(waiver)
    return tuple(out)


def unknown_checks(policy: ServedPolicy, known: KnownParams) -> list[str]:
    """Keys of the policy's `checks:` that reach no check of this agent (a check a newer
    agent has): left aside, so one new check id does not cost the whole policy."""
    return [
        key for key in policy.checks
        if not any(cid == key or cid.startswith(key + ".") for cid in known)
    ]


def served_checks(policy: ServedPolicy, known: KnownParams) -> dict[str, CheckSettings]:
    """The policy's `checks:` validated like a config's (types, bounds); a ConfigError names
    the policy version and the key."""
    aside = set(unknown_checks(policy, known))
    kept = {k: v for k, v in policy.checks.items() if k not in aside}
    return parse_checks(kept, f"policy {policy.version}", known)


def merged_config(local: Config, policy: ServedPolicy, known: KnownParams) -> Config:
    """The config the agent runs with: the syndicate's settings under the local ones."""
    return replace(local, checks=merge_checks(served_checks(policy, known), local.checks))
