"""Typed check parameters: each check declares a frozen Params struct, its defaults live only in
rules/checks/*.yaml, and config overrides are validated against it (type, bounds, unknown keys)
with errors that name the file, the line and the key."""

from __future__ import annotations

import ast
import dataclasses
import shutil
from pathlib import Path

import pytest
import yaml

from sentinelle.checks.base import registry
from sentinelle.config import load_config
from sentinelle.errors import ConfigError
from sentinelle.params import build_params, param, specs_of, validate
from sentinelle.rules import load_rules
from sentinelle.runner import build_setup, known_params
from sentinelle.validation import key_line, line_of, load_yaml_file

ROOT = Path(__file__).resolve().parent.parent
RULES = load_rules()
KNOWN = known_params(RULES)


def config_error(tmp_path: Path, text: str) -> ConfigError:
    path = tmp_path / "agent.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, KNOWN)
    assert info.value.line is not None, info.value
    assert info.value.source == str(path)
    return info.value


def test_every_check_declares_a_frozen_struct_whose_defaults_are_in_rules() -> None:
    for check_id, cls in registry().items():
        specs = specs_of(cls.Params)  # raises on a non-frozen struct or a default in code
        assert set(specs) == set(RULES.checks[check_id].params), check_id
        built = build_params(cls.Params, check_id, RULES.checks[check_id].params,
                             RULES.checks[check_id].source)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(built, next(iter(specs)) if specs else "x", 1)


def test_no_default_is_written_in_check_code() -> None:
    """One style: parameters are read from the struct, never `params.get(name, default)`."""
    for path in (ROOT / "sentinelle" / "checks").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "params":
                parent_calls = [
                    n for n in ast.walk(tree)
                    if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                    and n.func.value is node and n.func.attr == "get"
                ]
                assert not parent_calls, f"{path}:{node.lineno}: params.get(...)"
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute):
                assert node.value.attr != "params", f"{path}:{node.lineno}: params[...]"


BAD_OVERRIDES = [
    # (config text, key in the error, line, what the error expects)
    ("checks:\n  backups.freshness:\n    max_age_hours: soon\n",
     "checks.backups.freshness.max_age_hours", 3, "a number >= 1"),
    ("checks:\n  backups.freshness:\n    max_age_hours: 0\n",
     "checks.backups.freshness.max_age_hours", 3, "a number >= 1"),
    ("checks:\n  backups.freshness:\n    warn_ratio: 1.5\n",
     "checks.backups.freshness.warn_ratio", 3, "a number from 0.01 to 1"),
    ("checks:\n  patching.pending_updates:\n    enabled: true\n    security_threshold: 0.5\n",
     "checks.patching.pending_updates.security_threshold", 4, "an integer >= 0"),
    ("checks:\n  patching.last_upgrade:\n    count_installs: yes please\n",
     "checks.patching.last_upgrade.count_installs", 3, "true or false"),
    ("checks:\n  patching.last_upgrade:\n    max_dayz: 3\n",
     "checks.patching.last_upgrade.max_dayz", 3, "count_installs, max_days, warn_days"),
    ("agent: {interval_seconds: 600}\nchecks:\n  ports.listening: {max: 3}\n",
     "checks.ports.listening.max", 3, "(none)"),
    ("checks:\n  nosuch.check: {}\n", "checks.nosuch.check", 2, "a known check id"),
    # A family's parameter must be declared by a check of that family, with its type.
    ("checks:\n  backups:\n    enabled: true\n    max_age_days: -1\n",
     "checks.backups.max_age_days", 4, "a number >= 1"),
    ("checks:\n  backups:\n    timeout_seconds: 10\n",
     "checks.backups.timeout_seconds", 3, "a parameter of a check of this family"),
]


@pytest.mark.parametrize(("text", "key", "line", "expected"), BAD_OVERRIDES)
def test_bad_override_names_file_line_and_key(
    tmp_path: Path, text: str, key: str, line: int, expected: str
) -> None:
    err = config_error(tmp_path, text)
    assert err.key == key and err.line == line, str(err)
    assert f"{tmp_path / 'agent.yaml'}:{line}: key '{key}'" in err.render("en")
    assert expected in err.render("en")
    assert f"{tmp_path / 'agent.yaml'}:{line}: clé « {key} »" in err.render("fr")


def test_other_config_errors_name_the_line_too(tmp_path: Path) -> None:
    err = config_error(tmp_path, "agent:\n  state_dir: /tmp\n  interval_seconds: 1\n")
    assert err.line == 3 and err.key == "agent.interval_seconds"
    err = config_error(
        tmp_path,
        "backups:\n  locations:\n    - {name: a, type: directory, path: /a}\n"
        "    - name: b\n      type: tape\n      path: /b\n",
    )
    assert err.key == "backups.locations[1].type" and err.line == 5


def test_family_override_reaches_only_the_checks_that_declare_it(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(
        "checks:\n  backups: {max_age_hours: 30}\n  backups.freshness: {warn_ratio: 0.5}\n"
        "  patching.last_upgrade: {max_days: 45}\n",
        encoding="utf-8",
    )
    setup = build_setup(path, ["backups", "patching.last_upgrade"])
    by_id = {c.id: c for c in setup.checks}
    assert by_id["backups.freshness"].params.max_age_hours == 30.0
    assert by_id["backups.freshness"].params.warn_ratio == 0.5
    assert by_id["backups.size_change"].params.shrink_ratio == 0.5  # the default, untouched
    assert by_id["patching.last_upgrade"].params.max_days == 45.0
    assert isinstance(by_id["patching.last_upgrade"].params.max_days, float)
    assert by_id["patching.last_upgrade"].params.warn_days == 14  # the default from rules/


def test_the_offline_threshold_is_one_for_both_checks(tmp_path: Path) -> None:
    """backups.freshness judges offline copies with offline_copy's own (overridden) value."""
    path = tmp_path / "agent.yaml"
    path.write_text(
        "checks:\n  backups.offline_copy: {offline_max_age_days: 3}\n"
        "backups:\n  locations:\n    - {name: usb, type: directory, path: /u, offline: true}\n",
        encoding="utf-8",
    )
    setup = build_setup(path, ["backups"])
    by_id = {c.id: c for c in setup.checks}
    location = setup.config.backups[0]
    assert by_id["backups.freshness"].offline_limit_hours(location) == 72.0
    assert by_id["backups.offline_copy"].params.offline_max_age_days == 3.0


def copy_rules(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    return tmp_path / "rules"


@pytest.mark.parametrize(
    ("old", "new", "key", "expected"),
    [
        ("      max_age_hours: 26.0\n", "      max_age_hours: 'a day'\n",
         "checks.backups.freshness.params.max_age_hours", "a number >= 1"),
        ("      max_age_hours: 26.0\n", "      max_age_hourz: 26.0\n",
         "checks.backups.freshness.params.max_age_hourz", "a parameter declared by the check"),
        ("      max_age_hours: 26.0\n", "",
         "checks.backups.freshness.params", "missing: max_age_hours"),
    ],
)
def test_bad_default_in_rules_names_its_file_line_and_key(
    tmp_path: Path, old: str, new: str, key: str, expected: str
) -> None:
    rules = copy_rules(tmp_path)
    path = rules / "checks" / "backups.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        build_setup(None, ["backups.freshness"], rules_dir=rules)
    err = info.value
    assert err.source == str(path) and err.key == key and expected in err.render("en")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert err.line is not None
    assert key.rsplit(".", 1)[1] + ":" in lines[err.line - 1], (err.line, lines[err.line - 1])


def test_a_struct_with_a_default_in_code_is_refused() -> None:
    @dataclasses.dataclass(frozen=True)
    class WithDefault:
        limit: float = 3.0

    @dataclasses.dataclass
    class NotFrozen:
        limit: float = param()

    with pytest.raises(TypeError, match="defaults live in rules"):
        specs_of(WithDefault)
    with pytest.raises(TypeError, match="frozen"):
        specs_of(NotFrozen)


def test_lines_come_with_the_values_for_keys_holding_dots_and_lists(tmp_path: Path) -> None:
    """One mechanism for the lines: the mappings load_yaml_file builds, whose keys may hold
    dots (check ids) and whose lists know their items."""
    path = tmp_path / "x.yaml"
    path.write_text("a:\n  b.c:\n    d: 1\n  e: [1, 2]\nf:\n  - g: 1\n  - h: 2\n",
                    encoding="utf-8")
    data = load_yaml_file(path)
    assert key_line(data["a"]["b.c"], "d") == 3
    assert key_line(data["a"], "e") == 4
    assert key_line(data["f"][1], "h") == 7
    assert line_of(data["a"]["b.c"]) == 2  # the line of the key holding it
    assert key_line(data["a"], "zz") is None
    assert data == yaml.safe_load(path.read_text())
    with pytest.raises(ConfigError) as info:
        validate({}, data["a"]["b.c"], str(path), ["a", "b.c"])
    assert info.value.line == 3 and info.value.key == "a.b.c.d"
