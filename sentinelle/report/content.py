"""The facts of one commune's month, computed from the collector's store.

Sources, all through the `Store` interface:
- daily snapshots (`snapshots`): the month's score and grade, smoothed (median of the days, then
  a hysteresis band so that noise around a grade floor does not flip the grade), 12 months of
  history, and the anonymous comparison with communes of similar size;
- the latest check states of the commune's hosts (`check_states`): the three priority actions;
- the month's raw Reports (`reports_between`): what was fixed, what broke, when hosts went silent;
- the latest Reports (`latest_reports`): whether last week's data can be restored.

The result holds facts only (codes, counts, dates): sentences are made by `wording`, so no
host name, address, port or package name can reach a mayor from here.

Report bodies come from agents and are read only through `reading`'s accessors: a body of
an unexpected shape makes a fact unknown, never an exception. Snapshots and check states are
the collector's own, but older collectors stored them with fewer checks, so a snapshot that
holds no usable score or grade is left out of the month.
"""

from __future__ import annotations

import itertools
import logging
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sentinelle.collector.records import AgentRecord, CheckState, Commune, DailySnapshot
from sentinelle.collector.store import Store, StoredReport
from sentinelle.errors import ConfigError, expect
from sentinelle.model import STATUS_ORDER, Severity, Status
from sentinelle.report import reading
from sentinelle.report.catalog import ActionText, Catalog
from sentinelle.report.config import ReportSettings
from sentinelle.report.reading import (
    FindingFacts,
    accepted,
    aware,
    count,
    decode_body,
    finding_ids,
    findings,
    mapping,
    moment,
)
from sentinelle.scoring import GRADES, ScoringPolicy

log = logging.getLogger("sentinelle.report")

HISTORY_MONTHS = 12
# Backups no older than this answer "yes" to "is last week's data recoverable?" (a week and a
# day: a backup taken during the night after the last working day of the week still counts).
RECOVERABLE_AGE = timedelta(days=8)
# A backup or restore test dated later than the Report by more than this is no evidence (the
# backups.freshness check itself cannot judge a backup an hour in the future, see
# FUTURE_TOLERANCE_SECONDS in checks/backups/checks.py; a date years ahead would count as fresh
# forever).
FUTURE_TOLERANCE = timedelta(hours=1)
# Population bands for the comparison (inhabitants, lower bound included).
POPULATION_BANDS: tuple[tuple[int, int | None], ...] = (
    (0, 500),
    (500, 2000),
    (2000, 5000),
    (5000, 20000),
    (20000, None),
)
INCIDENT_SEVERITIES = frozenset({Severity.CRITICAL.value, Severity.HIGH.value, "medium"})
_OPEN = frozenset({"warn", "fail"})
_SEVERITIES = frozenset(s.value for s in Severity)
_STATUSES = frozenset(s.value for s in Status)
_STATUS_RANK = {s.value: i for i, s in enumerate(STATUS_ORDER)}
# Checks that cannot run weigh this share of their severity among the actions ("tell the
# syndicate"). The score itself counts them neither way (docs/scoring.md), so the share is the
# report's own.
CHECK_ERROR_ACTION_FACTOR = 0.25


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        try:
            year, month = (int(part) for part in text.split("-"))
            if not (2000 <= year <= 2999 and 1 <= month <= 12) or len(text) != 7:
                raise ValueError
        except ValueError:
            raise ConfigError("--month", "--month", expect("month"), text) from None
        return cls(year, month)

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def shift(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return self.shift(1).first_day - timedelta(days=1)

    def start(self, zone: ZoneInfo) -> datetime:
        """Local midnight on the 1st, as an aware datetime."""
        return datetime(self.year, self.month, 1, tzinfo=zone)

    def end(self, zone: ZoneInfo) -> datetime:
        return self.shift(1).start(zone)


@dataclass(frozen=True)
class MonthScore:
    """A month's smoothed score and grade (None when no day of the month has data)."""

    month: Month
    days: int = 0
    score: float | None = None
    band_grade: str | None = None  # from the score, with hysteresis (what the next month keeps)
    grade: str | None = None  # published: band_grade, capped like the daily grades were
    cap: str | None = None  # cap in force on most days of the month, if any

    @property
    def has_data(self) -> bool:
        return self.score is not None


@dataclass(frozen=True)
class Action:
    """One thing to do: a catalog entry and how much it weighs in the commune's score."""

    entry: ActionText
    hosts: int = 0
    weight: float = 0.0
    routine: bool = False


@dataclass(frozen=True)
class TopicEvent:
    """Something that got fixed, or broke, during the month, by plain topic."""

    entry: ActionText
    day: date  # local date it got fixed, or first broke
    hosts: int
    episodes: int = 1
    resolved_on: date | None = None  # for an incident: back to normal on that day


@dataclass(frozen=True)
class Silences:
    """Periods when hosts sent nothing to the collector for longer than the silence delay."""

    episodes: int = 0
    hosts: int = 0
    total_hours: float = 0.0
    longest_start: date | None = None
    longest_end: date | None = None
    ongoing: bool = False  # still silent at the end of the month (or now)


@dataclass(frozen=True)
class BackupState:
    """"Is last week's data recoverable?": yes, no or unknown, and why."""

    answer: str  # yes, no, unknown
    reason: str
    last_restore_test: date | None = None
    offline_copy: bool | None = None  # None: not known


@dataclass(frozen=True)
class Comparison:
    """Where the commune stands among communes of the same size band and département."""

    status: str  # ok, too_few, no_population, no_data
    band: tuple[int, int | None] | None = None
    peers: int = 0
    better_than: int = 0  # peers with a lower score
    worse_than: int = 0  # peers with a higher score
    peer_median_grade: str | None = None


@dataclass(frozen=True)
class NoData:
    """Why a month has no measure."""

    reason: str  # never_enrolled, never_reported, silent, no_snapshots
    since: date | None = None


@dataclass(frozen=True)
class MonthlySummary:
    """Every fact of one commune's monthly page."""

    commune: Commune
    month: Month
    generated_at: datetime
    current: MonthScore
    previous: MonthScore
    history: tuple[MonthScore, ...]  # the 12 months ending with `month`
    hosts: int
    reporting_hosts: int
    no_data: NoData | None
    actions: tuple[Action, ...]
    cap_topic: ActionText | None  # what keeps the grade capped, when it is
    fixed: tuple[TopicEvent, ...]
    incidents: tuple[TopicEvent, ...]
    silences: Silences
    backup: BackupState
    comparison: Comparison
    trend: str = "first"  # first, up, down or stable, against the previous month's score
    accepted: tuple[AcceptedRisk, ...] = ()  # risks the syndicate accepted, until a date
    lan: LanCount | None = None  # the devices the hosts saw on the town hall's network


@dataclass(frozen=True)
class AcceptedRisk:
    """A risk accepted by a waiver on some of the commune's hosts, until a date."""

    entry: ActionText
    until: date
    hosts: int


def accepted_risks(
    bodies: Sequence[tuple[Mapping[str, object] | None, bool]], catalog: Catalog
) -> list[AcceptedRisk]:
    """The waived findings of the hosts' latest Reports, one line per topic and end date."""
    hosts: dict[tuple[str, date], set[int]] = {}
    entries: dict[str, ActionText] = {}
    for i, (body, _) in enumerate(bodies):
        for facts in accepted(body or {}):
            entry = catalog.entry_for(facts.check, facts.severity or None)
            entries[entry.key] = entry
            hosts.setdefault((entry.key, facts.until), set()).add(i)
    return [AcceptedRisk(entries[key], until, len(on))
            for (key, until), on in sorted(hosts.items(), key=lambda kv: (kv[0][1], kv[0][0]))]


@dataclass(frozen=True)
class LanCount:
    """The devices the commune's hosts last saw on the town hall's network (by MAC, counted
    once however many hosts saw them), and how many of them the syndicate does not know."""

    devices: int
    unknown: int


def lan_count(bodies: Sequence[tuple[Mapping[str, object] | None, bool]]) -> LanCount | None:
    """From the hosts' latest Reports: each device of lan.devices, unknown while an open
    lan.unknown_devices finding names it and no waiver accepts it. None when no host looked
    at its network (the family is off, or could not see): the page then says nothing."""
    devices: set[str] = set()
    unknown: set[str] = set()
    looked = False
    for body, _ in bodies:
        for f in findings(body or {}):
            mac = f.evidence.get("mac")
            if f.check == "lan.devices" and f.status == "pass":
                looked = True
                if isinstance(mac, str):
                    devices.add(mac)
            elif f.check == "lan.unknown_devices" and f.status == "warn" and isinstance(mac, str):
                unknown.add(mac)
    waived = {str(mapping(raw).get("key")) for body, _ in bodies
              for raw in reading.items(mapping(body or {}).get("results"))
              if mapping(raw).get("check") == "lan.unknown_devices" and mapping(raw).get("waiver")}
    unknown -= waived
    return LanCount(len(devices | unknown), len(unknown)) if looked else None


def _worse(a: str, b: str) -> str:
    return a if GRADES.index(a) >= GRADES.index(b) else b


def smoothed_grade(
    score: float, previous: str | None, policy: ScoringPolicy, margin: float
) -> str:
    """The grade of `score`, kept at `previous` unless the score leaves the previous grade's
    band by more than `margin` points; when it does, the new grade is the one `margin` points
    inside the direction of travel (so a score just past a floor does not flip back next month).
    """
    raw = policy.grade_for(score)
    if previous is None or margin <= 0:
        return raw
    floors = dict(policy.grade_floors)
    index = GRADES.index(previous)
    lower = floors[previous]
    upper = floors[GRADES[index - 1]] if index > 0 else float("inf")
    if lower - margin <= score < upper + margin:
        return previous
    if score >= upper + margin:
        return policy.grade_for(score - margin)
    return policy.grade_for(score + margin)


def monthly_scores(
    snapshots: Iterable[DailySnapshot],
    months: Sequence[Month],
    policy: ScoringPolicy,
    margin: float,
) -> list[MonthScore]:
    """Smoothed scores of consecutive `months`, oldest first.

    Each month: the median of the daily scores of the days with a reporting host; its grade
    from the policy's floors with the hysteresis of `smoothed_grade` against the previous
    month (none after a month without data); then capped by the cap that held on most days (a
    daily grade worse than its score's grade was capped by an open critical or high finding).
    """
    by_month: dict[Month, list[DailySnapshot]] = {}
    for snap in snapshots:
        if _usable(snap) and snap.reporting_hosts > 0:
            by_month.setdefault(Month.of(snap.day), []).append(snap)
    result: list[MonthScore] = []
    previous: str | None = None
    for month in months:
        days = by_month.get(month, [])
        if not days:
            result.append(MonthScore(month))
            previous = None
            continue
        score = float(statistics.median(s.score for s in days))
        band = smoothed_grade(score, previous, policy, margin)
        # Per day, the cap in force (A when none): its median (ties to the worse) is the cap.
        caps = []
        for s in days:
            plain = policy.grade_for(s.score)
            caps.append(GRADES.index(s.grade) if _worse(s.grade, plain) != plain else 0)
        cap_index = int(statistics.median_high(caps))
        cap = GRADES[cap_index] if cap_index > 0 else None
        grade = _worse(band, cap) if cap else band
        result.append(MonthScore(month, len(days), score, band, grade, cap))
        previous = band
    return result


def _usable(snap: DailySnapshot) -> bool:
    """A snapshot with a finite score, a known grade and a count of reporting hosts."""
    return (
        isinstance(snap.day, date)
        and isinstance(snap.score, int | float)
        and math.isfinite(snap.score)
        and snap.grade in GRADES
        and isinstance(snap.reporting_hosts, int)
    )


def population_band(population: int | None) -> tuple[int, int | None] | None:
    if population is None:
        return None
    for low, high in POPULATION_BANDS:
        if population >= low and (high is None or population < high):
            return (low, high)
    return None


def check_states_of(report: Mapping[str, object]) -> dict[str, tuple[str, str]]:
    """Per check, the worst finding's (status, severity), as the collector stores them."""
    states: dict[str, tuple[str, str]] = {}
    for check, status, severity in finding_ids(report):
        current = states.get(check)
        rank = _STATUS_RANK.get(status, len(_STATUS_RANK))
        if current is None or rank < _STATUS_RANK.get(current[0], len(_STATUS_RANK)):
            states[check] = (status, severity)
    return states


def _selected(reports: Sequence[StoredReport], zone: ZoneInfo) -> list[StoredReport]:
    """The Reports worth decoding, of one agent, in order.

    A Report is decoded when it is the first or the last, when its score or grade differs
    from the one before (a check that changes status almost always moves the score), or when
    it is the last of its day (so that even changes that cancel out in the score are seen with
    at most a day's delay). This keeps the month's cost to a few dozen decodes per host instead
    of one per hourly Report.
    """
    days = [_local_day(r.generated_at, zone) for r in reports]
    last = len(reports) - 1
    return [
        r
        for i, r in enumerate(reports)
        if i in (0, last)
        or (r.score, r.grade) != (reports[i - 1].score, reports[i - 1].grade)
        or days[i] != days[i + 1]
    ]


def _local_day(when: datetime, zone: ZoneInfo) -> date:
    return when.astimezone(zone).date()


@dataclass
class _Episode:
    check: str
    agent: str
    start: date
    end: date | None = None


def month_changes(
    reports: Sequence[StoredReport],
    catalog: Catalog,
    zone: ZoneInfo,
) -> tuple[list[TopicEvent], list[TopicEvent]]:
    """What got fixed (open at the month's first Report of a host, passing at its last) and
    what broke (a check of medium severity or more that went to fail), by plain topic."""
    per_agent: dict[str, list[StoredReport]] = {}
    for r in reports:
        # A date no time zone can show (stored by an older collector) dates nothing.
        if aware(r.generated_at) is not None:
            per_agent.setdefault(r.agent_id, []).append(r)
    fixed: dict[str, list[tuple[str, date]]] = {}
    episodes: list[_Episode] = []
    for agent_id, rows in per_agent.items():
        timeline: list[tuple[date, dict[str, tuple[str, str]]]] = []
        for r in _selected(rows, zone):
            states = check_states_of(decode_body(r.body))
            if not states:
                continue  # an unreadable Report tells nothing: it changes nothing either
            if timeline:
                # A status that is no status (an agent's garbage) is unknown: the check keeps
                # the state it had, rather than seeming to recover and break again.
                known = timeline[-1][1]
                for check, (status, _) in list(states.items()):
                    if status not in _STATUSES and check in known:
                        states[check] = known[check]
            timeline.append((_local_day(r.generated_at, zone), states))
        if not timeline:
            continue
        first, last = timeline[0][1], timeline[-1][1]
        for check, (status, _) in first.items():
            if status in _OPEN and last.get(check, ("", ""))[0] == "pass":
                # The day it was fixed for good: the start of the final passing run.
                day = timeline[-1][0]
                for when, states in reversed(timeline):
                    if states.get(check, ("", ""))[0] != "pass":
                        break
                    day = when
                fixed.setdefault(catalog.entry_for(check).key, []).append((agent_id, day))
        open_episodes: dict[str, _Episode] = {}
        previous = first
        for when, states in timeline[1:]:
            for check, (status, severity) in states.items():
                before = previous.get(check)
                if (
                    status == "fail"
                    and before is not None
                    and before[0] != "fail"
                    and severity in INCIDENT_SEVERITIES
                    and check not in open_episodes
                ):
                    episode = _Episode(check, agent_id, when)
                    open_episodes[check] = episode
                    episodes.append(episode)
            for check, episode in list(open_episodes.items()):
                if states.get(check, ("", ""))[0] != "fail":
                    episode.end = when
                    del open_episodes[check]
            previous = states
    fixed_events = [
        TopicEvent(catalog.entries[key], max(d for _, d in items), len({a for a, _ in items}))
        for key, items in fixed.items()
    ]
    by_topic: dict[str, list[_Episode]] = {}
    for e in episodes:
        by_topic.setdefault(catalog.entry_for(e.check).key, []).append(e)
    incidents = []
    for key, items in by_topic.items():
        ends = [e.end for e in items]
        resolved = None if any(end is None for end in ends) else max(e for e in ends if e)
        incidents.append(
            TopicEvent(
                catalog.entries[key],
                min(e.start for e in items),
                len({e.agent for e in items}),
                len(items),
                resolved,
            )
        )
    fixed_events.sort(key=lambda e: (e.day, e.entry.key))
    incidents.sort(key=lambda e: (e.day, e.entry.key))
    return fixed_events, incidents


def month_silences(
    reports: Sequence[StoredReport],
    agents: Sequence[AgentRecord],
    start: datetime,
    end: datetime,
    silent_after: timedelta,
    zone: ZoneInfo,
) -> Silences:
    """Gaps longer than the silence delay between Reports received from each agent, within
    [start, end) and the agent's enrolment; a gap reaching `end` is still going on."""
    received: dict[str, list[datetime]] = {}
    for r in reports:
        if aware(r.received_at) is not None:
            received.setdefault(r.agent_id, []).append(r.received_at)
    # (shown start, counted start, end, ongoing)
    episodes: list[tuple[datetime, datetime, datetime, bool]] = []
    hosts: set[str] = set()
    for agent in agents:
        window_start = max(start, agent.enrolled_at)
        window_end = min(end, agent.revoked_at) if agent.revoked_at else end
        if window_end - window_start <= silent_after:
            continue
        times = sorted(t for t in received.get(agent.agent_id, ()) if t <= window_end)
        marks = [window_start, *times, window_end]
        for i, (a, b) in enumerate(itertools.pairwise(marks)):
            if b - a <= silent_after:
                continue
            shown = a
            if i == 0 and agent.last_report_at is not None and agent.last_report_at < a:
                # Silent since before the month: say since when, count only this month.
                shown = agent.last_report_at
            ongoing = i == len(marks) - 2 and agent.revoked_at is None
            episodes.append((shown, a, b, ongoing))
            hosts.add(agent.agent_id)
    if not episodes:
        return Silences()
    longest = max(episodes, key=lambda e: e[2] - e[1])
    total = sum((b - a).total_seconds() for _, a, b, _ in episodes) / 3600
    return Silences(
        episodes=len(episodes),
        hosts=len(hosts),
        total_hours=total,
        longest_start=_local_day(longest[0], zone),
        longest_end=None if longest[3] else _local_day(longest[2], zone),
        ongoing=any(e[3] for e in episodes),
    )


# Order of the reasons, the most serious first: the commune's answer shows the first one met.
_BACKUP_REASONS = (
    "no_backup",
    "stale",
    "shrunk",
    "unreadable",
    "no_restore_test",
    "restore_test_old",
    "no_data",
    "not_checked",
    "ok",
)


def _dated(value: object, generated: datetime) -> datetime | None:
    """A date of the Report's evidence, if it is one and not later than the Report allows."""
    when = moment(value)
    return when if when is not None and when <= generated + FUTURE_TOLERANCE else None


def host_backup(
    report: Mapping[str, object], generated: datetime | None = None
) -> tuple[str, str, datetime | None, bool | None]:
    """(answer, reason, last restore test, offline copy) for one host's latest Report.

    `generated` dates the Report when its own `generated_at` is not a date (the store's
    column, else now). Evidence of an unexpected shape answers "unknown", never "no" or "yes":
    a "no" needs evidence of it (no location configured, or every location's newest backup
    dated and old, or known to be empty), a "yes" a recent dated backup and a dated restore
    test that passed.
    """
    generated = moment(report.get("generated_at")) or aware(generated) or datetime.now(UTC)
    every = findings(report)
    if not every:
        # Not one finding could be read: as good as no Report at all.
        return "unknown", "no_data", None, None
    backups = [f for f in every if f.check.startswith("backups.")]

    def of(check: str) -> list[FindingFacts]:
        return [f for f in backups if f.check == check]

    tests = [
        t
        for f in of("backups.restore_test")
        if (t := _dated(f.evidence.get("last_test"), generated)) is not None
    ]
    last_test = max(tests) if tests else None
    offline_states = {f.status for f in of("backups.offline_copy")}
    offline = True if "pass" in offline_states else False if "fail" in offline_states else None
    freshness = of("backups.freshness")
    if not freshness:
        return "unknown", "not_checked", last_test, offline
    if any(count(f.evidence.get("locations")) == 0 for f in freshness):
        return "no", "no_backup", last_test, offline
    recent = False
    all_known = True  # every location is dated, or known to hold no backup
    for f in freshness:
        newest = _dated(mapping(f.evidence.get("newest")).get("time"), generated)
        if newest is not None:
            recent = recent or generated - newest <= RECOVERABLE_AGE
        elif count(f.evidence.get("backups")) != 0:
            all_known = False
    if not recent:
        if not all_known or any(f.status == "error" for f in freshness):
            return "unknown", "unreadable", last_test, offline
        return "no", "stale", last_test, offline
    if any(f.status == "fail" for f in of("backups.size_change")):
        return "unknown", "shrunk", last_test, offline
    # A passing restore test counts with its date only: "yes" says when it was.
    if not any(
        f.status == "pass" and _dated(f.evidence.get("last_test"), generated) is not None
        for f in of("backups.restore_test")
    ):
        reason = "restore_test_old" if last_test is not None else "no_restore_test"
        return "unknown", reason, last_test, offline
    return "yes", "ok", last_test, offline


def commune_backup(
    hosts: Sequence[tuple[Mapping[str, object] | None, bool]],
    zone: ZoneInfo,
    generated: Sequence[datetime | None] = (),
) -> BackupState:
    """The commune's answer from each host's (latest Report, still reporting): "no" if any
    host says no, else "unknown" if any host cannot tell (a silent host cannot), else "yes".
    A silent host's last Report still dates its last restore test."""
    if not hosts:
        return BackupState("unknown", "no_data")
    answers: list[tuple[str, str, datetime | None, bool | None]] = []
    for i, (report, live) in enumerate(hosts):
        if report is None:
            answers.append(("unknown", "no_data", None, None))
            continue
        answer = host_backup(report, generated[i] if i < len(generated) else None)
        answers.append(answer if live else ("unknown", "no_data", answer[2], None))
    for wanted in ("no", "unknown"):
        reasons = [a[1] for a in answers if a[0] == wanted]
        if reasons:
            answer_key, reason = wanted, min(reasons, key=_BACKUP_REASONS.index)
            break
    else:
        answer_key, reason = "yes", "ok"
    tests = [a[2] for a in answers if a[2] is not None]
    offline_values = [a[3] for a in answers]
    offline = False if False in offline_values else None if None in offline_values else True
    return BackupState(
        answer_key,
        reason,
        _local_day(max(tests), zone) if tests else None,
        offline,
    )


def rank_actions(
    states: Mapping[str, Sequence[CheckState]],
    silent_agents: int,
    policy: ScoringPolicy,
    catalog: Catalog,
    count: int = 3,
) -> list[Action]:
    """The `count` things to do first: open findings weighed as the score weighs them
    (severity weight times status factor, summed over hosts), a silent host weighing as an
    open high finding; completed with the catalog's routine actions."""
    weights: dict[str, float] = {}
    hosts: dict[str, set[str]] = {}
    worst: dict[str, int] = {}
    entries: dict[str, ActionText] = {}

    def add(entry: ActionText, agent: str, weight: float, severity: str) -> None:
        entries[entry.key] = entry
        weights[entry.key] = weights.get(entry.key, 0.0) + weight
        hosts.setdefault(entry.key, set()).add(agent)
        rank = Severity(severity).rank if severity in _SEVERITIES else 4
        worst[entry.key] = min(worst.get(entry.key, 4), rank)

    for agent, checks in states.items():
        for state in checks:
            if state.severity not in _SEVERITIES or state.status not in _STATUSES:
                continue
            sev_weight = policy.severity_weights[Severity(state.severity)]
            if state.status in _OPEN:
                factor = policy.status_factors[Status(state.status)]
                entry = catalog.entry_for(state.check, state.severity)
                if sev_weight * factor > 0:
                    add(entry, agent, sev_weight * factor, state.severity)
            elif state.status == "error" and sev_weight > 0:
                add(catalog.special["check_errors"], agent,
                    sev_weight * CHECK_ERROR_ACTION_FACTOR, state.severity)
    high = policy.severity_weights[Severity.HIGH]
    for i in range(silent_agents):
        add(catalog.special["silent"], f"silent-{i}", high, "high")
    ranked = sorted(weights, key=lambda k: (-weights[k], worst[k], k))
    actions = [Action(entries[k], len(hosts[k]), weights[k]) for k in ranked[:count]]
    for routine in catalog.routine:
        if len(actions) >= count:
            break
        actions.append(Action(routine, routine=True))
    return actions


def cap_topic(states: Mapping[str, Sequence[CheckState]], policy: ScoringPolicy,
              catalog: Catalog) -> ActionText | None:
    """The topic of the most severe open finding that caps grades, if any."""
    best: tuple[int, str, str] | None = None
    for checks in states.values():
        for s in checks:
            if s.status in _OPEN and s.severity in _SEVERITIES:
                sev = Severity(s.severity)
                if sev in policy.caps:
                    key = (sev.rank, s.check, s.severity)
                    if best is None or key < best:
                        best = key
    return catalog.entry_for(best[1], best[2]) if best else None


class SummaryBuilder:
    """Builds the monthly summaries of many communes, reading what they share only once."""

    def __init__(
        self,
        store: Store,
        policy: ScoringPolicy,
        catalog: Catalog,
        settings: ReportSettings,
        silent_after_seconds: float,
        now: datetime | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.catalog = catalog
        self.settings = settings
        self.zone = settings.zone
        self.silent_after = timedelta(seconds=silent_after_seconds)
        self.now = (now or datetime.now(UTC)).astimezone(UTC)
        self.communes = {c.code: c for c in store.list_communes()}
        self.agents: dict[str, list[AgentRecord]] = {}
        for agent in store.list_agents():
            self.agents.setdefault(agent.commune, []).append(agent)
        self.latest = {r.agent.agent_id: r for r in store.latest_reports()}
        self._histories: dict[tuple[str, Month], list[MonthScore]] = {}

    def history(self, code: str, month: Month) -> list[MonthScore]:
        """The 12 months ending with `month`; the hysteresis chain starts a month earlier."""
        key = (code, month)
        if key not in self._histories:
            months = [month.shift(-n) for n in range(HISTORY_MONTHS, -1, -1)]
            snaps = self.store.snapshots(code, months[0].first_day, month.last_day)
            scores = monthly_scores(snaps, months, self.policy, self.settings.hysteresis_points)
            self._histories[key] = scores[1:]
        return self._histories[key]

    def _silent(self, agent: AgentRecord) -> bool:
        last = agent.last_report_at
        return last is None or self.now - last > self.silent_after

    def comparison(self, commune: Commune, month: Month, mine: MonthScore) -> Comparison:
        band = population_band(commune.population)
        if band is None:
            return Comparison("no_population")
        if mine.score is None:
            return Comparison("no_data", band)
        peers = []
        for other in self.communes.values():
            if (
                other.code != commune.code
                and other.departement == commune.departement
                and population_band(other.population) == band
            ):
                try:
                    score = self.history(other.code, month)[-1]
                except Exception as exc:  # that peer's data is its own problem, not this page's
                    log.warning("commune %s left out of %s's comparison: %s: %s", other.code,
                                commune.code, type(exc).__name__, exc)
                    continue
                if score.score is not None and score.grade is not None:
                    peers.append(score)
        if len(peers) < self.settings.min_peers:
            return Comparison("too_few", band, len(peers))
        grades = sorted(GRADES.index(p.grade) for p in peers if p.grade)
        return Comparison(
            "ok",
            band,
            len(peers),
            sum(1 for p in peers if p.score is not None and p.score < mine.score),
            sum(1 for p in peers if p.score is not None and p.score > mine.score),
            GRADES[int(statistics.median_high(grades))],
        )

    def _no_data(self, agents: Sequence[AgentRecord], month: Month) -> NoData:
        active = [a for a in agents if a.revoked_at is None]
        if not active:
            return NoData("never_enrolled")
        reported = [a.last_report_at for a in active if a.last_report_at is not None]
        if not reported:
            return NoData("never_reported", _local_day(min(a.enrolled_at for a in active),
                                                       self.zone))
        last = max(reported)
        if last < month.end(self.zone):
            return NoData("silent", _local_day(last, self.zone))
        return NoData("no_snapshots")

    def build(self, code: str, month: Month) -> MonthlySummary:
        commune = self.communes.get(code)
        if commune is None:
            raise ConfigError("--commune", "--commune", expect("registered_commune"), code)
        history = self.history(code, month)
        current, previous = history[-1], history[-2]
        agents = self.agents.get(code, [])
        active = [a for a in agents if a.revoked_at is None]
        silent = [a for a in active if self._silent(a)]
        states = {a.agent_id: self.store.check_states(a.agent_id) for a in active}
        start, end = month.start(self.zone), month.end(self.zone)
        reports = self.store.reports_between(code, start, end)
        fixed, incidents = month_changes(reports, self.catalog, self.zone)
        silences = month_silences(
            reports, agents, start, min(end, self.now), self.silent_after, self.zone
        )
        bodies: list[tuple[Mapping[str, object] | None, bool]] = []
        dated: list[datetime | None] = []
        for a in active:
            latest = self.latest.get(a.agent_id)
            body = decode_body(latest.body) if latest is not None else None
            bodies.append((body, not self._silent(a)))
            dated.append(latest.generated_at if latest is not None else None)
        no_data = None if current.has_data else self._no_data(agents, month)
        if no_data is not None and no_data.reason == "never_enrolled":
            actions = [Action(self.catalog.special["not_enrolled"], weight=1.0)]
            actions += [Action(r, routine=True) for r in self.catalog.routine[:2]]
        else:
            actions = rank_actions(states, len(silent), self.policy, self.catalog)
        trend = "first"
        if current.score is not None and previous.score is not None:
            delta = current.score - previous.score
            trend = (
                "up"
                if delta >= self.settings.trend_points
                else "down"
                if delta <= -self.settings.trend_points
                else "stable"
            )
        return MonthlySummary(
            commune=commune,
            month=month,
            generated_at=self.now,
            current=current,
            previous=previous,
            history=tuple(history),
            hosts=len(active),
            reporting_hosts=len(active) - len(silent),
            no_data=no_data,
            actions=tuple(actions),
            cap_topic=cap_topic(states, self.policy, self.catalog) if current.cap else None,
            fixed=tuple(fixed),
            incidents=tuple(incidents),
            silences=silences,
            backup=commune_backup(bodies, self.zone, dated),
            comparison=self.comparison(commune, month, current),
            trend=trend,
            accepted=tuple(accepted_risks(bodies, self.catalog)),
            lan=lan_count(bodies),
        )
