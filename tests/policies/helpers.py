"""Writing policy files in tests, and running one policy on a host with its sentences rendered
strictly in both languages."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

from sentinelle.checks.base import CheckContext
from sentinelle.config import Config
from sentinelle.host import Host
from sentinelle.i18n import LANGS
from sentinelle.model import Finding
from sentinelle.policies.check import policy_check
from sentinelle.policies.loader import add_policy_dirs
from sentinelle.rules import RuleSet, load_rules

BASE = load_rules()
SAID: list[Finding] = []  # every finding of a policy in these tests (conftest.py records them)


def check_yaml(check_id: str, condition: str, args: Sequence[str] = (), extra: str = "") -> str:
    """One check's YAML under `checks:`, its sentences naming `args`."""
    said = " ".join("{" + a + "}" for a in args)
    body = textwrap.indent(textwrap.dedent(condition).strip("\n"), " " * 6)
    return (
        f"  {check_id}:\n"
        "    severity: medium\n"
        f'    title: {{fr: "Essai {check_id}", en: "Test {check_id}"}}\n'
        '    rationale: {fr: "Parce que.", en: "Because."}\n'
        f'    remediation: {{fr: "Corrigez {said}", en: "Fix {said}"}}\n'
        "    messages:\n"
        f'      pass: {{fr: "Conforme {said}", en: "Compliant {said}"}}\n'
        f'      fail: {{fr: "Non conforme {said}", en: "Not compliant {said}"}}\n'
        f"{extra}"
        "    condition:\n"
        f"{body}\n"
    )


def policy_file(directory: Path, checks: str, family: str = "essai",
                name: str = "essai.yaml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(
        f"family: {family}\n"
        'category: {fr: "Essais", en: "Tests"}\n'
        "checks:\n" + checks,
        encoding="utf-8",
    )
    return path


def rules_with(directory: Path) -> RuleSet:
    return add_policy_dirs(BASE, [directory])


def run_policy(rules: RuleSet, check_id: str, host: Host) -> Finding:
    """The policy's one finding on `host`, every sentence rendered strictly in both languages
    (the remediation too when it asks somebody to act)."""
    meta = rules.checks[check_id]
    check = policy_check(rules.policies[check_id])(meta, {}, CheckContext(Config(), rules))
    (finding,) = list(check.run(host))
    assert finding.message is not None
    for lang in LANGS:
        rules.catalog.render(finding.message, finding.args, lang, strict=True)
        if finding.status.is_open:
            rules.catalog.render(f"{check_id}.remediation", finding.args, lang, strict=True)
    fr = rules.catalog.render(finding.message, finding.args, "fr", strict=True)
    en = rules.catalog.render(finding.message, finding.args, "en", strict=True)
    assert fr != en
    return finding


def evaluate(tmp_path: Path, condition: str, host: Host, args: Sequence[str] = (),
             extra: str = "") -> Finding:
    """Write one policy with `condition` and run it on `host`."""
    directory = tmp_path / "policies"
    policy_file(directory, check_yaml("essai.cas", condition, args, extra))
    return run_policy(rules_with(directory), "essai.cas", host)


def text(rules: RuleSet, finding: Finding, lang: str) -> str:
    assert finding.message is not None
    return rules.catalog.render(finding.message, finding.args, lang, strict=True).replace(
        "\u00a0", " ").replace("\u202f", " ")
