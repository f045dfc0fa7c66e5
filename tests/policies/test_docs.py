"""docs/policy.md's example policy loads and runs, and its error example is what the loader
says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sentinelle.errors import ConfigError
from sentinelle.model import Status
from tests.conftest import fixture_host
from tests.policies.helpers import rules_with, run_policy

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs/policy.md").read_text(encoding="utf-8")


def example() -> str:
    match = re.search(r"<!-- example: rules/policies/mairie.yaml -->\n```yaml\n(.*?)```", PAGE,
                      re.S)
    assert match is not None
    return match.group(1)


def test_the_example_policy_runs(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies/mairie.yaml").write_text(example(), encoding="utf-8")
    rules = rules_with(tmp_path / "policies")
    root = tmp_path / "root"
    (root / "etc/ssh").mkdir(parents=True)
    (root / "etc/shadow").write_text("")
    (root / "etc/shadow").chmod(0o644)
    (root / "etc/ssh/sshd_config").write_text("PermitEmptyPasswords yes\n")
    host = fixture_host(root)
    assert run_policy(rules, "mairie.shadow_permissions", host).status is Status.FAIL
    f = run_policy(rules, "mairie.empty_passwords", host)
    assert f.status is Status.FAIL and f.args["file"] == "/etc/ssh/sshd_config"
    assert rules.checks["mairie.empty_passwords"].anssi == (10,)


def test_the_error_example_is_the_loaders(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    broken = example().replace('        equals: "no"', "        equals: no")
    (tmp_path / "policies/mairie.yaml").write_text(broken, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        rules_with(tmp_path / "policies")
    said = " ".join(err.value.render("fr").split())
    shown = re.search(r"```\n(policies/mairie.yaml:.*?)```", PAGE, re.S)
    assert shown is not None
    assert said.endswith(" ".join(shown.group(1).split()).removeprefix("policies/"))
