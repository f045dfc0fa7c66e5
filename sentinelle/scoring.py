"""One scoring function for the agent, the collector, the dashboards and the mayor report.

The rules are data in rules/scoring.yaml and are explained in docs/scoring.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sentinelle.errors import ConfigError
from sentinelle.model import Finding, Score, Severity, Status
from sentinelle.validation import Section

GRADES = ("A", "B", "C", "D", "E")


@dataclass(frozen=True)
class ScoringPolicy:
    """Weights, grade thresholds and caps, validated from rules/scoring.yaml."""

    severity_weights: Mapping[Severity, float]
    status_factors: Mapping[Status, float]
    grade_floors: tuple[tuple[str, float], ...]  # best first
    caps: Mapping[Severity, str]

    @classmethod
    def from_data(cls, data: Any, source: str = "rules/scoring.yaml") -> ScoringPolicy:
        top = Section(source, "", data)
        weights_sec = top.section("severity_weights")
        weights = {s: float(weights_sec.number(s.value, minimum=0)) for s in Severity}
        weights_sec.done()
        factors_sec = top.section("status_factors")
        factors = {s: float(factors_sec.number(s.value, minimum=0, maximum=1)) for s in Status}
        factors_sec.done()
        grades_sec = top.section("grades")
        floors = tuple((g, float(grades_sec.number(g, minimum=0, maximum=100))) for g in GRADES)
        grades_sec.done()
        if [f for _, f in floors] != sorted((f for _, f in floors), reverse=True):
            raise ConfigError(source, "grades", "floors decreasing from A to E")
        caps_sec = top.section("caps")
        caps: dict[Severity, str] = {}
        for name in list(caps_sec.data):
            if name not in {s.value for s in Severity}:
                raise caps_sec.error(str(name), "a severity name")
            caps[Severity(name)] = caps_sec.choice(str(name), GRADES)
        caps_sec.done()
        top.done()
        return cls(weights, factors, floors, caps)

    def grade_for(self, value: float) -> str:
        for grade, floor in self.grade_floors:
            if value >= floor:
                return grade
        return GRADES[-1]


def _worse(a: str, b: str) -> str:
    return a if GRADES.index(a) >= GRADES.index(b) else b


def score_findings(findings: Iterable[Finding], policy: ScoringPolicy) -> Score:
    """Host score: 100 minus each finding's severity weight times its status factor."""
    return score_outcomes(((f.check, f.status, f.severity) for f in findings), policy)


def score_outcomes(outcomes: Iterable[tuple[str, str, str]], policy: ScoringPolicy) -> Score:
    """`score_findings` on (check, status, severity) strings, for callers holding plain JSON
    (the collector's ingest path) rather than Finding objects."""
    weights, factors, caps = policy.severity_weights, policy.status_factors, policy.caps
    penalty = 0.0
    open_counts = {s.value: 0 for s in Severity}
    cap_grade: str | None = None
    cap_reason: str | None = None
    for check, status, severity in outcomes:
        # Severity and Status are StrEnums: plain strings index the policy tables.
        penalty += weights[severity] * factors[status]  # type: ignore[index]
        if status in _OPEN:
            open_counts[severity] += 1
            cap = caps.get(severity)  # type: ignore[call-overload]
            if cap and (cap_grade is None or _worse(cap, cap_grade) == cap):
                cap_grade, cap_reason = cap, f"open {severity} finding ({check})"
    value = max(0.0, 100.0 - penalty)
    grade = policy.grade_for(value)
    capped_by = None
    if cap_grade is not None and _worse(cap_grade, grade) == cap_grade and cap_grade != grade:
        grade, capped_by = cap_grade, cap_reason
    return Score(value=value, grade=grade, capped_by=capped_by, open_by_severity=open_counts)


_OPEN = frozenset((Status.WARN.value, Status.FAIL.value))


def combine_scores(scores: Iterable[Score], policy: ScoringPolicy) -> Score:
    """A commune's score: the mean of its hosts' scores, graded no better than the cap of the
    worst open finding on any of its hosts (a host whose own score already sat at its cap
    still caps the commune: RDP open on one server keeps the commune at B at best)."""
    items = list(scores)
    if not items:
        raise ValueError("no host score to combine")
    value = sum(s.value for s in items) / len(items)
    grade = policy.grade_for(value)
    capped_by = None
    counts = {s.value: 0 for s in Severity}
    for s in items:
        for sev, n in s.open_by_severity.items():
            counts[sev] = counts.get(sev, 0) + n
    for sev in Severity:  # worst severity first: the first cap that bites is the tightest
        cap = policy.caps.get(sev)
        if cap and counts.get(sev.value, 0) and _worse(cap, grade) == cap and cap != grade:
            grade, capped_by = cap, f"open {sev.value} finding on a host"
            break
    for s in items:  # name the finding when a host recorded which one it was
        if capped_by and s.capped_by and s.grade == grade:
            capped_by = s.capped_by
            break
    return Score(value=value, grade=grade, capped_by=capped_by, open_by_severity=counts)
