"""One scoring function for the agent, the collector, the dashboards and the mayor report.

A hardening index: each check that gave an answer is worth points by severity; a passing check
earns them, an open one (warn or fail) earns nothing and puts its points (a share of them for a
warn) on the table; a category's score is its points earned over its points possible, and the
host's score is the weighted mean of its categories. Error and skip findings count neither way.
An open critical or high finding caps the grade whatever the score. The rules are data in
rules/scoring.yaml and are explained, with a worked example, in docs/scoring.md.

A Score's `capped_by` is a code, not a sentence: `critical_open:backups.freshness` (the
severity whose cap lowered the grade and the check of the finding), or `high_open` for a
commune whose hosts did not say which finding it was. People read it through the catalog
(`sentinelle.texts.capped_text`); `parse_cap` also reads the English sentences that Reports
and stored snapshots carried before ("open critical finding (backups.freshness)").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sentinelle.errors import expect, problem
from sentinelle.model import Finding, Score, Severity, Status
from sentinelle.validation import Section

GRADES = ("A", "B", "C", "D", "E")
OPEN_STATUSES = (Status.WARN, Status.FAIL)
_OPEN = frozenset(s.value for s in OPEN_STATUSES)
_PASS = Status.PASS.value
_SEVERITY_NAMES = tuple(s.value for s in Severity)
_CATEGORY_CACHE_SIZE = 4096  # distinct check ids remembered; the catalog has a few hundred


@dataclass(frozen=True)
class Cap:
    """What capped a grade: an open finding of `severity`, of check `check` when known."""

    severity: str
    check: str | None = None

    @property
    def code(self) -> str:
        """The stable form a Score carries in `capped_by`: `critical_open:backups.freshness`."""
        return f"{self.severity}_open" + (f":{self.check}" if self.check else "")


_CAP_CODE = re.compile(r"(?P<severity>[a-z]+)_open(?::(?P<check>[^\s:()]+))?")
# What Reports and snapshots written before the codes carry: "open critical finding
# (backups.freshness)" for a host, "open high finding on a host" for a commune.
_CAP_SENTENCE = re.compile(
    r"open (?P<severity>[a-z]+) finding(?: \((?P<check>[^\s()]+)\)| on a host)?")


def parse_cap(capped_by: str | None) -> Cap | None:
    """The cap a Score's `capped_by` names, in its code or in the former English sentence;
    None when there is none, or for a text that names no known severity."""
    if not capped_by:
        return None
    text = capped_by.strip()
    match = _CAP_CODE.fullmatch(text) or _CAP_SENTENCE.fullmatch(text)
    if match is None or match["severity"] not in _SEVERITY_NAMES:
        return None
    return Cap(match["severity"], match["check"])


@dataclass(frozen=True)
class Category:
    """Families of checks scored together, and the weight of their score in the host's."""

    name: str
    weight: float
    families: tuple[str, ...]


@dataclass(frozen=True)
class ScoringPolicy:
    """Points, factors, categories, grade floors and caps, validated from rules/scoring.yaml.

    `severity_weights` are the points a check is worth by severity; `status_factors` the share
    of those points an open finding puts at stake (fail 1, warn a part; pass, error and skip
    0: a pass earns its points, error and skip count neither way). Build it once (the
    collector keeps one for its lifetime): scoring a Report reads only the lookup tables made
    here.
    """

    severity_weights: Mapping[Severity, float]
    status_factors: Mapping[Status, float]
    grade_floors: tuple[tuple[str, float], ...]  # best first
    caps: Mapping[Severity, str]
    categories: tuple[Category, ...] = ()
    default_category_weight: float = 1.0
    # Lookup tables on plain strings, derived from the fields above (see __post_init__).
    _stakes: Mapping[str, Mapping[str, float]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _category_of: Mapping[str, str] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _weights: Mapping[str, float] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _caps: Mapping[str, str] = field(init=False, repr=False, compare=False, default_factory=dict)
    # Check id -> category, filled as check ids are met (bounded: ids come from agents).
    _check_category: dict[str, str] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        points = {s.value: float(self.severity_weights.get(s, 0.0)) for s in Severity}
        stakes: dict[str, dict[str, float]] = {}
        for status in Status:
            if status is Status.PASS:
                factor = 1.0  # a pass is worth its points, and earns them
            elif status in OPEN_STATUSES:
                factor = float(self.status_factors.get(status, 0.0))
            else:
                factor = 0.0  # error, skip: count neither way
            stakes[status.value] = {sev: p * factor for sev, p in points.items()}
        category_of = {fam: c.name for c in self.categories for fam in c.families}
        object.__setattr__(self, "_stakes", stakes)
        object.__setattr__(self, "_category_of", category_of)
        object.__setattr__(self, "_weights", {c.name: c.weight for c in self.categories})
        object.__setattr__(self, "_caps", {s.value: g for s, g in self.caps.items()})

    @classmethod
    def from_data(cls, data: Any, source: str = "rules/scoring.yaml") -> ScoringPolicy:
        top = Section(source, "", data)
        weights_sec = top.section("severity_weights")
        weights = {s: float(weights_sec.number(s.value, minimum=0)) for s in Severity}
        weights_sec.done()
        factors_sec = top.section("status_factors")
        factors = {s: 0.0 for s in Status}
        for s in OPEN_STATUSES:
            factors[s] = float(factors_sec.number(s.value, minimum=0, maximum=1))
        if factors[Status.FAIL] <= 0:
            raise factors_sec.error("fail", expect("number_above", minimum=0), factors[Status.FAIL])
        if factors[Status.WARN] > factors[Status.FAIL]:
            raise factors_sec.error("warn", expect("factor_not_above", other="fail"),
                                    factors[Status.WARN])
        for s in (Status.PASS, Status.ERROR, Status.SKIP):
            if factors_sec.has(s.value):
                raise factors_sec.error(s.value, problem("no_factor"))
        factors_sec.done()
        categories = _categories(top)
        default_weight = float(top.number("default_category_weight", 1.0, minimum=0))
        if default_weight <= 0:
            raise top.error("default_category_weight", expect("number_above", minimum=0),
                            default_weight)
        grades_sec = top.section("grades")
        floors = tuple((g, float(grades_sec.number(g, minimum=0, maximum=100))) for g in GRADES)
        grades_sec.done()
        if [f for _, f in floors] != sorted((f for _, f in floors), reverse=True):
            raise grades_sec.error("", expect("decreasing_floors"), dict(floors))
        caps_sec = top.section("caps")
        caps: dict[Severity, str] = {}
        for name in list(caps_sec.data):
            if name not in {s.value for s in Severity}:
                raise caps_sec.error(str(name), problem("unknown_key",
                                                        known=list(_SEVERITY_NAMES)))
            caps[Severity(name)] = caps_sec.choice(str(name), GRADES)
        caps_sec.done()
        top.done()
        return cls(weights, factors, floors, caps, categories, default_weight)

    def grade_for(self, value: float) -> str:
        for grade, floor in self.grade_floors:
            if value >= floor:
                return grade
        return GRADES[-1]

    def category_of(self, check: str) -> str:
        """The category of a check id: its family's (the id up to the first dot); a family
        that no category lists is a category of its own, named after it."""
        name = self._check_category.get(check)
        if name is None:
            family = check.partition(".")[0]
            name = self._category_of.get(family, family)
            if len(self._check_category) < _CATEGORY_CACHE_SIZE:
                self._check_category[check] = name
        return name

    def category_weight(self, name: str) -> float:
        return self._weights.get(name, self.default_category_weight)


def _categories(top: Section) -> tuple[Category, ...]:
    sec = top.section("categories")
    result: list[Category] = []
    owner: dict[str, str] = {}
    for name in list(sec.data):
        cat = sec.section(str(name))
        weight = float(cat.number("weight", minimum=0))
        if weight <= 0:
            raise cat.error("weight", expect("number_above", minimum=0), weight)
        families = cat.str_list("families")
        if not families:
            raise cat.error("families", expect("families"))
        for family in families:
            if family in owner:
                raise cat.error("families", expect("family_once", family=family,
                                                   category=owner[family]), family)
            owner[family] = str(name)
        cat.done()
        result.append(Category(str(name), weight, tuple(families)))
    names = {c.name for c in result}
    for family, name in owner.items():
        if family in names and family != name:
            raise sec.error(name, expect("family_not_category", family=family))
    sec.done()
    return tuple(result)


def _worse(a: str, b: str) -> str:
    return a if GRADES.index(a) >= GRADES.index(b) else b


def score_findings(findings: Iterable[Finding], policy: ScoringPolicy) -> Score:
    """Host score of a Report's findings (see the module docstring and docs/scoring.md);
    waived findings (an accepted risk) leave it while their waiver holds."""
    return score_outcomes(
        ((f.check, f.status, f.severity) for f in findings if f.counts), policy
    )


@dataclass
class _Tally:
    passes: dict[str, float]  # check id -> points of its most severe pass
    opens: dict[str, float]  # check id -> points at stake of its most severe open finding
    open_by_severity: dict[str, int]
    cap_grade: str | None
    cap_reason: str | None


def _tally(outcomes: Iterable[tuple[str, str, str]], policy: ScoringPolicy) -> _Tally:
    """One pass over the findings; plain dictionaries only, this is the collector's hot path.

    A check answers once: with its most severe open finding when it has one, else with its
    most severe pass. Findings worth no points (info, error, skip) count neither way."""
    stakes, caps = policy._stakes, policy._caps
    pass_points = stakes[_PASS]
    passes: dict[str, float] = {}
    opens: dict[str, float] = {}
    open_counts = dict.fromkeys(_SEVERITY_NAMES, 0)
    cap_grade: str | None = None
    cap_reason: str | None = None
    for check, status, severity in outcomes:
        # Severity and Status are StrEnums: plain strings and members index the same tables.
        if status == _PASS:
            stake = pass_points[severity]
            if stake > passes.get(check, 0.0):
                passes[check] = stake
            continue
        stake = stakes[status][severity]
        if status in _OPEN:
            open_counts[severity] += 1
            cap = caps.get(severity)
            if cap and (cap_grade is None or _worse(cap, cap_grade) == cap):
                cap_grade, cap_reason = cap, f"{severity}_open:{check}"  # Cap.code, inlined
            if stake > opens.get(check, 0.0):
                opens[check] = stake
    return _Tally(passes, opens, open_counts, cap_grade, cap_reason)


def _category_points(
    tally: _Tally, policy: ScoringPolicy
) -> tuple[dict[str, float], dict[str, float]]:
    """Per category, the points earned and the points possible of the checks that answered."""
    earned: dict[str, float] = {}
    possible: dict[str, float] = {}
    known, category_of = policy._check_category, policy.category_of
    opens = tally.opens
    for check, points in opens.items():
        name = known.get(check) or category_of(check)
        possible[name] = possible.get(name, 0.0) + points
    for check, points in tally.passes.items():
        if check not in opens:
            name = known.get(check) or category_of(check)
            earned[name] = earned.get(name, 0.0) + points
            possible[name] = possible.get(name, 0.0) + points
    return earned, possible


def _value(earned: Mapping[str, float], possible: Mapping[str, float],
           policy: ScoringPolicy) -> float:
    weights, default = policy._weights, policy.default_category_weight
    num = den = 0.0
    for name, points in possible.items():
        w = weights.get(name, default)
        num += w * (earned.get(name, 0.0) / points)
        den += w
    if not den:
        # Nothing answered (no finding, or only errors, skips and info): no evidence, no points.
        return 0.0
    # Rounded well below what anyone reads (Reports carry 2 decimals), so that a host whose
    # categories make exactly 90 gets its A rather than 89.99999999999999 and a B.
    return round(100.0 * num / den, 6)


def _score(value: float, tally: _Tally, policy: ScoringPolicy) -> Score:
    grade = policy.grade_for(value)
    capped_by = None
    cap = tally.cap_grade
    if cap is not None and _worse(cap, grade) == cap and cap != grade:
        grade, capped_by = cap, tally.cap_reason
    return Score(value=value, grade=grade, capped_by=capped_by,
                 open_by_severity=tally.open_by_severity)


def score_outcomes(outcomes: Iterable[tuple[str, str, str]], policy: ScoringPolicy) -> Score:
    """`score_findings` on (check, status, severity) strings, for callers holding plain JSON
    (the collector's ingest path) rather than Finding objects."""
    tally = _tally(outcomes, policy)
    return _score(_value(*_category_points(tally, policy), policy), tally, policy)


@dataclass(frozen=True)
class CategoryScore:
    """One category of a host's score, for explanations (docs, the console, tests)."""

    name: str
    weight: float
    earned: float
    possible: float

    @property
    def percent(self) -> float:
        return 100.0 * self.earned / self.possible


@dataclass(frozen=True)
class ScoreExplanation:
    score: Score
    categories: tuple[CategoryScore, ...]  # heaviest first, then by name
    checks: Mapping[str, tuple[float, float]]  # check id -> (points earned, points possible)


def explain_outcomes(
    outcomes: Iterable[tuple[str, str, str]], policy: ScoringPolicy
) -> ScoreExplanation:
    """The score of `score_outcomes` with its workings: each check's and each category's
    points earned and possible (checks that counted neither way are absent)."""
    tally = _tally(outcomes, policy)
    earned, possible = _category_points(tally, policy)
    score = _score(_value(earned, possible, policy), tally, policy)
    cats = tuple(sorted(
        (CategoryScore(name, policy.category_weight(name), earned.get(name, 0.0), points)
         for name, points in possible.items()),
        key=lambda c: (-c.weight, c.name),
    ))
    checks = {check: (0.0, points) for check, points in tally.opens.items()}
    checks.update((c, (p, p)) for c, p in tally.passes.items() if c not in tally.opens)
    return ScoreExplanation(score, cats, dict(sorted(checks.items())))


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
            grade, capped_by = cap, Cap(sev.value).code
            break
    for s in items:  # name the finding when a host recorded which one it was
        # A host's own cap, read as a code or as the sentence of a snapshot stored before.
        host_cap = parse_cap(s.capped_by) if capped_by else None
        if host_cap is not None and host_cap.check and s.grade == grade:
            capped_by = host_cap.code
            break
    return Score(value=value, grade=grade, capped_by=capped_by, open_by_severity=counts)
