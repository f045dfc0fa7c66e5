"""The mayor's page lists the risks the syndicate accepted, until when, in plain words; an
accepted finding is neither an action to take nor an incident."""

from __future__ import annotations

from datetime import date

from sentinelle.model import Finding, Report, Score, Severity, Status, Waiver
from sentinelle.report.catalog import load_catalog
from sentinelle.report.content import accepted_risks
from sentinelle.report.reading import accepted, finding_ids

WAIVER = Waiver("wvr_0123456789ab", "ports.risky_services", "host:agt_1", "VPN du prestataire",
                "Alice", "2027-03-01", "rdp")
RDP = Finding("ports.risky_services", Status.FAIL, Severity.HIGH, key="rdp", waiver=WAIVER,
              message="ports.risky_services.exposed")
SMB = Finding("ports.risky_services", Status.FAIL, Severity.HIGH, key="smb",
              message="ports.risky_services.exposed")


def body(*findings: Finding) -> dict[str, object]:
    return Report("r", "2026-12-02T10:00:00Z", "0", {}, (), findings, Score(80.0, "B")).to_dict()


def test_waived_findings_are_read_as_accepted_not_as_open() -> None:
    stored = body(RDP, SMB)
    assert [(a.check, a.until) for a in accepted(stored)] == [
        ("ports.risky_services", date(2027, 3, 1))]
    assert list(finding_ids(stored)) == [("ports.risky_services", "fail", "high")]  # SMB only
    # A waiver of an unexpected shape is no accepted risk (and breaks nothing).
    broken = body(SMB)
    broken["results"][0]["waiver"] = {"expires": 20270301}  # type: ignore[index]
    assert accepted(broken) == []


def test_accepted_risks_are_one_line_per_topic_and_end_date() -> None:
    risks = accepted_risks([(body(RDP), True), (body(RDP), True), (body(SMB), True)],
                           load_catalog())
    assert len(risks) == 1 and risks[0].hosts == 2 and risks[0].until == date(2027, 3, 1)
