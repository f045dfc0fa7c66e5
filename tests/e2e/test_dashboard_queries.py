"""Every PromQL expression of every dashboard, evaluated by the real Prometheus of the fleet.

The dashboards are the generated JSON (the same as dashboards/*.json, a test in
tests/dashboards checks that). Template variables are replaced by values of the fleet scenario
(tests/e2e/fleet.py): `$commune` by 01004 (two hosts, one stale backup), `$check` by
backups.freshness, `$__rate_interval`/`$__interval` by 1m, `$__range` by 1h. Panels that show
time series are asked for a range (as Grafana does), the others for an instant vector.

An expression must return at least one sample that is a number, or be listed in EXPECTED_EMPTY
with the reason why it is empty in this scenario.
"""

from __future__ import annotations

import json
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

from sentinelle.checks.base import registry
from sentinelle.dashboards.build import build_all
from sentinelle.dashboards.commune import C
from sentinelle.dashboards.panels import family_open_checks
from tests.dashboards.jsonwalk import LABEL_VALUES, QUERY_RESULT, Expr, expressions
from tests.e2e.fleet import RunningFleet

SCENARIO = {
    "commune": "01004",
    "check": "backups.freshness",
    "__rate_interval": "1m",
    "__interval": "1m",
    "__range": "1h",
}

# Raw expression (before substitution) → why it is empty in the fleet scenario.
EXPECTED_EMPTY = {
    'sentinelle_listening_port_info{scope="network",service!=""} * on (commune) group_left '
    "(name) sentinelle_commune_info":
        "risky services listening on a network address: the fleet's agents inspect this "
        "machine, which runs none of the services of rules/risky_ports.yaml on a network "
        "address",
    '(sentinelle_waiver_expiry_timestamp_seconds{commune="$commune"} - time())':
        "the fleet scenario sets no waiver (tests/e2e/test_policy_on_fleet.py does)",
    'sentinelle_network_scan_open_port_info{commune="$commune"}':
        "the fleet's agents run with ports.network_scan disabled (it is disabled by default)",
    'max by (commune, host, location) (time() - '
    'sentinelle_backup_last_restore_test_timestamp_seconds{commune="$commune"})':
        "the fleet's backup set-ups have no restore-test journal (backups.restore_test fails)",
    # The LAN inventory: the fleet's agents read this machine's neighbour table (lan is
    # passive by default), so these hold data exactly when the table lists a neighbour (this
    # machine's gateway, where this was written); tests/checks/lan builds a LAN for real.
    "(sentinelle_commune_lan_unknown_devices > 0) * on (commune) group_left (name) "
    "sentinelle_commune_info": "no neighbour in this machine's neighbour table",
    'sum by (class, approved) (sentinelle_commune_lan_devices{commune="$commune"})':
        "no neighbour in this machine's neighbour table",
    'time() - sentinelle_lan_device_first_seen_timestamp_seconds{commune="$commune"}':
        "no neighbour in this machine's neighbour table",
    "sentinelle_check_success == 0":
        "every check of every fleet agent ran on this machine (none errored)",
    "histogram_quantile(0.95, sum by (le) "
    "(rate(sentinelle_collector_ingest_duration_seconds_bucket[$__rate_interval])))":
        "the agents pushed their Reports before Prometheus started: no ingest during the "
        "window, so the rate is 0/0 (NaN)",
}
# Of those, the ones the scenario guarantees to be empty (the reason is checked, not assumed).
EMPTY_BY_CONSTRUCTION = {
    'sentinelle_network_scan_open_port_info{commune="$commune"}',
    'max by (commune, host, location) (time() - '
    'sentinelle_backup_last_restore_test_timestamp_seconds{commune="$commune"})',
}



def _families_not_run_here() -> dict[str, str]:
    """The per-family panels of families none of whose checks runs on this Linux machine
    (Windows-only families): "not checked" there is the truth, and is checked as such."""
    reg = registry()
    by_family: dict[str, list[frozenset[str]]] = {}
    for cid, cls in reg.items():
        by_family.setdefault(cid.split(".", 1)[0], []).append(cls.platforms)
    return {family_open_checks(fam, C): f"the {fam} family has no check for Linux"
            for fam, platforms in by_family.items()
            if all("linux" not in p for p in platforms)}


NOT_RUN_HERE = _families_not_run_here()
EXPECTED_EMPTY.update(NOT_RUN_HERE)
EMPTY_BY_CONSTRUCTION.update(NOT_RUN_HERE)

VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def substitute(expr: str) -> str:
    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name.isdigit():  # "$1" of label_replace, not a Grafana variable
            return m.group(0)
        if name not in SCENARIO:
            raise AssertionError(f"no scenario value for ${name} in {expr!r}")
        return SCENARIO[name]
    return VARIABLE.sub(repl, expr)


def api(fleet: RunningFleet, path: str, params: dict[str, str]) -> Any:
    url = f"{fleet.prometheus.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            answer = json.load(resp)
    except urllib.error.HTTPError as err:
        raise AssertionError(
            f"Prometheus refused {params['query']!r}: {err.read()[:300]!r}") from err
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def evaluate(fleet: RunningFleet, expr: str, instant: bool) -> list[dict[str, Any]]:
    if instant:
        return list(api(fleet, "query", {"query": expr}))
    end = time.time()
    return list(api(fleet, "query_range", {"query": expr, "start": f"{end - 300:.3f}",
                                           "end": f"{end:.3f}", "step": "5"}))


def numbers(result: list[dict[str, Any]]) -> list[float]:
    values: list[float] = []
    for series in result:
        samples = series.get("values") or [series["value"]]
        values += [float(v) for _, v in samples]
    return [v for v in values if not math.isnan(v)]


def all_expressions() -> list[Expr]:
    return [e for name, data in build_all().items() for e in expressions(name, data)]


EXPRESSIONS = all_expressions()


@pytest.fixture(scope="module")
def scraped(fleet: RunningFleet) -> RunningFleet:
    """The fleet once Prometheus holds a few scrapes: rate(), increase() and delta() need two
    samples, as they have in Grafana a minute after Prometheus started."""
    fleet.prometheus.wait_for('count_over_time(up{job="sentinelle-collector"}[1m]) >= 3',
                              timeout=30)
    return fleet


@pytest.mark.integration
@pytest.mark.parametrize("found", EXPRESSIONS, ids=[f"{e.dashboard}:{e.where}"
                                                    for e in EXPRESSIONS])
def test_expression_returns_data(scraped: RunningFleet, found: Expr) -> None:
    fleet = scraped
    if found.variable:
        lv = LABEL_VALUES.match(found.expr)
        qr = QUERY_RESULT.match(found.expr)
        assert lv or qr, f"unknown variable query {found.expr!r}"
        selector = substitute(lv.group("selector") if lv else qr.group("expr"))  # type: ignore[union-attr]
        result = evaluate(fleet, selector, instant=True)
        if lv:
            values = {s["metric"][lv.group("label")] for s in result
                      if lv.group("label") in s["metric"]}
            assert values, f"{found.where}: no value for {found.expr!r}"
            # The scenario's values must be offered by the variable itself.
            name = found.where.removeprefix("variable ")
            if name in SCENARIO:
                assert SCENARIO[name] in values, (name, values)
        return
    result = evaluate(fleet, substitute(found.expr), found.instant)
    if found.expr in EXPECTED_EMPTY:
        if found.expr in EMPTY_BY_CONSTRUCTION:
            assert not numbers(result), f"{found.where}: data although expected empty: {result}"
        return
    assert numbers(result), (f"{found.dashboard} — {found.where}: no data for "
                             f"{substitute(found.expr)!r}")


@pytest.mark.integration
def test_merged_tables_join_on_shared_labels(scraped: RunningFleet) -> None:
    """Grafana's merge joins rows on the fields every query has, and refuses to merge rows whose
    shared fields differ: a query keeping `__name__` would never join. Check it on real data."""
    checked = 0
    for name, data in build_all().items():
        for panel in data["panels"]:
            if not any(t["id"] == "merge" for t in panel.get("transformations", [])):
                continue
            label_sets = []
            for target in panel["targets"]:
                if target["expr"] in EXPECTED_EMPTY:
                    continue
                result = evaluate(scraped, substitute(target["expr"]), instant=True)
                assert result, (name, panel["title"], target["refId"])
                for series in result:
                    assert "__name__" not in series["metric"], (name, panel["title"],
                                                                target["refId"])
                label_sets.append({frozenset(s["metric"]) for s in result})
            keys = set.intersection(*(set(k) for sets in label_sets for k in sets))
            assert keys, f"{name} — {panel['title']}: the queries share no label to join on"
            checked += 1
    assert checked >= 6


def test_expected_empty_entries_are_used() -> None:
    used = {e.expr for e in EXPRESSIONS}
    assert set(EXPECTED_EMPTY) <= used, set(EXPECTED_EMPTY) - used
    assert set(EMPTY_BY_CONSTRUCTION) <= set(EXPECTED_EMPTY)
