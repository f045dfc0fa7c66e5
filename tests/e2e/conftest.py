"""One real fleet (agents, collector, Prometheus) shared by every end-to-end test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import need_tool
from tests.e2e.fleet import RunningFleet, running_fleet

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFleet]:
    """Started once per test session; Prometheus loads every rule file in rules/prometheus/."""
    need_tool("prometheus")
    rule_files = tuple(str(p) for p in sorted((ROOT / "rules/prometheus").glob("*.yml")))
    with running_fleet(tmp_path_factory.mktemp("fleet"), rule_files=rule_files) as running:
        yield running
