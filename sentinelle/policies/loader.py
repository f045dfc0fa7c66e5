"""Policy files: declarative checks read strictly, every error naming the file, the line and
the key.

A policy file is written like a family's metadata in rules/checks (`family`, `category`,
`checks: {id: {severity, title, rationale, remediation, messages, params}}`), and each check
adds its `condition` (sentinelle.policies.conditions) and, optionally, `on_fail: warn`. Its
`params` are defaults that its comparisons name (`max: {param: max_days}`) and that the agent
config (or the collector's policy) may override, as a Python check's. Its messages
are the cases `pass` and `fail`, catalog entries `<id>.pass` and `<id>.fail` rendered with the
arguments its conditions give; they may use no other argument.

The policies of the rules directory (`rules/policies/*.yaml`) are part of the rules, and the
ANSSI framework names them as it names Python checks. Policies from other directories (the
agent config's `policies.directories`, the policy the collector serves) are added to a loaded
RuleSet by `add_policy_dirs`; having no framework file of their own, they say their ANSSI
measures themselves (`anssi: [10, 11]`). Commands come from the rules directory's allow-list
only: a policy directory cannot allow itself a command.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sentinelle.errors import ConfigError, expect, problem
from sentinelle.i18n import Catalog
from sentinelle.model import Status
from sentinelle.policies.commands import COMMANDS_FILE, CommandSpec, load_commands
from sentinelle.policies.conditions import (
    Comparison,
    Condition,
    ParseContext,
    parse_condition,
)
from sentinelle.validation import Section, key_line, load_yaml_file

if TYPE_CHECKING:
    from sentinelle.rules import CheckMeta, RuleSet

POLICIES_DIR = "policies"
# sentinelle.checks.base.CHECK_ID, not imported: that would import every Python check.
CHECK_ID = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
PARAM = re.compile(r"^[a-z][a-z0-9_]*$")
CASES = ("pass", "fail")


@dataclass(frozen=True)
class Policy:
    """One declarative check: its metadata (as a Python check's) and its condition."""

    meta: CheckMeta
    condition: Condition
    on_fail: Status = Status.FAIL


def _policy_files(directory: Path) -> list[Path]:
    return sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])


def load_policy_dir(
    directory: Path,
    *,
    commands: Mapping[str, CommandSpec],
    catalog: Catalog,
    known: Mapping[str, CheckMeta],
    anssi_of: Mapping[str, Sequence[int]] | None = None,
    measures: Iterable[int] | None = None,
    required: bool = False,
) -> dict[str, Policy]:
    """The policies of every `*.yaml` in `directory`. `measures`: the framework's measure
    ids when the policies may name their own (a directory outside the rules), else None and
    `anssi_of` says them. `known`: the checks already defined (ids may not repeat)."""
    if not directory.is_dir():
        if required:
            raise ConfigError(str(directory), "", expect("policy_directory"))
        return {}
    found: dict[str, Policy] = {}
    for path in _policy_files(directory):
        for check_id, policy in load_policy_file(
            path, commands=commands, catalog=catalog, known={**known, **{
                k: p.meta for k, p in found.items()}}, anssi_of=anssi_of, measures=measures,
        ).items():
            found[check_id] = policy
    return found


def load_policy_file(
    path: Path,
    *,
    commands: Mapping[str, CommandSpec],
    catalog: Catalog,
    known: Mapping[str, CheckMeta],
    anssi_of: Mapping[str, Sequence[int]] | None = None,
    measures: Iterable[int] | None = None,
) -> dict[str, Policy]:
    from sentinelle.rules import _texts, read_check_meta

    src = str(path)
    top = Section(src, "", load_yaml_file(path))
    family = top.str("family")
    category = _texts(top, "category")
    checks = top.section("checks")
    if not checks.data:
        raise top.error("checks", expect("policy_checks"))
    out: dict[str, Policy] = {}
    allowed = set(measures) if measures is not None else None
    for raw_id in list(checks.data):
        check_id = str(raw_id)
        sec = checks.section(check_id)
        if not check_id.startswith(family + ".") or not CHECK_ID.match(check_id):
            raise sec.error("", expect("check_id_in_family", family=family), check_id)
        if check_id in known or check_id in out:
            other = known[check_id].source if check_id in known else src
            raise ConfigError(src, sec.key(""), expect("check_id_unique", source=other),
                              line=sec.line)
        if allowed is not None:
            anssi = _own_measures(sec, allowed)
        else:
            anssi = list((anssi_of or {}).get(check_id, ()))
        messages = sec.raw("messages", None)
        _check_cases(sec, messages)
        meta = read_check_meta(sec, check_id, family, category, anssi, catalog,
                               anssi_read=allowed is not None)
        params = Section(src, sec.key("params"), meta.params, sec.line_of("params"))
        for name in params.data:
            if not PARAM.match(str(name)):
                raise params.error(str(name), expect("lowercase_name"), name)
        on_fail = Status(sec.choice("on_fail", ("fail", "warn"), "fail"))
        ctx = ParseContext(src, dict(commands), dict(meta.params))
        condition = parse_condition(sec.raw("condition"), src, sec.key("condition"),
                                    sec.line_of("condition"), ctx)
        used = {ref for leaf in condition.leaves() for ref in _refs(leaf)}
        for name in params.data:
            if name not in used:
                raise params.error(str(name), problem("policy_param_unused"))
        _check_arguments(sec, meta, condition, catalog)
        sec.done()
        out[check_id] = Policy(meta, condition, on_fail)
    checks.done()
    top.done()
    return out


def _refs(leaf: object) -> list[str]:
    comparison = getattr(leaf, "comparison", None)
    return [param for _, param in comparison.refs] if isinstance(comparison, Comparison) else []


def _own_measures(sec: Section, allowed: set[int]) -> list[int]:
    raw = sec.raw("anssi", [])
    if not isinstance(raw, list) or not all(
            isinstance(m, int) and not isinstance(m, bool) and m in allowed for m in raw):
        raise sec.error("anssi", expect("measure_ids", first=min(allowed, default=1),
                                        last=max(allowed, default=42)), raw)
    return sorted(set(raw))


def _check_cases(sec: Section, messages: object) -> None:
    if not isinstance(messages, Mapping):
        return  # read_check_meta says what is wrong
    for case in messages:
        if case not in CASES:
            raise ConfigError(sec.source, sec.key(f"messages.{case}"),
                              expect("policy_case", cases=list(CASES)), case,
                              line=key_line(messages, case))
    for case in CASES:
        if case not in messages:
            raise ConfigError(sec.source, sec.key(f"messages.{case}"), expect("required"),
                              line=sec.line_of("messages"))


def _check_arguments(sec: Section, meta: CheckMeta, condition: Condition,
                     catalog: Catalog) -> None:
    """Every placeholder of the check's sentences is an argument its conditions give."""
    given = condition.arg_names()
    messages = sec.raw("messages")
    for msg_id in meta.messages:
        case = msg_id.rsplit(".", 1)[1]
        message = catalog.get(msg_id)
        names = sorted({n for lang in message.texts for n, _ in message.placeholders(lang)})
        unknown = [n for n in names if n not in given]
        if unknown:
            key = "remediation" if case == "remediation" else f"messages.{case}"
            line = sec.line_of("remediation") if case == "remediation" else key_line(
                messages, case)
            raise ConfigError(sec.source, sec.key(key), expect(
                "policy_arguments", known=sorted(given)), unknown[0], line=line)


def add_policy_dirs(rules: RuleSet, directories: Sequence[str | Path]) -> RuleSet:
    """`rules` with the policies of other directories added (the agent config's, the
    collector's): their checks, their sentences, and the measures they name in the framework.
    Every directory must exist; an empty list gives `rules` itself."""
    if not directories:
        return rules
    catalog = Catalog(list(rules.catalog))
    checks = dict(rules.checks)
    policies = dict(rules.policies)
    commands = load_commands(rules.directory / COMMANDS_FILE)
    framework = rules.frameworks.get("anssi")
    measures = [m.id for m in framework.measures] if framework else list(range(1, 43))
    for directory in directories:
        found = load_policy_dir(Path(directory), commands=commands, catalog=catalog,
                                known=checks, measures=measures, required=True)
        policies.update(found)
        checks.update({k: p.meta for k, p in found.items()})
    frameworks = dict(rules.frameworks)
    if framework is not None:
        added = {m: [k for k, p in policies.items() if k not in rules.policies and m in
                     p.meta.anssi] for m in measures}
        frameworks["anssi"] = dataclasses.replace(framework, measures=tuple(
            dataclasses.replace(m, checks=(*m.checks, *added[m.id])) if added[m.id] else m
            for m in framework.measures))
    return dataclasses.replace(rules, checks=checks, catalog=catalog, policies=policies,
                               frameworks=frameworks)


def load_rules_dir_policies(
    directory: Path, catalog: Catalog, known: Mapping[str, CheckMeta],
    anssi_of: Mapping[str, Sequence[int]],
) -> dict[str, Policy]:
    """The policies of a rules directory (`rules/policies`), its framework naming their
    measures."""
    return load_policy_dir(directory / POLICIES_DIR, commands=load_commands(
        directory / COMMANDS_FILE), catalog=catalog, known=known, anssi_of=anssi_of)
