"""A policy's parameters: defaults in its file, named by its comparisons, overridden by the
agent config (or the collector's policy) and checked like a Python check's."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinelle.errors import ConfigError
from sentinelle.model import Status
from sentinelle.runner import build_setup, run_checks
from tests.conftest import fixture_host
from tests.policies.helpers import check_yaml, policy_file

CONDITION = """
    all:
      - setting: {path: /etc/login.defs, key: PASS_MAX_DAYS, max: {param: max_days}}
      - setting: {path: /etc/login.defs, key: ENCRYPT_METHOD, one_of: {param: methods},
                  as: method}
    """
PARAMS = "    params:\n      max_days: 365\n      methods: [SHA512, YESCRYPT]\n"


def setup_files(tmp_path: Path, config: str = "") -> tuple[Path, Path, Path]:
    directory = tmp_path / "policies"
    policy_file(directory, check_yaml("essai.mots_de_passe", CONDITION,
                                      ["value", "maximum", "method_expected"], extra=PARAMS))
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/login.defs").write_text("PASS_MAX_DAYS 180\nENCRYPT_METHOD SHA512\n")
    path = tmp_path / "agent.yaml"
    path.write_text(config or "agent: {}\n")
    return directory, root, path


def finding(directory: Path, root: Path, config: Path):  # type: ignore[no-untyped-def]
    setup = build_setup(config, only=["essai"], extra_policy_dirs=[directory])
    (f,) = run_checks(setup, fixture_host(root)).results
    return f


def test_defaults_then_the_configs_overrides(tmp_path: Path) -> None:
    directory, root, config = setup_files(tmp_path)
    f = finding(directory, root, config)
    assert f.status is Status.PASS and f.args["maximum"] == 365
    assert f.args["method_expected"] == ["SHA512", "YESCRYPT"]
    config.write_text("checks:\n  essai.mots_de_passe: {max_days: 90}\n")
    f = finding(directory, root, config)
    assert f.status is Status.FAIL and f.args["maximum"] == 90 and f.args["value"] == "180"
    config.write_text("checks:\n  essai: {methods: [YESCRYPT]}\n")  # the family's
    f = finding(directory, root, config)
    assert f.status is Status.FAIL and f.args["method_expected"] == ["YESCRYPT"]


def test_an_override_is_checked_against_the_defaults_type(tmp_path: Path) -> None:
    directory, _root, config = setup_files(
        tmp_path, "checks:\n  essai.mots_de_passe:\n    max_days: beaucoup\n")
    with pytest.raises(ConfigError) as err:
        build_setup(config, extra_policy_dirs=[directory])
    assert (err.value.source, err.value.line) == (str(config), 3)
    assert err.value.key == "checks.essai.mots_de_passe.max_days"
    assert "an integer" in err.value.render("en")
    config.write_text("checks:\n  essai.mots_de_passe:\n    max_jours: 3\n")
    with pytest.raises(ConfigError) as err:
        build_setup(config, extra_policy_dirs=[directory])
    assert "(max_days, methods)" in err.value.render("en")


@pytest.mark.parametrize(("condition", "params", "words"), [
    ("sysctl: {key: a.b, max: {param: nope}}", "    params: {limit: 1}\n",
     "one of the check's parameters (limit)"),
    ("sysctl: {key: a.b, max: {param: limit}}", "    params: {limit: high}\n",
     "a parameter whose default fits here (a number)"),
    ("sysctl: {key: a.b, one_of: {param: limit}}", "    params: {limit: 3}\n",
     "(a list of texts)"),
    ("sysctl: {key: a.b, equals: {param: limit, default: 2}}", "    params: {limit: 3}\n",
     "unknown key"),
])
def test_a_broken_reference(tmp_path: Path, condition: str, params: str, words: str) -> None:
    directory = tmp_path / "policies"
    path = policy_file(directory, check_yaml("essai.cas", condition, extra=params))
    with pytest.raises(ConfigError) as err:
        build_setup(extra_policy_dirs=[directory])
    assert err.value.source == str(path) and err.value.line == 14
    assert err.value.key.startswith("checks.essai.cas.condition.sysctl.")
    assert words in err.value.render("en"), err.value.render("en")
