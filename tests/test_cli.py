"""`sentinelle check` and `sentinelle checks` on this machine and on fixture trees."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentinelle.checks.base import registry
from sentinelle.cli import main
from sentinelle.model import SCHEMA_VERSION
from sentinelle.rules import load_rules


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_catalog_lists_every_check(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "checks", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    # The Python checks and the declarative ones of rules/policies, by id.
    ids = [r["id"] for r in rows]
    assert ids == sorted(ids)
    assert set(ids) == set(registry()) | set(load_rules().policies)
    assert all(r["severity"] and r["title"] for r in rows)
    code, out, _ = run(capsys, "checks", "--lang", "fr")
    assert "patching.pending_updates" in out and "ANSSI" in out and "GRAVITÉ" in out
    assert "SEVERITY" not in out and "élevée" in out


def test_json_report_of_this_machine(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--format", "json", "--only", "patching", "backups",
                       "--lang", "fr")
    assert code == 0
    report = json.loads(out)
    assert report["schema_version"] == SCHEMA_VERSION
    assert {"hostname", "os_id", "kernel"} <= set(report["host"])
    assert {r["check"].split(".")[0] for r in report["results"]} == {"patching", "backups"}
    for r in report["results"]:
        assert r["status"] in {"pass", "warn", "fail", "error", "skip"}
        # One language at a time: what to do, for open findings, in the reader's language only,
        # every value filled; nothing to do for the others.
        assert r["summary"] and "?" not in r["summary"]
        if r["status"] in ("warn", "fail"):
            assert set(r["remediation"]) == {"fr"} and r["remediation"]["fr"]
            assert "?" not in r["remediation"]["fr"], r
        else:
            assert r["remediation"] == {}
    assert 0 <= report["score"]["value"] <= 100 and report["score"]["grade"] in "ABCDE"


def test_table_groups_by_category_and_shows_grade(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--only", "backups", "--lang", "en", "--color", "always")
    assert code == 0
    assert "\033[" in out  # coloured when asked
    assert "Backups" in out and "Grade" in out and "What to do first" in out
    assert "Niveau" not in out and "priorité" not in out
    code, out, _ = run(capsys, "check", "--only", "backups", "--lang", "fr", "--color", "never")
    assert "\033[" not in out and "Niveau" in out and "Sauvegardes" in out
    assert "À faire en priorité" in out and "Grade" not in out and "What to do" not in out


def test_fail_on_sets_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    # With no backup location configured, backups.freshness is an open critical finding.
    code, _, _ = run(capsys, "check", "--only", "backups.freshness", "--fail-on", "critical")
    assert code == 1
    code, _, _ = run(capsys, "check", "--only", "ports.listening", "--fail-on", "critical")
    assert code == 0


def test_prometheus_format_prints_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--only", "backups", "--format", "prometheus")
    assert code == 0
    assert "# TYPE sentinelle_host_risk_score gauge" in out
    assert 'sentinelle_check_status{check="backups.freshness"' in out


def test_config_error_exits_2_with_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the reader's language (French by default), or in the command's --lang."""
    monkeypatch.delenv("SENTINELLE_LANG", raising=False)
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text("agent: {colour: blue}\n")
    code, _, err = run(capsys, "check", "--config", str(bad))
    assert code == 2
    assert f"{bad}:1: clé « agent.colour » : clé inconnue" in err
    code, _, err = run(capsys, "check", "--config", str(bad), "--lang", "en")
    assert code == 2
    assert f"{bad}:1: key 'agent.colour': unknown key" in err


def test_restore_test_is_recorded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    backup_dir = tmp_path / "backups"
    backup_dir.mkdir()
    config = tmp_path / "agent.yaml"
    config.write_text(
        f"agent: {{state_dir: {tmp_path / 'state'}}}\n"
        f"backups:\n  locations:\n    - {{name: nas, type: directory, path: {backup_dir}}}\n"
    )
    code, _, err = run(
        capsys, "backup", "restore-tested", "--config", str(config), "--location", "usb"
    )
    assert code == 2 and "nas" in err
    code, out, _ = run(
        capsys,
        "backup",
        "restore-tested",
        "--config",
        str(config),
        "--location",
        "nas",
        "--note",
        "fichier état civil restauré",
    )
    assert code == 0 and "recorded" in out
    code, out, _ = run(
        capsys,
        "check",
        "--config",
        str(config),
        "--only",
        "backups.restore_test",
        "--format",
        "json",
    )
    result = json.loads(out)["results"][0]
    assert result["status"] == "pass", result
