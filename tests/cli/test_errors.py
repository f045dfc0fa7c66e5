"""Usage errors are argparse errors (usage line, exit 2, the catalog's words); errors at run
time are printed in one place, `sentinelle : erreur : …` (`sentinelle: error: …` in English),
2 for configuration errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinelle.cli import main
from sentinelle.rules import default_rules_dir, load_catalog

CATALOG = load_catalog(default_rules_dir())
ERROR = {lang: CATALOG.render("cli.error", {"message": ""}, lang) for lang in ("fr", "en")}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def usage_error(capsys: pytest.CaptureFixture[str], usage: str, *argv: str) -> str:
    """Run a wrong command line: exit 2, nothing on stdout, the command's usage line first."""
    code, out, err = run(capsys, *argv)
    assert code == 2, err
    assert out == ""
    assert err.startswith(f"usage: {usage} "), err
    assert f"\n{usage}: error: " in err, err
    return err


def test_argparse_own_errors(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(capsys, "sentinelle check", "check", "--colour", "never")
    assert "unrecognized arguments: --colour" in err
    err = usage_error(capsys, "sentinelle agent enroll", "agent", "enroll", "--token", "t")
    assert "required: --collector" in err
    # A missing sub-command is named by the words to type, not by an attribute.
    err = usage_error(capsys, "sentinelle collector token", "collector", "token")
    assert "required: {create,list,revoke}" in err and "token_command" not in err
    err = usage_error(capsys, "sentinelle check", "check", "--format", "yaml")
    assert "invalid choice: 'yaml'" in err


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize(
    ("usage", "argv", "message", "value"),
    [
        ("sentinelle report monthly", ["report", "monthly", "--month", "2026-13"],
         "cli.bad_month", "2026-13"),
        ("sentinelle report monthly", ["report", "monthly", "--month", "mars"],
         "cli.bad_month", "mars"),
        ("sentinelle collector commune add",
         ["collector", "commune", "add", "99999", "--name", "Nulle-Part"], "cli.bad_insee",
         "99999"),
        ("sentinelle collector commune show", ["collector", "commune", "show", "2A"],
         "cli.bad_insee", "2A"),
        ("sentinelle collector token create",
         ["collector", "token", "create", "--commune", "01001", "--expires", "7 days"],
         "cli.bad_duration", "7 days"),
        ("sentinelle collector token create",
         ["collector", "token", "create", "--commune", "01001", "--uses", "0"],
         "cli.bad_count", "0"),
        ("sentinelle collector commune add",
         ["collector", "commune", "add", "01001", "--name", "A", "--mayor-email", "maire"],
         "cli.bad_email", "maire"),
        ("sentinelle demo", ["demo", "--duration", "-5"], "cli.bad_seconds", "-5"),
        ("sentinelle dashboards push",
         ["dashboards", "push", "--grafana-url", "http://127.0.0.1:1/", "--timeout", "nan"],
         "cli.bad_seconds", "nan"),
    ],
)
def test_bad_values_are_usage_errors_in_the_readers_language(
    usage: str, argv: list[str], message: str, value: str, lang: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SENTINELLE_LANG", lang)
    store = tmp_path / "collector.db"
    group, *rest = argv
    # --store before the sub-command for the collector, after it for the report.
    where = ([group, "--store", f"sqlite://{store}", *rest] if group == "collector"
             else [*argv, "--store", f"sqlite://{store}"] if group == "report" else argv)
    err = usage_error(capsys, usage, *where)
    words = CATALOG.render(message, {"value": value, "minimum": 1}, lang)
    assert words in err
    other = CATALOG.render(message, {"value": value, "minimum": 1}, "en" if lang == "fr" else "fr")
    assert other not in err
    assert not store.exists()  # refused before anything was opened


def test_a_good_value_passes_through_as_typed(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINELLE_LANG", "en")
    store = f"sqlite://{tmp_path / 'collector.db'}"
    code, out, _ = run(capsys, "collector", "--store", store, "commune", "add", "2a004",
                       "--name", "Ajaccio", "--mayor-email", "maire@ajaccio.example")
    assert code == 0 and out == "commune 2A004 Ajaccio saved\n"
    code, _, err = run(capsys, "collector", "--store", store, "token", "create", "--commune",
                       "2A004", "--expires", "12h", "--uses", "1")
    assert code == 0 and " for 2A004 Ajaccio, expires " in err and ", 1 use (" in err


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_configuration_errors_at_run_time_exit_2(tmp_path: Path, lang: str,
                                                capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINELLE_LANG", lang)
    assert ERROR == {"fr": "sentinelle : erreur : ", "en": "sentinelle: error: "}
    bad = tmp_path / "collector.yaml"
    bad.write_text("stroe: sqlite:///x.db\n", encoding="utf-8")
    code, out, err = run(capsys, "collector", "--config", str(bad), "commune", "list")
    assert code == 2 and out == ""
    assert err.startswith(ERROR[lang]) and "collector.yaml" in err
    assert "usage:" not in err  # well written, badly configured: no usage line
    store = f"sqlite://{tmp_path / 'collector.db'}"
    code, _, err = run(capsys, "collector", "--store", store, "commune", "show", "01001")
    assert code == 2 and err.startswith(ERROR[lang]) and "01001" in err


def test_other_failures_at_run_time_exit_with_the_groups_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A refused or impossible enrollment: the command could not do its work, 2 as every group.
    monkeypatch.setenv("SENTINELLE_LANG", "fr")
    config = tmp_path / "agent.yaml"
    config.write_text(f"agent: {{state_dir: {tmp_path / 'state'}}}\n", encoding="utf-8")
    code, out, err = run(capsys, "agent", "enroll", "--config", str(config),
                         "--collector", "http://127.0.0.1:1", "--token", "t")
    assert code == 2 and out == ""
    assert err.startswith(ERROR["fr"]) and "127.0.0.1:1" in err
    # The dashboards group keeps the 1 its module entry point always had.
    for name in ("GRAFANA_TOKEN", "GRAFANA_USER", "GRAFANA_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    code, out, err = run(capsys, "dashboards", "push", "--grafana-url", "http://127.0.0.1:1/")
    assert code == 1 and out == ""
    assert err.startswith(ERROR["fr"]) and "GRAFANA_TOKEN" in err
