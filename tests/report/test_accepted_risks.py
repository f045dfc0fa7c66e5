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


def lan_body(devices: tuple[str, ...], unknown: tuple[str, ...],
             waived: tuple[str, ...] = ()) -> dict[str, object]:
    seen = [Finding("lan.devices", Status.PASS, Severity.INFO, evidence={"devices": len(devices)},
                    message="lan.devices.inventory")]
    seen += [Finding("lan.devices", Status.PASS, Severity.INFO, evidence={"mac": mac}, key=mac,
                     message="lan.devices.camera") for mac in devices]
    seen += [Finding("lan.unknown_devices", Status.WARN, Severity.MEDIUM,
                     evidence={"mac": mac}, key=mac,
                     message="lan.unknown_devices.unknown",
                     waiver=Waiver("wvr_0123456789ab", "lan.unknown_devices", "commune:01004",
                                   "caméra du prestataire", "Alice", "2027-03-01", mac)
                     if mac in waived else None)
             for mac in unknown]
    return body(*seen)


def test_the_lan_count_reads_every_hosts_devices_once_and_leaves_accepted_ones_known() -> None:
    from sentinelle.report.content import LanCount, lan_count

    a, b, c = "00:11:32:00:00:01", "44:19:b6:00:00:02", "3c:2a:f4:00:00:03"
    # Two hosts see the camera b; c is accepted by a waiver; a is unknown.
    bodies = [(lan_body((a, b), (a, b), waived=()), True), (lan_body((b, c), (c,), (c,)), True)]
    assert lan_count(bodies) == LanCount(devices=3, unknown=2)  # a and b, not c
    # No host looked at its network (the family is off): the page says nothing of it.
    assert lan_count([(body(SMB), True), (None, False)]) is None
