"""Waivers: which findings they cover, how long, what they do to the score, and what an expired
one leaves behind."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from sentinelle.metrics import report_metrics
from sentinelle.model import Finding, Report, Score, Severity, Status, Waiver
from sentinelle.rules import load_rules
from sentinelle.runner import assemble_report
from sentinelle.scoring import ScoringPolicy, score_findings
from sentinelle.texts import summary_text
from sentinelle.waivers import applies_to, apply_waivers, check_expiry
from tests.conftest import fixture_host

RDP = Finding("ports.risky_services", Status.FAIL, Severity.HIGH, key="rdp",
              message="ports.risky_services.exposed",
              args={"service": "rdp", "ports": "3389/tcp", "addresses": ["0.0.0.0:3389"]})
SMB = Finding("ports.risky_services", Status.FAIL, Severity.HIGH, key="smb",
              message="ports.risky_services.exposed",
              args={"service": "smb", "ports": "445/tcp", "addresses": ["0.0.0.0:445"]})
BACKUP = Finding("backups.freshness", Status.PASS, Severity.HIGH, key="nas",
                 message="backups.freshness.recent",
                 args={"location": "nas", "backup": "b", "age": 3600, "limit": 86400})
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def waiver(key: str | None = "rdp", expires: str = "2027-03-01",
           check: str = "ports.risky_services") -> Waiver:
    return Waiver("wvr_0123456789ab", check, "host:agt_1", "VPN du prestataire", "Alice",
                  expires, key)


def policy() -> ScoringPolicy:
    return ScoringPolicy.from_data(load_rules().scoring)


def test_a_waiver_covers_its_key_only_and_only_open_findings() -> None:
    out = apply_waivers([RDP, SMB, BACKUP],
                        [waiver("rdp"), waiver(None, check="backups.freshness")], NOW)
    assert [f.waiver is not None for f in out] == [True, False, False]  # a pass has no risk
    everything = apply_waivers([RDP, SMB], [waiver(None)], NOW)
    assert all(f.waiver is not None for f in everything)


def test_a_waived_finding_leaves_the_score() -> None:
    scoring = policy()
    before = score_findings([RDP, BACKUP], scoring)
    after = score_findings(apply_waivers([RDP, BACKUP], [waiver()], NOW), scoring)
    assert after.value > before.value
    assert before.open_by_severity["high"] == 1 and after.open_by_severity["high"] == 0
    # As if the check had not answered: the score of the rest alone.
    assert after.value == score_findings([BACKUP], scoring).value


def test_the_waiver_holds_through_its_last_day_and_then_counts_again() -> None:
    last_day = datetime(2027, 3, 1, 23, 59, tzinfo=UTC)
    assert apply_waivers([RDP], [waiver()], last_day)[0].waiver is not None
    day_after = datetime(2027, 3, 2, 0, 0, tzinfo=UTC)
    out = apply_waivers([RDP], [waiver()], day_after)
    assert out[0] == RDP  # counts again, unmarked
    expired = out[1]
    assert expired.check == RDP.check and expired.status.is_open and expired.counts
    assert expired.message == "waiver.expired" and expired.evidence["waiver"] == waiver().id
    # Said in one language at a time, from the catalog.
    catalog = load_rules().catalog
    fr, en = summary_text(expired, catalog, "fr"), summary_text(expired, catalog, "en")
    assert "Alice" in fr and "expiré" in fr and "expired" not in fr
    assert "expired" in en and "expiré" not in en
    # And the score is the one without any waiver.
    scoring = policy()
    assert score_findings(out, scoring).value == score_findings([RDP], scoring).value


def test_metrics_show_waived_findings_their_end_and_expired_ones() -> None:
    host = fixture_host(Path("/nonexistent"), now=NOW)
    report = assemble_report(host, [], apply_waivers([RDP, SMB], [waiver()], NOW), policy())
    text = "\n".join(f"{s.name}{s.labels} {s.value}" for fam in report_metrics(report)
                     for s in fam.samples)
    assert "sentinelle_findings_waived{'check': 'ports.risky_services'} 1" in text
    end = datetime(2027, 3, 1, 23, 59, 59, tzinfo=UTC).timestamp()
    assert (f"sentinelle_waiver_expiry_timestamp_seconds{{'check': 'ports.risky_services', "
            f"'waiver': 'wvr_0123456789ab'}} {end}") in text
    late = assemble_report(host, [], apply_waivers([RDP], [waiver(expires="2026-11-30")], NOW),
                           policy())
    late_text = "\n".join(f"{s.name}{s.labels} {s.value}" for fam in report_metrics(late)
                          for s in fam.samples)
    assert "sentinelle_waivers_expired_open{'check': 'ports.risky_services'} 1" in late_text


def test_a_waived_finding_round_trips_through_the_report() -> None:
    marked = apply_waivers([RDP], [waiver()], NOW)[0]
    report = Report("r1", "2026-12-02T10:00:00Z", "0", {}, (), (marked,), Score(90.0, "A"),
                    policy_version="0123456789abcdef")
    again = Report.from_dict(report.to_dict())
    assert again.results[0].waiver == waiver() and again.results[0].key == "rdp"
    assert again.policy_version == "0123456789abcdef"


@pytest.mark.parametrize(
    ("scope", "reaches"),
    [("fleet", True), ("departement:01", True), ("departement:2A", False),
     ("commune:01001", True), ("commune:01002", False), ("host:agt_1", True),
     ("host:agt_2", False)],
)
def test_scopes_reach_their_agents(scope: str, reaches: bool) -> None:
    assert applies_to(scope, "agt_1", "01001", "01") is reaches


def test_an_expiry_is_required_to_be_within_a_year() -> None:
    today = date(2026, 12, 2)
    assert check_expiry(date(2026, 12, 2), today) is None
    assert check_expiry(date(2027, 12, 2), today) is None
    too_long = check_expiry(date(2027, 12, 4), today)
    past = check_expiry(date(2026, 12, 1), today)
    assert too_long is not None and too_long.id.endswith("waiver_too_long")
    assert past is not None and past.id.endswith("waiver_in_the_past")
