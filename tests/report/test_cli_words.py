"""`sentinelle report monthly` tells the operator what became of each commune in the run's
language (its --lang, else the settings'): written, sent, skipped, already sent, failed with
the stage and the reason, and the summary; the lines are rules/messages/cli.yaml's, and a
French run prints no word of their English texts, nor the reverse."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sentinelle.report import build
from sentinelle.report.arguments import add_report_parser
from sentinelle.report.cli import EXIT_COMMUNE_FAILED, MonthlyRun
from sentinelle.report.render_text import render_text as real_render_text
from sentinelle.report.wording import Page
from tests.cli.speech import CATALOG, foreign_in, say
from tests.conftest import need_tool
from tests.report.mailserver import (
    Inbox,
    free_port,
    need_aiosmtpd,
    report_config,
    smtp_server,
)
from tests.report.scenario import NOW, Scenario

LANGS = ("fr", "en")
REPORT_IDS = [m.id for m in CATALOG if m.id.startswith("cli.report.")] + ["cli.warning"]
# The names of the scenario's communes: their words are no language's.
NAMES = ["Saint-Exemple", "Val-Silencieux", "Bourg-Témoin", "Les Attentes"]


def _run(*argv: str, now: datetime = NOW) -> int:
    parser = argparse.ArgumentParser()
    add_report_parser(parser.add_subparsers(dest="command"))
    run = MonthlyRun(parser.parse_args(["report", "monthly", *argv]), now=now)
    try:
        return run.run()
    finally:
        run.close()


def line(lang: str, code: str, name: str, outcome: str) -> re.Pattern[str]:
    """A commune's line, whatever its grade: `01001 Saint-Exemple : B (83/100) — …`."""
    grades = "|".join([re.escape(say("cli.report.grade", lang, grade="Z", score=999))
                       .replace("Z", "[A-E]").replace("999", r"\d+"),
                       re.escape(say("cli.report.no_data", lang))])
    text = say("cli.report.line", lang, code=code, name=name, grade="GRADE", outcome="OUTCOME")
    return re.compile(re.escape(text).replace("GRADE", f"(?:{grades})")
                      .replace("OUTCOME", outcome) + "$", re.M)


@pytest.mark.parametrize("lang", LANGS)
def test_written_pages_are_told_in_the_runs_language(
    lang: str, scenario: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    need_tool("chromium")
    out = tmp_path / "review"
    assert _run("--month", "2026-03", "--store", scenario.store_url, "--out", str(out),
                "--lang", lang, "--commune", "01001", "--commune", "01007") == 0
    printed = capsys.readouterr().out
    for code, name in (("01001", "Saint-Exemple"), ("01007", "Val-Silencieux")):
        written = re.escape(say("cli.report.written", lang,
                                paths=str(out / f"{code}-2026-03.{{html,pdf,txt}}")))
        assert line(lang, code, name, written).search(printed), printed
    assert foreign_in(printed, REPORT_IDS, lang, NAMES) == set()


@pytest.mark.parametrize("lang", LANGS)
def test_a_failed_commune_and_the_summary_are_told_in_the_runs_language(
    lang: str, scenario: Scenario, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def render_text(page: Page) -> str:
        if page.commune == "Bourg-Témoin":
            raise RuntimeError("une panne")
        return real_render_text(page)

    monkeypatch.setattr(build, "render_text", render_text)
    assert _run("--month", "2026-03", "--store", scenario.store_url, "--lang", lang,
                "--commune", "01001", "--commune", "01003") == EXIT_COMMUNE_FAILED
    err = capsys.readouterr().err
    stage = say("cli.report.stage.page", lang)
    assert err.splitlines() == [
        say("cli.report.failed", lang, code="01003", name="Bourg-Témoin", stage=stage,
            reason="RuntimeError: une panne"),
        say("cli.report.summary", lang, count=1, codes=["01003"]),
    ]
    assert foreign_in(err, REPORT_IDS, lang, NAMES) == set()


@pytest.mark.parametrize("lang", LANGS)
def test_the_timer_before_the_first_working_day_says_so_in_the_runs_language(
    lang: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("--store", f"sqlite://{tmp_path / 'empty.db'}", "--from-first-working-day",
                "--lang", lang, now=datetime(2026, 5, 2, 7, tzinfo=UTC)) == 0
    printed = capsys.readouterr().out
    assert printed == say("cli.report.not_yet", lang, date="2026-05-04") + "\n"
    assert ("4 mai 2026" if lang == "fr" else "May 4, 2026") in printed
    assert foreign_in(printed, REPORT_IDS, lang) == set()


def test_sending_in_english_says_sent_skipped_already_sent_and_not_sent_in_english(
    scenario: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The French run is tests/report/test_mail.py's; this one is the English run's lines."""
    need_aiosmtpd()
    need_tool("chromium")
    inbox = Inbox()
    with smtp_server(inbox) as port:
        config = str(report_config(tmp_path, port))
        args = ("--month", "2026-03", "--store", scenario.store_url, "--report-config", config,
                "--send", "--lang", "en", "--commune", "01003", "--commune", "01010")
        assert _run(*args) == 0
        first = capsys.readouterr()
        assert _run(*args) == 0
        again = capsys.readouterr()
    assert len(inbox.messages) == 1
    sent = re.escape(say("cli.report.sent", "en", count=1))
    assert line("en", "01003", "Bourg-Témoin", sent).search(first.out), first.out
    skipped = say("cli.report.no_email", "en", code="01010", name="Les Attentes")
    assert skipped in first.out.splitlines() and skipped in again.out.splitlines()
    assert again.out.startswith("01003 Bourg-Témoin: already sent on ")
    printed = first.out + first.err + again.out + again.err
    assert foreign_in(printed, REPORT_IDS, "en", NAMES) == set()
    # A relay that refuses the connection: the commune is NOT sent, and said so in English.
    (tmp_path / "dead").mkdir()
    dead = str(report_config(tmp_path / "dead", free_port(), retries=0))
    assert _run("--month", "2026-03", "--store", scenario.store_url, "--report-config", dead,
                "--send", "--lang", "en", "--commune", "01003") == EXIT_COMMUNE_FAILED
    err = capsys.readouterr().err
    assert re.search(r"^01003 Bourg-Témoin: [A-E] \(\d+/100\) — NOT sent: ", err, re.M), err
    assert "sentinelle: 1 commune failed: 01003 (the others are done)" in err
    assert foreign_in(err, REPORT_IDS, "en", NAMES) == set()
