"""Declarative checks in the agent's cycle: the shipped policies end to end through the CLI on
fixture trees, in both languages, in the Report and its metrics; policy directories from the
config and from code (the collector's policy); one broken check among good ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sentinelle.cli import main
from sentinelle.errors import ConfigError
from sentinelle.i18n import LANGS
from sentinelle.model import Status
from sentinelle.policies.conditions import FileExists
from sentinelle.runner import build_setup, run_checks
from tests.conftest import fixture_host
from tests.policies.helpers import check_yaml, policy_file

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("hardening.aslr", "hardening.ip_forward", "hardening.protected_symlinks",
           "hardening.shadow_permissions")
# The family's Python check beside its declarative ones (sentinelle/checks/hardening): these
# trees have no /sys, so it cannot look and says so.
PYTHON_CHECKS = ("hardening.mac",)


def system(root: Path, good: bool) -> Path:
    """A Debian-like tree where every shipped policy passes (good) or fails."""
    uid, gid = os.getuid(), os.getgid()
    files = {
        "etc/passwd": f"root:x:{uid}:{gid}:root:/root:/bin/bash\n",
        "etc/group": f"shadow:x:{gid}:\n",
        "etc/shadow": "root:$y$j9T$...:19700:0:99999:7:::\n",
        "proc/sys/kernel/randomize_va_space": "2\n" if good else "0\n",
        "proc/sys/fs/protected_symlinks": "1\n" if good else "0\n",
        "proc/sys/net/ipv4/ip_forward": "0\n" if good else "1\n",
        "var/lib/dpkg/status": "Package: openssh-server\nStatus: install ok installed\n\n" + (
            "" if good else "Package: telnetd\nStatus: install ok installed\n"),
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "etc/shadow").chmod(0o640 if good else 0o644)
    return root


def check_json(root: Path, lang: str, *extra: str, capsys: pytest.CaptureFixture[str]
               ) -> dict[str, dict[str, object]]:
    assert main(["check", "--root", str(root), "--only", "hardening", "--format", "json",
                 "--lang", lang, *extra]) == 0
    report = json.loads(capsys.readouterr().out)
    results = {r["check"]: r for r in report["results"]}
    for check in PYTHON_CHECKS:
        assert results.pop(check)["status"] == "skip", check
    return results


def test_the_shipped_policies_pass_on_a_hardened_tree(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    root = system(tmp_path / "root", good=True)
    results = check_json(root, "en", capsys=capsys)
    assert set(results) == set(SHIPPED)
    assert {c: r["status"] for c, r in results.items()} == dict.fromkeys(SHIPPED, "pass")
    assert results["hardening.shadow_permissions"]["summary"] == (
        "/etc/shadow is protected: mode 0640 (at most 0640), owner root, group shadow.")
    assert results["hardening.aslr"]["references"] == {"anssi": [14]}


def test_the_shipped_policies_fail_on_a_loose_tree_in_both_languages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = system(tmp_path / "root", good=False)
    fr = check_json(root, "fr", capsys=capsys)
    en = check_json(root, "en", capsys=capsys)
    statuses = {c: r["status"] for c, r in en.items()}
    assert statuses == {**dict.fromkeys(SHIPPED, "fail"), "hardening.ip_forward": "warn"}
    assert fr["hardening.aslr"]["remediation"] == {"fr": (
        "Écrivez « kernel.randomize_va_space = 2 » dans /etc/sysctl.d/90-sentinelle.conf puis "
        "lancez « sysctl --system » (valeur actuelle : 0).")}
    for check in SHIPPED:
        assert fr[check]["summary"] != en[check]["summary"], check
    # The table: categories and titles in the reader's language only.
    assert main(["check", "--root", str(root), "--only", "hardening", "--lang", "fr",
                 "--color", "never"]) == 0
    table = capsys.readouterr().out
    assert "Durcissement du système" in table and "System hardening" not in table
    assert "Placement aléatoire de la mémoire (ASLR)" in table and "À faire en priorité" in table
    assert main(["check", "--root", str(root), "--only", "hardening", "--lang", "en",
                 "--color", "never"]) == 0
    assert "System hardening" in capsys.readouterr().out


def test_the_shipped_policies_skip_on_an_empty_tree(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "root").mkdir()
    results = check_json(tmp_path / "root", "fr", capsys=capsys)
    assert {r["status"] for r in results.values()} == {"skip"}
    assert results["hardening.aslr"]["summary"] == (
        "/proc/sys/kernel/randomize_va_space n'existe pas sur le système inspecté : la "
        "condition ne peut pas être vérifiée.")


def test_the_command_line_itself_on_a_tree(tmp_path: Path) -> None:
    """The installed entry point, as a technician types it."""
    root = system(tmp_path / "root", good=False)
    out = subprocess.run(
        [sys.executable, "-m", "sentinelle.cli", "check", "--root", str(root), "--only",
         "hardening.shadow_permissions", "hardening.aslr", "--format", "prometheus",
         "--fail-on", "high"],
        capture_output=True, text=True, check=False, timeout=120,
        env={**os.environ, "LANG": "C.UTF-8"})
    assert out.returncode == 1, out.stderr  # a high finding is open
    assert ('sentinelle_check_status{check="hardening.shadow_permissions",severity="high",'
            'status="fail"} 1.0') in out.stdout
    assert ('sentinelle_check_status{check="hardening.aslr",severity="medium",status="fail"} '
            '1.0') in out.stdout
    assert 'sentinelle_check_success{check="hardening.aslr"} 1.0' in out.stdout  # it ran


def test_sentinelle_checks_lists_the_policies(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["checks", "--format", "json", "--lang", "en"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["hardening.shadow_permissions"] == {
        "id": "hardening.shadow_permissions", "severity": "high", "anssi": [11],
        "title": "Protection of the password file (/etc/shadow)", "kind": "policy",
        "source": str(ROOT / "rules/policies/hardening.yaml")}
    assert rows["ports.listening"]["kind"] == "python"
    assert main(["checks", "--lang", "fr"]) == 0
    assert "Pas de connexion SSH avec un mot de passe vide" in capsys.readouterr().out
    # The config's directories add theirs, with the measures they name.
    config = local_policies(tmp_path)
    assert main(["checks", "--config", str(config), "--format", "json", "--lang", "fr"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["mairie.issue"]["title"] == "Essai mairie.issue" and rows["mairie.issue"][
        "anssi"] == [38]
    assert main(["checks", "--config", str(config), "--framework", "anssi", "--format",
                 "json"]) == 0
    measures = {m["id"]: m for m in json.loads(capsys.readouterr().out)}
    assert "mairie.issue" in measures[38]["checks"] and measures[38]["automated"]


def local_policies(tmp_path: Path) -> Path:
    """An agent config naming a policy directory beside it (relative path)."""
    policy_file(tmp_path / "local", check_yaml(
        "mairie.issue", "file_exists: {path: /etc/issue}", ["path"],
        extra="    anssi: [38]\n"), family="mairie")
    config = tmp_path / "agent.yaml"
    config.write_text("policies:\n  directories: [local]\n")
    return config


def test_config_directories_and_code_directories_reach_the_cycle(tmp_path: Path) -> None:
    config = local_policies(tmp_path)
    served = tmp_path / "served"  # what the collector's policy fetch writes
    policy_file(served, check_yaml("syndicat.motd", "file_absent: {path: /etc/motd}",
                                   ["path"]), family="syndicat")
    setup = build_setup(config, extra_policy_dirs=[served])
    ids = [c.id for c in setup.checks]
    assert "mairie.issue" in ids and "syndicat.motd" in ids and "hardening.aslr" in ids
    assert ids.index("ports.risky_services") < ids.index("hardening.aslr")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/issue").write_text("Debian\n")
    (root / "etc/motd").write_text("Bienvenue\n")
    report = run_checks(build_setup(config, only=["mairie", "syndicat"],
                                    extra_policy_dirs=[served]), fixture_host(root))
    assert {f.check: f.status for f in report.results} == {
        "mairie.issue": Status.PASS, "syndicat.motd": Status.FAIL}
    assert {r.check for r in report.checks} == {"mairie.issue", "syndicat.motd"}
    # The config may switch a policy off, and is checked against the policies' ids.
    config.write_text("policies: {directories: [local]}\nchecks: {mairie.issue: "
                      "{enabled: false}}\n")
    assert "mairie.issue" not in [c.id for c in build_setup(config).checks]
    config.write_text("policies: {directories: [local]}\nchecks: {mairie.issu: {}}\n")
    with pytest.raises(ConfigError) as err:
        build_setup(config)
    assert err.value.key == "checks.mairie.issu" and err.value.line == 2
    # Without a config, the code's directories alone.
    assert "syndicat.motd" in [c.id for c in build_setup(extra_policy_dirs=[served]).checks]
    assert "syndicat.motd" not in [c.id for c in build_setup().checks]


def test_a_config_naming_a_missing_policy_directory(tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text("policies:\n  directories: [absent]\n")
    with pytest.raises(ConfigError) as err:
        build_setup(config)
    assert err.value.source == str(tmp_path / "absent")
    config.write_text("policies:\n  directories: absent\n")
    with pytest.raises(ConfigError) as err:
        build_setup(config)
    assert (err.value.key, err.value.line) == ("policies.directories", 2)


def test_one_broken_check_never_stops_the_others(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "policies"
    policy_file(directory, "".join([
        check_yaml("essai.avant", "file_exists: {path: /etc/issue}"),
        check_yaml("essai.nombre", "setting: {path: /etc/login.defs, key: PASS_MAX_DAYS, "
                   "max: 90}"),
        check_yaml("essai.bogue", "file_exists: {path: /etc/bogue}"),
        check_yaml("essai.apres", "file_absent: {path: /etc/issue}"),
    ]))
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/issue").write_text("Debian\n")
    (root / "etc/login.defs").write_text("PASS_MAX_DAYS jamais\n")
    original = FileExists.observe

    def bug(self: FileExists, host: object) -> object:
        if self.path == "/etc/bogue":
            raise RuntimeError("a bug in a condition")
        return original(self, host)  # type: ignore[arg-type]

    monkeypatch.setattr(FileExists, "observe", bug)
    report = run_checks(build_setup(only=["essai"], extra_policy_dirs=[directory]),
                        fixture_host(root))
    found = {f.check: (f.status, f.message) for f in report.results}
    assert found == {
        "essai.avant": (Status.PASS, "essai.avant.pass"),
        "essai.nombre": (Status.ERROR, "policy.error.not_a_number"),
        "essai.bogue": (Status.ERROR, "runner.failed"),
        "essai.apres": (Status.FAIL, "essai.apres.fail"),
    }
    # Error and skip count neither way: the score is the two that answered.
    assert report.score.open_by_severity["medium"] == 1
    setup = build_setup(only=["essai"], extra_policy_dirs=[directory])
    for f in report.results:
        for lang in LANGS:
            setup.rules.catalog.render(str(f.message), f.args, lang, strict=True)
