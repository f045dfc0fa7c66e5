"""The ssh checks against the real OpenSSH: `sshd -T` on configurations written here decides
(the checks' live path), the file reader used on trees gives sshd's own answers, and a real
sshd's listening sockets decide whether password login is reachable (loopback here, every
address inside a network namespace the test creates)."""

from __future__ import annotations

import ipaddress
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinelle.checks.ssh.checks import (
    SshAllowList,
    SshEmptyPasswords,
    SshPasswordLogin,
    SshRootLogin,
)
from sentinelle.checks.ssh.sshd import SshdSettings, parse_sshd_t, read_files
from sentinelle.host import Host
from sentinelle.model import Status
from tests.checks.netns import veth_namespace
from tests.checks.ssh.rig import (
    SSHD,
    SshdRunner,
    in_private_run,
    sshd_t,
    start_sshd,
    write_config,
)
from tests.checks.ssh.test_ssh import run
from tests.conftest import FIXED_NOW, fixture_host, need_root, need_tool

KEYS = ("permitrootlogin", "passwordauthentication", "kbdinteractiveauthentication", "usepam",
        "permitemptypasswords", "allowusers", "allowgroups", "authenticationmethods")
DROP_INS = "/etc/ssh/sshd_config.d"


@pytest.fixture(autouse=True)
def real_openssh() -> None:
    need_root()
    for tool in ("sshd", "ssh-keygen", "unshare"):
        need_tool(tool)


def live(config: Path, privsep: bool = True) -> Host:
    return Host("/", runner=SshdRunner(config, privsep), clock=lambda: FIXED_NOW)


# Each case: sshd_config (after its Include line), then the drop-ins.
CASES: dict[str, tuple[str, dict[str, str]]] = {
    "debian12": ("KbdInteractiveAuthentication no\nUsePAM yes\nX11Forwarding yes\n", {}),
    "drop-in-first": ("PermitRootLogin no\nPermitEmptyPasswords no\n",
                      {"50-cloud.conf": "PermitRootLogin yes\n",
                       "60-other.conf": "PermitEmptyPasswords yes\nPermitRootLogin no\n"}),
    "old-spelling": ("ChallengeResponseAuthentication yes\nUsePAM yes\n", {}),
    "prohibit": ("PermitRootLogin prohibit-password\nPasswordAuthentication no\n", {}),
    "lists": ("AllowUsers alice bob\nAllowGroups admins\n", {"10-more.conf": "AllowUsers carol\n"}),
    "ports": ("Port 2222\nPort 2223\n", {}),
    "listen": ("ListenAddress 127.0.0.1\nPort 2200\n", {}),
    "listen-port": ("ListenAddress 127.0.0.1:2201\nListenAddress [::1]:2202\n", {}),
    "match": ("PasswordAuthentication yes\nMatch User bob\n  PasswordAuthentication no\n"
              "  PermitRootLogin yes\n", {}),
    "methods": ("AuthenticationMethods publickey,password publickey\n", {}),
    "equals": ("PermitRootLogin=yes\nusepam YES\n", {}),
}


def tree_and_real_config(tmp_path: Path, main: str, drop_ins: dict[str, str]
                         ) -> tuple[Host, Path]:
    """A tree with the configuration at its /etc/ssh, and the same files for the real sshd (the
    Include pointing at the tree's drop-ins)."""
    root = tmp_path / "root"
    (root / DROP_INS.lstrip("/")).mkdir(parents=True)
    include = f"Include {DROP_INS}/*.conf\n"
    (root / "etc/ssh/sshd_config").write_text(include + main)
    for name, text in drop_ins.items():
        (root / DROP_INS.lstrip("/") / name).write_text(text)
    real = write_config(tmp_path, include.replace(DROP_INS, str(root / DROP_INS.lstrip("/")))
                        + main)
    return fixture_host(root), real


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_tree_reader_gives_sshds_own_answers(case: str, tmp_path: Path) -> None:
    host, real = tree_and_real_config(tmp_path, *CASES[case])
    result = sshd_t(real)
    assert result.returncode == 0, result.stderr
    truth = SshdSettings(parse_sshd_t(result.stdout), "sshd -T")
    mine = read_files(host)
    for key in KEYS:
        assert mine.all(key) == truth.all(key), (case, key)
    assert mine.ports() == truth.ports(), case


def test_the_live_checks_judge_what_sshd_says(tmp_path: Path) -> None:
    _, real = tree_and_real_config(tmp_path, "PermitRootLogin no\nPermitEmptyPasswords no\n"
                                   "AllowGroups ssh-users\n",
                                   {"50-cloud.conf": "PermitRootLogin yes\n"
                                                     "PermitEmptyPasswords yes\n"})
    host = live(real)
    f = run(SshRootLogin, host)
    assert f.status is Status.FAIL and f.args == {"value": "yes"}
    assert f.evidence["source"] == "sshd -T"
    assert run(SshEmptyPasswords, host).status is Status.FAIL
    f = run(SshAllowList, host)
    assert f.status is Status.PASS and f.args == {"groups": ["ssh-users"]}
    assert host._runner.calls[0][:3] == ["sshd", "-T", "-f"]  # type: ignore[attr-defined]


def test_sshds_defaults_pass_root_and_empty_passwords(tmp_path: Path) -> None:
    _, real = tree_and_real_config(tmp_path, "", {})
    host = live(real)
    assert run(SshRootLogin, host).args == {"value": "without-password"}
    assert run(SshEmptyPasswords, host).status is Status.PASS
    assert run(SshAllowList, host).status is Status.FAIL


def test_a_configuration_sshd_refuses_is_an_error(tmp_path: Path) -> None:
    _, real = tree_and_real_config(tmp_path, "PermitRootLogn yes\n", {})
    f = run(SshRootLogin, live(real))
    assert f.status is Status.ERROR and "Bad configuration option: PermitRootLogn" in (
        f.evidence["reason"])


def test_without_its_privilege_separation_directory_sshd_is_read_from_its_files(
    tmp_path: Path
) -> None:
    _, real = tree_and_real_config(tmp_path, "", {})
    f = run(SshRootLogin, live(real, privsep=False))  # this machine's own files, then
    assert f.evidence["source"] == "files"
    assert f.evidence["sshd_t_refused"] == "Missing privilege separation directory: /run/sshd"


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sshd_processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_a_running_sshd_on_loopback_is_not_reachable(
    tmp_path: Path, sshd_processes: list[subprocess.Popen[str]]
) -> None:
    port = free_loopback_port()
    real = write_config(tmp_path, f"ListenAddress 127.0.0.1:{port}\nUsePAM yes\n"
                                  "KbdInteractiveAuthentication no\n")

    def popen(argv: list[str]) -> subprocess.Popen[str]:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        sshd_processes.append(proc)
        return proc

    start_sshd(real, popen, lambda: Path("/proc/net/tcp").read_text(), port)
    f = run(SshPasswordLogin, live(real))  # psutil: this machine's sockets, sshd's by name
    assert f.status is Status.PASS and f.message == "ssh.password_login.loopback_only"
    assert f.args == {"methods": ["password"], "ports": [str(port)],
                      "endpoints": [f"127.0.0.1:{port}/tcp"]}
    assert f.evidence["sockets_source"] == "psutil"


def test_a_running_sshd_on_every_address_is_reachable(tmp_path: Path) -> None:
    need_tool("ip")
    root = tmp_path / "root"
    (root / "etc/ssh").mkdir(parents=True)
    (root / "etc/ssh/sshd_config").write_text("UsePAM yes\nKbdInteractiveAuthentication no\n")
    real = write_config(tmp_path, "UsePAM yes\nKbdInteractiveAuthentication no\n")
    with veth_namespace() as ns:
        start_sshd(real, ns.popen, lambda: ns.run(["cat", "/proc/net/tcp"]), 22)
        (root / "proc/net").mkdir(parents=True)
        for table in ("tcp", "tcp6"):
            (root / "proc/net" / table).write_text(ns.run(["cat", f"/proc/net/{table}"]))
    f = run(SshPasswordLogin, fixture_host(root))
    assert f.status is Status.FAIL and f.message == "ssh.password_login.reachable"
    assert "0.0.0.0:22/tcp" in f.args["endpoints"]
    shutil.rmtree(root)


def test_password_chains_that_need_a_key_too_are_not_password_logins(tmp_path: Path) -> None:
    _, real = tree_and_real_config(
        tmp_path,
        "AuthenticationMethods publickey,password publickey\nPasswordAuthentication yes\n", {})
    f = run(SshPasswordLogin, live(real))
    assert f.status is Status.PASS and f.message == "ssh.password_login.keys_only"
    assert f.evidence["authenticationmethods"] == ["publickey,password", "publickey"]


def test_the_match_blocks_the_reader_finds_are_the_ones_sshd_applies(tmp_path: Path) -> None:
    host, real = tree_and_real_config(
        tmp_path, "PermitRootLogin no\nPermitEmptyPasswords no\n"
                  "Match Address 10.0.0.0/8\n  PermitRootLogin yes\n"
                  "Match User invite\n  PermitEmptyPasswords yes\n",
        {"50-other.conf": "Match User bob\n  PermitRootLogin prohibit-password\n"})
    found = read_files(host).overrides
    assert {(o.criteria, o.key, o.value) for o in found} == {
        ("Address 10.0.0.0/8", "permitrootlogin", "yes"),
        ("User invite", "permitemptypasswords", "yes"),
        ("User bob", "permitrootlogin", "without-password")}
    for o in found:
        kind, _, what = o.criteria.partition(" ")
        user, addr = ("somebody", "192.0.2.1")
        if kind == "Address":
            addr = str(next(ipaddress.ip_network(what).hosts()))
        else:
            user = what
        result = subprocess.run(in_private_run(
            [SSHD, "-T", "-f", str(real), "-C", f"user={user},host=h,addr={addr}"]),
            capture_output=True, text=True, timeout=30, check=True)
        assert parse_sshd_t(result.stdout)[o.key] == [o.value], o
        plain = subprocess.run(in_private_run(
            [SSHD, "-T", "-f", str(real), "-C", "user=somebody,host=h,addr=192.0.2.1"]),
            capture_output=True, text=True, timeout=30, check=True)
        assert parse_sshd_t(plain.stdout)[o.key] != [o.value], o
