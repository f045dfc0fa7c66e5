"""Policy as data: check metadata, thresholds, scoring weights and reference tables in `rules/`.

Lookup order for the rules directory: the `SENTINELLE_RULES_DIR` environment variable, the copy
shipped inside the wheel (`sentinelle/_rules`), then `rules/` of a source checkout.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from sentinelle.errors import ConfigError, expect, problem
from sentinelle.i18n import Catalog, MessageError, parse_message
from sentinelle.model import Severity
from sentinelle.validation import (
    LineDict,
    Section,
    key_line,
    line_of,
    load_yaml_file,
    located,
)

LANGS = ("fr", "en")


def default_rules_dir() -> Path:
    env = os.environ.get("SENTINELLE_RULES_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    shipped = here / "_rules"
    if shipped.is_dir():
        return shipped
    return here.parent / "rules"


def _texts(section: Section, name: str) -> dict[str, str]:
    sub = section.section(name)
    texts = {lang: sub.str(lang) for lang in LANGS}
    sub.done()
    return texts


@dataclass(frozen=True)
class CheckMeta:
    """Text for people and thresholds of one check, as written in rules/checks/*.yaml."""

    id: str
    family: str
    category: dict[str, str]
    severity: Severity
    anssi: tuple[int, ...]
    title: dict[str, str]
    rationale: dict[str, str]
    remediation: dict[str, str]
    params: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    messages: tuple[str, ...] = ()  # catalog ids of its findings' sentences: "<id>.<case>"
    line: int | None = None  # where its id is written in `source`


@dataclass(frozen=True)
class RuleSet:
    """Everything loaded from one rules directory."""

    directory: Path
    checks: dict[str, CheckMeta]
    scoring: dict[str, Any]
    catalog: Catalog = field(default_factory=Catalog)
    frameworks: dict[str, Framework] = field(default_factory=dict)
    # The declarative checks (sentinelle.policies.loader.Policy by id); their metadata is in
    # `checks` too.
    policies: dict[str, Any] = field(default_factory=dict)

    def data(self, name: str) -> Any:
        """A reference table such as `risky_ports` or `os_support` (rules/NAME.yaml)."""
        return _load_data(self.directory / f"{name}.yaml")


@lru_cache(maxsize=16)
def _load_data(path: Path) -> Any:
    return load_yaml_file(path)


def _load_family(
    path: Path, anssi_of: Mapping[str, Sequence[int]] | None, catalog: Catalog | None = None
) -> dict[str, CheckMeta]:
    src = str(path)
    top = Section(src, "", load_yaml_file(path))
    family = top.str("family")
    category = _texts(top, "category")
    checks_section = top.section("checks")
    metas: dict[str, CheckMeta] = {}
    for check_id in checks_section.data:
        sec = checks_section.section(str(check_id))
        if not str(check_id).startswith(family + "."):
            raise sec.error("", expect("check_id_in_family", family=family), check_id)
        anssi = sorted((anssi_of or {}).get(str(check_id), ()))
        metas[str(check_id)] = read_check_meta(sec, str(check_id), family, category, anssi,
                                               catalog)
        sec.done()
    checks_section.done()
    top.done()
    return metas


def read_check_meta(
    sec: Section,
    check_id: str,
    family: str,
    category: dict[str, str],
    anssi: Sequence[int],
    catalog: Catalog | None = None,
    *,
    anssi_read: bool = False,
) -> CheckMeta:
    """One check's metadata as written under `checks:` (rules/checks, rules/policies): its
    messages and remediation go into `catalog`. The caller calls `sec.done()` once it has
    read its own keys too (a policy's condition). `anssi_read`: the caller read the check's
    own `anssi:` (policies from outside the rules directory); otherwise it is refused, the
    framework naming the check instead."""
    src = sec.source
    severity = sec.choice("severity", tuple(s.value for s in Severity))
    if sec.has("anssi") and not anssi_read:
        raise sec.error("anssi", problem("anssi_in_framework"))
    # Kept as read (a LineDict): a bad default names its line when the check is built.
    params = sec.raw("params", None)
    if params is None:
        params = located({}, sec.line_of("params"))
    if not isinstance(params, dict):
        raise sec.error("params", expect("thresholds"), params)
    # The sentences of its findings, beside its metadata: `messages: {case: {fr:, en:}}`
    # become catalog entries "<check id>.<case>"; the remediation is one too.
    messages = sec.raw("messages", {}) or {}
    if not isinstance(messages, dict):
        raise sec.error("messages", expect("case_messages"), messages)
    remediation = _texts(sec, "remediation")
    ids: list[str] = []
    entries = [(f"{check_id}.{case}", text) for case, text in messages.items()]
    entries.append((f"{check_id}.remediation", remediation))
    for msg_id, text in entries:
        try:
            message = parse_message(msg_id, text, src)
            if catalog is not None:
                catalog.add(message)
        except MessageError as exc:
            case = msg_id.rsplit(".", 1)[1]
            line = key_line(messages, case) or sec.line_of("messages")
            if msg_id == f"{check_id}.remediation" and case not in messages:
                case, line = "remediation", sec.line_of("remediation")
            else:
                case = "messages." + case
            raise ConfigError(src, sec.key(case), expect("valid_message"), str(exc),
                              line=line) from exc
        ids.append(msg_id)
    return CheckMeta(
        id=check_id,
        family=family,
        category=category,
        severity=Severity(severity),
        anssi=tuple(sorted(anssi)),
        title=_texts(sec, "title"),
        rationale=_texts(sec, "rationale"),
        remediation=remediation,
        params=params if isinstance(params, LineDict) else dict(params),
        source=src,
        messages=tuple(ids),
        line=sec.line,
    )


def load_rules(directory: Path | None = None) -> RuleSet:
    """Load and validate every check metadata file, the declarative checks of `policies/`
    and the scoring weights."""
    directory = directory or default_rules_dir()
    checks_dir = directory / "checks"
    if not checks_dir.is_dir():
        raise ConfigError(str(directory), "", expect("rules_directory"))
    anssi = load_framework(directory / "frameworks" / "anssi.yaml")
    anssi_of: dict[str, list[int]] = {}
    for measure in anssi.measures:
        for check_id in measure.checks:
            anssi_of.setdefault(check_id, []).append(measure.id)
    metas: dict[str, CheckMeta] = {}
    catalog = load_catalog(directory)
    for path in sorted(checks_dir.glob("*.yaml")):
        for check_id, meta in _load_family(path, anssi_of, catalog).items():
            if check_id in metas:
                raise ConfigError(str(path), f"checks.{check_id}", expect("check_defined_once"),
                                  line=meta.line)
            metas[check_id] = meta
    from sentinelle.policies.loader import load_rules_dir_policies

    policies = load_rules_dir_policies(directory, catalog, metas, anssi_of)
    metas.update({check_id: policy.meta for check_id, policy in policies.items()})
    scoring = load_yaml_file(directory / "scoring.yaml")
    for index, measure in enumerate(anssi.measures):
        unknown = [check_id for check_id in measure.checks if check_id not in metas]
        if unknown:
            raise ConfigError(anssi.source, f"measures[{index}].checks",
                              expect("known_check_ids"), unknown, line=measure.checks_line)
    return RuleSet(directory=directory, checks=metas, scoring=scoring, catalog=catalog,
                   frameworks={anssi.name: anssi}, policies=policies)


@dataclass(frozen=True)
class Measure:
    """One measure of a framework and the checks that give automated evidence for it."""

    id: int
    chapter: str
    title: dict[str, str]
    automatable: bool
    checks: tuple[str, ...]
    checks_line: int | None = None  # where its `checks` are written in the framework's file


@dataclass(frozen=True)
class Framework:
    """A compliance framework (the ANSSI hygiene guide) pointing at check ids."""

    name: str
    title: dict[str, str]
    measures: tuple[Measure, ...]
    source: str


def load_framework(path: Path, expected_ids: range = range(1, 43)) -> Framework:
    src = str(path)
    top = Section(src, "", load_yaml_file(path))
    name = top.str("framework")
    title = _texts(top, "title")
    top.str("source")
    measures: list[Measure] = []
    for sec in top.sections("measures"):
        measure_id = sec.number("id", minimum=1, integer=True)
        checks = sec.raw("checks", []) or []
        if not isinstance(checks, list) or not all(isinstance(c, str) for c in checks):
            raise sec.error("checks", expect("check_id_list"), checks)
        measures.append(Measure(measure_id, sec.str("chapter"), _texts(sec, "title"),
                                sec.bool("automatable"), tuple(checks), sec.line_of("checks")))
        sec.done()
    top.done()
    ids = [m.id for m in measures]
    if ids != list(expected_ids):
        raise top.error("measures", expect("measures_in_order", first=expected_ids.start,
                                           last=expected_ids.stop - 1), ids)
    return Framework(name, title, tuple(measures), src)


def load_catalog(directory: Path) -> Catalog:
    """The message catalogs of `rules/messages/*.yaml`: `{id: {fr: ..., en: ...}}` at the top
    level of each file, ids unique across files."""
    catalog = Catalog()
    for path in sorted((directory / "messages").glob("*.yaml")):
        data = load_yaml_file(path)
        if not isinstance(data, dict):
            raise ConfigError(str(path), "", expect("message_catalog"), line=line_of(data))
        for msg_id, entry in data.items():
            try:
                catalog.add(parse_message(str(msg_id), entry, str(path)))
            except MessageError as exc:
                raise ConfigError(str(path), str(msg_id), expect("valid_message"), str(exc),
                                  line=key_line(data, msg_id)) from exc
    return catalog
