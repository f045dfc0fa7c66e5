"""Fixtures of the monthly-report tests: one simulated month shared by the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sentinelle.collector.store import open_store
from sentinelle.report.catalog import Catalog, load_catalog
from sentinelle.report.config import ReportSettings
from sentinelle.report.content import SummaryBuilder
from sentinelle.rules import load_rules
from sentinelle.scoring import ScoringPolicy
from tests.report.hostile import HostileMonth, build_hostile_month
from tests.report.scenario import NOW, Scenario, build_scenario

SILENT_AFTER = 6 * 3600.0  # the collector's default silence delay


@pytest.fixture(scope="session")
def policy() -> ScoringPolicy:
    return ScoringPolicy.from_data(load_rules().scoring)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def scenario(tmp_path_factory: pytest.TempPathFactory, policy: ScoringPolicy) -> Iterator[Scenario]:
    """March 2026 of a small syndicate, through a real collector (see scenario.py)."""
    with build_scenario(tmp_path_factory.mktemp("month"), policy) as month:
        yield month


@pytest.fixture
def builder(
    scenario: Scenario, policy: ScoringPolicy, catalog: Catalog
) -> Iterator[SummaryBuilder]:
    store = open_store(scenario.store_url)
    try:
        yield SummaryBuilder(store, policy, catalog, ReportSettings(), SILENT_AFTER, NOW)
    finally:
        store.close()


@pytest.fixture(scope="session")
def hostile_month(
    tmp_path_factory: pytest.TempPathFactory, scenario: Scenario, policy: ScoringPolicy
) -> HostileMonth:
    """Three communes' March through a real collector, to copy and poison (see hostile.py)."""
    # A real agent Report with backups: fresh, an offline copy, a restore test recorded.
    base = next(r for r in reversed(scenario.reports)
                if any(f.check == "backups.freshness" and "newest" in f.evidence
                       for f in r.results))
    return build_hostile_month(tmp_path_factory.mktemp("hostile"), base, policy)
