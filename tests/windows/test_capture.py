"""Record → replay: the recorder runs every collector, redacts, and the replay answers each
collector's exact command from the files; the SOC replays a capture with `sentinelle check
--capture`, and a replayed Windows Report is accepted by a real collector."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sentinelle.errors import CommandNotFound
from sentinelle.host import CommandResult, Host
from sentinelle.runner import build_setup, run_checks
from sentinelle.windows.capture import (
    CaptureError,
    Redactor,
    load_manifest,
    record,
    replay_host,
    replay_runner,
)
from sentinelle.windows.collectors import COLLECTORS, collect

CAPTURES = Path(__file__).resolve().parent / "captures"
SERVER = CAPTURES / "server2022-fr"
# What the machine of the round trip "prints": the server capture with real-looking names and
# addresses put back in, which the recorder must take out again.
SECRETS = {"HOST": "MAIRIE-SRV01", "user1": "jdupont", "user2": "mmartin",
           "S-1-5-21-0-0-0": "S-1-5-21-3623811015-3361044348-30300820",
           "192.0.2.1": "192.168.10.5", "192.0.2.7": "20.101.57.9"}


def unredacted(text: str) -> str:
    for placeholder, secret in SECRETS.items():
        text = text.replace(placeholder, secret)
    return text


def machine_runner(capture: Path) -> tuple[Host, list[tuple[str, ...]]]:
    """A 'live' Windows machine made of a capture with its secrets back in: each collector's
    command answered, every call logged."""
    replay = replay_runner(capture, strict=True)
    calls: list[tuple[str, ...]] = []

    def run(argv: Sequence[str], timeout: float, env: Mapping[str, str] | None) -> CommandResult:
        calls.append(tuple(argv))
        result = replay(argv, timeout, env)
        return CommandResult(result.argv, result.returncode, unredacted(result.stdout),
                             unredacted(result.stderr), 0.0)

    host = Host(capture, runner=run, platform="windows",
                clock=lambda: datetime(2025, 3, 11, 10, 0, tzinfo=UTC))
    return host, calls


def test_record_then_replay_round_trip_redacts_names_and_addresses(tmp_path: Path) -> None:
    machine, calls = machine_runner(SERVER)
    assert "jdupont" in collect(machine, "local_users")  # the machine does print them
    out = tmp_path / "capture"
    manifest = record(machine, out, source="recorded on a test machine")
    assert manifest["os_build"] == "20348.3207" and manifest["powershell"] == "5.1.20348.3207"
    assert manifest["culture"] == "fr-FR"
    assert manifest["collectors"]["bitlocker"]["status"] == "not_found"
    assert manifest["collectors"]["firewall"] == {"status": "ok"}
    recorded = "\n".join(p.read_text(encoding="utf-8") for p in out.iterdir())
    for secret in SECRETS.values():
        assert secret.lower() not in recorded.lower(), secret
    admins = json.loads((out / "local_admins.json").read_text(encoding="utf-8"))
    assert [a["Name"] for a in admins] == ["HOST\\Administrateur", "HOST\\user1"]
    assert "192.0.2.1" in (out / "rdp_network.json").read_text(encoding="utf-8")
    # Every collector was asked by its exact command (registry ones too, off Windows).
    assert {c.argv() for c in COLLECTORS.values()} <= set(calls)
    # The replay judges the same as the original capture.
    setup = build_setup()
    before = run_checks(setup, replay_host(SERVER, strict=True))
    after = run_checks(setup, replay_host(out, strict=True))
    said = {(f.check, f.status, f.message) for f in before.results}
    assert said == {(f.check, f.status, f.message) for f in after.results}


def test_redaction_keeps_loopback_and_maps_each_address_once() -> None:
    redact = Redactor.for_machine(["MAIRIE-SRV01", "MAIRIE"], ["jdupont"])
    text = redact("MAIRIE-SRV01\\jdupont 10.0.0.5 10.0.0.5 10.0.0.6 127.0.0.1 0.0.0.0 :: "
                  "fe80::1c2b:3aff:fe4d:5e6f%12 2a01:cb00::1 00-15-5D-01-02-03 "
                  "S-1-5-21-1-2-3-1001 jdupontx")
    assert text.startswith("HOST\\user1 192.0.2.1 192.0.2.1 192.0.2.2 127.0.0.1 0.0.0.0 :: ")
    assert "fe80" not in text and "2a01" not in text and "2001:db8::" in text
    assert "00-15-5D" not in text and "S-1-5-21-0-0-0-1001" in text
    assert "jdupontx" in text  # whole names only


def test_a_command_nobody_recorded_fails(tmp_path: Path) -> None:
    strict = replay_host(SERVER, strict=True)
    with pytest.raises(AssertionError, match="not in the capture"):
        strict.run(["powershell.exe", "-Command", "Get-Process"])
    lenient = replay_host(SERVER)
    with pytest.raises(CommandNotFound):
        lenient.run(["net", "accounts"])
    with pytest.raises(CommandNotFound, match="bitlocker: not recorded"):
        collect(lenient, "bitlocker")


def test_broken_captures_are_named(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="no capture here"):
        load_manifest(tmp_path)
    (tmp_path / "capture.json").write_text("{\n  oops\n}")
    with pytest.raises(CaptureError, match=r"capture.json:2: not JSON"):
        load_manifest(tmp_path)
    (tmp_path / "capture.json").write_text('{"collectors": {}}')
    with pytest.raises(CaptureError, match="recorded_at"):
        load_manifest(tmp_path)


def test_sentinelle_check_replays_a_capture(capsys: pytest.CaptureFixture[str]) -> None:
    from sentinelle.cli import main

    assert main(["check", "--capture", str(SERVER), "--format", "json", "--lang", "fr"]) == 0
    report = json.loads(capsys.readouterr().out)
    checks = {r["check"] for r in report["checks"]}
    assert "firewall.windows_profiles" in checks and "sharing.windows_shares" in checks
    assert not any(c.startswith(("ports.", "backups.freshness")) for c in checks)
    assert report["host"]["os_id"] == "windows-server"
    shares = next(f for f in report["results"] if f["check"] == "sharing.windows_shares")
    assert "Compta" in shares["summary"]
    assert main(["check", "--capture", str(SERVER), "--only", "firewall"]) == 0
    assert "Pare-feu" in capsys.readouterr().out


def test_agent_record_refuses_off_windows(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from sentinelle.cli import main

    assert main(["agent", "record", "--out", str(tmp_path / "c")]) != 0
    assert "Windows" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_a_windows_report_is_accepted_by_a_real_collector(tmp_path: Path) -> None:
    from tests.collector.harness import auth, request, running_collector

    setup = build_setup()
    now = datetime.now(UTC)
    capture = tmp_path / "capture"
    shutil.copytree(SERVER, capture)
    report = run_checks(setup, replay_host(capture, clock=lambda: now))
    with running_collector(tmp_path) as c:
        c.commune("01001", "Abergement")
        creds = c.enroll("01001", "mairie-srv")
        status, body, _ = request(c.url + "/api/v1/reports", "POST", report.to_dict(),
                                  headers=auth(creds))
        assert status == 201, body
        _, metrics, _ = request(c.url + "/metrics")
    assert 'sentinelle_check_status{' in metrics
    line = next(m for m in metrics.splitlines() if m.startswith("sentinelle_check_status{")
                and 'check="sharing.windows_shares"' in m)
    assert 'host="mairie-srv"' in line
    assert 'sentinelle_pending_updates{commune="01001",host="mairie-srv",kind="security"} 1' \
        in metrics
    assert 'sentinelle_host_risk_score{commune="01001",host="mairie-srv"}' in metrics
