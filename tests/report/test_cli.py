"""`sentinelle report monthly` options, the report settings, the catalog and the schedule."""

from __future__ import annotations

import argparse
import re
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from sentinelle.checks.base import registry
from sentinelle.errors import ConfigError
from sentinelle.report.arguments import add_report_parser
from sentinelle.report.catalog import load_catalog, parse_catalog
from sentinelle.report.cli import MonthlyRun
from sentinelle.report.config import Contacts, default_sent_log, load_settings
from sentinelle.report.content import Month
from sentinelle.report.schedule import easter, first_working_day
from sentinelle.rules import default_rules_dir, load_rules
from sentinelle.validation import load_yaml_file
from tests.conftest import need_tool
from tests.report.scenario import NOW, Scenario


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_report_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["report", "monthly", *argv])


def _run(*argv: str, now: datetime = NOW) -> int:
    run = MonthlyRun(_args(*argv), now=now)
    try:
        return run.run()
    finally:
        run.close()


def test_out_writes_html_pdf_and_text_for_review(
    scenario: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pdfinfo = need_tool("pdfinfo")
    need_tool("chromium")
    out = tmp_path / "review"
    assert _run("--month", "2026-03", "--store", scenario.store_url, "--out", str(out),
                "--commune", "01001", "--commune", "01007") == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "01001-2026-03.html", "01001-2026-03.pdf", "01001-2026-03.txt",
        "01007-2026-03.html", "01007-2026-03.pdf", "01007-2026-03.txt",
    ]
    html = (out / "01001-2026-03.html").read_text(encoding="utf-8")
    assert 'src="data:image/png;base64,' in html  # opens on its own in a browser
    info = subprocess.run([pdfinfo, str(out / "01007-2026-03.pdf")], capture_output=True,
                          text=True, check=True, timeout=60).stdout
    assert re.search(r"^Pages:\s+1$", info, re.M)
    printed = capsys.readouterr().out
    assert "01001 Saint-Exemple : B (83/100) — écrit dans" in printed
    assert "01007 Val-Silencieux : pas de données — écrit dans" in printed


def test_without_out_or_send_prints_the_text(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("--month", "2026-03", "--store", scenario.store_url, "--commune", "01003",
                "--lang", "en") == 0
    text = capsys.readouterr().out
    assert text.startswith("Monthly IT security summary\nBourg-Témoin — March 2026")
    assert "Last week's data recoverable: NO" in text


def test_month_defaults_to_the_previous_one(scenario: Scenario) -> None:
    run = MonthlyRun(_args("--store", scenario.store_url), now=NOW)
    assert run.month == Month(2026, 3)
    january = MonthlyRun(_args(), now=datetime(2026, 1, 5, 8, tzinfo=UTC))
    assert january.month == Month(2025, 12)


def test_bad_month_and_unknown_commune_are_clear_errors(scenario: Scenario) -> None:
    for month in ("2026-13", "mars"):
        with pytest.raises(ConfigError) as err:
            _run("--month", month, "--store", scenario.store_url)
        assert err.value.message_id == "config.expected.month"
        assert "YYYY-MM" in err.value.render("en") and "AAAA-MM" in err.value.render("fr")
    with pytest.raises(ConfigError, match="99999") as err:
        _run("--month", "2026-03", "--store", scenario.store_url, "--commune", "99999")
    assert err.value.render("en") == ("--commune: key '--commune': expected a registered commune "
                                      "(see `sentinelle collector commune list`), got \"99999\"")
    assert "une commune enregistrée" in err.value.render("fr")


def test_timer_waits_for_the_first_working_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 1 May 2026 is a Friday and a public holiday: the first working day is Monday 4 May.
    store = f"sqlite://{tmp_path / 'empty.db'}"
    assert _run("--store", store, "--from-first-working-day",
                now=datetime(2026, 5, 2, 7, tzinfo=UTC)) == 0
    assert "pas avant le 4 mai 2026, premier jour ouvré" in capsys.readouterr().out
    assert not (tmp_path / "empty.db").exists()  # nothing opened, nothing sent
    assert _run("--store", store, "--from-first-working-day",
                now=datetime(2026, 5, 4, 7, tzinfo=UTC)) == 0
    assert (tmp_path / "empty.db").exists()


def test_first_working_day_skips_weekends_and_french_holidays() -> None:
    assert easter(2026) == date(2026, 4, 5) and easter(2027) == date(2027, 3, 28)
    assert first_working_day(2026, 1) == date(2026, 1, 2)  # 1 January
    assert first_working_day(2026, 2) == date(2026, 2, 2)  # Sunday the 1st
    assert first_working_day(2026, 4) == date(2026, 4, 1)
    assert first_working_day(2026, 5) == date(2026, 5, 4)  # Friday 1 May, then a weekend
    assert first_working_day(2026, 11) == date(2026, 11, 2)  # Sunday 1 November
    assert first_working_day(2027, 3) == date(2027, 3, 1)
    assert first_working_day(2027, 5) == date(2027, 5, 3)  # Saturday 1 May
    assert first_working_day(2025, 9) == date(2025, 9, 1)


def test_settings_from_the_collector_file_or_a_separate_file(tmp_path: Path) -> None:
    collector = tmp_path / "collector.yaml"
    collector.write_text(
        "store: sqlite:///var/lib/x/collector.db\nsilent_after_seconds: 7200\n"
        "report:\n  lang: en\n  contacts:\n    phone: '04 11 22 33 44'\n"
        "  smoothing:\n    hysteresis_points: 3\n",
        encoding="utf-8",
    )
    col, rep = load_settings(collector, None)
    assert (col.store, col.silent_after_seconds) == ("sqlite:///var/lib/x/collector.db", 7200)
    assert (rep.lang, rep.contacts.phone, rep.hysteresis_points) == ("en", "04 11 22 33 44", 3.0)
    assert rep.contacts.placeholders() == ["syndicate", "email"]
    assert default_sent_log(rep, col.store) == Path("/var/lib/x/monthly-report-sent.json")
    separate = tmp_path / "report.yaml"
    separate.write_text("mail:\n  smtp:\n    security: tls\n", encoding="utf-8")
    _, rep = load_settings(collector, separate)
    assert (rep.lang, rep.smtp.security, rep.smtp.port) == ("fr", "tls", 465)
    assert Contacts().placeholders() == ["syndicate", "phone", "email"]


def test_settings_errors_name_the_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "report.yaml"
    bad.write_text("mail:\n  smtp:\n    securty: starttls\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(None, bad)
    assert f"{bad}:3: clé « mail.smtp.securty » : clé inconnue" in err.value.render("fr")
    assert f"{bad}:3: key 'mail.smtp.securty': unknown key" in err.value.render("en")
    bad.write_text("mail:\n  smtp:\n    username: u\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(None, bad)
    assert "both username and password_file" in err.value.render("en")
    bad.write_text("min_peers: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="min_peers"):
        load_settings(None, bad)
    bad.write_text("timezone: Mars/Olympus\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="timezone"):
        load_settings(None, bad)


def test_every_check_has_a_plain_words_entry() -> None:
    catalog = load_catalog()
    rules = load_rules()
    for check_id in set(registry()) | set(rules.checks):
        entry = catalog.entry_for(check_id)
        # An exact entry, or at least its family's: never the catch-all default.
        assert entry.key in (check_id, check_id.split(".")[0]), check_id
        for field in ("topic", "action", "why"):
            for lang in ("fr", "en"):
                assert catalog.text(entry, field, lang), (check_id, field, lang)
    # Severity variants pick the more specific text.
    assert catalog.entry_for("backups.freshness", "critical").key == "backups.freshness@critical"
    assert catalog.entry_for("backups.freshness", "high").key == "backups.freshness"
    assert catalog.entry_for("nosuchfamily.check").key == "default"


def test_catalog_is_validated() -> None:
    """rules/report.yaml and the words of rules/messages/report.yaml must agree."""
    messages = load_rules().catalog
    path = default_rules_dir() / "report.yaml"
    data = load_yaml_file(path)
    data["entries"]["patching.pending_updates"]["who"] = "le voisin"
    with pytest.raises(ConfigError, match=r"entries\.patching\.pending_updates\.who"):
        parse_catalog(data, "report.yaml", messages)
    # An entry without its words, and words without their entry.
    data = load_yaml_file(path)
    data["entries"]["ports.firewall"] = {"who": "prestataire", "effort": "hour"}
    with pytest.raises(ConfigError, match=r"entries\.ports\.firewall.*report\.entry\.ports"
                       r"\.firewall\.topic"):
        parse_catalog(data, "report.yaml", messages)
    data = load_yaml_file(path)
    del data["entries"]["ports"]
    with pytest.raises(ConfigError, match=r"report\.entry\.ports\.action"):
        parse_catalog(data, "report.yaml", messages)
    data = load_yaml_file(path)
    data["routine"] = data["routine"][:2]
    with pytest.raises(ConfigError) as err:
        parse_catalog(data, "report.yaml", messages)
    assert "at least three routine actions" in err.value.render("en")
    assert "au moins trois actions de routine" in err.value.render("fr")
