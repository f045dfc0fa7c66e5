"""One commune's data, page or mail never stops another commune's monthly page (issue 8).

Three communes of one département and size band (tests/report/hostile.py): two healthy, one
whose stored Reports carry shapes nothing expected. Two kinds of proof, kept apart:

- robust reading: every hostile shape leaves the healthy pages exactly as they are without it,
  and the hostile commune's page is made with the facts it could not read as "unknown";
- isolation: a failure forced in one commune's facts, page, PDF or sending (a monkeypatched
  stage, or a page that hangs a real Chromium) is reported with the commune and the reason, the
  others are written and sent (real aiosmtpd), nothing is recorded as sent for the failed one,
  and the exit status is 1 (a configuration error stays 2).
"""

from __future__ import annotations

import argparse
import logging
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sentinelle.cli import main
from sentinelle.collector.store import open_store
from sentinelle.report import build
from sentinelle.report.arguments import add_report_parser
from sentinelle.report.build import Outcome, build_month, describe
from sentinelle.report.cli import EXIT_COMMUNE_FAILED, MonthlyRun
from sentinelle.report.content import MonthlySummary, SummaryBuilder
from sentinelle.report.mail import SentLog
from sentinelle.report.render_html import render_html as real_render_html
from sentinelle.report.render_text import render_text as real_render_text
from sentinelle.report.wording import Page
from sentinelle.report.wording import build_page as real_build_page
from tests.conftest import need_tool
from tests.report.hostile import COMMUNES, HEALTHY, HOSTILE, HOSTILE_NAME, SHAPES, HostileMonth
from tests.report.mailserver import Inbox, need_aiosmtpd, report_config, smtp_server
from tests.report.scenario import MONTH, NOW

# Why the hostile commune's backup answer is unknown, by shape.
BODY_UNREADABLE = {"more-digits-than-the-parser-reads", "nested-100000-deep",
                   "results-not-a-list", "findings-not-objects"}
EXPECTED_REASON = {
    **{shape: "unreadable" for shape in SHAPES},
    **{shape: "no_data" for shape in BODY_UNREADABLE},
    "statuses-not-strings": "restore_test_old",  # the restore test did not say it passed
    "restore-test-in-year-one": "no_restore_test",  # its date is no date
}
FAILURE = "une panne \x1b[2Jimprévue\nligne forgée"  # control characters: escaped when shown


def _build(url: str) -> dict[str, Outcome]:
    store = open_store(url)
    try:
        return build_month(store, MONTH, now=NOW)
    finally:
        store.close()


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    add_report_parser(parser.add_subparsers(dest="command"))
    run = MonthlyRun(parser.parse_args(["report", "monthly", *argv]), now=NOW)
    try:
        return run.run()
    finally:
        run.close()


@pytest.fixture(scope="module")
def clean(
    hostile_month: HostileMonth, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Outcome]:
    """The three pages of the month before any hostile Report is stored."""
    outcomes = _build(hostile_month.copy(tmp_path_factory.mktemp("clean")))
    assert all(o.ok for o in outcomes.values())
    backup = _summary(outcomes, HOSTILE).backup
    assert (backup.answer, backup.reason) == ("yes", "ok")  # the hostile shapes' starting point
    return outcomes


def _text(outcomes: dict[str, Outcome], code: str) -> str:
    rendered = outcomes[code].rendered
    assert rendered is not None, outcomes[code].reason
    return rendered.text


def _summary(outcomes: dict[str, Outcome], code: str) -> MonthlySummary:
    rendered = outcomes[code].rendered
    assert rendered is not None, outcomes[code].reason
    return rendered.summary


@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_hostile_report_changes_nothing_for_the_others_and_is_read_as_unknown(
    shape: str, hostile_month: HostileMonth, clean: dict[str, Outcome], tmp_path: Path
) -> None:
    outcomes = _build(hostile_month.with_shapes(tmp_path, SHAPES[shape]))
    assert {c: (o.stage, o.reason) for c, o in outcomes.items()} == {
        c: (None, None) for c in COMMUNES
    }
    for code in HEALTHY:
        assert _text(outcomes, code) == _text(clean, code)
    broken, before = _summary(outcomes, HOSTILE), _summary(clean, HOSTILE)
    assert (broken.backup.answer, broken.backup.reason) == ("unknown", EXPECTED_REASON[shape])
    assert "Données de la semaine dernière récupérables : INCONNU" in _text(
        outcomes, HOSTILE)
    # Everything else on its page is what it was: no alert, fix or action made up from garbage.
    assert (broken.current, broken.actions, broken.fixed, broken.incidents) == (
        before.current, before.actions, before.fixed, before.incidents)
    assert broken.silences == before.silences


def test_snapshots_no_collector_should_have_stored_leave_the_others_alone(
    hostile_month: HostileMonth, clean: dict[str, Outcome], tmp_path: Path
) -> None:
    # Val-Piégé is Pré-Sain's and Bois-Sain's peer: its history is read for their pages too.
    outcomes = _build(hostile_month.with_broken_snapshots(tmp_path))
    for code in HEALTHY:
        assert _text(outcomes, code) == _text(clean, code)
    # The two unusable days are left out of its month; the other 29 make it.
    assert _summary(outcomes, HOSTILE).current.days == _summary(clean, HOSTILE).current.days - 2


def test_every_hostile_shape_at_once_through_the_command(
    hostile_month: HostileMonth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pdfinfo = need_tool("pdfinfo")
    need_tool("chromium")
    url = hostile_month.with_shapes(tmp_path / "store", *SHAPES.values())
    out = tmp_path / "review"
    assert _run("--month", "2026-03", "--store", url, "--out", str(out)) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{code}-2026-03.{ext}" for code in COMMUNES for ext in ("html", "pdf", "txt")
    )
    text = " ".join((out / f"{HOSTILE}-2026-03.txt").read_text(encoding="utf-8").split())
    assert "récupérables : INCONNU" in text
    for code in COMMUNES:
        info = subprocess.run([pdfinfo, str(out / f"{code}-2026-03.pdf")], capture_output=True,
                              text=True, check=True, timeout=60).stdout
        assert re.search(r"^Pages:\s+1$", info, re.M), code
    printed = capsys.readouterr()
    assert f"{HOSTILE} {HOSTILE_NAME} : A (100/100) — écrit dans" in printed.out
    assert printed.err == ""


@pytest.fixture
def page_fails_for_the_hostile_commune(monkeypatch: pytest.MonkeyPatch) -> None:
    """The text renderer raises for Val-Piégé's page only (the isolation, not the reading)."""
    def render_text(page: Page) -> str:
        if page.commune == HOSTILE_NAME:
            raise RuntimeError(FAILURE)
        return real_render_text(page)

    monkeypatch.setattr(build, "render_text", render_text)


def _sent(inbox: Inbox) -> set[str]:
    return {rcpt.split("@")[1].split(".")[0] for e in inbox.messages for rcpt in e.rcpt_tos}


@pytest.mark.usefixtures("page_fails_for_the_hostile_commune")
def test_a_page_that_fails_is_reported_and_the_others_are_sent(
    hostile_month: HostileMonth, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    need_aiosmtpd()
    need_tool("chromium")
    url = hostile_month.copy(tmp_path / "store")
    inbox = Inbox()
    with smtp_server(inbox) as port, caplog.at_level(logging.ERROR, "sentinelle.report"):
        config = str(report_config(tmp_path, port))
        args = ("--month", "2026-03", "--store", url, "--report-config", config, "--send")
        assert _run(*args) == EXIT_COMMUNE_FAILED == 1
        assert _sent(inbox) == set(HEALTHY)
        printed = capsys.readouterr()
        for code, name in HEALTHY.items():
            assert f"{code} {name} : A (100/100) — envoyé à 1 adresse" in printed.out
        # The failed commune, its stage and its reason, on one line whatever the reason holds.
        assert (f"{HOSTILE} {HOSTILE_NAME} : ÉCHEC (mise en page) : RuntimeError: une panne "
                r"\x1b[2Jimprévue\nligne forgée") in printed.err
        assert f"sentinelle : 1 commune en échec : {HOSTILE} (les autres" in printed.err
        assert "\x1b" not in printed.err
        assert [r.getMessage() for r in caplog.records if r.name == "sentinelle.report"] == [
            rf"commune {HOSTILE} failed (page): RuntimeError: une panne \x1b[2Jimprévue\nligne "
            "forgée"
        ]
        assert all(r.exc_info for r in caplog.records if r.name == "sentinelle.report")
        log = SentLog(tmp_path / "sent.json")
        assert all(log.get("2026-03", code) is not None for code in HEALTHY)
        assert log.get("2026-03", HOSTILE) is None
        # Fixed, the next run (the timer's next day) sends it, and only it.
        monkeypatch.undo()
        assert _run(*args) == 0
        assert len(inbox.messages) == 3 and _sent(inbox) == set(COMMUNES)
        assert log.get("2026-03", HOSTILE) is not None


@pytest.mark.parametrize("stage", ["facts", "pdf"])
def test_a_failure_at_any_stage_fails_that_commune_alone(
    stage: str, hostile_month: HostileMonth, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    pdfinfo = need_tool("pdfinfo")
    need_tool("chromium")
    if stage == "facts":
        real_build = SummaryBuilder.build

        def build_summary(self: SummaryBuilder, code: str, month: Any) -> MonthlySummary:
            if code == HOSTILE:
                raise KeyError("results")
            return real_build(self, code, month)

        monkeypatch.setattr(SummaryBuilder, "build", build_summary)
        reason = "KeyError: 'results'"
    else:
        # A page that never finishes loading in a real Chromium: its batch of three fails,
        # then each page is printed alone and only this one times out.
        def render_html(page: Page, image: str, for_print: bool = False) -> str:
            html = real_render_html(page, image, for_print)
            if for_print and page.commune == HOSTILE_NAME:
                html = html.replace("</body>", "<script>for(;;){}</script></body>")
            return html

        monkeypatch.setattr(build, "render_html", render_html)
        reason = "PdfError: Chromium sent no Page.loadEventFired within 5 s"
    config = report_config(tmp_path, 25, extra=("pdf:", "  timeout_seconds: 5"))
    out = tmp_path / "review"
    rc = _run("--month", "2026-03", "--store", hostile_month.copy(tmp_path / "store"),
              "--report-config", str(config), "--out", str(out))
    assert rc == EXIT_COMMUNE_FAILED
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{code}-2026-03.{ext}" for code in HEALTHY for ext in ("html", "pdf", "txt")
    )
    for code in HEALTHY:
        info = subprocess.run([pdfinfo, str(out / f"{code}-2026-03.pdf")], capture_output=True,
                              text=True, check=True, timeout=60).stdout
        assert re.search(r"^Pages:\s+1$", info, re.M), code
    err = capsys.readouterr().err
    word = {"facts": "données", "pdf": "PDF"}[stage]
    assert f"{HOSTILE} {HOSTILE_NAME} : ÉCHEC ({word}) : {reason}" in err


def test_build_month_gives_each_commune_its_outcome(
    hostile_month: HostileMonth, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = hostile_month.copy(tmp_path)

    def build_page(summary: MonthlySummary, *args: Any) -> Page:
        if summary.commune.code == "01020":
            raise ZeroDivisionError("division by zero")
        return real_build_page(summary, *args)

    monkeypatch.setattr(build, "build_page", build_page)
    outcomes = _build(url)
    assert list(outcomes) == sorted(COMMUNES)
    failed = outcomes["01020"]
    assert (failed.ok, failed.stage, failed.reason, failed.rendered) == (
        False, "page", "ZeroDivisionError: division by zero", None)
    assert all(outcomes[c].ok and outcomes[c].rendered is not None for c in ("01021", HOSTILE))


def test_text_mode_prints_the_others_and_the_exit_status_tells_failure_from_usage(
    hostile_month: HostileMonth, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    page_fails_for_the_hostile_commune: None,
) -> None:
    url = hostile_month.copy(tmp_path)
    # Through the real entry point: 1 when a commune failed, 2 for a configuration error.
    assert main(["report", "monthly", "--month", "2026-03", "--store", url]) == 1
    printed = capsys.readouterr()
    assert printed.out.count("Point mensuel de sécurité informatique") == 2
    assert all(f"{name} — Mars 2026" in printed.out for name in HEALTHY.values())
    assert HOSTILE_NAME not in printed.out
    assert f"{HOSTILE} {HOSTILE_NAME} : ÉCHEC (mise en page)" in printed.err
    assert main(["report", "monthly", "--month", "2026-13", "--store", url]) == 2


def test_describe_makes_one_bounded_printable_line() -> None:
    assert describe(ValueError("a\nb\x00c\x1b[31m")) == r"ValueError: a\nb\x00c\x1b[31m"
    assert describe(KeyError()) == "KeyError"
    long = describe(RuntimeError("x" * 1000))
    assert len(long) == build.REASON_CHARS and long.endswith("…")

