"""Every recording and alerting rule of rules/prometheus/, evaluated by the fleet's real
Prometheus (tests/e2e/fleet.py: real agents, real collector, real Prometheus loading the rules).

Each rule's raw expression must return data in this scenario, or be listed in EXPECTED_EMPTY
with the reason why it is empty here and a PromQL premise that returns data exactly when that
reason holds. The premise is evaluated too: when it holds, the rule must be empty (the entry is
not stale); when it does not (another machine: an OS closer to its end of support, RDP
listening, a recent upgrade), the rule must return data. So the test never assumes what it can
check, and stays right on a machine that differs from this one.

Then: Prometheus really evaluated the rules (the recorded series exist, no rule has an error,
the recorded values match the scenario), and the alerts the scenario calls for are pending,
labelled with their département, with annotations rendered from the real data.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.fleet import AGENTS, COMMUNES, RunningFleet

ROOT = Path(__file__).resolve().parents[2]
RULE_FILES = sorted((ROOT / "rules/prometheus").glob("*.yml"))


@dataclass(frozen=True)
class Rule:
    """One rule of rules/prometheus/*.yml."""

    kind: str  # "record" or "alert"
    name: str
    expr: str
    group: str


def load_rules() -> list[Rule]:
    found: list[Rule] = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                kind = "record" if "record" in rule else "alert"
                found.append(Rule(kind, rule[kind], rule["expr"], group["name"]))
    return found


RULES = load_rules()


@dataclass(frozen=True)
class Empty:
    """Why a rule returns nothing in the fleet scenario, and a premise that checks it."""

    reason: str
    premise: str  # PromQL: returns data exactly when the reason holds


EXPECTED_EMPTY: dict[str, Empty] = {
    "SentinelleRiskyServiceExposed": Empty(
        "the agents inspect this machine, where no RDP, SMB or Telnet server listens on a "
        "network address, and they run with ports.network_scan disabled",
        'absent(sentinelle_listening_port_info{scope="network", service=~"rdp|smb|telnet"})'
        ' and on () absent(sentinelle_network_scan_open_port_info)'
        # …and the inventory really ran on every host, so the emptiness means something.
        ' and on () (count(sentinelle_check_success{check="ports.listening"} == 1)'
        "            == count(sentinelle_host_risk_score))"),
    "SentinelleCriticalServiceExposed": Empty(
        "no service giving control without a password (rsh, the Docker API without TLS) "
        "listens on this machine: ports.risky_services has no critical finding",
        'count(sentinelle_check_status{check="ports.risky_services", severity!="critical"})'
        " == count(sentinelle_host_risk_score)"),
    "SentinelleCriticalAccountWeakness": Empty(
        "no account of this machine opens without a password, root is its only UID 0 and "
        "sshd refuses empty passwords: no accounts or ssh check has a critical failure",
        'absent(sentinelle_check_status{check=~"(accounts|ssh)[.].+", status="fail", '
        'severity="critical"})'
        # …and the checks that would see it really ran on every host.
        ' and on () (count(sentinelle_check_success{check="accounts.uid0"} == 1)'
        "            == count(sentinelle_host_risk_score))"),
    "SentinelleFirewallOff": Empty(
        "this machine's firewall checks pass, or none runs here",
        'absent(sentinelle_check_status{check=~"firewall[.].+", status="fail"})'),
    "SentinelleLanUnknownDevice": Empty(
        "the fleet's agents read this machine's neighbour table (lan passive by default): a "
        "machine whose table lists a neighbour makes it a new unknown device, one that lists "
        "none does not",
        'absent(sentinelle_lan_device_first_seen_timestamp_seconds{approved="false"})'),
    "SentinelleOSEndOfSupportSoon": Empty(
        "this machine's OS (Debian 12 here: security support until 2028-06-30) is more than "
        "a year from its end of support",
        "count((sentinelle_os_end_of_support_timestamp_seconds - time()) >= 365 * 86400"
        "      or (sentinelle_os_end_of_support_timestamp_seconds - time()) <= 0)"
        " == count(sentinelle_os_end_of_support_timestamp_seconds)"),
    "SentinelleOSEndOfSupportReached": Empty(
        "this machine's OS still receives security updates",
        "count(sentinelle_os_end_of_support_timestamp_seconds > time())"
        " == count(sentinelle_os_end_of_support_timestamp_seconds)"),
    "SentinelleSecurityUpdatesOverdue": Empty(
        "this machine was upgraded less than 30 days ago, or no security update is pending "
        "(on the machine this was written on, neither: 87 pending, last upgrade two months "
        "earlier, so the rule returns data)",
        'absent(sentinelle_pending_updates{kind="security"} > 0)'
        " or on () absent(time() - sentinelle_last_upgrade_timestamp_seconds > 30 * 86400)"),
    "SentinelleAgentSilent": Empty(
        "every agent reported a few minutes ago, when the fleet started",
        "max(time() - sentinelle_host_last_report_timestamp_seconds) < 3600"),
    "SentinelleAgentDroppingReports": Empty(
        "the collector stayed reachable, so no agent's spool overflowed; the premise also "
        "proves every host's Report carried the agent's health",
        "count(sentinelle_agent_health_reports_dropped_total == 0)"
        " == count(sentinelle_host_risk_score)"),
    "SentinelleWaiverExpired": Empty(
        "the fleet scenario sets no waiver, so none can have expired (tests/e2e/"
        "test_policy_on_fleet.py makes one expire)",
        "absent(sentinelle_waivers_expired_open) and on () absent(sentinelle_findings_waived)"),
    "SentinelleAgentStateNotWritable": Empty(
        "every agent could write its state directory",
        "count(sentinelle_agent_health_state_dir_writable == 1)"
        " == count(sentinelle_host_risk_score)"),
    "SentinelleCommuneScoreDrop": Empty(
        "comparing with the score of 24 hours ago needs 24 hours of history; this Prometheus "
        "started minutes ago",
        "absent(sentinelle_commune_risk_score offset 24h)"),
    "SentinelleCollectorDown": Empty(
        "Prometheus scrapes the collector",
        'up{job=~".*collector.*"} == 1'),
    "SentinelleCollectorIngestErrors": Empty(
        "the collector stored every Report it received",
        'sum(sentinelle_collector_reports_total{result="error"}) == 0'),
    "SentinelleCollectorNoReports": Empty(
        "the rule waits until Prometheus has watched the collector for two hours (the agents "
        "report hourly), and this Prometheus started minutes ago",
        'absent(sentinelle_collector_reports_total{result="stored"} offset 115m)'
        ' or on () sum(increase(sentinelle_collector_reports_total{result="stored"}[2h])) > 0'),
}


def api(fleet: RunningFleet, path: str, params: dict[str, str] | None = None) -> Any:
    url = f"{fleet.prometheus.url}/api/v1/{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=30) as resp:
        answer = json.load(resp)
    assert answer["status"] == "success", answer
    return answer["data"]


def wait_for(fleet: RunningFleet, promql: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        result = fleet.query(promql)
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


@pytest.fixture(scope="module")
def evaluated(fleet: RunningFleet) -> RunningFleet:
    """The fleet once Prometheus holds a few scrapes and has evaluated its rules (every
    second): increase() needs two samples, recorded series one evaluation."""
    fleet.prometheus.wait_for('count_over_time(up{job="sentinelle-collector"}[1m]) >= 3',
                              timeout=30)
    fleet.prometheus.wait_for("fleet:sentinelle_communes:count", timeout=30)
    return fleet


def values(result: list[dict[str, Any]], *labels: str) -> dict[tuple[str, ...], float]:
    return {tuple(r["metric"].get(k, "") for k in labels): float(r["value"][1]) for r in result}


@pytest.mark.integration
@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_rule_expression_on_the_fleet(evaluated: RunningFleet, rule: Rule) -> None:
    result = evaluated.query(rule.expr)
    empty = EXPECTED_EMPTY.get(rule.name)
    if empty is None:
        assert result, f"{rule.name}: no data for\n{rule.expr}"
        return
    if evaluated.query(empty.premise):
        assert not result, (f"{rule.name} is listed as empty ({empty.reason}) but returned "
                            f"{result}")
    else:
        assert result, (f"{rule.name}: the premise of its EXPECTED_EMPTY entry does not hold "
                        f"here ({empty.premise}), so it must return data, but it is empty")


def test_expected_empty_names_are_rules() -> None:
    assert set(EXPECTED_EMPTY) <= {r.name for r in RULES}, set(EXPECTED_EMPTY) - {
        r.name for r in RULES}
    # Recording rules must all return data: the dashboards rely on them.
    assert not set(EXPECTED_EMPTY) & {r.name for r in RULES if r.kind == "record"}


@pytest.mark.integration
def test_prometheus_loaded_and_evaluated_every_rule(evaluated: RunningFleet) -> None:
    groups = api(evaluated, "rules")["groups"]
    loaded = {r["name"]: r for g in groups for r in g["rules"]}
    assert set(loaded) == {r.name for r in RULES}
    deadline = time.monotonic() + 30
    while True:  # the first evaluation of a freshly loaded group may still be pending
        groups = api(evaluated, "rules")["groups"]
        states = {r["name"]: (r["health"], r.get("lastError", "")) for g in groups
                  for r in g["rules"]}
        if all(h == "ok" for h, _ in states.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    bad = {name: s for name, s in states.items() if s != ("ok", "")}
    assert not bad, f"rules not evaluated cleanly (many-to-many join, bad template…): {bad}"
    # The recorded series exist in the TSDB: Prometheus evaluated the rules, not only this test.
    for rule in RULES:
        if rule.kind == "record":
            assert wait_for(evaluated, rule.name), f"{rule.name} was never recorded"


@pytest.mark.integration
def test_recorded_values_match_the_scenario(evaluated: RunningFleet) -> None:
    departements = {"01001": "01", "01004": "01", "2A004": "2A", "97411": "974"}
    communes = {code for code, _, _ in COMMUNES}
    assert values(evaluated.query("fleet:sentinelle_communes:count")) == {(): len(COMMUNES)}
    hosts = values(evaluated.query("fleet:sentinelle_commune_hosts:sum"), "state")
    assert hosts == {("reporting",): len(AGENTS), ("silent",): 0, ("never",): 0}
    # Every commune-level series carries its département, joined from the registry.
    for name in ("commune:sentinelle_risk_score:avg", "commune:sentinelle_grade:info",
                 "commune:sentinelle_findings_open:sum", "commune:sentinelle_pending_updates:sum"):
        result = evaluated.query(name)
        seen = {(r["metric"]["commune"], r["metric"]["departement"]) for r in result}
        assert seen == set(departements.items()), (name, seen)
    names = {r["metric"]["commune"]: r["metric"]["name"]
             for r in evaluated.query("commune:sentinelle_risk_score:avg")}
    assert names == {code: name for code, name, _ in COMMUNES}
    # The recorded commune score is the collector's; the worst host is the lower of 01004's two.
    by_host = {k: r.score.value for k, r in evaluated.reports.items()}
    worst = values(evaluated.query("commune:sentinelle_risk_score:min"), "commune")
    assert worst[("01004",)] == pytest.approx(min(by_host[("01004", "srv-mairie")],
                                                  by_host[("01004", "srv-ecole")]))
    # 2A004 has no backup at all: one more open critical finding than 01001 (the same machine
    # with fresh backups and an offline copy), and no backup age.
    critical = values(evaluated.query(
        'commune:sentinelle_findings_open:sum{severity="critical"}'), "commune")
    assert critical[("2A004",)] == critical[("01001",)] + 1
    assert values(evaluated.query('fleet:sentinelle_findings_open:sum{severity="critical"}')
                  ) == {(): sum(critical.values())}
    ages = values(evaluated.query("commune:sentinelle_backup_age_seconds:max"), "commune")
    assert set(ages) == {(c,) for c in communes - {"2A004"}}
    # 01004: its worst host's newest backup is the stale one (3 days), not srv-ecole's (2 h).
    assert 3 * 86400 - 600 < ages[("01004",)] < 3 * 86400 + 600
    assert ages[("01001",)] < 3 * 3600
    by_dept = values(evaluated.query('departement:sentinelle_findings_open:sum'),
                     "departement", "severity")
    assert {d for d, _ in by_dept} == {"01", "2A", "974"}
    grades = values(evaluated.query("fleet:sentinelle_commune_grade_info:count"), "grade")
    assert sum(grades.values()) == len(COMMUNES)


def alerts(fleet: RunningFleet, name: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The alerts of that name, by (commune, host), as Prometheus' /api/v1/alerts lists them."""
    return {(a["labels"].get("commune", ""), a["labels"].get("host", "")): a
            for a in api(fleet, "alerts")["alerts"] if a["labels"]["alertname"] == name}


@pytest.mark.integration
def test_backup_alerts_are_pending_for_the_right_hosts(evaluated: RunningFleet) -> None:
    """The scenario's backup set-ups: 2A004 none, 01004/srv-mairie and 97411 stale (three days),
    the others fresh with an offline copy. Each alert waits an hour (`for: 1h`), so on a fleet
    minutes old they are pending, not firing."""
    missing = wait_for(evaluated, 'ALERTS{alertname="SentinelleBackupMissing"}')
    assert len(missing) == 1
    labels = missing[0]["metric"]
    assert (labels["commune"], labels["host"]) == ("2A004", "srv-hotel-de-ville")
    assert labels["alertstate"] == "pending"
    assert labels["severity"] == "critical" and labels["departement"] == "2A"

    stale = wait_for(evaluated, 'ALERTS{alertname="SentinelleBackupStale"}')
    expected_stale = {(c, h) for c, h, setup in AGENTS if setup == "stale"}
    assert {(r["metric"]["commune"], r["metric"]["host"]) for r in stale} == expected_stale
    assert {r["metric"]["alertstate"] for r in stale} == {"pending"}
    assert {r["metric"]["severity"] for r in stale} == {"warning"}

    offline = alerts(evaluated, "SentinelleOfflineCopyMissing")
    assert set(offline) == {(c, h) for c, h, setup in AGENTS if setup == "none"}

    # The annotations were rendered by the real Prometheus from the real data, the commune's
    # name included (a query in the template).
    annotations = alerts(evaluated, "SentinelleBackupMissing")[("2A004", "srv-hotel-de-ville")][
        "annotations"]
    assert annotations["summary"] == (
        "Aucune sauvegarde déclarée sur srv-hotel-de-ville (commune 2A004, Ajaccio)")
    assert annotations["runbook_url"].endswith("/docs/runbooks/SentinelleBackupMissing.md")


@pytest.mark.integration
def test_alerts_follow_the_scenario(evaluated: RunningFleet) -> None:
    """No alert fires on this fresh fleet (every `for:` is at least five minutes), and the
    alerts that must not be there are not there."""
    states = {r["metric"]["alertstate"] for r in evaluated.query("ALERTS")}
    assert states == {"pending"}
    assert not evaluated.query('ALERTS{alertname=~"SentinelleAgentSilent|SentinelleCollectorDown'
                               '|SentinelleCommuneScoreDrop"}')
    # Every host or commune alert carries the département for Alertmanager's routing.
    for series in evaluated.query('ALERTS{commune!=""}'):
        labels = series["metric"]
        assert labels["departement"] == {"01001": "01", "01004": "01", "2A004": "2A",
                                         "97411": "974"}[labels["commune"]], labels
