"""The lan checks on a LAN of network namespaces (tests/checks/lan/lan_netns.py): discovery,
vendor, class, risky services, unknown devices, the passive mode, and the approval flow through
a real collector, all run by the real `sentinelle` command inside the server's namespace."""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from sentinelle.model import Status
from tests.checks.lan.lan_netns import CAMERA, NAS, PC, PRINTER, DeviceSpec, Lan, namespace_lan
from tests.checks.texts import SAID, Said
from tests.conftest import need_root, need_tool

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "SENTINELLE_LANG": "fr"}
ACTIVE = "checks:\n  lan: {active: true, probe_timeout_seconds: 30}\n"


@pytest.fixture
def lan() -> Any:
    need_root()
    need_tool("nmap")
    with namespace_lan() as built:
        yield built


def said(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The findings of a run in the namespace, recorded as those made in this process are, so
    that test_messages.py renders them too (tests/checks/conftest.py)."""
    for r in results:
        if r.get("message", "").startswith("lan."):
            SAID.append(Said(r["check"], Status(r["status"]), r["message"], dict(r["args"])))
    return results


def sentinelle(lan: Lan, *args: str, timeout: float = 120) -> str:
    out = lan.run([sys.executable, "-m", "sentinelle.cli", *args], timeout=timeout, env=ENV)
    assert out.returncode in (0, 1), out.stderr
    return out.stdout


def check(lan: Lan, tmp_path: Path, config: str) -> list[dict[str, Any]]:
    path = tmp_path / "agent.yaml"
    path.write_text(f"agent:\n  state_dir: {tmp_path / 'state'}\n{config}", encoding="utf-8")
    report = json.loads(sentinelle(lan, "check", "--only", "lan", "--config", str(path),
                                   "--format", "json"))
    return said(list(report["results"]))


def by(results: list[dict[str, Any]], check_id: str) -> list[dict[str, Any]]:
    return [r for r in results if r["check"] == check_id]


def test_an_active_sweep_lists_each_device_with_its_vendor_class_and_risks(
    lan: Lan, tmp_path: Path
) -> None:
    results = check(lan, tmp_path, ACTIVE)
    devices = {r["key"]: r for r in by(results, "lan.devices") if r.get("key")}
    assert set(devices) == {CAMERA.mac, NAS.mac, PRINTER.mac, PC.mac}
    assert devices[CAMERA.mac]["message"] == "lan.devices.camera"
    assert "Hikvision" in devices[CAMERA.mac]["args"]["vendor"]
    assert devices[NAS.mac]["message"] == "lan.devices.nas"
    assert devices[NAS.mac]["args"]["vendor"] == "Synology Incorporated"
    # An HP prefix with JetDirect open: a printer, not a PC.
    assert devices[PRINTER.mac]["message"] == "lan.devices.printer"
    assert devices[PC.mac]["message"] == "lan.devices.pc_or_server"
    assert devices[PC.mac]["args"]["ip"] == lan.ip_of("pc")
    assert devices[CAMERA.mac]["evidence"]["seen_by"] == ["arp"]  # never talked to before
    (inventory,) = [r for r in by(results, "lan.devices") if not r.get("key")]
    assert inventory["message"] == "lan.devices.inventory"
    assert inventory["args"] == {"count": 4, "subnets": [str(lan.subnet)]}
    risky = {(r["key"], r["message"].rsplit(".", 1)[1], r["args"]["port"])
             for r in by(results, "lan.risky_services")}
    assert risky == {
        (CAMERA.mac, "telnet", 23), (CAMERA.mac, "http_cleartext", 80),
        (CAMERA.mac, "rtsp_open", 554), (NAS.mac, "smb", 445), (NAS.mac, "http_cleartext", 5000),
    }
    assert all(r["status"] == "fail" for r in by(results, "lan.risky_services"))
    unknown = {r["key"] for r in by(results, "lan.unknown_devices")}
    assert unknown == {CAMERA.mac, NAS.mac, PRINTER.mac, PC.mac}
    assert all(r["status"] == "warn" for r in by(results, "lan.unknown_devices"))


def test_an_rtsp_server_that_asks_for_a_password_is_not_flagged(tmp_path: Path) -> None:
    need_root()
    need_tool("nmap")
    guarded = DeviceSpec("cam2", "44:19:b6:10:00:09", (("rtsp_auth", 554),))
    with namespace_lan([guarded]) as lan:
        results = check(lan, tmp_path, ACTIVE)
    (none,) = by(results, "lan.risky_services")
    assert none["message"] == "lan.risky_services.none" and none["status"] == "pass"
    (camera,) = [r for r in by(results, "lan.devices") if r.get("key")]
    assert camera["message"] == "lan.devices.camera" and camera["evidence"]["open_ports"] == [554]


def test_passive_mode_reports_what_real_traffic_put_in_the_neighbour_table(
    lan: Lan, tmp_path: Path
) -> None:
    lan.ping_from_server("nas")
    lan.ping_from_server("prn")
    results = check(lan, tmp_path, "")
    devices = {r["key"]: r for r in by(results, "lan.devices") if r.get("key")}
    # Only those the server talked to: passive mode sends nothing.
    assert set(devices) == {NAS.mac, PRINTER.mac}
    assert devices[NAS.mac]["message"] == "lan.devices.nas"
    assert devices[NAS.mac]["evidence"]["seen_by"] == ["neighbours"]
    # Without a probe, the HP prefix alone says PC or server.
    assert devices[PRINTER.mac]["message"] == "lan.devices.pc_or_server"
    (inventory,) = [r for r in by(results, "lan.devices") if not r.get("key")]
    assert inventory["message"] == "lan.devices.inventory_passive"
    (skip,) = by(results, "lan.risky_services")
    assert skip["status"] == "skip" and skip["message"] == "lan.risky_services.not_probed"
    assert {r["key"] for r in by(results, "lan.unknown_devices")} == {NAS.mac, PRINTER.mac}


def test_without_cap_net_raw_the_sweep_is_skipped_naming_it_and_the_table_still_read(
    lan: Lan, tmp_path: Path
) -> None:
    need_tool("capsh")
    lan.ping_from_server("cam")
    # pytest's own temporary directories are root's alone: the unprivileged agent reads its
    # config from one of its own.
    with tempfile.TemporaryDirectory() as readable:
        Path(readable).chmod(0o755)
        path = Path(readable) / "agent.yaml"
        path.write_text(f"agent:\n  state_dir: {readable}/state\n{ACTIVE}", encoding="utf-8")
        path.chmod(0o644)
        # The agent as an unprivileged user with no capability at all.
        command = (f"{sys.executable} -m sentinelle.cli check --only lan.devices --config "
                   f"{path} --format json")
        out = lan.run(["capsh", "--drop=cap_net_raw", "--user=nobody", "--", "-c", command],
                      env=ENV, timeout=120)
    assert out.stdout, out.stderr
    report = json.loads(out.stdout)
    results = said(report["results"])
    (skip,) = [r for r in results if r["message"] == "lan.devices.sweep_no_capability"]
    assert skip["status"] == "skip" and skip["args"]["capabilities"] == ["CAP_NET_RAW"]
    assert skip["args"]["user"] == "nobody"
    assert {r["key"] for r in results if r.get("key")} == {CAMERA.mac}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_approval_at_the_collector_clears_the_unknown_finding_of_that_device_only(
    lan: Lan, tmp_path: Path
) -> None:
    # The collector runs inside the server's namespace, on its own loopback.
    port = free_port()
    config = tmp_path / "collector.yaml"
    store = tmp_path / "collector.db"
    config.write_text(f"listen_address: 127.0.0.1:{port}\nstore: sqlite:///{store}\n",
                      encoding="utf-8")
    admin = ["collector", "--config", str(config)]
    for code, name in (("01001", "Saint-Exemple"), ("01002", "Bourg-Témoin")):
        sentinelle(lan, *admin, "commune", "add", code, "--name", name)
    server = lan.popen([sys.executable, "-m", "sentinelle.cli", *admin, "serve"], env=ENV)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    probe = f"import urllib.request; urllib.request.urlopen('{url}/healthz', timeout=1)"
    while lan.run([sys.executable, "-c", probe]).returncode != 0:
        assert server.poll() is None and time.monotonic() < deadline, "collector did not start"
        time.sleep(0.2)
    agents = {}
    for code in ("01001", "01002"):
        state = tmp_path / f"state-{code}"
        agent_yaml = tmp_path / f"agent-{code}.yaml"
        agent_yaml.write_text(f"agent:\n  state_dir: {state}\n{ACTIVE}", encoding="utf-8")
        token = sentinelle(lan, *admin, "token", "create", "--commune", code).strip()
        sentinelle(lan, "agent", "enroll", "--config", str(agent_yaml), "--collector", url,
                   "--token", token, "--hostname", f"srv-{code}")
        agents[code] = (agent_yaml, state)

    def cycle(code: str) -> list[dict[str, Any]]:
        agent_yaml, state = agents[code]
        sentinelle(lan, "agent", "run", "--once", "--config", str(agent_yaml))
        return said(list(json.loads((state / "last-report.json").read_text())["results"]))

    def unknown(results: list[dict[str, Any]]) -> set[str]:
        return {r["key"] for r in by(results, "lan.unknown_devices") if r["status"] == "warn"}

    every = {CAMERA.mac, NAS.mac, PRINTER.mac, PC.mac}
    assert unknown(cycle("01001")) == every
    listed = json.loads(sentinelle(lan, *admin, "device", "list", "--commune", "01001",
                                   "--format", "json"))
    assert {d["mac"]: d["class"] for d in listed} == {
        CAMERA.mac: "camera", NAS.mac: "nas", PRINTER.mac: "printer", PC.mac: "pc_or_server"}
    assert all(d["first_seen"] and not d["approved"] for d in listed)
    assert sentinelle(lan, *admin, "device", "list", "--commune", "01002").startswith("Aucun")

    answer = sentinelle(lan, *admin, "device", "approve", "--commune", "01001", "--mac",
                      CAMERA.mac.upper(), "--label", "Caméra de l'accueil", "--by", "soc")
    assert CAMERA.mac in answer
    time.sleep(5.5)  # the collector's policy tables are cached for 5 s
    assert unknown(cycle("01001")) == every - {CAMERA.mac}
    # Another commune on the same wires: its own inventory, its own approvals.
    assert unknown(cycle("01002")) == every
    text = sentinelle(lan, *admin, "device", "list", "--commune", "01001")
    assert "approuvé : Caméra de l'accueil" in text and text.count("INCONNU") == 3

    # The PC leaves the network: the inventory notes it, the finding goes with it.
    pc_ns, _ = lan.devices["pc"]
    lan.run(["ip", "link", "set", "eth0", "down"], ns=pc_ns)
    lan.run(["ip", "neigh", "flush", "dev", "br0"])
    assert unknown(cycle("01001")) == every - {CAMERA.mac, PC.mac}
    listed = json.loads(sentinelle(lan, *admin, "device", "list", "--commune", "01001",
                                   "--format", "json"))
    missing = {d["mac"] for d in listed if d["missing_since"]}
    assert missing == {PC.mac}
    assert "plus vu depuis" in sentinelle(lan, *admin, "device", "list", "--commune", "01001")

    assert "retiré" in sentinelle(lan, *admin, "device", "forget", "--commune", "01001",
                                  "--mac", PC.mac, "--by", "soc")
    listed = json.loads(sentinelle(lan, *admin, "device", "list", "--commune", "01001",
                                   "--format", "json"))
    assert PC.mac not in {d["mac"] for d in listed}
