"""The lan checks on fixture trees and recorded command output: each of their states, rendered
in both languages. The real sweep, probe and collector flow run in test_lan_netns.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sentinelle.checks.base import Check, CheckContext
from sentinelle.checks.lan import survey as survey_module
from sentinelle.checks.lan import sweep
from sentinelle.checks.lan.checks import LanDevices, RiskyLanServices, UnknownDevices
from sentinelle.checks.lan.classes import load_lan_rules, parse_lan_rules
from sentinelle.checks.lan.identify import vendor_of
from sentinelle.checks.lan.neighbours import Neighbour, normal_mac, parse_ip_neigh, parse_proc_arp
from sentinelle.checks.lan.subnets import choose_subnets, parse_routes
from sentinelle.config import Config
from sentinelle.errors import CommandNotFound, ConfigError
from sentinelle.host import CommandResult, Host
from sentinelle.model import Finding, Status
from sentinelle.rules import load_rules
from tests.checks.texts import rendered, summary
from tests.conftest import fixture_host, recorded

RULES = load_rules()
OFFICE = Path(__file__).parent / "fixtures" / "office"
ROUTES = json.dumps([
    {"dst": "default", "gateway": "192.168.10.1", "dev": "enp1s0", "flags": []},
    {"dst": "192.168.10.0/24", "dev": "enp1s0", "protocol": "kernel", "scope": "link",
     "prefsrc": "192.168.10.2", "flags": []},
    {"dst": "10.9.0.0/16", "gateway": "192.168.10.1", "dev": "enp1s0", "flags": []},
    {"dst": "169.254.0.0/16", "dev": "enp1s0", "scope": "link", "flags": []},
])
WIDE_ROUTES = json.dumps([{"dst": "10.0.0.0/16", "dev": "eth0", "scope": "link",
                           "prefsrc": "10.0.0.2", "flags": []}])
NEIGH = json.dumps([
    {"dst": "192.168.10.20", "dev": "enp1s0", "lladdr": "44:19:b6:aa:00:01",
     "state": ["REACHABLE"]},
    {"dst": "192.168.10.70", "dev": "enp1s0", "lladdr": "00:80:77:aa:00:07", "state": ["STALE"]},
    {"dst": "192.168.10.80", "dev": "enp1s0", "state": ["FAILED"]},
])
NMAP_NOTHING = """<?xml version="1.0"?><nmaprun>
<host><status state="up"/><address addr="192.168.10.20" addrtype="ipv4"/><ports>
<port protocol="tcp" portid="443"><state state="open"/><service name="https"/></port>
</ports></host></nmaprun>"""


@pytest.fixture(autouse=True)
def fresh_survey() -> None:
    survey_module._cache.clear()


def make(cls: type[Check], **params: Any) -> Check:
    meta = RULES.checks[cls.id]
    return cls(meta, {**meta.params, **params}, CheckContext(Config(), RULES))


def run(cls: type[Check], host: Host, **params: Any) -> list[Finding]:
    findings = list(make(cls, **params).run(host))
    for f in findings:
        rendered(f, RULES)
    return findings


def tree_host(routes: str = ROUTES) -> Host:
    return fixture_host(OFFICE, commands={("ip", "-j", "-4", "route"): recorded(routes)})


def live_recorded(commands: dict[tuple[str, ...], CommandResult | Exception]) -> Host:
    """This machine's root with every command replayed: nothing runs, nothing is sent."""
    table = {("ip", "-j", "-4", "route"): recorded(ROUTES),
             ("ip", "-j", "-4", "neigh"): recorded(NEIGH), **commands}
    return Host("/", runner=fixture_host(OFFICE, commands=table)._runner)


@pytest.fixture
def quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """No name lookups, no HTTP or RTSP probe: the unit tests send nothing anywhere."""
    monkeypatch.setattr(survey_module, "names_of", lambda ips, timeout: {})
    monkeypatch.setattr(survey_module, "missing", lambda *names: [])
    monkeypatch.setattr(survey_module, "http_cleartext", lambda ip, port, timeout: False)
    monkeypatch.setattr(survey_module, "rtsp_open", lambda ip, port, timeout: False)


def keyed(findings: list[Finding]) -> dict[str, Finding]:
    return {f.key: f for f in findings if f.key}


# The pure parts


def test_vendors_come_from_the_offline_oui_registry() -> None:
    assert "Hikvision" in vendor_of("44:19:b6:00:00:01")
    assert vendor_of("00:11:32:00:00:02") == "Synology Incorporated"
    assert vendor_of("da:a1:19:00:00:04") == ""  # locally administered: nobody's prefix
    assert normal_mac("44-19-B6-00-00-01") == "44:19:b6:00:00:01"
    assert normal_mac("01:00:5e:00:00:01") is None and normal_mac("ff:ff:ff:ff:ff:ff") is None


def test_the_neighbour_table_keeps_only_complete_entries() -> None:
    arp = parse_proc_arp((OFFICE / "proc/net/arp").read_text())
    assert [n.ip for n in arp] == ["192.168.10.20", "192.168.10.30", "192.168.10.40",
                                   "192.168.10.50", "10.9.9.9"]
    neigh = parse_ip_neigh(NEIGH)
    assert neigh == [Neighbour("192.168.10.20", "44:19:b6:aa:00:01", "enp1s0"),
                     Neighbour("192.168.10.70", "00:80:77:aa:00:07", "enp1s0")]
    assert parse_ip_neigh("not json") is None


def test_only_link_scope_routes_are_attached_and_size_is_bounded() -> None:
    attached = parse_routes(ROUTES)
    assert [str(s.network) for s in attached] == ["192.168.10.0/24"]  # not routed, not 169.254
    assert attached[0].interface == "enp1s0" and attached[0].own_address == "192.168.10.2"
    chosen, refused = choose_subnets(attached, ("192.168.10.0/26", "10.9.0.0/24",
                                                "192.168.0.0/16", "nonsense"), 22)
    assert [str(s.network) for s in chosen] == ["192.168.10.0/26"]
    assert [(r.subnet, r.why) for r in refused] == [
        ("10.9.0.0/24", "not_attached"), ("192.168.0.0/16", "too_large"),
        ("nonsense", "invalid")]
    chosen, refused = choose_subnets(parse_routes(WIDE_ROUTES), (), 22)
    assert chosen == [] and refused[0].why == "too_large"
    assert choose_subnets(parse_routes(WIDE_ROUTES), (), 16)[0][0].network.prefixlen == 16


def test_a_tree_with_its_own_routing_table_is_read_from_it() -> None:
    host = fixture_host(OFFICE.with_name("office_routes"))  # no command recorded: none run
    devices = keyed(run(LanDevices, host))
    assert len(devices) == 4 and devices["00:11:32:aa:00:02"].args["ip"] == "192.168.10.30"


def test_classes_are_data_and_their_order_decides() -> None:
    rules = load_lan_rules(RULES)
    assert rules.classify("Hangzhou Hikvision Digital Technology Co.,Ltd.", ()) == "camera"
    assert rules.classify("Hewlett Packard", (9100,)) == "printer"
    assert rules.classify("Hewlett Packard", (22,)) == "pc_or_server"
    assert rules.classify("", (554,)) == "camera"
    assert rules.classify("", ()) == "unknown"
    assert rules.classify("Ubiquiti Inc", (80,)) == "network_equipment"


def test_a_mistake_in_the_classes_file_names_the_file_and_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_lan_rules({"classes": [{"class": "toaster", "vendors": ["x"]}], "services": []},
                        "rules/lan_classes.yaml")
    assert "classes[0].class" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        parse_lan_rules({"classes": [], "services": [{"name": "telnet", "ports": [0],
                                                      "test": "open", "severity": "high"}]},
                        "rules/lan_classes.yaml")
    assert "services[0].ports" in str(caught.value)


# Passive, on a fixture tree


def test_passive_inventory_of_a_fixture_tree() -> None:
    host = tree_host()
    devices = run(LanDevices, host)
    inventory = [f for f in devices if f.key is None]
    assert [f.message for f in inventory] == ["lan.devices.inventory_passive"]
    assert inventory[0].args == {"count": 4, "subnets": ["192.168.10.0/24"]}
    by_mac = keyed(devices)
    # Only the attached subnet (10.9.9.9 on wg0 is beyond a router), complete entries only.
    assert set(by_mac) == {"44:19:b6:aa:00:01", "00:11:32:aa:00:02", "00:80:77:aa:00:03",
                           "da:a1:19:aa:00:04"}
    assert by_mac["44:19:b6:aa:00:01"].message == "lan.devices.camera"
    assert by_mac["00:11:32:aa:00:02"].message == "lan.devices.nas"
    assert by_mac["00:80:77:aa:00:03"].message == "lan.devices.printer"
    assert by_mac["da:a1:19:aa:00:04"].message == "lan.devices.unknown_no_vendor"
    assert "Caméra Hangzhou Hikvision" in summary(by_mac["44:19:b6:aa:00:01"], "fr")
    assert [m.labels["class"] for f in inventory for m in f.measurements] == [
        "camera", "nas", "printer", "unknown"]
    (skip,) = run(RiskyLanServices, host)
    assert skip.status is Status.SKIP and skip.message == "lan.risky_services.not_probed"


def test_unknown_devices_and_approvals() -> None:
    host = tree_host()
    found = run(UnknownDevices, host)
    assert {f.key: f.message for f in found} == {
        "44:19:b6:aa:00:01": "lan.unknown_devices.unknown",
        "00:11:32:aa:00:02": "lan.unknown_devices.unknown",
        "00:80:77:aa:00:03": "lan.unknown_devices.unknown",
        "da:a1:19:aa:00:04": "lan.unknown_devices.unknown_no_vendor"}
    assert all(f.status is Status.WARN for f in found)
    survey_module._cache.clear()
    some = run(UnknownDevices, host, approved=["44-19-B6-AA-00-01", "00:11:32:aa:00:02"])
    assert {f.key for f in some} == {"00:80:77:aa:00:03", "da:a1:19:aa:00:04"}
    survey_module._cache.clear()
    every = ["44:19:b6:aa:00:01", "00:11:32:aa:00:02", "00:80:77:aa:00:03", "da:a1:19:aa:00:04"]
    (ok,) = run(UnknownDevices, host, approved=every)
    assert ok.status is Status.PASS and ok.message == "lan.unknown_devices.all_approved"
    assert ok.args == {"count": 4}


def test_active_mode_on_a_fixture_tree_does_not_sweep_it() -> None:
    devices = run(LanDevices, tree_host(), active=True)
    assert [f.message for f in devices if f.status is Status.SKIP] == [
        "lan.devices.sweep_not_live"]


def test_no_attached_subnet_is_a_skip_for_each_check() -> None:
    host = tree_host(routes="[]")
    for cls in (LanDevices, UnknownDevices, RiskyLanServices):
        (f,) = run(cls, host)
        assert f.status is Status.SKIP and f.message.endswith(".no_subnet"), f


def test_refused_subnets_are_named() -> None:
    found = run(LanDevices, tree_host(), subnets=["192.168.0.0/16", "10.9.0.0/24", "x"])
    errors = [f for f in found if f.status is Status.ERROR]
    assert [f.message for f in errors] == ["lan.devices.subnet_too_large",
                                          "lan.devices.subnet_not_attached",
                                          "lan.devices.subnet_invalid"]
    assert found[-1].message == "lan.devices.no_subnet"
    survey_module._cache.clear()
    (too_large, no_subnet) = run(LanDevices, tree_host(WIDE_ROUTES))
    assert too_large.status is Status.SKIP and no_subnet.message == "lan.devices.no_subnet"
    assert too_large.message == "lan.devices.attached_too_large"
    assert too_large.args == {"subnet": "10.0.0.0/16", "largest": 22}


# Active, on this machine's root with every command replayed and nothing sent


def test_without_scapy_the_table_is_still_read_and_the_probe_runs(
    quiet: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sweep, "scapy_available", lambda: False)
    host = live_recorded({("nmap",): recorded(NMAP_NOTHING)})
    devices = run(LanDevices, host, active=True)
    assert [f.message for f in devices if f.status is Status.SKIP] == [
        "lan.devices.sweep_no_scapy"]
    assert set(keyed(devices)) == {"44:19:b6:aa:00:01", "00:80:77:aa:00:07"}
    assert keyed(devices)["44:19:b6:aa:00:01"].evidence["open_ports"] == [443]
    (none,) = run(RiskyLanServices, host, active=True)
    assert none.status is Status.PASS and none.message == "lan.risky_services.none"


def test_a_failed_sweep_is_an_error(quiet: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> sweep.SweepResult:
        raise sweep.SweepUnavailable("no such device br9")

    monkeypatch.setattr(sweep, "arp_sweep", broken)
    host = live_recorded({("nmap",): recorded(NMAP_NOTHING)})
    errors = [f for f in run(LanDevices, host, active=True) if f.status is Status.ERROR]
    assert [f.message for f in errors] == ["lan.devices.sweep_failed"]
    assert errors[0].args == {"detail": "no such device br9"}


def test_nmap_missing_or_failing(quiet: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sweep, "scapy_available", lambda: False)
    host = live_recorded({("nmap",): CommandNotFound("nmap: not installed")})
    found = run(LanDevices, host, active=True)
    assert "lan.devices.nmap_missing" in [f.message for f in found if f.status is Status.ERROR]
    (skip,) = run(RiskyLanServices, host, active=True)
    assert skip.status is Status.SKIP and skip.message == "lan.risky_services.probe_unavailable"
    survey_module._cache.clear()
    host = live_recorded({("nmap",): recorded("", 1, "Failed to open device br9")})
    found = run(LanDevices, host, active=True)
    (error,) = [f for f in found if f.message == "lan.devices.probe_failed"]
    assert error.status is Status.ERROR and error.args == {"detail": "Failed to open device br9"}


def test_the_survey_is_made_once_per_cycle(quiet: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sweep, "scapy_available", lambda: False)
    calls: list[list[str]] = []
    host = live_recorded({("nmap",): recorded(NMAP_NOTHING)})
    runner = host._runner

    def counting(argv: Any, timeout: float, env: Any) -> CommandResult:
        calls.append(list(argv))
        return runner(argv, timeout, env)

    host = Host("/", runner=counting)
    for cls in (LanDevices, UnknownDevices, RiskyLanServices):
        run(cls, host, active=True)
    assert [c[0] for c in calls].count("nmap") == 1


def nmap_xml(open_ports: dict[str, list[int]]) -> str:
    hosts = "".join(
        f'<host><status state="up"/><address addr="{ip}" addrtype="ipv4"/><ports>'
        + "".join(f'<port protocol="tcp" portid="{p}"><state state="open"/></port>'
                  for p in ports)
        + "</ports></host>"
        for ip, ports in open_ports.items())
    return f'<?xml version="1.0"?><nmaprun>{hosts}</nmaprun>'


def test_every_class_is_said_with_and_without_a_vendor(
    quiet: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A syndicate's own rules may class devices by their ports alone (a NAS's DSM port, a
    DNS relay): the checks say each class, with its maker or without one."""
    import yaml

    monkeypatch.setattr(sweep, "scapy_available", lambda: False)
    data = yaml.safe_load((RULES.directory / "lan_classes.yaml").read_text())
    data["classes"] += [{"class": "nas", "ports": [5000]},
                        {"class": "network_equipment", "ports": [53]}]
    custom = parse_lan_rules(data, "syndicat/lan_classes.yaml")
    monkeypatch.setattr("sentinelle.checks.lan.checks.load_lan_rules", lambda rules: custom)
    devices = {  # ip: (mac, open ports)
        "192.168.10.11": ("f4:ca:e5:00:00:01", [53, 80]),   # Freebox
        "192.168.10.12": ("24:0a:c4:00:00:02", []),         # Espressif: a maker, no class
        "192.168.10.13": ("da:00:00:00:00:03", [554]),
        "192.168.10.14": ("da:00:00:00:00:04", [9100]),
        "192.168.10.15": ("da:00:00:00:00:05", [3389]),
        "192.168.10.16": ("da:00:00:00:00:06", [5000]),
        "192.168.10.17": ("da:00:00:00:00:07", [53]),
    }
    neigh = json.dumps([{"dst": ip, "dev": "enp1s0", "lladdr": mac, "state": ["STALE"]}
                        for ip, (mac, _) in devices.items()])
    host = live_recorded({("ip", "-j", "-4", "neigh"): recorded(neigh),
                          ("nmap",): recorded(nmap_xml({ip: p for ip, (_, p) in
                                                        devices.items()}))})
    said = {f.key: f.message for f in run(LanDevices, host, active=True) if f.key}
    assert said == {
        "f4:ca:e5:00:00:01": "lan.devices.network_equipment",
        "24:0a:c4:00:00:02": "lan.devices.unknown",
        "da:00:00:00:00:03": "lan.devices.camera_no_vendor",
        "da:00:00:00:00:04": "lan.devices.printer_no_vendor",
        "da:00:00:00:00:05": "lan.devices.pc_or_server_no_vendor",
        "da:00:00:00:00:06": "lan.devices.nas_no_vendor",
        "da:00:00:00:00:07": "lan.devices.network_equipment_no_vendor",
    }
