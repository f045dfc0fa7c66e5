"""The properties the score promises (docs/scoring.md), over generated finding sets.

Seeded and bounded: every property runs on CASES finding sets drawn from random.Random(seed),
under the shipped rules/scoring.yaml and under random valid policies (other points, factors,
categories and weights), so that what is proven is the shape of the score, not one set of
numbers. A failure names the seed and the case: `_case(seed, i)` rebuilds it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from sentinelle.model import Score, Severity, Status
from sentinelle.rules import load_rules
from sentinelle.scoring import GRADES, ScoringPolicy, combine_scores, score_outcomes

Outcome = tuple[str, str, str]

CASES = 300
EPS = 1e-9  # float summation order: equal scores may differ in the last bits
# Listed families of the shipped categories, and families no category lists.
FAMILIES = ("patching", "updates", "ports", "firewall", "backups", "accounts", "ssh",
            "antivirus", "time", "logs", "lan", "windows")
STATUSES = tuple(s.value for s in Status)
SEVERITIES = tuple(s.value for s in Severity)
OPEN = ("warn", "fail")


def _shipped() -> ScoringPolicy:
    return ScoringPolicy.from_data(load_rules().scoring)


def _random_policy(rng: random.Random) -> ScoringPolicy:
    """A valid policy with random numbers: categories over a random split of FAMILIES."""
    families = list(FAMILIES)
    rng.shuffle(families)
    cut = sorted(rng.sample(range(1, len(families)), rng.randint(0, 4)))
    groups = [families[a:b] for a, b in zip([0, *cut], [*cut, len(families)], strict=True)]
    # Some families stay out of every category: they are categories of their own.
    categories = {
        f"cat{i}": {"weight": rng.choice([0.5, 1, 2, 3, 5]), "families": g[: max(1, len(g) - 1)]}
        for i, g in enumerate(groups)
    }
    fail = rng.choice([1.0, 0.8, 0.5])
    data: dict[str, Any] = {
        "severity_weights": {s: rng.choice([0, 1, 2, 5, 6, 15, 40]) for s in SEVERITIES},
        "status_factors": {"fail": fail, "warn": rng.choice([0.0, 0.25, 0.5, fail])},
        "categories": categories,
        "default_category_weight": rng.choice([0.5, 1, 2]),
        "grades": {"A": 90, "B": 75, "C": 60, "D": 40, "E": 0},
        "caps": {"critical": "D", "high": "B"},
    }
    return ScoringPolicy.from_data(data, "(generated)")


def _findings(rng: random.Random, statuses: Sequence[str] = STATUSES) -> list[Outcome]:
    """Up to 30 checks of random families, one to three findings each."""
    out: list[Outcome] = []
    for n in range(rng.randint(0, 30)):
        check = f"{rng.choice(FAMILIES)}.check_{n}"
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            out.append((check, rng.choice(statuses), rng.choice(SEVERITIES)))
    rng.shuffle(out)
    return out


def _case(seed: int, i: int) -> tuple[random.Random, ScoringPolicy]:
    rng = random.Random(seed * 100_003 + i)
    policy = _SHIPPED if i % 2 == 0 else _random_policy(rng)
    return rng, policy


_SHIPPED = _shipped()


def cases(seed: int) -> Iterator[tuple[int, random.Random, ScoringPolicy]]:
    for i in range(CASES):
        rng, policy = _case(seed, i)
        yield i, rng, policy


def _insert(rng: random.Random, findings: list[Outcome], new: Outcome) -> list[Outcome]:
    out = list(findings)
    out.insert(rng.randint(0, len(out)), new)
    return out


def _points(policy: ScoringPolicy, severity: str) -> float:
    return policy.severity_weights[Severity(severity)]


def _rank(grade: str) -> int:
    return GRADES.index(grade)


def test_all_checks_passing_is_100() -> None:
    for i, rng, policy in cases(1):
        findings = _findings(rng, statuses=("pass",))
        findings = _insert(rng, findings, (f"{rng.choice(FAMILIES)}.worth", "pass", "high"))
        if _points(policy, "high") == 0:
            findings.append(("backups.worth", "pass", "critical"))
            if _points(policy, "critical") == 0:
                continue
        # Errors, skips and info findings around them change nothing.
        noise = [(f"{rng.choice(FAMILIES)}.noise_{k}", rng.choice(("error", "skip")),
                  rng.choice(SEVERITIES)) for k in range(rng.randint(0, 5))]
        if _points(policy, "info") == 0:  # info is worth nothing: open or not, it is noise
            noise += [(f"{rng.choice(FAMILIES)}.info_{k}", rng.choice(OPEN), "info")
                      for k in range(rng.randint(0, 2))]
        score = score_outcomes(findings + noise, policy)
        assert (score.value, score.grade) == (100.0, "A"), (1, i, findings + noise)


def test_adding_a_passing_check_never_lowers_a_score() -> None:
    for i, rng, policy in cases(2):
        findings = _findings(rng)
        before = score_outcomes(findings, policy)
        # A new check that passes, in a listed or an unlisted family ...
        added = _insert(rng, findings, (f"{rng.choice(FAMILIES)}.new", "pass",
                                        rng.choice(SEVERITIES)))
        after = score_outcomes(added, policy)
        assert after.value >= before.value - EPS, (2, i, findings, added)
        assert _rank(after.grade) <= _rank(before.grade), (2, i)
        # ... and, more generally, any passing finding, even on a check already there.
        if findings:
            check = rng.choice(findings)[0]
            more = _insert(rng, findings, (check, "pass", rng.choice(SEVERITIES)))
            assert score_outcomes(more, policy).value >= before.value - EPS, (2, i, more)


def test_more_open_findings_never_raise_a_score() -> None:
    for i, rng, policy in cases(3):
        findings = _findings(rng)
        before = score_outcomes(findings, policy)
        checks = [c for c, _, _ in findings]
        check = rng.choice(checks) if checks and rng.random() < 0.5 else (
            f"{rng.choice(FAMILIES)}.new")
        added = _insert(rng, findings, (check, rng.choice(OPEN), rng.choice(SEVERITIES)))
        after = score_outcomes(added, policy)
        assert after.value <= before.value + EPS, (3, i, findings, added)
        assert _rank(after.grade) >= _rank(before.grade), (3, i, findings, added)


def test_a_better_status_never_lowers_a_score() -> None:
    better = {"fail": ("warn", "pass"), "warn": ("pass",)}
    for i, rng, policy in cases(4):
        findings = _findings(rng)
        open_at = [k for k, (_, s, _) in enumerate(findings) if s in OPEN]
        if not open_at:
            continue
        k = rng.choice(open_at)
        check, status, severity = findings[k]
        improved = list(findings)
        improved[k] = (check, rng.choice(better[status]), severity)
        assert (score_outcomes(improved, policy).value
                >= score_outcomes(findings, policy).value - EPS), (4, i, findings, improved)


def test_errors_and_skips_count_neither_way() -> None:
    for i, rng, policy in cases(5):
        findings = _findings(rng)
        before = score_outcomes(findings, policy)
        noisy = list(findings)
        known = [c for c, _, _ in findings]
        for _ in range(rng.randint(1, 5)):
            # On new checks or on checks already there, whatever their severity.
            if known and rng.random() < 0.5:
                check = rng.choice(known)
            else:
                check = f"{rng.choice(FAMILIES)}.broken"
            noisy = _insert(rng, noisy, (check, rng.choice(("error", "skip")),
                                         rng.choice(SEVERITIES)))
        after = score_outcomes(noisy, policy)
        assert after.value == pytest.approx(before.value, abs=EPS), (5, i, findings, noisy)
        assert after.grade == before.grade, (5, i)


def test_one_open_critical_caps_the_grade_whatever_the_count() -> None:
    for i, rng, policy in cases(6):
        # However many checks pass around it, in whatever categories.
        findings = _findings(rng, statuses=("pass", "pass", "pass", "skip"))
        findings += [(f"{rng.choice(FAMILIES)}.ok_{k}", "pass", rng.choice(SEVERITIES))
                     for k in range(rng.choice((0, 10, 100, 1000)))]
        status = rng.choice(OPEN)
        critical = _insert(rng, findings, ("ports.risky_services", status, "critical"))
        score = score_outcomes(critical, policy)
        assert score.grade in ("D", "E"), (6, i, score)
        if policy.grade_for(score.value) in ("A", "B", "C"):
            assert score.capped_by is not None and "ports.risky_services" in score.capped_by
        assert score.open_by_severity["critical"] == 1
        high = _insert(rng, findings, ("backups.offline_copy", status, "high"))
        assert score_outcomes(high, policy).grade in ("B", "C", "D", "E"), (6, i)


def test_scores_stay_between_0_and_100_and_ignore_order() -> None:
    for i, rng, policy in cases(7):
        findings = _findings(rng)
        score = score_outcomes(findings, policy)
        assert 0.0 <= score.value <= 100.0, (7, i, score)
        assert _rank(score.grade) >= _rank(policy.grade_for(score.value)), (7, i)
        shuffled = list(findings)
        rng.shuffle(shuffled)
        again = score_outcomes(shuffled, policy)
        assert again.value == pytest.approx(score.value, abs=EPS), (7, i)
        assert (again.grade, dict(again.open_by_severity)) == (
            score.grade, dict(score.open_by_severity)), (7, i)
        # Finding objects and plain strings (the collector's path) score alike.
        members = [(c, Status(s), Severity(v)) for c, s, v in findings]
        assert score_outcomes(members, policy) == score


def test_the_score_drops_more_for_a_fail_than_for_a_warn() -> None:
    """A warn counts partly: between a pass and a fail, whenever the check is worth points and
    its category has other points earned."""
    for i, rng, policy in cases(8):
        if policy.status_factors[Status.WARN] in (0.0, policy.status_factors[Status.FAIL]):
            continue
        findings = _findings(rng, statuses=("pass", "pass", "warn", "fail", "skip"))
        findings.append(("backups.anchor", "pass", "high"))
        if _points(policy, "high") == 0:
            continue
        check = "backups.judged"
        got = {s: score_outcomes([*findings, (check, s, "high")], policy).value
               for s in ("pass", "warn", "fail")}
        assert got["pass"] > got["warn"] > got["fail"], (8, i, got)


def _host(rng: random.Random, policy: ScoringPolicy) -> Score:
    return score_outcomes(_findings(rng), policy)


def test_the_commune_score_is_the_mean_of_its_hosts_capped_by_any_host() -> None:
    for i, rng, policy in cases(9):
        hosts = [_host(rng, policy) for _ in range(rng.randint(1, 6))]
        commune = combine_scores(hosts, policy)
        mean = sum(h.value for h in hosts) / len(hosts)
        assert commune.value == pytest.approx(mean, abs=EPS), (9, i)
        assert min(h.value for h in hosts) - EPS <= commune.value <= max(
            h.value for h in hosts) + EPS
        # Never better than its value's grade, nor than any host's open critical or high.
        assert _rank(commune.grade) >= _rank(policy.grade_for(commune.value)), (9, i)
        if any(h.open_by_severity["critical"] for h in hosts):
            assert commune.grade in ("D", "E"), (9, i, hosts, commune)
        elif any(h.open_by_severity["high"] for h in hosts):
            assert commune.grade in ("B", "C", "D", "E"), (9, i, hosts, commune)
        else:
            assert commune.grade == policy.grade_for(commune.value)
        for sev in SEVERITIES:
            assert commune.open_by_severity[sev] == sum(h.open_by_severity[sev] for h in hosts)
        # A host that improves never lowers the commune; every host at 100 is 100.
        k = rng.randrange(len(hosts))
        better = list(hosts)
        better[k] = score_outcomes([("backups.fine", "pass", "high")], _SHIPPED)
        assert combine_scores(better, policy).value >= commune.value - EPS, (9, i)
    perfect = score_outcomes([("backups.fine", "pass", "high")], _SHIPPED)
    assert combine_scores([perfect] * 7, _SHIPPED).value == 100.0
