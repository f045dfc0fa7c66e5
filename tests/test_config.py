"""Config errors name the file, the line, the key and what was expected; unknown keys are
errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinelle.config import load_config
from sentinelle.errors import ConfigError
from sentinelle.rules import load_rules
from sentinelle.runner import build_setup, known_params

KNOWN = {"patching.last_upgrade": {"max_days": 30, "warn_days": 14}}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(path, KNOWN)
    return info.value


def test_embedded_defaults_need_no_file() -> None:
    config = load_config(None, KNOWN)
    assert config.agent.listen_address == "127.0.0.1:9830"
    assert config.backups == ()
    assert config.check_enabled("patching.last_upgrade")


def test_full_config_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
agent: {interval_seconds: 600, listen_address: "127.0.0.1:9999", state_dir: /tmp/x}
checks:
  patching.last_upgrade: {max_days: 20}
  ports: {enabled: false}
backups:
  locations:
    - {name: nas, type: directory, path: /srv/backup, pattern: "*.tar.gz", max_age_hours: 30}
    - {name: usb, type: restic, path: /mnt/usb/repo, password_file: /etc/pw, offline: true}
ports: {scan_targets: [127.0.0.1]}
""",
    )
    config = load_config(path, {**KNOWN, "ports.listening": {}})
    assert config.agent.interval_seconds == 600
    assert config.checks["patching.last_upgrade"].params == {"max_days": 20}
    assert not config.check_enabled("ports.listening")
    assert [b.name for b in config.backups] == ["nas", "usb"]
    assert config.backups[1].offline is True
    assert config.ports.scan_targets == ("127.0.0.1",)


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("agent: {intervall_seconds: 5}\n", "agent.intervall_seconds", "unknown key"),
        ("agent: {interval_seconds: fast}\n", "agent.interval_seconds", "a number"),
        ("agent: {interval_seconds: 1}\n", "agent.interval_seconds", ">= 10"),
        ("agent: {listen_address: 9830}\n", "agent.listen_address", "a non-empty string"),
        ("agent: {listen_address: 'localhost'}\n", "agent.listen_address", "HOST:PORT"),
        ("checks: {nosuch.check: {}}\n", "checks.nosuch.check", "a known check id"),
        (
            "checks: {patching.last_upgrade: {max_dayz: 3}}\n",
            "checks.patching.last_upgrade.max_dayz",
            "max_days",
        ),
        (
            "checks: {patching.last_upgrade: {max_days: soon}}\n",
            "checks.patching.last_upgrade.max_days",
            "an integer",
        ),
        (
            "backups: {locations: [{name: a, type: tape, path: /x}]}\n",
            "backups.locations[0].type",
            "one of directory, restic, borg",
        ),
        (
            "backups: {locations: [{name: a, type: restic}]}\n",
            "backups.locations[0].path",
            "required",
        ),
        (
            "backups: {locations: [{name: a, type: restic, path: /r, pattern: '*'}]}\n",
            "backups.locations[0].pattern",
            "only for directories",
        ),
        (
            "backups: {locations: [{name: a, type: directory, path: /r},"
            " {name: a, type: directory, path: /s}]}\n",
            "backups.locations",
            "distinct",
        ),
        ("ports: {scan_targets: 127.0.0.1}\n", "ports.scan_targets", "a list"),
        ("- just\n- a list\n", "", "a mapping"),
        ("agent: {interval_seconds: [\n", "", "invalid YAML"),
    ],
)
def test_bad_config_names_file_key_and_expectation(
    tmp_path: Path, text: str, key: str, expected: str
) -> None:
    err = error_of(write(tmp_path, text))
    assert err.key == key and err.line is not None
    message = err.render("en")
    assert message.startswith(f"{tmp_path / 'agent.yaml'}:{err.line}: ")
    assert key in message
    assert expected in message
    if "_" not in expected:  # parameter names are data, the same in both languages
        assert expected not in err.render("fr")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    err = error_of(tmp_path / "absent.yaml")
    assert "absent.yaml" in str(err)


def test_build_setup_uses_real_rules_and_rejects_unknown_only() -> None:
    with pytest.raises(ConfigError, match="--only"):
        build_setup(None, ["nosuchfamily"])
    setup = build_setup(None, ["patching"])
    assert setup.checks and all(c.id.startswith("patching.") for c in setup.checks)


def test_config_override_reaches_check_params(tmp_path: Path) -> None:
    rules = load_rules()
    # The first number parameter of any check (a list would be written back as YAML text).
    key, name, value = next(
        (cid, n, v) for cid, meta in rules.checks.items() for n, v in meta.params.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool))
    new_value = value * 2
    path = write(tmp_path, f"checks:\n  {key}: {{{name}: {new_value!r}}}\n")
    assert known_params(rules)[key][name].kind is type(value)
    setup = build_setup(path, [key])
    (check,) = [c for c in setup.checks if c.id == key]
    assert getattr(check.params, name) == new_value


def test_example_configs_are_valid() -> None:
    from sentinelle.collector.settings import load_settings

    root = Path(__file__).resolve().parent.parent
    agent = load_config(root / "examples/agent.yaml", known_params(load_rules()))
    assert [b.name for b in agent.backups] == ["nas", "usb-hors-ligne"]
    collector = load_settings(root / "examples/collector.yaml")
    assert collector.workers == 3 and collector.snapshot_retention_days >= 397
