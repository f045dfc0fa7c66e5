"""Why a grade is capped, as `sentinelle check` tells it: the Score's `capped_by` is a code,
told with the catalog's words in the reader's language, and a Report stored with the former
English sentence reads the same."""

from __future__ import annotations

import dataclasses

import pytest

from sentinelle.console import render_table
from sentinelle.model import CheckRun, Finding, Report, Severity, Status
from sentinelle.rules import RuleSet, load_rules
from sentinelle.scoring import ScoringPolicy, score_findings
from sentinelle.texts import capped_text
from tests.cli.speech import foreign_in

CHECK = "backups.freshness"


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules()


def capped_report(rules: RuleSet) -> Report:
    """A host whose only open finding is a critical one: a good score, capped at D."""
    findings = [Finding(check=f"{family}.ok{i}", status=Status.PASS, severity=Severity.HIGH,
                        summary="ok") for family in ("ports", "backups") for i in range(30)]
    findings.append(Finding(check=CHECK, status=Status.FAIL, severity=Severity.CRITICAL,
                            summary="no backup"))
    score = score_findings(findings, ScoringPolicy.from_data(rules.scoring))
    assert score.grade == "D" and score.capped_by == f"critical_open:{CHECK}"
    return Report("r1", "2026-03-01T00:00:00Z", "test", {"hostname": "srv"},
                  (CheckRun(CHECK, Status.FAIL, 0.1),), tuple(findings), score)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_table_tells_the_cap_in_the_readers_language(rules: RuleSet, lang: str) -> None:
    report = capped_report(rules)
    expected = rules.catalog.render("console.capped", {
        "severity": rules.catalog.render("severity.critical", {}, lang),
        "title": rules.checks[CHECK].title[lang]}, lang)
    table = render_table(report, rules, lang)
    assert expected in table
    assert "critical_open" not in table and f"({CHECK})" not in table  # words, not the code
    line = next(x for x in table.splitlines() if expected in x)
    assert foreign_in(line, ["console.capped", "console.score", "console.open",
                             "console.open_count"], lang) == set()
    # The same Report as stored before the codes: the same words.
    old = dataclasses.replace(report, score=dataclasses.replace(
        report.score, capped_by=f"open critical finding ({CHECK})"))
    assert render_table(old, rules, lang) == table


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_cap_that_names_no_finding(rules: RuleSet, lang: str) -> None:
    severity = rules.catalog.render("severity.high", {}, lang)
    told = capped_text("high_open", rules, lang)
    assert told == rules.catalog.render("console.capped_host", {"severity": severity}, lang)
    assert capped_text("open high finding on a host", rules, lang) == told
    # With the findings at hand, the worst open one names it.
    worst = Finding(check=CHECK, status=Status.FAIL, severity=Severity.HIGH, summary="x")
    assert capped_text("high_open", rules, lang, worst) == rules.catalog.render(
        "console.capped", {"severity": severity, "title": rules.checks[CHECK].title[lang]}, lang)
    assert capped_text(None, rules, lang) is None
    assert capped_text("something else", rules, lang) is None
