"""Every Windows check in each of its states, on the shipped captures and on copies of them with
one collector's output changed; each finding rendered in both languages (test_messages.py then
sees every declared message reached)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sentinelle.checks.base import CheckContext, registry
from sentinelle.config import Config
from sentinelle.model import Finding, Status
from sentinelle.windows.capture import replay_host
from tests.checks.texts import RULES, rendered, summary

CAPTURES = Path(__file__).resolve().parents[2] / "windows" / "captures"
SERVER = CAPTURES / "server2022-fr"
WIN11 = CAPTURES / "win11-en"


def run(check_id: str, capture: Path) -> list[Finding]:
    meta = RULES.checks[check_id]
    check = registry()[check_id](meta, dict(meta.params), CheckContext(Config(), RULES))
    findings = list(check.run(replay_host(capture, strict=True)))
    for f in findings:
        rendered(f, RULES)
    return findings


def variant(tmp_path: Path, base: Path, files: dict[str, str],
            states: dict[str, dict[str, str]] | None = None) -> Path:
    """A copy of a capture with some collectors' outputs (or states) replaced."""
    out = tmp_path / "capture"
    shutil.copytree(base, out)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    if states:
        manifest = json.loads((out / "capture.json").read_text())
        manifest["collectors"].update(states)
        (out / "capture.json").write_text(json.dumps(manifest))
    return out


# (check, capture, expected status, expected case) on the shipped captures as recorded.
AS_RECORDED = [
    ("patching.windows_pending", SERVER, Status.FAIL, "security_pending"),
    ("patching.windows_pending", WIN11, Status.PASS, "none"),
    ("patching.windows_last_update", SERVER, Status.PASS, "recent"),
    ("patching.windows_last_update", WIN11, Status.FAIL, "stale"),
    ("patching.windows_reboot", SERVER, Status.WARN, "pending"),
    ("patching.windows_reboot", WIN11, Status.PASS, "none"),
    ("patching.os_support", SERVER, Status.PASS, "supported"),
    ("patching.os_support", WIN11, Status.FAIL, "ended"),
    ("antivirus.windows_realtime", SERVER, Status.PASS, "defender_on"),
    ("antivirus.windows_realtime", WIN11, Status.PASS, "other_on"),
    ("antivirus.windows_signatures", SERVER, Status.PASS, "fresh"),
    ("antivirus.windows_signatures", WIN11, Status.SKIP, "not_active"),
    ("firewall.windows_profiles", SERVER, Status.PASS, "all_on"),
    ("firewall.windows_profiles", WIN11, Status.FAIL, "some_off"),
    ("remote_access.windows_rdp", SERVER, Status.WARN, "reachable"),
    ("remote_access.windows_rdp", WIN11, Status.PASS, "disabled"),
    ("remote_access.windows_tools", SERVER, Status.WARN, "found"),
    ("remote_access.windows_tools", WIN11, Status.WARN, "found"),
    ("sharing.windows_smb1", SERVER, Status.PASS, "disabled"),
    ("sharing.windows_smb1", WIN11, Status.WARN, "installed"),
    ("sharing.windows_shares", SERVER, Status.FAIL, "open_writable"),
    ("sharing.windows_shares", WIN11, Status.PASS, "closed"),
    ("accounts.windows_admins", SERVER, Status.PASS, "few"),
    ("accounts.windows_guest", SERVER, Status.PASS, "disabled"),
    ("accounts.windows_guest", WIN11, Status.FAIL, "enabled"),
    ("accounts.windows_password_policy", SERVER, Status.FAIL, "weak_both"),
    ("accounts.windows_password_policy", WIN11, Status.PASS, "strong"),
    ("accounts.windows_dormant", SERVER, Status.WARN, "dormant"),
    ("accounts.windows_dormant", WIN11, Status.WARN, "dormant"),
    ("encryption.windows_bitlocker", SERVER, Status.SKIP, "not_available"),
    ("encryption.windows_bitlocker", WIN11, Status.WARN, "data_clear"),
    ("logs.windows_security_log", SERVER, Status.WARN, "small_kept"),
    ("logs.windows_security_log", WIN11, Status.PASS, "sized"),
    ("time.windows_sync", SERVER, Status.PASS, "recent"),
    ("time.windows_sync", WIN11, Status.FAIL, "unsynchronised"),
    ("backups.windows_server_backup", SERVER, Status.PASS, "recent"),
    ("backups.windows_server_backup", WIN11, Status.SKIP, "not_available"),
]


@pytest.mark.parametrize(("check_id", "capture", "status", "case"), AS_RECORDED,
                         ids=[f"{c}-{p.name}" for c, p, _, _ in AS_RECORDED])
def test_the_captures_as_recorded(check_id: str, capture: Path, status: Status,
                                  case: str) -> None:
    (f,) = run(check_id, capture)
    assert (f.status, f.message) == (status, f"{check_id}.{case}"), f.evidence


def test_server_findings_name_what_is_wrong() -> None:
    (shares,) = run("sharing.windows_shares", SERVER)
    assert shares.args["shares"] == ["Compta"]
    assert "Compta" in summary(shares, "fr")
    (dormant,) = run("accounts.windows_dormant", SERVER)
    assert dormant.args["names"] == ["user1"]
    (pending,) = run("patching.windows_pending", SERVER)
    assert pending.evidence["kb"] == ["KB5052006"]
    (support,) = run("patching.os_support", SERVER)
    assert support.args["name"] == "Windows Server 2022" and support.args["end"] == "2031-10-14"
    (support11,) = run("patching.os_support", WIN11)
    assert support11.args["name"] == "Windows 11 24H2"


def test_a_declared_tool_is_accepted() -> None:
    meta = RULES.checks["remote_access.windows_tools"]
    check = registry()["remote_access.windows_tools"](
        meta, {**meta.params, "allowed": ["TeamViewer"]}, CheckContext(Config(), RULES))
    (f,) = check.run(replay_host(WIN11, strict=True))
    rendered(f, RULES)
    assert (f.status, f.message) == (Status.PASS, "remote_access.windows_tools.allowed_only")
    assert f.args["tools"] == ["TeamViewer"]


def _history(result: int, date_ms: int) -> str:
    return json.dumps([{"Date": f"/Date({date_ms})/", "Title": "KB1", "ResultCode": result}])


VARIANTS = [
    # patching
    ("patching.windows_pending", SERVER, {"update_search.json": json.dumps(
        {"Title": "Sec", "KB": ["1"], "MsrcSeverity": "Critical", "Categories": [],
         "Released": "/Date(1741600000000)/"})}, Status.WARN, "security_recent"),
    ("patching.windows_pending", SERVER, {"update_search.json": json.dumps(
        [{"Title": "Pilote", "KB": [], "MsrcSeverity": None,
          "Categories": ["ebfc1fc5-71a4-4f7b-9aca-3b9a503104a0"]},
         {"Title": "Définitions", "KB": [], "MsrcSeverity": None,
          "Categories": ["e0789628-ce08-4437-be74-2495b842f43b"]}])}, Status.WARN,
     "other_pending"),
    ("patching.windows_pending", SERVER, {"update_search.json": "{not json"}, Status.ERROR,
     "unreadable"),
    ("patching.windows_last_update", SERVER, {"update_history.json": _history(4, 1741000000000)},
     Status.FAIL, "never"),
    # antivirus
    ("antivirus.windows_realtime", SERVER, {"defender.json": json.dumps(
        {"AMServiceEnabled": True, "AntivirusEnabled": True, "RealTimeProtectionEnabled": False,
         "AMRunningMode": "Normal"})}, Status.FAIL, "realtime_off"),
    ("antivirus.windows_realtime", WIN11, {"security_center.json": json.dumps(
        {"Available": True, "Products": [{"displayName": "F-Secure", "productState": 262144}]})},
     Status.FAIL, "other_off"),
    ("antivirus.windows_realtime", WIN11, {"security_center.json": json.dumps(
        {"Available": True, "Products": []})}, Status.FAIL, "none"),
    ("antivirus.windows_realtime", SERVER, {"defender.json": ""}, Status.SKIP, "unknown"),
    ("antivirus.windows_realtime", SERVER, {}, Status.ERROR, "failed"),
    ("antivirus.windows_signatures", SERVER, {"defender.json": json.dumps(
        {"AMServiceEnabled": True, "AntivirusEnabled": True, "AMRunningMode": "Normal",
         "AntivirusSignatureLastUpdated": "2025-03-08T00:00:00Z"})}, Status.WARN, "aging"),
    ("antivirus.windows_signatures", SERVER, {"defender.json": json.dumps(
        {"AMServiceEnabled": True, "AntivirusEnabled": True, "AMRunningMode": "Normal",
         "AntivirusSignatureLastUpdated": "2025-01-02T10:00:00.1234567"})}, Status.FAIL, "stale"),
    ("antivirus.windows_signatures", SERVER, {"defender.json": json.dumps(
        {"AMServiceEnabled": True, "AntivirusEnabled": True, "AMRunningMode": "Normal",
         "AntivirusSignatureLastUpdated": None})}, Status.FAIL, "never"),
    # firewall
    ("firewall.windows_profiles", SERVER, {"firewall.json": json.dumps(
        [{"Name": "Private", "Enabled": 1, "DefaultInboundAction": 2}])}, Status.FAIL,
     "inbound_allowed"),
    ("firewall.windows_profiles", SERVER, {"firewall.json": ""}, Status.ERROR, "no_profile"),
    # remote access
    ("remote_access.windows_rdp", SERVER, {"rdp.json": json.dumps({
        "SYSTEM\\CurrentControlSet\\Control\\Terminal Server": {
            "exists": True, "values": {"fDenyTSConnections": 1}},
        "SOFTWARE\\Policies\\Microsoft\\Windows NT\\Terminal Services": {
            "exists": True, "values": {"fDenyTSConnections": 0, "UserAuthentication": 0}}})},
     Status.FAIL, "no_nla"),
    ("remote_access.windows_rdp", SERVER, {"rdp_network.json": json.dumps(
        {"Listeners": [{"LocalAddress": "127.0.0.1", "LocalPort": 3389}], "Rules": []})},
     Status.PASS, "not_reachable"),
    ("remote_access.windows_tools", WIN11, {"installed_programs.json": "[]"}, Status.PASS,
     "none"),
    # sharing
    ("sharing.windows_smb1", SERVER, {"smb_server.json": '{"EnableSMB1Protocol": true}'},
     Status.FAIL, "served"),
    ("sharing.windows_shares", SERVER, {"smb_shares.json": json.dumps(
        [{"Name": "Public", "Path": "D:\\P", "Access": {"Account": "Invités", "Sid": None,
                                                        "Control": "Allow", "Right": "Read"}}])},
     Status.WARN, "open_read"),
    # accounts
    ("accounts.windows_admins", SERVER, {"local_admins.json": json.dumps(
        [{"Name": f"HOST\\user{n}", "SID": f"S-1-5-21-0-0-0-{1000 + n}", "PrincipalSource": 1}
         for n in range(5)])}, Status.WARN, "too_many"),
    ("accounts.windows_guest", SERVER, {"local_users.json": "[]"}, Status.PASS, "absent"),
    ("accounts.windows_dormant", SERVER, {"local_users.json": json.dumps(
        [{"Name": "user2", "Enabled": True, "SID": "S-1-5-21-0-0-0-1002",
          "LastLogon": "/Date(1741500000000)/"}])}, Status.PASS, "active"),
    ("accounts.windows_password_policy", SERVER, {"security_policy.txt": (
        "[System Access]\nMinimumPasswordLength = 8\nLockoutBadCount = 5\n")}, Status.FAIL,
     "short"),
    ("accounts.windows_password_policy", SERVER, {"security_policy.txt": (
        "[System Access]\nMinimumPasswordLength = 14\nLockoutBadCount = 0\n")}, Status.FAIL,
     "no_lockout"),
    ("accounts.windows_password_policy", SERVER, {"security_policy.txt": (
        "[System Access]\nMinimumPasswordLength = 14\nLockoutBadCount = 50\n")}, Status.WARN,
     "lockout_high"),
    # encryption
    ("encryption.windows_bitlocker", WIN11, {"bitlocker.json": json.dumps(
        [{"MountPoint": "C:", "VolumeType": 0, "ProtectionStatus": 0}])}, Status.FAIL,
     "system_clear"),
    ("encryption.windows_bitlocker", WIN11, {"bitlocker.json": json.dumps(
        {"MountPoint": "C:", "VolumeType": 0, "ProtectionStatus": 1, "VolumeStatus": 1})},
     Status.PASS, "encrypted"),
    ("encryption.windows_bitlocker", WIN11, {"bitlocker.json": ""}, Status.SKIP, "no_volume"),
    # logs
    ("logs.windows_security_log", SERVER, {"security_log.json": json.dumps(
        {"IsEnabled": False, "MaximumSizeInBytes": 20971520, "LogMode": 0})}, Status.FAIL,
     "disabled"),
    ("logs.windows_security_log", SERVER, {"security_log.json": json.dumps(
        {"IsEnabled": True, "MaximumSizeInBytes": 1048576, "LogMode": "Retain"})}, Status.WARN,
     "small"),
    ("logs.windows_security_log", SERVER, {"security_log.json": json.dumps(
        {"IsEnabled": True, "MaximumSizeInBytes": 1073741824, "LogMode": 0,
         "OldestEvent": "/Date(1738000000000)/"})}, Status.PASS, "sized_kept"),
    # time
    ("time.windows_sync", WIN11, {"time_status.txt": (
        "Leap Indicator: 0(no warning)\nStratum: 3 (secondary reference)\nPrecision: -23\n"
        "Root Delay: 0.03s\nRoot Dispersion: 0.1s\nReferenceId: 0x01 (source IP: 192.0.2.1)\n"
        "Last Successful Sync Time: 11/20/2026 3:04:05 PM\nSource: time.windows.com,0x9\n"
        "Poll Interval: 10 (1024s)\n")}, Status.WARN, "stale"),
    ("time.windows_sync", WIN11, {"time_status.txt": (
        "Leap Indicator: 0(no warning)\nStratum: 3 (secondary reference)\nPrecision: -23\n"
        "Root Delay: 0.03s\nRoot Dispersion: 0.1s\nReferenceId: 0x01 (source IP: 192.0.2.1)\n"
        "Last Successful Sync Time: unspecified\nSource: dc01.mairie.local\n"
        "Poll Interval: 10 (1024s)\n")}, Status.PASS, "synchronised"),
    # backups
    ("backups.windows_server_backup", SERVER, {"server_backup.txt": (
        "wbadmin 1.0\r\nIdentificateur de version : 02/01/2025-20:00\r\n")}, Status.FAIL,
     "stale"),
    ("backups.windows_server_backup", SERVER, {"server_backup.txt": (
        "wbadmin 1.0 - Outil de sauvegarde en ligne de commande\r\n"
        "Aucune sauvegarde n'a été trouvée.\r\n")}, Status.FAIL, "none"),
]


@pytest.mark.parametrize(("check_id", "base", "files", "status", "case"), VARIANTS,
                         ids=[f"{v[0]}-{v[4]}" for v in VARIANTS])
def test_each_state(tmp_path: Path, check_id: str, base: Path, files: dict[str, str],
                    status: Status, case: str) -> None:
    states = None
    if case == "failed":  # the collector ran at recording and failed
        states = {"defender": {"status": "failed", "error": "defender: exit 1: 0x800106ba"}}
    (f,) = run(check_id, variant(tmp_path, base, files, states))
    assert (f.status, f.message) == (status, f"{check_id}.{case}"), f.evidence
    if status is Status.ERROR:
        assert f.evidence["collector"] and f.evidence["error"]
    if status is Status.SKIP:
        assert f.evidence["reason"]


def test_a_windows_check_is_not_asked_of_linux() -> None:
    from sentinelle.host import Host
    from sentinelle.runner import build_setup, run_checks

    setup = build_setup(only=["firewall"])
    report = run_checks(setup, Host(SERVER, platform="linux"))
    assert "firewall.windows_profiles" not in {r.check for r in report.checks}
    report = run_checks(setup, replay_host(SERVER, strict=True))
    assert [r.check for r in report.checks] == ["firewall.windows_profiles"]
    assert report.host["os_id"] == "windows-server" and report.host["hostname"] == "HOST"


WINDOWS_CHECKS = sorted(cid for cid, cls in registry().items()
                        if cls.platforms == frozenset({"windows"}))


@pytest.mark.parametrize("mode", ["not_available", "failed", "unreadable"])
@pytest.mark.parametrize("check_id", WINDOWS_CHECKS)
def test_a_collector_that_cannot_answer(tmp_path: Path, check_id: str, mode: str) -> None:
    """Not recorded (a cmdlet this edition lacks): skip with the reason; failed at recording:
    error; an answer that does not parse: error naming the collector."""
    from sentinelle.windows.collectors import COLLECTORS

    names = list(COLLECTORS)
    if mode == "unreadable":
        capture = variant(tmp_path, SERVER, {COLLECTORS[n].filename: "{not json" for n in names},
                          {n: {"status": "ok"} for n in names})
    else:
        state = ({"status": "not_found", "error": "x: not installed"} if mode == "not_available"
                 else {"status": "failed", "error": "x: exit 1: 0x80070005"})
        capture = variant(tmp_path, SERVER, {}, {n: state for n in names})
    (f,) = run(check_id, capture)
    assert f.message == f"{check_id}.{mode}", (f.message, f.evidence)
    assert f.status is (Status.SKIP if mode == "not_available" else Status.ERROR)
    assert f.evidence["collector"] in COLLECTORS
    assert f.evidence["reason" if mode == "not_available" else "error"]
