"""ports checks: socket inventory, risky services and the nmap network scan.

Fixture trees hold /proc/net files recorded from the real kernel (fixtures/record.py). Live
tests open real sockets in this process and read them back through psutil; scans run the real
nmap against 127.0.0.1/::1 or against a network namespace this test creates and deletes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from sentinelle.checks.base import Check, CheckContext
from sentinelle.checks.ports.checks import ListeningPorts, NetworkScan, RiskyServices, host_timeout
from sentinelle.checks.ports.inventory import (
    LOOPBACK,
    NETWORK,
    decode_proc_address,
    parse_proc_net,
    scope_of,
)
from sentinelle.checks.ports.risky import load_risky_catalog, parse_risky_services
from sentinelle.checks.ports.scan import nmap_argv, target_kind, valid_port_spec
from sentinelle.config import Config, PortSettings, parse_config
from sentinelle.errors import ConfigError
from sentinelle.host import CommandResult, Host, subprocess_runner
from sentinelle.metrics import MEASUREMENTS
from sentinelle.model import Finding, Severity, Status
from sentinelle.rules import RuleSet, load_rules
from sentinelle.runner import run_check
from tests.checks.netns import list_namespaces, veth_namespace
from tests.checks.texts import remedy, rendered, summary
from tests.conftest import fixture_host, need_root, need_tool, recorded

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
REPO = HERE.parents[2]
RULES = load_rules()
CATALOG = load_risky_catalog(RULES)
VNC_PORTS = range(5900, 5911)


def make(cls: type[Check], config: Config | None = None, rules: RuleSet = RULES) -> Check:
    meta = rules.checks[cls.id]
    return cls(meta, meta.params, CheckContext(config=config or Config(), rules=rules))


def scan_config(targets: Sequence[str], ports: str = "", timeout: float = 30.0) -> Config:
    """A config as the agent reads it from YAML (so the real validation applies)."""
    data = {"ports": {"scan_targets": list(targets), "scan_timeout_seconds": timeout}}
    if ports:
        data["ports"]["scan_ports"] = ports
    return parse_config(data, "test-config.yaml")


def run(cls: type[Check], host: Host, config: Config | None = None) -> list[Finding]:
    findings = list(make(cls, config).run(host))
    for f in findings:
        assert f.check == cls.id
        rendered(f)
        for m in f.measurements:  # only documented names, with exactly their labels
            assert m.name in MEASUREMENTS, m.name
            assert set(m.labels) == set(MEASUREMENTS[m.name].labels), m
    return findings


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, [summary(f) for f in findings]
    return findings[0]


def rows(finding: Finding) -> dict[tuple[str, int, str], dict[str, Any]]:
    return {(r["address"], r["port"], r["protocol"]): r for r in finding.evidence["sockets"]}


def by_service(findings: list[Finding]) -> dict[str, Finding]:
    return {f.evidence["service"]: f for f in findings if "service" in f.evidence}


@contextlib.contextmanager
def listener(
    address: str, port: int = 0, kind: int = socket.SOCK_STREAM
) -> Iterator[socket.socket]:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    s = socket.socket(family, kind)
    try:
        s.bind((address, port))
        if kind == socket.SOCK_STREAM:
            s.listen()
        yield s
    finally:
        s.close()


def bind_first_free(address: str, ports: Sequence[int]) -> socket.socket | None:
    """A TCP listener on the first of `ports` that is free here, or None."""
    for port in ports:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        try:
            s.bind((address, port))
        except OSError:
            s.close()
            continue
        s.listen()
        return s
    return None


# --- /proc/net parsing and scope ----------------------------------------------------------


def test_proc_net_addresses_decode_as_the_kernel_prints_them() -> None:
    assert decode_proc_address("0100007F:18EB", socket.AF_INET) == ("127.0.0.1", 6379)
    assert decode_proc_address("0A4DD50A:01BD", socket.AF_INET) == ("10.213.77.10", 445)
    mapped = "0000000000000000FFFF00000100007F:0CEA"
    assert decode_proc_address(mapped, socket.AF_INET6) == ("::ffff:127.0.0.1", 3306)
    one = "00000000000000000000000001000000:1538"
    assert decode_proc_address(one, socket.AF_INET6) == ("::1", 5432)
    with pytest.raises(ValueError):
        decode_proc_address("0100007F", socket.AF_INET)


@pytest.mark.parametrize(
    ("address", "scope"),
    [
        ("127.0.0.1", LOOPBACK),
        ("127.0.0.53", LOOPBACK),
        ("::1", LOOPBACK),
        ("::ffff:127.0.0.1", LOOPBACK),
        ("0.0.0.0", NETWORK),
        ("::", NETWORK),
        ("10.213.77.10", NETWORK),
        ("::ffff:10.0.0.1", NETWORK),
        ("fe80::1%eth0", NETWORK),
    ],
)
def test_scope_is_loopback_only_for_loopback_addresses(address: str, scope: str) -> None:
    assert scope_of(address) == scope


def test_unparsable_lines_are_counted_not_fatal() -> None:
    text = (FIXTURES / "clean/proc/net/tcp").read_text() + "   9: garbage\n"
    sockets, bad = parse_proc_net(text, "tcp", socket.AF_INET)
    assert bad == 1
    assert {(s.address, s.port) for s in sockets} == {
        ("0.0.0.0", 22),
        ("127.0.0.1", 6379),
        ("127.0.0.1", 25),
    }


# --- ports.listening on fixture trees ------------------------------------------------------

EXPOSED_SOCKETS = {
    ("0.0.0.0", 22, "tcp"): (NETWORK, ""),
    ("0.0.0.0", 23, "tcp"): (NETWORK, "telnet"),
    ("127.0.0.53", 53, "tcp"): (LOOPBACK, ""),
    ("10.213.77.10", 445, "tcp"): (NETWORK, "smb"),
    ("127.0.0.1", 6379, "tcp"): (LOOPBACK, "redis"),
    ("::", 22, "tcp"): (NETWORK, ""),
    ("::ffff:127.0.0.1", 3306, "tcp"): (LOOPBACK, "mysql"),
    ("::", 3389, "tcp"): (NETWORK, "rdp"),
    ("::1", 5432, "tcp"): (LOOPBACK, "postgresql"),
    ("0.0.0.0", 69, "udp"): (NETWORK, "tftp"),
    ("0.0.0.0", 161, "udp"): (NETWORK, "snmp"),
    ("127.0.0.1", 323, "udp"): (LOOPBACK, ""),
    ("::1", 323, "udp"): (LOOPBACK, ""),
    ("::", 1900, "udp"): (NETWORK, "upnp"),
}


def test_listening_inventory_of_a_recorded_tree() -> None:
    finding = only(run(ListeningPorts, fixture_host(FIXTURES / "exposed")))
    assert (finding.status, finding.severity) == (Status.PASS, Severity.INFO)
    inventory = rows(finding)
    # The two SO_REUSEPORT sockets on 0.0.0.0:22 are one entry; the established TCP pair on 445
    # and the connected UDP client on 40000 are not servers and are left out.
    assert set(inventory) == set(EXPOSED_SOCKETS)
    for key, (scope, service) in EXPOSED_SOCKETS.items():
        assert (inventory[key]["scope"], inventory[key]["service"]) == (scope, service), key
        assert inventory[key]["process"] is None  # /proc/net does not name the owner
    assert finding.evidence["source"] == "/proc/net"
    assert (finding.evidence["network"], finding.evidence["loopback"]) == (8, 6)
    assert "8 reachable from the network, 6 on loopback only" in summary(finding)
    labels = {
        (m.labels["address"], m.labels["port"], m.labels["protocol"]) for m in finding.measurements
    }
    assert labels == {(a, str(p), proto) for a, p, proto in EXPOSED_SOCKETS}
    telnet = next(m for m in finding.measurements if m.labels["port"] == "23")
    assert telnet.value == 1.0
    assert dict(telnet.labels) == {
        "address": "0.0.0.0",
        "port": "23",
        "protocol": "tcp",
        "process": "",
        "scope": "network",
        "service": "telnet",
    }


def test_tree_without_proc_net_is_skipped(tmp_path: Path) -> None:
    for cls in (ListeningPorts, RiskyServices):
        finding = only(run(cls, fixture_host(tmp_path)))
        assert finding.status == Status.SKIP
        assert "/proc/net" in summary(finding)


# --- ports.risky_services on fixture trees --------------------------------------------------


def test_risky_services_exposed_on_the_network_fail_at_their_severity() -> None:
    findings = run(RiskyServices, fixture_host(FIXTURES / "exposed"))
    found = by_service(findings)
    expected_fail = {
        "telnet": Severity.HIGH,
        "smb": Severity.HIGH,
        "rdp": Severity.HIGH,
        "tftp": Severity.HIGH,
        "snmp": Severity.MEDIUM,
        "upnp": Severity.MEDIUM,
    }
    failed = {name: f.severity for name, f in found.items() if f.status == Status.FAIL}
    assert failed == expected_fail
    passed = {name for name, f in found.items() if f.status == Status.PASS}
    assert passed == {"redis", "mysql", "postgresql"}
    assert len(findings) == len(expected_fail) + len(passed)  # one finding per service
    # Worst first, so the report reads in order of urgency.
    ranks = [f.severity.rank for f in findings]
    assert ranks == sorted(ranks)

    telnet = found["telnet"]
    assert summary(telnet) == "telnet listens on the network: 0.0.0.0:23/tcp."
    assert summary(telnet, "fr") == "telnet écoute sur le réseau : 0.0.0.0:23/tcp."
    assert telnet.evidence["network"] == ["0.0.0.0:23/tcp"]
    assert "clair" in telnet.evidence["why"]["fr"]
    assert "telnet service (23/tcp)" in remedy(telnet)
    assert "0.0.0.0:23/tcp" in remedy(telnet, "fr")
    assert telnet.references == {"anssi": [21, 23]}
    assert found["rdp"].evidence["network"] == ["[::]:3389/tcp"]
    assert found["smb"].evidence["network"] == ["10.213.77.10:445/tcp"]


def test_risky_service_on_loopback_only_passes_and_says_so() -> None:
    found = by_service(run(RiskyServices, fixture_host(FIXTURES / "exposed")))
    mysql = found["mysql"]
    assert mysql.status == Status.PASS
    assert mysql.evidence["exposure"] == "loopback only"
    assert mysql.evidence["loopback"] == ["[::ffff:127.0.0.1]:3306/tcp"]
    assert "loopback only" in summary(mysql)


def test_clean_tree_has_no_failing_service() -> None:
    findings = run(RiskyServices, fixture_host(FIXTURES / "clean"))
    assert [f.status for f in findings] == [Status.PASS]
    assert findings[0].evidence["service"] == "redis"
    assert findings[0].evidence["exposure"] == "loopback only"


def test_host_without_any_risky_service_gets_one_pass(tmp_path: Path) -> None:
    lines = (FIXTURES / "clean/proc/net/tcp").read_text().splitlines()
    net = tmp_path / "proc/net"
    net.mkdir(parents=True)
    # The header and the sshd line only (0.0.0.0:22, not a risky service).
    (net / "tcp").write_text("\n".join([lines[0], *[x for x in lines if ":0016 " in x]]) + "\n")
    finding = only(run(RiskyServices, fixture_host(tmp_path)))
    assert finding.status == Status.PASS
    assert summary(finding) == "No risky service listens on this host."
    assert finding.evidence["listening_sockets"] == 1


# --- rules/risky_ports.yaml ----------------------------------------------------------------


def test_shipped_catalogue_is_valid_and_feeds_the_default_scan() -> None:
    names = [s.name for s in CATALOG.services]
    assert len(names) == len(set(names))
    for name in ("telnet", "ftp", "smb", "rdp", "vnc", "redis", "snmp", "hikvision", "dahua"):
        assert name in names
    assert CATALOG.match(5905, "tcp").name == "vnc"  # type: ignore[union-attr]
    assert CATALOG.match(161, "udp").name == "snmp"  # type: ignore[union-attr]
    assert CATALOG.match(161, "tcp") is None
    assert CATALOG.match(22, "tcp") is None
    tcp = CATALOG.nmap_ports("tcp").split(",")
    assert {"21", "23", "445", "3389", "5900-5910", "37777"} <= set(tcp)
    assert "161" not in tcp and "69" not in tcp  # UDP-only services: not in a TCP scan
    assert valid_port_spec(CATALOG.nmap_ports("tcp"))


def _catalogue() -> dict[str, Any]:
    data = yaml.safe_load((REPO / "rules/risky_ports.yaml").read_text())
    assert isinstance(data, dict)
    return data


def _break_severity(d: dict[str, Any]) -> None:
    d["services"][0]["severity"] = "urgent"


def _break_port(d: dict[str, Any]) -> None:
    d["services"][0]["ports"] = [70000]


def _break_range(d: dict[str, Any]) -> None:
    d["services"][0]["ports"] = ["5910-5900"]


def _break_protocol(d: dict[str, Any]) -> None:
    d["services"][0]["protocol"] = "sctp"


def _break_why(d: dict[str, Any]) -> None:
    del d["services"][0]["why"]["en"]


def _break_unknown_key(d: dict[str, Any]) -> None:
    d["services"][0]["port"] = 23


def _break_overlap(d: dict[str, Any]) -> None:
    d["services"][1]["ports"] = [23]
    d["services"][1]["protocol"] = "tcp"


@pytest.mark.parametrize(
    ("breaker", "key", "expected"),
    [
        (_break_severity, "services[0].severity", "one of critical, high, medium, low"),
        (_break_port, r"services[0].ports[0]", "a port number 1-65535"),
        (_break_range, r"services[0].ports[0]", "FIRST <= LAST"),
        (_break_protocol, "services[0].protocol", "tcp, udp, or a list of them"),
        (_break_why, "services[0].why.en", "a value"),
        (_break_unknown_key, "services[0].port", "unknown key"),
        (_break_overlap, "services[1].ports", "23/tcp belongs to 'telnet'"),
    ],
)
def test_malformed_catalogue_names_file_and_key(breaker: Any, key: str, expected: str) -> None:
    data = _catalogue()
    breaker(data)
    with pytest.raises(ConfigError) as err:
        parse_risky_services(data, "rules/risky_ports.yaml")
    assert err.value.source == "rules/risky_ports.yaml"
    assert err.value.key == key
    assert expected in err.value.expected_in("en")
    assert f"key '{key}'" in err.value.render("en")
    assert f"clé « {key} »" in err.value.render("fr")


def test_malformed_catalogue_turns_the_check_into_an_error(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules_dir)
    data = _catalogue()
    _break_severity(data)
    (rules_dir / "risky_ports.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
    check = make(RiskyServices, rules=load_rules(rules_dir))
    findings, _ = run_check(check, fixture_host(FIXTURES / "exposed"), 10)
    finding = only(findings)
    assert finding.status == Status.ERROR
    # The runner's error finding carries the exception's text as its `error` argument.
    assert "risky_ports.yaml" in finding.args["error"]
    assert "services[0].severity" in finding.args["error"]


# --- live: this machine's own sockets ------------------------------------------------------


def test_live_inventory_finds_this_process_sockets_with_scope_and_owner() -> None:
    me = psutil.Process().name()
    with (
        listener("127.0.0.1") as local,
        listener("0.0.0.0") as wide,
        listener("127.0.0.1", kind=socket.SOCK_DGRAM) as udp,
        socket.create_connection(local.getsockname(), timeout=5) as client,
    ):
        finding = only(run(ListeningPorts, Host("/")))
        inventory = rows(finding)
        local_port = local.getsockname()[1]
        wide_port = wide.getsockname()[1]
        udp_port = udp.getsockname()[1]
        client_port = client.getsockname()[1]
    assert finding.evidence["source"] == "psutil"
    assert inventory[("127.0.0.1", local_port, "tcp")]["scope"] == LOOPBACK
    assert inventory[("0.0.0.0", wide_port, "tcp")]["scope"] == NETWORK
    assert inventory[("127.0.0.1", udp_port, "udp")]["scope"] == LOOPBACK
    for key in (("127.0.0.1", local_port, "tcp"), ("0.0.0.0", wide_port, "tcp")):
        assert inventory[key]["process"] == me
    # A connected client socket is not a server.
    assert all(port != client_port for _, port, _ in inventory)
    owners = {
        m.labels["port"]: m.labels["process"]
        for m in finding.measurements
        if m.labels["address"] == "0.0.0.0"
    }
    assert owners[str(wide_port)] == me


def test_live_risky_service_on_the_network_fails_and_on_loopback_passes() -> None:
    wide = bind_first_free("0.0.0.0", VNC_PORTS)
    loop_candidates = [6379, 11211, 27017, 9200]
    local = bind_first_free("127.0.0.1", loop_candidates)
    try:
        assert wide is not None, "every VNC port 5900-5910 is taken on this machine"
        assert local is not None, "no free port among " + str(loop_candidates)
        findings = run(RiskyServices, Host("/"))
        wide_port = wide.getsockname()[1]
        local_service = CATALOG.match(local.getsockname()[1], "tcp")
    finally:
        for s in (wide, local):
            if s is not None:
                s.close()
    assert local_service is not None
    found = by_service(findings)
    vnc = found["vnc"]
    assert (vnc.status, vnc.severity) == (Status.FAIL, Severity.HIGH)
    me = psutil.Process().name()
    assert f"0.0.0.0:{wide_port}/tcp ({me})" in vnc.evidence["network"]
    assert f"0.0.0.0:{wide_port}/tcp" in summary(vnc)
    local_finding = found[local_service.name]
    assert local_finding.status == Status.PASS
    assert local_finding.evidence["exposure"] == "loopback only"


# --- ports.network_scan: targets, command line ---------------------------------------------


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ("127.0.0.1", "ipv4"),
        ("::1", "ipv6"),
        ("localhost", "hostname"),
        ("nas.mairie-exemple.fr", "hostname"),
        ("10.0.0.0/24", None),
        ("10.0.0.1-5", None),
        ("192.168.1.*", None),
        ("-iL/etc/passwd", None),
        ("--script=x", None),
        ("0x7f000001", None),
        ("a b", None),
        ("", None),
    ],
)
def test_only_addresses_and_host_names_are_scan_targets(target: str, kind: str | None) -> None:
    assert target_kind(target) == kind


def test_nmap_command_is_a_bounded_tcp_connect_scan_of_exactly_the_targets() -> None:
    argv = nmap_argv(["127.0.0.1", "localhost"], "22,445", 96.0)
    assert argv[:4] == ["nmap", "-sT", "-Pn", "-n"]
    assert "--open" not in argv  # it would drop a host with no open port from the report
    assert argv[argv.index("--host-timeout") + 1] == "96000ms"
    assert argv[-3:] == ["--", "127.0.0.1", "localhost"]
    assert "-6" in nmap_argv(["::1"], "22", 5.0, ipv6=True)
    assert "-6" not in argv
    # The host timeout leaves nmap time to report before the runner's hard timeout.
    assert host_timeout(120) == 96
    assert host_timeout(6) == 1
    assert all(host_timeout(b) <= b - 4 for b in (5, 6, 10, 30, 120, 600))


def test_no_target_configured_skips() -> None:
    # The fixture host raises on any command: nothing may run.
    finding = only(run(NetworkScan, fixture_host(FIXTURES / "clean")))
    assert finding.status == Status.SKIP
    assert "ports.scan_targets" in summary(finding)


def test_bad_targets_are_refused_and_never_reach_nmap() -> None:
    config = scan_config(["10.0.0.0/24", "-oN/tmp/x", "127.0.0.1-5"])
    findings = run(NetworkScan, fixture_host(FIXTURES / "clean"), config)
    assert [f.status for f in findings] == [Status.ERROR] * 3
    assert [f.evidence["target"] for f in findings] == ["10.0.0.0/24", "-oN/tmp/x", "127.0.0.1-5"]
    assert all("not an IP address or a host name" in summary(f) for f in findings)


def test_bad_scan_ports_is_an_error_naming_the_key() -> None:
    config = Config(ports=PortSettings(("127.0.0.1",), "22;reboot", 30.0))
    findings, _ = run_check(make(NetworkScan, config), fixture_host(FIXTURES / "clean"), 10)
    finding = only(findings)
    assert finding.status == Status.ERROR
    assert "ports.scan_ports" in finding.args["error"]


def test_missing_nmap_with_targets_is_an_error() -> None:
    # The real runner, asked for a program that is not installed (nmap itself is, here).
    def runner(argv: Sequence[str], timeout: float, env: Mapping[str, str] | None) -> CommandResult:
        return subprocess_runner(["sentinelle-test-no-such-nmap", *argv[1:]], timeout, env)

    findings = run(NetworkScan, Host("/", runner=runner), scan_config(["127.0.0.1"]))
    finding = only(findings)
    assert finding.status == Status.ERROR
    assert "nmap is not installed" in summary(finding)


# Recorded from nmap 7.93 on this machine: a name that does not resolve. Replayed because running
# it again would send a DNS query off this machine.
UNRESOLVED_XML = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<nmaprun scanner="nmap" args="nmap -sT -Pn -n -&#45;open -&#45;host-timeout 20000ms -p 22 -oX - \
-&#45; no-such-host.invalid" start="1795872247" version="7.93" xmloutputversion="1.05">
<scaninfo type="connect" protocol="tcp" numservices="1" services="22"/>
<verbose level="0"/>
<debugging level="0"/>
<runstats><finished time="1795872247" timestr="Sat Nov 28 13:24:07 2026" summary="Nmap done at \
Sat Nov 28 13:24:07 2026; 0 IP addresses (0 hosts up) scanned in 0.03 seconds" elapsed="0.03" \
exit="success"/><hosts up="0" down="0" total="0"/>
</runstats>
</nmaprun>
"""


def test_unresolvable_target_is_an_error_with_nmaps_reason() -> None:
    stderr = 'Failed to resolve "no-such-host.invalid".\n'
    host = fixture_host(
        FIXTURES / "clean", commands={("nmap",): recorded(UNRESOLVED_XML, stderr=stderr)}
    )
    finding = only(run(NetworkScan, host, scan_config(["no-such-host.invalid"], "22")))
    assert finding.status == Status.ERROR
    assert summary(finding) == (
        'no-such-host.invalid was not scanned: Failed to resolve "no-such-host.invalid".'
    )


# --- ports.network_scan: real nmap ---------------------------------------------------------


def test_nmap_finds_loopback_listeners_on_ipv4_ipv6_and_by_name() -> None:
    need_tool("nmap")
    with listener("127.0.0.1") as a, listener("127.0.0.1") as b, listener("::1") as c:
        with listener("127.0.0.1") as closed:
            closed_port = closed.getsockname()[1]
        ports = [a.getsockname()[1], b.getsockname()[1], c.getsockname()[1], closed_port]
        targets = ["127.0.0.1", "localhost", "::1", "0:0:0:0:0:0:0:1"]
        config = scan_config(targets, ",".join(map(str, ports)))
        findings = run(NetworkScan, Host("/"), config)
    assert [f.status for f in findings] == [Status.PASS] * 4
    found = {f.evidence["target"]: f for f in findings}
    v4_open = {f"{ports[0]}/tcp", f"{ports[1]}/tcp"}
    for target in ("127.0.0.1", "localhost"):
        f = found[target]
        assert f.severity == Severity.INFO
        assert {p.split(" ")[0] for p in f.evidence["open_ports"]} == v4_open
        assert {
            (m.labels["target"], m.labels["port"], m.labels["service"]) for m in f.measurements
        } == {
            (target, str(ports[0]), ""),
            (target, str(ports[1]), ""),
        }
        assert "-sT" in f.evidence["nmap_args"]
    assert found["localhost"].evidence["address"] == "127.0.0.1"
    for target in ("::1", "0:0:0:0:0:0:0:1"):  # nmap reports both as ::1
        assert [p.split(" ")[0] for p in found[target].evidence["open_ports"]] == [
            f"{ports[2]}/tcp"
        ]
    assert "-6" in found["::1"].evidence["nmap_args"]
    assert all(str(closed_port) not in " ".join(f.evidence["open_ports"]) for f in findings)


def test_nmap_flags_a_risky_port_with_the_default_port_list() -> None:
    need_tool("nmap")
    vnc = bind_first_free("127.0.0.1", VNC_PORTS)
    assert vnc is not None, "every VNC port 5900-5910 is taken on this machine"
    try:
        port = vnc.getsockname()[1]
        findings = run(NetworkScan, Host("/"), scan_config(["127.0.0.1"]))
    finally:
        vnc.close()
    fail = [f for f in findings if f.status == Status.FAIL]
    assert len(fail) == 1
    assert (fail[0].severity, fail[0].evidence["service"]) == (Severity.HIGH, "vnc")
    assert fail[0].evidence["port"] == port
    assert summary(fail[0]) == f"vnc ({port}/tcp) is reachable on 127.0.0.1."
    assert dict(fail[0].measurements[0].labels) == {
        "target": "127.0.0.1",
        "port": str(port),
        "protocol": "tcp",
        "service": "vnc",
    }
    assert "127.0.0.1" in remedy(fail[0], "fr")
    scanned = findings[-1].evidence["scanned_ports"]
    assert scanned == CATALOG.nmap_ports("tcp")


def test_nmap_scan_of_a_network_namespace_host() -> None:
    need_root()
    need_tool("nmap")
    need_tool("ip")
    with veth_namespace() as ns:
        ns.start_tcp_listener(5901)
        ns.start_tcp_listener(8022)
        config = scan_config([ns.ns_address], "23,445,5901,8022")
        findings = run(NetworkScan, Host("/"), config)
        name, host_if = ns.name, ns.host_ifname
    statuses = {(f.status, f.severity): f for f in findings}
    assert set(statuses) == {(Status.FAIL, Severity.HIGH), (Status.PASS, Severity.INFO)}
    risky = statuses[(Status.FAIL, Severity.HIGH)]
    assert (risky.evidence["service"], risky.evidence["port"]) == ("vnc", 5901)
    assert risky.evidence["target"] == ns.ns_address
    other = statuses[(Status.PASS, Severity.INFO)]
    assert [p.split(" ")[0] for p in other.evidence["open_ports"]] == ["8022/tcp"]
    # The helper removed everything it made.
    assert name not in list_namespaces()
    assert not Path(f"/sys/class/net/{host_if}").exists()


def test_nmap_host_timeout_is_reported_as_an_error() -> None:
    need_root()
    need_tool("nmap")
    need_tool("ip")
    with veth_namespace() as ns:
        # Replies from the namespace vanish, so every port looks filtered and nmap gives up on
        # the host after its host timeout (1 s for a 6 s budget).
        ns.run(["ip", "route", "add", "blackhole", f"{ns.host_address}/32"])
        config = Config(ports=PortSettings((ns.ns_address,), "1-65535", 6.0))
        finding = only(run(NetworkScan, Host("/"), config))
    assert finding.status == Status.ERROR
    assert "host timeout" in summary(finding)
    assert finding.evidence["target"] == ns.ns_address


def test_nmap_overrunning_its_budget_becomes_an_error_through_the_runner() -> None:
    need_tool("nmap")
    # Below the config's 5 s minimum on purpose: the real nmap cannot finish in 1 ms.
    config = Config(ports=PortSettings(("127.0.0.1",), "1-1024", 0.001))
    findings, _ = run_check(make(NetworkScan, config), Host("/"), 30)
    finding = only(findings)
    assert finding.status == Status.ERROR
    assert "CommandTimeout" in finding.args["error"]
    assert "no answer after 0.001 s" in finding.args["error"]


def test_netns_helper_removes_leftovers_of_a_dead_run() -> None:
    need_root()
    need_tool("ip")
    probe = subprocess.Popen(["true"])  # its process id no longer runs once it is waited for
    probe.wait(5)
    stale = f"sntl-test-{probe.pid}-abc123"
    subprocess.run(["ip", "netns", "add", stale], check=True, timeout=10)
    try:
        with veth_namespace() as ns:
            assert stale not in list_namespaces()
            assert ns.name.startswith(f"sntl-test-{os.getpid()}-")
            assert ns.name in list_namespaces()
    finally:
        subprocess.run(["ip", "netns", "del", stale], check=False, timeout=10)
    assert ns.name not in list_namespaces()
