"""The ports checks' rarer states, each with its own sentence: nothing listening, sockets whose
program the agent may not name, nmap failing, a target missing from nmap's report, a scan that
finds nothing open."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from sentinelle.checks.ports import inventory
from sentinelle.checks.ports.checks import ListeningPorts, NetworkScan
from sentinelle.checks.ports.inventory import RawSocket
from sentinelle.host import Host
from sentinelle.model import Status
from tests.checks.ports.test_ports import UNRESOLVED_XML, only, run, scan_config
from tests.checks.texts import summary
from tests.conftest import fixture_host, need_tool, recorded

HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"


def test_nothing_listening_is_one_pass(tmp_path: Path) -> None:
    for name in ("tcp", "tcp6", "udp", "udp6"):
        path = tmp_path / "proc/net" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(HEADER)
    f = only(run(ListeningPorts, fixture_host(tmp_path)))
    assert f.status is Status.PASS and f.message == "ports.listening.none"
    assert summary(f, "fr") == "Aucun socket TCP à l'écoute ni UDP ouvert."


def test_sockets_whose_program_the_agent_may_not_name_are_a_skip(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What psutil reports to an agent without CAP_SYS_PTRACE for root's sockets (the packaged
    # agent's real case is tests/packaging/test_agent_package.py).
    monkeypatch.setattr(inventory, "read_psutil", lambda: [
        RawSocket("0.0.0.0", 22, "tcp", None), RawSocket("127.0.0.1", 631, "tcp", "cupsd")])
    monkeypatch.setattr(inventory, "missing", lambda *names: ["CAP_SYS_PTRACE"])
    listed, skipped = run(ListeningPorts, Host("/"))
    assert listed.status is Status.PASS and skipped.status is Status.SKIP
    assert skipped.message == "ports.listening.owners_unknown"
    assert skipped.args["count"] == 1 and skipped.args["capabilities"] == ["CAP_SYS_PTRACE"]
    assert "without CAP_SYS_PTRACE" in summary(skipped)
    assert "sans CAP_SYS_PTRACE" in summary(skipped, "fr")
    assert "CAP_SYS_PTRACE" in str(skipped.evidence["reason"])


def test_nmap_failing_is_an_error_with_its_own_words(tmp_path: Path) -> None:
    failed = recorded("", returncode=1, stderr="WARNING: Unable to find appropriate interface\n"
                      "QUITTING!\n")
    host = fixture_host(tmp_path, commands={("nmap",): failed})
    f = only(run(NetworkScan, host, scan_config(["192.0.2.10"], "22")))
    assert f.status is Status.ERROR and f.message == "ports.network_scan.nmap_failed"
    assert summary(f) == ("nmap failed (exit 1) scanning 192.0.2.10: WARNING: Unable to find "
                          "appropriate interface / QUITTING!")


def test_a_target_missing_from_nmaps_report_is_an_error(tmp_path: Path) -> None:
    host = fixture_host(tmp_path, commands={("nmap",): recorded(UNRESOLVED_XML)})
    f = only(run(NetworkScan, host, scan_config(["192.0.2.10"], "22")))
    assert f.status is Status.ERROR and f.message == "ports.network_scan.not_scanned"
    assert "aucun résultat dans le rapport de nmap" in summary(f, "fr")


def test_a_scan_that_finds_nothing_open_passes() -> None:
    need_tool("nmap")
    with socket.socket() as s:  # a port nothing listens on once this closes
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    f = only(run(NetworkScan, Host("/"), scan_config(["127.0.0.1"], str(port))))
    assert f.status is Status.PASS and f.message == "ports.network_scan.nothing_open"
    assert summary(f) == "127.0.0.1: no open port among the scanned ports."
