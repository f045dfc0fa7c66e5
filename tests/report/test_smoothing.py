"""Smoothing of the monthly grade: median of the days, hysteresis around grade floors, caps,
trend. Daily snapshots are written and read back through the real Store API (SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from sentinelle.collector.records import Commune, DailySnapshot
from sentinelle.collector.store import Store, open_store
from sentinelle.report.catalog import Catalog
from sentinelle.report.config import ReportSettings
from sentinelle.report.content import (
    Month,
    MonthScore,
    SummaryBuilder,
    monthly_scores,
    smoothed_grade,
)
from sentinelle.report.render_text import render_text
from sentinelle.report.wording import build_page
from sentinelle.scoring import ScoringPolicy

JAN, FEB, MAR, APR = (Month(2026, m) for m in (1, 2, 3, 4))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite://{tmp_path / 'collector.db'}")
    s.migrate()
    s.upsert_commune(Commune("01001", "Saint-Exemple", "01", 820, ("maire@example.fr",)))
    try:
        yield s
    finally:
        s.close()


def month_of(store: Store, month: Month, scores: list[float] | float, grade: str | None = None,
             policy: ScoringPolicy | None = None, reporting: int = 1) -> None:
    """One snapshot per day of `month`: `scores` cycles over the days."""
    values = scores if isinstance(scores, list) else [scores]
    day, i = month.first_day, 0
    while day <= month.last_day:
        score = values[i % len(values)]
        g = grade or (policy.grade_for(score) if policy else "C")
        store.upsert_snapshot(DailySnapshot("01001", day, score, g, 1, reporting, {}))
        day += timedelta(days=1)
        i += 1


def scores(store: Store, policy: ScoringPolicy, *months: Month,
           margin: float = 2.0) -> list[MonthScore]:
    snaps = store.snapshots("01001", months[0].first_day, months[-1].last_day)
    return monthly_scores(snaps, list(months), policy, margin)


def test_hysteresis_keeps_the_grade_near_a_floor(policy: ScoringPolicy) -> None:
    # B is [75, 90): with a 2-point margin it holds from 73 up to just under 92.
    assert smoothed_grade(74.0, None, policy, 2.0) == "C"  # no previous month: plain floors
    assert smoothed_grade(74.0, "B", policy, 2.0) == "B"
    assert smoothed_grade(73.0, "B", policy, 2.0) == "B"
    assert smoothed_grade(72.9, "B", policy, 2.0) == "C"
    assert smoothed_grade(91.9, "B", policy, 2.0) == "B"
    assert smoothed_grade(92.0, "B", policy, 2.0) == "A"
    # A big move goes to the grade `margin` points inside the direction of travel.
    assert smoothed_grade(61.0, "B", policy, 2.0) == "C"  # 63 is in C
    assert smoothed_grade(59.0, "B", policy, 2.0) == "C"  # 61: C, not D by a point
    assert smoothed_grade(30.0, "B", policy, 2.0) == "E"
    assert smoothed_grade(100.0, "E", policy, 2.0) == "A"
    assert smoothed_grade(0.0, "E", policy, 2.0) == "E"
    assert smoothed_grade(74.0, "B", policy, 0.0) == "C"  # margin 0: no hysteresis


def test_median_ignores_a_few_bad_days_and_days_without_reporting_hosts(
    store: Store, policy: ScoringPolicy
) -> None:
    # 28 good days and 3 very bad ones (a one-off incident): still B.
    month_of(store, MAR, [80.0] * 28 + [10.0] * 3, policy=policy)
    # A day when no host reported must not count, whatever its score says.
    store.upsert_snapshot(DailySnapshot("01001", date(2026, 3, 15), 0.0, "E", 1, 0, {}))
    (m,) = scores(store, policy, MAR)
    assert (m.days, m.score, m.grade) == (30, 80.0, "B")


def test_noise_around_a_floor_does_not_flip_the_grade(
    store: Store, policy: ScoringPolicy
) -> None:
    month_of(store, JAN, 76.0, policy=policy)  # B
    month_of(store, FEB, [74.0, 75.5], policy=policy)  # median 74.75: raw C, held at B
    month_of(store, MAR, 73.5, policy=policy)  # still within the margin: B
    month_of(store, APR, 72.5, policy=policy)  # clearly below: C
    got = scores(store, policy, JAN, FEB, MAR, APR)
    assert [m.grade for m in got] == ["B", "B", "B", "C"]
    assert [policy.grade_for(m.score or 0) for m in got] == ["B", "C", "C", "C"]


def test_a_month_without_data_breaks_the_chain(store: Store, policy: ScoringPolicy) -> None:
    month_of(store, JAN, 76.0, policy=policy)
    month_of(store, MAR, 74.0, policy=policy)
    jan, feb, mar = scores(store, policy, JAN, FEB, MAR)
    assert jan.grade == "B" and not feb.has_data and feb.grade is None
    assert mar.grade == "C"  # no previous grade to hold on to


def test_a_cap_held_most_of_the_month_caps_the_month(store: Store, policy: ScoringPolicy) -> None:
    # Score 95 every day, but the collector capped the day at D (open critical finding) on
    # 20 days out of 31: the month is D, and says so.
    month_of(store, MAR, 95.0, grade="A")
    for d in range(1, 21):
        store.upsert_snapshot(DailySnapshot("01001", date(2026, 3, d), 95.0, "D", 1, 1, {}))
    (m,) = scores(store, policy, MAR)
    assert (m.score, m.band_grade, m.cap, m.grade) == (95.0, "A", "D", "D")


def test_a_short_cap_does_not_cap_the_month(store: Store, policy: ScoringPolicy) -> None:
    month_of(store, MAR, 95.0, grade="A")
    for d in range(1, 6):
        store.upsert_snapshot(DailySnapshot("01001", date(2026, 3, d), 95.0, "D", 1, 1, {}))
    (m,) = scores(store, policy, MAR)
    assert (m.cap, m.grade) == (None, "A")


def _builder(store: Store, policy: ScoringPolicy, catalog: Catalog) -> SummaryBuilder:
    now = datetime(2026, 4, 1, 7, tzinfo=UTC)
    return SummaryBuilder(store, policy, catalog, ReportSettings(), 6 * 3600, now)


def test_trend_against_last_month(store: Store, policy: ScoringPolicy, catalog: Catalog) -> None:
    month_of(store, FEB, 76.0, policy=policy)
    month_of(store, MAR, 78.9, policy=policy)  # +2.9: below the 3-point trend threshold
    s = _builder(store, policy, catalog).build("01001", MAR)
    assert (s.trend, s.current.grade, s.previous.grade) == ("stable", "B", "B")
    text = render_text(build_page(s, catalog, ReportSettings(), "fr"))
    assert "Stable par rapport à février 2026 (niveau B)." in " ".join(text.split())
    month_of(store, MAR, 72.0, policy=policy)
    s = _builder(store, policy, catalog).build("01001", MAR)
    assert (s.trend, s.current.grade) == ("down", "C")
    text = " ".join(render_text(build_page(s, catalog, ReportSettings(), "fr")).split())
    assert "En recul : le niveau passe de B à C depuis février 2026." in text


def test_partial_month_is_flagged(store: Store, policy: ScoringPolicy, catalog: Catalog) -> None:
    for d in range(25, 32):
        store.upsert_snapshot(DailySnapshot("01001", date(2026, 3, d), 80.0, "B", 1, 1, {}))
    s = _builder(store, policy, catalog).build("01001", MAR)
    assert s.current.days == 7 and s.trend == "first"
    text = " ".join(render_text(build_page(s, catalog, ReportSettings(), "fr")).split())
    assert "Mesure établie sur 7 jours seulement ce mois-ci" in text
    assert "Premier mois mesuré" in text


def test_cap_sentence_names_the_topic(store: Store, policy: ScoringPolicy,
                                      catalog: Catalog) -> None:
    from sentinelle.collector.records import (
        AgentRecord,
        CheckState,
        IncomingReport,
        checks_document,
    )

    month_of(store, MAR, 95.0, grade="D")
    t = datetime(2026, 3, 31, 20, tzinfo=UTC)
    store.add_agent(AgentRecord("a1", "01001", "srv", "h", datetime(2026, 1, 1, tzinfo=UTC)))
    store.store_reports([IncomingReport(
        "r1", "a1", "01001", "srv", t, t, 60.0, "D", b"",
        checks_document([CheckState("backups.freshness", "fail", "critical", "no backup")]),
    )])
    s = _builder(store, policy, catalog).build("01001", MAR)
    assert s.current.grade == "D" and s.cap_topic is not None
    text = " ".join(render_text(build_page(s, catalog, ReportSettings(), "fr")).split())
    assert ("Le niveau ne peut pas dépasser D tant que ce point n'est pas réglé : la "
            "sauvegarde des serveurs.") in text
