"""The one scoring function: weights from rules/scoring.yaml, grades, caps."""

from __future__ import annotations

import pytest

from sentinelle.errors import ConfigError
from sentinelle.model import Finding, Severity, Status
from sentinelle.rules import load_rules
from sentinelle.scoring import ScoringPolicy, combine_scores, score_findings


@pytest.fixture(scope="module")
def policy() -> ScoringPolicy:
    return ScoringPolicy.from_data(load_rules().scoring)


def f(status: Status, severity: Severity, check: str = "x.y") -> Finding:
    return Finding(check=check, status=status, severity=severity, summary="s")


def test_all_pass_is_a_perfect_a(policy: ScoringPolicy) -> None:
    score = score_findings([f(Status.PASS, Severity.CRITICAL)] * 5, policy)
    assert (score.value, score.grade, score.capped_by) == (100.0, "A", None)


def test_penalties_follow_weights_and_status_factors(policy: ScoringPolicy) -> None:
    findings = [
        f(Status.FAIL, Severity.HIGH),
        f(Status.WARN, Severity.MEDIUM),
        f(Status.ERROR, Severity.LOW),
    ]
    expected = 100 - (15 * 1.0 + 6 * 0.5 + 2 * 0.25)
    score = score_findings(findings, policy)
    assert score.value == pytest.approx(expected)
    assert score.open_by_severity["high"] == 1
    assert score.open_by_severity["medium"] == 1
    assert score.open_by_severity["low"] == 0  # an error is not an open finding


def test_open_critical_caps_the_grade_whatever_the_score(policy: ScoringPolicy) -> None:
    # A warn on a critical costs 20 points: score 80 would be a B, the cap makes it a D.
    score = score_findings([f(Status.WARN, Severity.CRITICAL, "ports.risky_services")], policy)
    assert score.value == pytest.approx(80.0)
    assert score.grade == "D"
    assert score.capped_by is not None and "ports.risky_services" in score.capped_by


def test_score_never_goes_below_zero(policy: ScoringPolicy) -> None:
    score = score_findings([f(Status.FAIL, Severity.CRITICAL)] * 10, policy)
    assert score.value == 0.0 and score.grade == "E"


@pytest.mark.parametrize(
    ("value", "grade"),
    [(100, "A"), (90, "A"), (89.9, "B"), (75, "B"), (60, "C"), (59, "D"), (40, "D"), (39, "E")],
)
def test_grade_floors(policy: ScoringPolicy, value: float, grade: str) -> None:
    assert policy.grade_for(value) == grade


def test_commune_score_is_mean_and_keeps_worst_cap(policy: ScoringPolicy) -> None:
    good = score_findings([f(Status.PASS, Severity.HIGH)], policy)
    capped = score_findings([f(Status.WARN, Severity.CRITICAL)], policy)
    commune = combine_scores([good, capped], policy)
    assert commune.value == pytest.approx(90.0)
    assert commune.grade == "D"
    assert commune.open_by_severity["critical"] == 1


def test_bad_scoring_file_is_named() -> None:
    data = dict(load_rules().scoring)
    data["grades"] = {"A": 50, "B": 75, "C": 60, "D": 40, "E": 0}
    with pytest.raises(ConfigError, match="decreasing"):
        ScoringPolicy.from_data(data, "rules/scoring.yaml")
    data = dict(load_rules().scoring)
    data["severity_weights"] = {**data["severity_weights"], "critical": "lots"}
    with pytest.raises(ConfigError, match=r"severity_weights\.critical"):
        ScoringPolicy.from_data(data)


def test_commune_is_capped_even_when_the_host_was_not(policy: ScoringPolicy) -> None:
    # One open high on a host: 85 is a B already, so the host records no cap; the commune's
    # mean (92.5) would be an A, but the open high keeps the commune at B.
    host = score_findings([f(Status.FAIL, Severity.HIGH, "ports.risky_services")], policy)
    assert (host.grade, host.capped_by) == ("B", None)
    clean = score_findings([f(Status.PASS, Severity.HIGH)], policy)
    commune = combine_scores([host, clean], policy)
    assert commune.value == pytest.approx(92.5)
    assert commune.grade == "B" and commune.capped_by
