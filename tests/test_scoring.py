"""The one scoring function: points by severity, categories, weights, grades, caps
(rules/scoring.yaml, docs/scoring.md). The general properties are in test_scoring_properties.py,
the documented worked example in test_scoring_example.py."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from sentinelle.errors import ConfigError
from sentinelle.model import Finding, Severity, Status
from sentinelle.rules import load_rules
from sentinelle.scoring import (
    ScoringPolicy,
    combine_scores,
    explain_outcomes,
    score_findings,
    score_outcomes,
)


@pytest.fixture(scope="module")
def policy() -> ScoringPolicy:
    return ScoringPolicy.from_data(load_rules().scoring)


def f(status: Status, severity: Severity, check: str = "backups.x") -> Finding:
    return Finding(check=check, status=status, severity=severity, summary="s")


def data() -> dict[str, Any]:
    return copy.deepcopy(load_rules().scoring)


def test_all_pass_is_a_perfect_a(policy: ScoringPolicy) -> None:
    score = score_findings([f(Status.PASS, Severity.CRITICAL, f"ports.c{i}") for i in range(5)],
                           policy)
    assert (score.value, score.grade, score.capped_by) == (100.0, "A", None)


def test_a_category_scores_points_earned_over_points_possible(policy: ScoringPolicy) -> None:
    # backups: 15 + 6 earned of 15 + 6 + 15 (a fail) + 3 (a warn: half a medium's 6 points).
    findings = [
        f(Status.PASS, Severity.HIGH, "backups.freshness"),
        f(Status.PASS, Severity.MEDIUM, "backups.restore_test"),
        f(Status.FAIL, Severity.HIGH, "backups.offline_copy"),
        f(Status.WARN, Severity.MEDIUM, "backups.size_change"),
    ]
    explained = explain_outcomes(((x.check, x.status, x.severity) for x in findings), policy)
    (backups,) = explained.categories
    assert (backups.name, backups.earned, backups.possible) == ("backups", 21.0, 39.0)
    assert explained.score.value == pytest.approx(100 * 21 / 39)
    assert explained.checks["backups.offline_copy"] == (0.0, 15.0)
    assert explained.checks["backups.size_change"] == (0.0, 3.0)
    assert score_findings(findings, policy) == explained.score


def test_the_host_is_the_weighted_mean_of_its_categories(policy: ScoringPolicy) -> None:
    findings = [
        f(Status.PASS, Severity.HIGH, "patching.os_support"),  # updates (3): 100 %
        f(Status.PASS, Severity.HIGH, "ports.risky_services"),  # exposure (3): 50 %
        f(Status.FAIL, Severity.HIGH, "firewall.active"),
        f(Status.WARN, Severity.MEDIUM, "time.synchronised"),  # supervision (1): 0 %
    ]
    score = score_findings(findings, policy)
    assert score.value == pytest.approx((3 * 100 + 3 * 50 + 1 * 0) / 7)


def test_a_family_no_category_lists_is_a_category_of_its_own(policy: ScoringPolicy) -> None:
    assert policy.category_of("patching.pending_updates") == "updates"
    assert policy.category_of("ssh.root_login") == "accounts"
    assert policy.category_of("lan.unknown_devices") == "network"  # listed, weight 2
    assert policy.category_of("wifi.open_network") == "wifi"
    assert policy.category_weight("wifi") == policy.default_category_weight == 1.0
    findings = [f(Status.PASS, Severity.HIGH, "backups.freshness"),  # backups (3): 100 %
                f(Status.FAIL, Severity.LOW, "wifi.open_network")]  # wifi (1): 0 %
    assert score_findings(findings, policy).value == pytest.approx(75.0)


def test_a_check_answers_once_however_many_findings(policy: ScoringPolicy) -> None:
    # pending_updates: a high fail (security updates) and a low warn (other updates) are one
    # open check worth 15 points, as one fail would be.
    both = [f(Status.FAIL, Severity.HIGH, "patching.pending_updates"),
            f(Status.WARN, Severity.LOW, "patching.pending_updates"),
            f(Status.PASS, Severity.HIGH, "patching.os_support")]
    one = [both[0], both[2]]
    assert score_findings(both, policy).value == score_findings(one, policy).value == 50.0
    assert score_findings(both, policy).open_by_severity["low"] == 1  # findings still counted
    # Passing with one finding per backup location: the check is worth its points once.
    locations = [f(Status.PASS, Severity.HIGH, "backups.freshness")] * 4 + [
        f(Status.FAIL, Severity.HIGH, "backups.offline_copy")]
    assert score_findings(locations, policy).value == 50.0


def test_a_warn_counts_half_a_fail(policy: ScoringPolicy) -> None:
    base = [f(Status.PASS, Severity.HIGH, "backups.freshness")]

    def with_(status: Status) -> float:
        return score_findings([*base, f(status, Severity.HIGH, "backups.offline_copy")],
                              policy).value

    assert with_(Status.PASS) == 100.0
    assert with_(Status.WARN) == pytest.approx(100 * 15 / 22.5)
    assert with_(Status.FAIL) == pytest.approx(50.0)


def test_errors_skips_and_info_count_neither_way(policy: ScoringPolicy) -> None:
    base = [f(Status.PASS, Severity.HIGH, "backups.freshness"),
            f(Status.FAIL, Severity.MEDIUM, "backups.restore_test")]
    noise = [f(Status.ERROR, Severity.CRITICAL, "backups.size_change"),
             f(Status.SKIP, Severity.HIGH, "ports.network_scan"),
             f(Status.ERROR, Severity.HIGH, "backups.freshness"),  # beside its own pass
             f(Status.WARN, Severity.INFO, "ports.listening")]
    assert score_findings(base + noise, policy).value == score_findings(base, policy).value
    score = score_findings(base + noise, policy)
    assert score.open_by_severity["critical"] == 0  # an error is not an open finding
    assert score.open_by_severity["info"] == 1


def test_nothing_answered_scores_0(policy: ScoringPolicy) -> None:
    # No evidence, no points: a host whose checks all break cannot look healthy.
    for findings in ([], [f(Status.ERROR, Severity.HIGH)], [f(Status.SKIP, Severity.HIGH)],
                     [f(Status.PASS, Severity.INFO, "ports.listening")]):
        score = score_findings(findings, policy)
        assert (score.value, score.grade, score.capped_by) == (0.0, "E", None)


def test_open_critical_caps_the_grade_whatever_the_score(policy: ScoringPolicy) -> None:
    passing = [f(Status.PASS, Severity.HIGH, f"{fam}.ok") for fam in
               ("patching", "backups", "accounts", "antivirus", "time")] * 3
    score = score_findings(
        [*passing, f(Status.WARN, Severity.CRITICAL, "ports.risky_services"),
         *(f(Status.PASS, Severity.HIGH, f"ports.ok{i}") for i in range(50))], policy)
    assert score.value > 90
    assert score.grade == "D"
    assert score.capped_by is not None and "ports.risky_services" in score.capped_by
    high = score_findings([*passing, f(Status.FAIL, Severity.HIGH, "firewall.active"),
                           *(f(Status.PASS, Severity.HIGH, f"ports.ok{i}") for i in range(50))],
                          policy)
    assert high.value > 90 and high.grade == "B" and high.capped_by


@pytest.mark.parametrize(
    ("value", "grade"),
    [(100, "A"), (90, "A"), (89.9, "B"), (75, "B"), (60, "C"), (59, "D"), (40, "D"), (39, "E")],
)
def test_grade_floors(policy: ScoringPolicy, value: float, grade: str) -> None:
    assert policy.grade_for(value) == grade


def test_a_score_on_a_floor_gets_that_grade(policy: ScoringPolicy) -> None:
    # 3 × 0.8 is 2.4000000000000004 in floating point: the score is rounded (to a millionth)
    # so that exactly 90 or 80 does not come out a hair below.
    ninety = [f(Status.PASS, Severity.MEDIUM, f"backups.ok{i}") for i in range(9)]
    score = score_findings([*ninety, f(Status.FAIL, Severity.MEDIUM, "backups.ko")], policy)
    assert (score.value, score.grade) == (90.0, "A")
    eighty = [f(Status.PASS, Severity.HIGH, f"backups.ok{i}") for i in range(4)]
    assert score_findings([*eighty, f(Status.FAIL, Severity.HIGH, "backups.ko")],
                          policy).value == 80.0


def test_commune_score_is_mean_and_keeps_worst_cap(policy: ScoringPolicy) -> None:
    good = score_findings([f(Status.PASS, Severity.HIGH)], policy)
    capped = score_findings([f(Status.PASS, Severity.HIGH, "backups.freshness"),
                             f(Status.WARN, Severity.LOW, "backups.restore_test"),
                             *(f(Status.PASS, Severity.HIGH, f"ports.ok{i}") for i in range(3)),
                             f(Status.WARN, Severity.CRITICAL, "ports.risky_services")], policy)
    # backups 15 of 16 points, exposure 45 of 65 (a critical warn puts 20 at stake): a B,
    # capped at D.
    assert capped.value == pytest.approx((100 * 15 / 16 + 100 * 45 / 65) / 2)
    assert capped.grade == "D" and capped.capped_by
    commune = combine_scores([good, capped], policy)
    assert commune.value == pytest.approx((100 + capped.value) / 2)
    assert commune.grade == "D"
    assert commune.open_by_severity["critical"] == 1
    assert commune.capped_by is not None and "ports.risky_services" in commune.capped_by


def test_commune_is_capped_even_when_the_host_was_not(policy: ScoringPolicy) -> None:
    # One open high on a host: 80 is a B already, so the host records no cap; the commune's
    # mean (90) would be an A, but the open high keeps the commune at B.
    host = score_findings([f(Status.PASS, Severity.HIGH, f"backups.ok{i}") for i in range(4)]
                          + [f(Status.FAIL, Severity.HIGH, "backups.offline_copy")], policy)
    assert (host.value, host.grade, host.capped_by) == (80.0, "B", None)
    clean = score_findings([f(Status.PASS, Severity.HIGH)], policy)
    commune = combine_scores([host, clean], policy)
    assert commune.value == pytest.approx(90.0)
    assert commune.grade == "B" and commune.capped_by
    with pytest.raises(ValueError, match="no host"):
        combine_scores([], policy)


def test_status_factors_are_what_an_open_finding_puts_at_stake(policy: ScoringPolicy) -> None:
    # The monthly report weighs its actions with them (points × factor): pass, error and skip
    # put nothing at stake.
    assert dict(policy.status_factors) == {Status.FAIL: 1.0, Status.WARN: 0.5, Status.PASS: 0.0,
                                          Status.ERROR: 0.0, Status.SKIP: 0.0}
    assert policy.severity_weights[Severity.HIGH] == 15


def test_every_family_of_the_catalog_has_a_category(policy: ScoringPolicy) -> None:
    """A new family lands in the default category silently otherwise: say where it belongs."""
    listed = {fam for c in policy.categories for fam in c.families}
    families = {check.split(".")[0] for check in load_rules().checks}
    assert families <= listed, f"add {sorted(families - listed)} to a category of scoring.yaml"


def test_the_lookup_cache_stays_bounded(policy: ScoringPolicy) -> None:
    fresh = ScoringPolicy.from_data(load_rules().scoring)
    for n in range(0, 10_000, 500):
        score_outcomes(((f"hostile{n + i}.x", "pass", "high") for i in range(500)), fresh)
    assert len(fresh._check_category) <= 4096
    assert score_outcomes([("hostile9999.x", "fail", "high")], fresh).value == 0.0


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda d: d.update(grades={"A": 50, "B": 75, "C": 60, "D": 40, "E": 0}), "decreasing"),
        (lambda d: d["severity_weights"].update(critical="lots"), r"severity_weights\.critical"),
        (lambda d: d["status_factors"].update(error=0.25), r"status_factors\.error.*neither"),
        (lambda d: d["status_factors"].update(warn=1.5), r"status_factors\.warn"),
        (lambda d: d["status_factors"].update(fail=0), r"status_factors\.fail"),
        (lambda d: d["categories"]["updates"].update(weight=0), r"categories\.updates\.weight"),
        (lambda d: d["categories"]["backups"]["families"].append("ports"),
         r"categories\.backups\.families.*ports is already in exposure"),
        (lambda d: d["categories"]["supervision"]["families"].append("backups"),
         r"categories\.supervision.*backups"),
        (lambda d: d["categories"]["exposure"]["families"].append("supervision"),
         r"categories\.exposure.*not the name of another category \(supervision\)"),
        (lambda d: d["categories"]["updates"].update(families=[]), r"categories\.updates"),
        (lambda d: d["categories"].update(lan={"weight": 1}), r"categories\.lan\.families"),
        (lambda d: d["categories"]["updates"].update(weigth=2), r"categories\.updates\.weigth"),
        (lambda d: d.update(default_category_weight=0), "default_category_weight"),
    ],
)
def test_bad_scoring_file_is_named(edit: Any, key: str) -> None:
    bad = data()
    edit(bad)
    with pytest.raises(ConfigError) as err:
        ScoringPolicy.from_data(bad, "rules/scoring.yaml")
    assert re.search(key, err.value.render("en")), err.value.render("en")
    # In one language: the French rendering says it in French, file and key as they are.
    assert "clé « " in err.value.render("fr") and " key '" not in err.value.render("fr")


def test_capped_by_is_a_code_and_the_former_sentences_still_read(policy: ScoringPolicy) -> None:
    """`capped_by` is data (`critical_open:ports.risky_services`, `high_open`), never a
    sentence; Reports and snapshots stored with the former English sentences still read."""
    from sentinelle.model import Score
    from sentinelle.scoring import Cap, parse_cap

    host = score_findings([*(f(Status.PASS, Severity.HIGH, f"ports.ok{i}") for i in range(50)),
                           f(Status.WARN, Severity.CRITICAL, "ports.risky_services")], policy)
    assert host.grade == "D" and host.capped_by == "critical_open:ports.risky_services"
    unnamed = score_findings([f(Status.PASS, Severity.HIGH, f"backups.ok{i}") for i in range(4)]
                             + [f(Status.FAIL, Severity.HIGH, "backups.offline_copy")], policy)
    clean = score_findings([f(Status.PASS, Severity.HIGH)], policy)
    assert combine_scores([unnamed, clean], policy).capped_by == "high_open"
    assert parse_cap("critical_open:ports.risky_services") == Cap("critical",
                                                                  "ports.risky_services")
    assert parse_cap("high_open") == Cap("high") and Cap("high").code == "high_open"
    assert parse_cap("open critical finding (backups.freshness)") == Cap("critical",
                                                                         "backups.freshness")
    assert parse_cap("open high finding on a host") == Cap("high")
    assert [parse_cap(t) for t in (None, "", "huge_open", "plafonné", "open big finding")] == [
        None] * 5
    # A commune made of a host snapshot stored before the codes: its cap is read and re-coded.
    old = Score(host.value, host.grade, "open critical finding (ports.risky_services)",
                host.open_by_severity)
    stored = Score.from_dict(old.to_dict())
    assert combine_scores([stored, clean], policy).capped_by == (
        "critical_open:ports.risky_services")
