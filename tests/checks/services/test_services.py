"""services.cleartext on fixture trees (dpkg status, /proc/net), vsftpd with and without
TLS, rpm's recorded answer, the real dpkg-query on the same status files, and a real listener
on port 23 in a network namespace this test creates."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from sentinelle.checks.base import CheckContext
from sentinelle.checks.services.catalog import parse_software
from sentinelle.checks.services.checks import CleartextServices
from sentinelle.checks.services.packages import rpm_installed
from sentinelle.config import Config
from sentinelle.errors import ConfigError
from sentinelle.facts import parse_dpkg_status
from sentinelle.host import Host
from sentinelle.model import Finding, Status
from tests.checks.netns import veth_namespace
from tests.checks.texts import RULES, remedy, rendered, summary
from tests.conftest import fixture_host, need_root, need_tool, recorded

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REPO = Path(__file__).resolve().parents[3]


def run(host: Host, **params: Any) -> list[Finding]:
    meta = RULES.checks[CleartextServices.id]
    check = CleartextServices(meta, {**meta.params, **params}, CheckContext(Config(), RULES))
    findings = list(check.run(host))
    for f in findings:
        rendered(f)
    return findings


def test_a_clean_debian_passes_and_a_removed_telnetd_is_not_installed() -> None:
    (f,) = run(fixture_host(FIXTURES / "debian_clean"))
    assert f.status is Status.PASS and f.args == {"manager": "dpkg"}
    assert "telnet, FTP sans TLS" in summary(f, "fr")


def test_telnet_installed_and_listening_and_vsftpd_without_tls_fail() -> None:
    findings = run(fixture_host(FIXTURES / "debian_telnet"))
    by_key = {f.key: f for f in findings}
    # The recorded sockets also hold 0.0.0.0:69/udp: TFTP listening, with no package.
    assert set(by_key) == {"telnet", "ftp", "tftp"}
    assert {f.status for f in findings} == {Status.FAIL}
    assert by_key["tftp"].message == "services.cleartext.listening"
    telnet = by_key["telnet"]
    assert telnet.message == "services.cleartext.installed_listening"
    assert telnet.args["packages"] == ["inetutils-telnetd"]
    assert telnet.args["addresses"] == ["0.0.0.0:23/tcp"]
    ftp = by_key["ftp"]
    assert ftp.message == "services.cleartext.installed"
    assert ftp.evidence["tls"]["ssl_enable"] == "NO"
    assert summary(ftp, "fr").startswith("Le service en clair ftp est installé (paquets : vsftpd)")
    assert "SSH au lieu de telnet" in remedy(telnet, "fr")


def test_vsftpd_enforcing_tls_is_not_cleartext(tmp_path: Path) -> None:
    root = shutil.copytree(FIXTURES / "debian_telnet", tmp_path / "root")
    conf = root / "etc/vsftpd.conf"
    conf.write_text(conf.read_text().replace("ssl_enable=NO", "ssl_enable=YES"))
    assert {f.key for f in run(fixture_host(root))} == {"telnet", "tftp"}
    conf.write_text(conf.read_text() + "force_local_logins_ssl=NO\n")
    assert {f.key for f in run(fixture_host(root))} == {"telnet", "ftp", "tftp"}


def test_a_socket_without_a_package_fails_as_listening(tmp_path: Path) -> None:
    root = shutil.copytree(FIXTURES / "debian_clean", tmp_path / "root")
    shutil.copytree(FIXTURES / "debian_telnet/proc", root / "proc", dirs_exist_ok=True)
    findings = run(fixture_host(root))
    assert {f.key for f in findings} == {"telnet", "tftp"}
    f = findings[0]
    assert f.status is Status.FAIL and f.message == "services.cleartext.listening"
    assert f.args["packages"] == [] and f.evidence["scopes"] == ["network"]


def test_no_package_database_is_a_skip(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "debian_clean/proc", tmp_path / "proc")
    (f,) = run(fixture_host(tmp_path))
    assert f.status is Status.SKIP and "no /var/lib/dpkg/status" in f.evidence["reason"]


def test_rpms_recorded_answer() -> None:
    out = "package telnet-server is not installed\npackage vsftpd is not installed\n"
    host = fixture_host(FIXTURES, commands={("rpm", "-q"): recorded(out, 2)})
    assert rpm_installed(host, ["vsftpd", "telnet-server"]).installed == frozenset()
    # An installed one prints its name (--qf '%{NAME}\n').
    host = fixture_host(FIXTURES, commands={("rpm", "-q"): recorded(
        "telnet-server\npackage vsftpd is not installed\n", 1)})
    assert rpm_installed(host, ["vsftpd", "telnet-server"]).installed == {"telnet-server"}


def test_a_mistake_in_the_list_names_file_line_and_key() -> None:
    from sentinelle.validation import parse_yaml

    data = parse_yaml("services:\n  - name: telnet\n    packages: [telnetd]\n"
                      "    ports: [23/tcpx]\n")
    try:
        parse_software(data, "cleartext_services.yaml", "services")
    except ConfigError as exc:
        text = exc.render("en")
        assert "cleartext_services.yaml:4" in text and "services[0].ports" in text
    else:
        raise AssertionError("a bad port was accepted")


def test_real_dpkg_query_agrees_on_the_status_files(tmp_path: Path) -> None:
    need_tool("dpkg-query")
    for tree in ("debian_clean", "debian_telnet"):
        admindir = FIXTURES / tree / "var/lib/dpkg"
        out = subprocess.run(["dpkg-query", f"--admindir={admindir}", "-W", "-f",
                              "${Package} ${db:Status-Abbrev}\n"], capture_output=True,
                             text=True, check=True).stdout
        # "ii": installed; "rc": removed, configuration kept (its files are gone).
        real = {line.split()[0] for line in out.splitlines() if line.split()[1][1] != "c"}
        assert parse_dpkg_status((admindir / "status").read_text()) == real, tree


def test_a_real_telnet_listener_in_a_namespace_fails(tmp_path: Path) -> None:
    """The agent itself, inside a network namespace this test creates, sees the listener."""
    need_root()
    need_tool("ip")
    with veth_namespace() as ns:
        ns.run(["ip", "link", "set", "lo", "up"])
        ns.start_tcp_listener(23, "127.0.0.1")
        out = ns.run([sys.executable, "-m", "sentinelle.cli", "check", "--only",
                      "services", "--format", "json"], timeout=60)
    results = [r for r in json.loads(out)["results"] if r["check"] == "services.cleartext"]
    telnet = [r for r in results if r["key"] == "telnet"]
    assert telnet and telnet[0]["status"] == "fail"
    assert telnet[0]["args"]["addresses"][0].startswith("127.0.0.1:23/tcp")
