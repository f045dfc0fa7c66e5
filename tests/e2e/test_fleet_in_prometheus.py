"""Real agents → real collector → real Prometheus: PromQL answers per commune."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.fleet import AGENTS, COMMUNES, RunningFleet


def values(result: list[dict[str, object]], label: str) -> dict[str, float]:
    return {r["metric"][label]: float(r["value"][1]) for r in result}  # type: ignore[index]


def test_every_commune_and_host_is_in_prometheus(fleet: RunningFleet) -> None:
    info = fleet.query("sentinelle_commune_info")
    assert {r["metric"]["commune"] for r in info} == {c for c, _, _ in COMMUNES}  # type: ignore[index]
    hosts = fleet.query("sentinelle_host_risk_score")
    assert {(r["metric"]["commune"], r["metric"]["host"]) for r in hosts} == {  # type: ignore[index]
        (c, h) for c, h, _ in AGENTS}
    # The job label is Prometheus' own; commune and host were honoured from the collector.
    assert all(r["metric"]["job"] == "sentinelle-collector" for r in hosts)  # type: ignore[index]


def test_scores_match_what_the_agents_computed(fleet: RunningFleet) -> None:
    for (commune, host), report in fleet.reports.items():
        result = fleet.query(f'sentinelle_host_risk_score{{commune="{commune}",host="{host}"}}')
        assert len(result) == 1
        assert float(result[0]["value"][1]) == pytest.approx(report.score.value)  # type: ignore[index]


def test_per_commune_answers(fleet: RunningFleet) -> None:
    scores = values(fleet.query("sentinelle_commune_risk_score"), "commune")
    by_host = {k: r.score.value for k, r in fleet.reports.items()}
    expected_01004 = (by_host[("01004", "srv-mairie")] + by_host[("01004", "srv-ecole")]) / 2
    assert scores["01004"] == pytest.approx(expected_01004)
    hosts = values(fleet.query('sum by (commune) (sentinelle_commune_hosts{state="reporting"})'),
                   "commune")
    assert hosts == {"01001": 1, "01004": 2, "2A004": 1, "97411": 1}
    # The commune without any backup has an open critical finding; the fresh one does not.
    crit = values(fleet.query(
        'sum by (commune) (sentinelle_check_status{check="backups.freshness",status="fail"})'),
        "commune")
    assert crit.get("2A004") == 1 and "01001" not in crit
    ages = values(fleet.query('max by (commune) (sentinelle_backup_age_seconds{location="nas"})'),
                  "commune")
    assert ages["97411"] > 2 * 86400 > 3 * 3600 > ages["01001"]
    security = fleet.query('sentinelle_pending_updates{kind="security"}')
    assert len(security) == len(AGENTS)
    grades = fleet.query("sentinelle_commune_grade_info")
    assert {r["metric"]["grade"] for r in grades} <= set("ABCDE")  # type: ignore[index]
    dept = fleet.query('count by (departement) (sentinelle_commune_info)')
    assert values(dept, "departement") == {"01": 2, "2A": 1, "974": 1}


def test_silent_agent_is_visible(fleet: RunningFleet, tmp_path: Path) -> None:
    last = fleet.query("time() - sentinelle_host_last_report_timestamp_seconds")
    assert len(last) == len(AGENTS)
    assert all(0 <= float(r["value"][1]) < 600 for r in last)  # type: ignore[index]
