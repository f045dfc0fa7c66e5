"""Each condition on fixture trees: true (pass), false (fail) and could not see (skip), and the
combinations all / any / none in three-valued logic."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from sentinelle.errors import CommandNotFound, CommandTimeout
from sentinelle.host import CommandResult, Host
from sentinelle.model import Status
from tests.conftest import fixture_host, recorded
from tests.policies.helpers import evaluate


def tree(root: Path, files: Mapping[str, str], mode: int | None = None) -> Path:
    for name, content in files.items():
        path = root / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        if mode is not None:
            path.chmod(mode)
    return root


def live(commands: Mapping[tuple[str, ...], CommandResult | Exception]) -> Host:
    """A host whose root is `/` (commands describe it) with recorded command outputs."""
    table = dict(commands)

    def runner(argv: Sequence[str], timeout: float, env: Mapping[str, str] | None
               ) -> CommandResult:
        for prefix, result in table.items():
            if tuple(argv[: len(prefix)]) == prefix:
                if isinstance(result, Exception):
                    raise result
                return result
        raise AssertionError(f"unexpected command: {list(argv)}")

    return Host("/", runner=runner)


# Files


def test_file_exists_and_absent(tmp_path: Path) -> None:
    root = tree(tmp_path / "root", {"/etc/issue": "Debian\n"})
    host = fixture_host(root)
    f = evaluate(tmp_path, "file_exists: {path: /etc/issue}", host, ["path"])
    assert f.status is Status.PASS and f.args["path"] == "/etc/issue"
    assert evaluate(tmp_path, "file_exists: {path: /etc/motd}", host).status is Status.FAIL
    assert evaluate(tmp_path, "file_absent: {path: /etc/motd}", host).status is Status.PASS
    assert evaluate(tmp_path, "file_absent: {path: /etc/issue}", host).status is Status.FAIL


def test_file_mode_not_more_permissive_than(tmp_path: Path) -> None:
    root = tree(tmp_path / "root", {"/etc/shadow": "root:*:19000::::::\n"}, mode=0o640)
    host = fixture_host(root)
    condition = 'file_mode: {path: /etc/shadow, max: "0640"}'
    f = evaluate(tmp_path, condition, host, ["path", "mode", "max_mode"])
    assert f.status is Status.PASS and f.args["mode"] == "0640"
    (root / "etc/shadow").chmod(0o600)  # stricter passes
    assert evaluate(tmp_path, condition, host).status is Status.PASS
    (root / "etc/shadow").chmod(0o644)
    f = evaluate(tmp_path, condition, host, ["path", "mode", "max_mode"])
    assert f.status is Status.FAIL and f.args["mode"] == "0644" and f.args["max_mode"] == "0640"
    (root / "etc/shadow").chmod(0o740)  # a bit outside 0640, though the number is not larger
    assert evaluate(tmp_path, 'file_mode: {path: /etc/shadow, max: "0660"}',
                    host).status is Status.FAIL


def test_a_missing_file_has_no_mode_and_skips(tmp_path: Path) -> None:
    f = evaluate(tmp_path, 'file_mode: {path: /etc/shadow, max: "0640"}',
                 fixture_host(tmp_path / "root"))
    assert f.status is Status.SKIP and f.message == "policy.skip.not_found"
    assert f.args == {"path": "/etc/shadow"} and f.evidence["reason"] == "no /etc/shadow"


def test_file_owner_and_group_by_the_trees_own_names(tmp_path: Path) -> None:
    uid, gid = os.getuid(), os.getgid()
    root = tree(tmp_path / "root", {
        "/etc/passwd": f"root:x:{uid}:{gid}:root:/root:/bin/sh\n",
        "/etc/group": f"shadow:x:{gid}:\n",
        "/etc/shadow": "",
    })
    host = fixture_host(root)
    f = evaluate(tmp_path, "file_owner: {path: /etc/shadow, owner: root, group: [root, shadow]}",
                 host, ["path", "owner", "group"])
    assert f.status is Status.PASS and (f.args["owner"], f.args["group"]) == ("root", "shadow")
    f = evaluate(tmp_path, "file_owner: {path: /etc/shadow, owner: [daemon]}", host,
                 ["owner", "expected_owner"])
    assert f.status is Status.FAIL and f.args["expected_owner"] == ["daemon"]
    # Without the tree's account databases the numbers stand for themselves.
    (root / "etc/passwd").unlink()
    f = evaluate(tmp_path, f"file_owner: {{path: /etc/shadow, owner: {uid}}}", host, ["owner"])
    assert f.status is Status.PASS and f.args["owner"] == str(uid)


def test_file_content_matches_and_does_not(tmp_path: Path) -> None:
    root = tree(tmp_path / "root", {"/etc/fstab": "proc /proc proc defaults 0 0\n"
                                                  "tmpfs /tmp tmpfs nodev,nosuid 0 0\n"})
    host = fixture_host(root)
    f = evaluate(tmp_path, r"file_content: {path: /etc/fstab, matches: '\s/tmp\s.*nosuid'}",
                 host, ["path", "line", "count"])
    assert f.status is Status.PASS and f.args["count"] == 1 and f.args["line"].startswith("tmpfs")
    f = evaluate(tmp_path, "file_content: {path: /etc/fstab, not_matches: '^proc'}", host,
                 ["line"])
    assert f.status is Status.FAIL and f.args["line"].startswith("proc /proc")
    f = evaluate(tmp_path, "file_content: {path: /etc/fstab, matches: noexec}", host, ["count"])
    assert f.status is Status.FAIL and f.args["count"] == 0


def test_an_unreadable_file_skips_never_passes(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    root = tree(tmp_path / "root", {"/etc/secret.conf": "Key yes\n"}, mode=0)
    condition = "file_content: {path: /etc/secret.conf, not_matches: 'yes'}"
    if os.geteuid() == 0:  # root reads whatever the mode: the system's refusal, replayed
        real_open = Path.open

        def refused(self: Path, *args: Any, **kwargs: Any) -> Any:
            if self.name == "secret.conf":
                raise PermissionError(13, "Permission denied")
            return real_open(self, *args, **kwargs)

        monkeypatch.setattr(Path, "open", refused)
    f = evaluate(tmp_path, condition, fixture_host(root), ["path"])
    assert f.status is Status.SKIP and f.message == "policy.skip.permission_denied"
    assert f.args == {"path": "/etc/secret.conf"}


def test_a_symlink_loop_is_unreadable(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/a").symlink_to("b")
    (root / "etc/b").symlink_to("a")
    f = evaluate(tmp_path, "file_content: {path: /etc/a, matches: x}", fixture_host(root))
    assert f.status is Status.SKIP and f.message == "policy.skip.unreadable"
    assert f.args == {"path": "/etc/a"}


# Settings


SSHD = {
    "/etc/ssh/sshd_config": "Include /etc/ssh/sshd_config.d/*.conf\n"
                            "# PermitEmptyPasswords yes\n"
                            "permitemptypasswords yes\n"
                            "PermitEmptyPasswords no\n",
}


def test_a_setting_first_value_wins_keys_in_any_case(tmp_path: Path) -> None:
    host = fixture_host(tree(tmp_path / "root", SSHD))
    condition = ("setting: {path: /etc/ssh/sshd_config, key: PermitEmptyPasswords, "
                 "equals: 'no'%s}")
    f = evaluate(tmp_path, condition % "", host, ["key", "value", "file", "expected"])
    assert f.status is Status.FAIL and f.args["value"] == "yes"
    assert f.args["file"] == "/etc/ssh/sshd_config"
    assert evaluate(tmp_path, condition % ", repeated: last", host).status is Status.PASS
    # Case-sensitive keys: only the exact spelling counts, and its (first) value is no.
    assert evaluate(tmp_path, condition % ", key_case: sensitive", host).status is Status.PASS


def test_drop_ins_are_read_first_in_name_order(tmp_path: Path) -> None:
    files = {**SSHD,
             "/etc/ssh/sshd_config.d/50-local.conf": "PermitEmptyPasswords no\n",
             "/etc/ssh/sshd_config.d/10-old.conf": "# nothing\n"}
    root = tree(tmp_path / "root", files)
    (root / "etc/ssh/sshd_config.d/00-a-directory.conf").mkdir()  # not a file: not read
    host = fixture_host(root)
    f = evaluate(tmp_path, """
        setting:
          paths: [/etc/ssh/sshd_config.d/*.conf, /etc/ssh/sshd_config]
          key: PermitEmptyPasswords
          equals: "no"
        """, host, ["value", "file"])
    assert f.status is Status.PASS and f.args["file"] == "/etc/ssh/sshd_config.d/50-local.conf"


def test_a_default_stands_for_an_absent_key(tmp_path: Path) -> None:
    host = fixture_host(tree(tmp_path / "root", {"/etc/ssh/sshd_config": "Port 22\n"}))
    f = evaluate(tmp_path, "setting: {path: /etc/ssh/sshd_config, key: PermitEmptyPasswords, "
                 "default: 'no', equals: 'no'}", host, ["value", "file"])
    assert f.status is Status.PASS and f.args["value"] == "no"
    f = evaluate(tmp_path, "setting: {path: /etc/ssh/sshd_config, key: PermitEmptyPasswords, "
                 "equals: 'no'}", host, ["value"])
    assert f.status is Status.FAIL and f.args["value"] == ""
    f = evaluate(tmp_path, "setting: {path: /etc/ssh/sshd_config, key: Port, present: true}",
                 host, ["value"])
    assert f.status is Status.PASS and f.args["value"] == "22"
    assert evaluate(tmp_path, "setting: {path: /etc/ssh/sshd_config, key: Banner, "
                    "present: false}", host).status is Status.PASS


def test_key_equals_value_and_numbers(tmp_path: Path) -> None:
    host = fixture_host(tree(tmp_path / "root", {
        "/etc/login.defs": "PASS_MAX_DAYS\t99999\nPASS_MIN_LEN 12\n",
        "/etc/security/pwquality.conf": "# minlen = 8\nminlen = 14\nminlen=10\n",
    }))
    f = evaluate(tmp_path, "setting: {path: /etc/login.defs, key: PASS_MAX_DAYS, max: 365}",
                 host, ["value", "maximum"])
    assert f.status is Status.FAIL and f.args["value"] == "99999" and f.args["maximum"] == 365
    assert evaluate(tmp_path, "setting: {path: /etc/login.defs, key: PASS_MIN_LEN, min: 8, "
                    "max: 64}", host).status is Status.PASS
    cond = "setting: {path: /etc/security/pwquality.conf, format: equals, key: minlen, min: 12%s}"
    assert evaluate(tmp_path, cond % "", host).status is Status.PASS  # first: 14
    assert evaluate(tmp_path, cond % ", repeated: last", host).status is Status.FAIL  # 10


def test_ini_sections_and_one_of(tmp_path: Path) -> None:
    host = fixture_host(tree(tmp_path / "root", {"/etc/samba/smb.conf": (
        "; Samba\n[global]\n   server min protocol = SMB2\n   map to guest = Bad User\n"
        "[partage]\n   guest ok = yes\n")}))
    f = evaluate(tmp_path, """
        setting:
          path: /etc/samba/smb.conf
          format: ini
          section: GLOBAL
          key: Server Min Protocol
          one_of: [SMB2, SMB2_10, SMB3]
        """, host, ["value", "expected"])
    assert f.status is Status.PASS and f.args["expected"] == ["SMB2", "SMB2_10", "SMB3"]
    f = evaluate(tmp_path, "setting: {path: /etc/samba/smb.conf, format: ini, section: global, "
                 "key: guest ok, present: true}", host)
    assert f.status is Status.FAIL  # in [partage], not [global]
    f = evaluate(tmp_path, "setting: {path: /etc/samba/smb.conf, format: ini, section: global, "
                 "key: server min protocol, equals: smb2, value_case: sensitive}", host)
    assert f.status is Status.FAIL


def test_a_value_that_is_not_a_number_is_an_error_of_that_check(tmp_path: Path) -> None:
    host = fixture_host(tree(tmp_path / "root", {"/etc/login.defs": "PASS_MAX_DAYS never\n"}))
    f = evaluate(tmp_path, "setting: {path: /etc/login.defs, key: PASS_MAX_DAYS, max: 365}",
                 host)
    assert f.status is Status.ERROR and f.message == "policy.error.not_a_number"
    assert f.args == {"key": "PASS_MAX_DAYS", "value": "never"}


def test_no_settings_file_skips(tmp_path: Path) -> None:
    f = evaluate(tmp_path, "setting: {paths: [/etc/ssh/sshd_config.d/*.conf, "
                 "/etc/ssh/sshd_config], key: X, default: 'no', equals: 'no'}",
                 fixture_host(tmp_path / "root"))
    assert f.status is Status.SKIP and f.args == {"path": "/etc/ssh/sshd_config"}


# sysctl


def test_sysctl_through_proc_sys_of_the_tree(tmp_path: Path) -> None:
    root = tree(tmp_path / "root", {"/proc/sys/kernel/randomize_va_space": "2\n",
                                    "/proc/sys/net/ipv4/ip_local_port_range": "32768\t60999\n"})
    host = fixture_host(root)
    f = evaluate(tmp_path, "sysctl: {key: kernel.randomize_va_space, equals: 2}", host,
                 ["key", "value", "expected"])
    assert f.status is Status.PASS and f.args["value"] == "2" and f.args["expected"] == "2"
    (root / "proc/sys/kernel/randomize_va_space").write_text("1\n")
    assert evaluate(tmp_path, "sysctl: {key: kernel.randomize_va_space, equals: 2}",
                    host).status is Status.FAIL
    f = evaluate(tmp_path, "sysctl: {key: net.ipv4.ip_local_port_range, equals: '32768 60999'}",
                 host, ["value"])
    assert f.status is Status.PASS and f.args["value"] == "32768 60999"


def test_a_missing_sysctl_skips_unless_absence_is_the_question(tmp_path: Path) -> None:
    host = fixture_host(tmp_path / "root")
    f = evaluate(tmp_path, "sysctl: {key: kernel.yama.ptrace_scope, min: 1}", host)
    assert f.status is Status.SKIP and f.message == "policy.skip.not_found"
    assert f.args["path"] == "/proc/sys/kernel/yama/ptrace_scope"
    assert evaluate(tmp_path, "sysctl: {key: kernel.yama.ptrace_scope, present: false}",
                    host).status is Status.PASS


# Packages


DPKG = ("Package: openssh-server\nStatus: install ok installed\nVersion: 1:9.2\n\n"
        "Package: telnetd\nStatus: deinstall ok config-files\nVersion: 0.17\n\n"
        "Package: inetutils-telnetd\nStatus: install ok installed\nVersion: 2.4\n")


def test_packages_from_dpkgs_status_file(tmp_path: Path) -> None:
    host = fixture_host(tree(tmp_path / "root", {"/var/lib/dpkg/status": DPKG}))
    f = evaluate(tmp_path, "package: {name: openssh-server, installed: true}", host,
                 ["package", "manager"])
    assert f.status is Status.PASS and f.args == {"package": "openssh-server", "manager": "dpkg"}
    # Removed with its config files left: not installed.
    assert evaluate(tmp_path, "package: {name: telnetd, installed: false}",
                    host).status is Status.PASS
    assert evaluate(tmp_path, "package: {name: inetutils-telnetd, installed: false}",
                    host).status is Status.FAIL


def test_no_package_database_in_a_tree_skips(tmp_path: Path) -> None:
    f = evaluate(tmp_path, "package: {name: telnetd, installed: false}",
                 fixture_host(tmp_path / "root"), ["package"])
    assert f.status is Status.SKIP and f.message == "policy.skip.no_package_db"


def test_rpm_q_on_the_live_system(tmp_path: Path) -> None:
    cond = "package: {name: telnet-server, installed: false, manager: rpm}"
    installed = live({("rpm", "-q", "telnet-server"): recorded("telnet-server-0.17-85.el9\n")})
    f = evaluate(tmp_path, cond, installed, ["package", "manager"])
    assert f.status is Status.FAIL and f.args["manager"] == "rpm"
    absent = live({("rpm", "-q"): recorded("package telnet-server is not installed\n", 1)})
    assert evaluate(tmp_path, cond, absent).status is Status.PASS
    missing = live({("rpm",): CommandNotFound("rpm: not installed")})
    assert evaluate(tmp_path, cond, missing).message == "policy.skip.no_package_db"


# systemd units


def enabled_tree(root: Path) -> Path:
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True)
    (wants / "ssh.service").symlink_to("/lib/systemd/system/ssh.service")  # dangling here
    (root / "etc/systemd/system/telnet.socket").symlink_to("/dev/null")
    sockets = root / "etc/systemd/system/sockets.target.wants"
    sockets.mkdir()
    (sockets / "telnet.socket").symlink_to("/lib/systemd/system/telnet.socket")
    return root


def test_units_enabled_by_their_wants_symlinks(tmp_path: Path) -> None:
    host = fixture_host(enabled_tree(tmp_path / "root"))
    f = evaluate(tmp_path, "service: {unit: ssh, enabled: true}", host, ["unit"])
    assert f.status is Status.PASS and f.args["unit"] == "ssh.service"
    assert evaluate(tmp_path, "service: {unit: cups.service, enabled: true}",
                    host).status is Status.FAIL
    # Masked is not enabled, whatever links remain.
    assert evaluate(tmp_path, "service: {unit: telnet.socket, enabled: false}",
                    host).status is Status.PASS


def test_no_systemd_skips(tmp_path: Path) -> None:
    f = evaluate(tmp_path, "service: {unit: ssh, enabled: true}", fixture_host(tmp_path / "r"))
    assert f.status is Status.SKIP and f.message == "policy.skip.not_systemd"


def test_active_asks_systemctl_on_the_live_system_only(tmp_path: Path) -> None:
    cond = "service: {unit: cups, active: false}"
    f = evaluate(tmp_path, cond, fixture_host(enabled_tree(tmp_path / "root")), ["unit"])
    assert f.status is Status.SKIP and f.message == "policy.skip.not_live"
    running = live({("systemctl", "is-active", "cups.service"): recorded("active\n")})
    f = evaluate(tmp_path, cond, running, ["unit", "state"])
    assert f.status is Status.FAIL and f.args["state"] == "active"
    stopped = live({("systemctl", "is-active"): recorded("inactive\n", 3)})
    assert evaluate(tmp_path, cond, stopped).status is Status.PASS
    none = live({("systemctl",): CommandNotFound("systemctl: not installed")})
    f = evaluate(tmp_path, cond, none)
    assert f.status is Status.SKIP and f.args == {"program": "systemctl"}


# Ports


PROC_TCP = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
    "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0\n"
    "   1: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   108\n"
    "   2: 0100007F:0017 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0\n"
)
PROC_TCP6 = (
    "  sl  local_address                         remote_address                        st\n"
    "   0: 00000000000000000000000000000000:0017 00000000000000000000000000000000:0000 0A\n"
)


def test_tcp_ports_listening_from_proc_net(tmp_path: Path) -> None:
    host = fixture_host(tree(tmp_path / "root", {"/proc/net/tcp": PROC_TCP,
                                                 "/proc/net/tcp6": PROC_TCP6}))
    f = evaluate(tmp_path, "port: {port: 22, listening: true}", host, ["port", "addresses"])
    assert f.status is Status.PASS and f.args["addresses"] == ["0.0.0.0"]
    # 23 is listening on IPv6 only (the IPv4 line is an established connection).
    f = evaluate(tmp_path, "port: {port: 23, listening: false}", host, ["port", "addresses"])
    assert f.status is Status.FAIL and f.args["addresses"] == ["::"]
    f = evaluate(tmp_path, "port: {port: 3306, listening: true}", host, ["addresses"])
    assert f.status is Status.PASS and f.args["addresses"] == ["127.0.0.1"]
    f = evaluate(tmp_path, "port: {port: 5432, listening: true}", host, ["addresses"])
    assert f.status is Status.FAIL and f.args["addresses"] == []
    assert evaluate(tmp_path, "port: {port: 5432, listening: false}",
                    host).status is Status.PASS


def test_no_proc_net_skips(tmp_path: Path) -> None:
    f = evaluate(tmp_path, "port: {port: 23, listening: false}", fixture_host(tmp_path / "r"))
    assert f.status is Status.SKIP and f.message == "policy.skip.no_proc_net"


# Commands from the allow-list


SSHD_T = "port 22\npermitrootlogin without-password\npermitemptypasswords no\n"


def test_an_allowed_commands_key_value_output(tmp_path: Path) -> None:
    cond = "command: {name: sshd_effective, key: permitemptypasswords, equals: 'no'}"
    host = live({("sshd", "-T"): recorded(SSHD_T)})
    f = evaluate(tmp_path, cond, host, ["command", "key", "value"])
    assert f.status is Status.PASS and f.args["value"] == "no" and f.args["command"] == "sshd -T"
    host = live({("sshd", "-T"): recorded(SSHD_T.replace("passwords no", "passwords yes"))})
    assert evaluate(tmp_path, cond, host).status is Status.FAIL


def test_an_allowed_commands_lines_text_and_exit_status(tmp_path: Path) -> None:
    unit = {("systemctl", "is-enabled", "cups.service"): recorded("disabled\n", 1)}
    cond = "command: {name: systemctl_is_enabled, args: {unit: cups.service}, %s}"
    f = evaluate(tmp_path, cond % "equals: disabled, exit_code: 1", live(unit),
                 ["command", "expected", "exit_code"])
    assert f.status is Status.PASS and f.args["command"] == "systemctl is-enabled cups.service"
    assert evaluate(tmp_path, cond % "exit_code: 0", live(unit)).status is Status.FAIL
    assert evaluate(tmp_path, cond % "matches: '^dis', exit_code: 1",
                    live(unit)).status is Status.PASS
    assert evaluate(tmp_path, cond % "not_matches: '^dis', exit_code: 1",
                    live(unit)).status is Status.FAIL
    # Without exit_code, a command that fails says nothing to judge.
    f = evaluate(tmp_path, cond % "equals: disabled", live(unit), ["command"])
    assert f.status is Status.SKIP and f.message == "policy.skip.command_failed"


def test_commands_that_cannot_answer_skip(tmp_path: Path) -> None:
    cond = "command: {name: sshd_effective, key: permitemptypasswords, equals: 'no'}"
    f = evaluate(tmp_path, cond, fixture_host(tmp_path / "root"))
    assert f.status is Status.SKIP and f.message == "policy.skip.not_live"
    f = evaluate(tmp_path, cond, live({("sshd",): CommandNotFound("sshd: not installed")}))
    assert f.message == "policy.skip.command_missing" and f.args == {"program": "sshd"}
    f = evaluate(tmp_path, cond, live({("sshd",): CommandTimeout("sshd -T: no answer")}))
    assert f.message == "policy.skip.command_timeout" and f.args["seconds"] == 10
    f = evaluate(tmp_path, cond, live({("sshd",): recorded("x" * 300_000)}))
    assert f.message == "policy.skip.output_too_large" and f.args["limit"] == 262144


# all / any / none: Kleene's three values


TRUE = "file_exists: {path: /etc/issue}"
FALSE = "file_exists: {path: /etc/nothing}"
UNKNOWN = 'file_mode: {path: /etc/nothing, max: "0644"}'


@pytest.mark.parametrize(("op", "parts", "status"), [
    ("all", [TRUE, TRUE], Status.PASS),
    ("all", [TRUE, FALSE], Status.FAIL),
    ("all", [TRUE, UNKNOWN], Status.SKIP),
    ("all", [UNKNOWN, FALSE], Status.FAIL),  # false whatever the unknown part says
    ("any", [FALSE, TRUE], Status.PASS),
    ("any", [UNKNOWN, TRUE], Status.PASS),  # true whatever the unknown part says
    ("any", [FALSE, UNKNOWN], Status.SKIP),
    ("any", [FALSE, FALSE], Status.FAIL),
    ("none", [FALSE, FALSE], Status.PASS),
    ("none", [FALSE, TRUE], Status.FAIL),
    ("none", [UNKNOWN, FALSE], Status.SKIP),
    ("none", [UNKNOWN, TRUE], Status.FAIL),
])
def test_combinations(tmp_path: Path, op: str, parts: list[str], status: Status) -> None:
    host = fixture_host(tree(tmp_path / "root", {"/etc/issue": "Debian\n"}))
    condition = f"{op}:\n" + "".join(f"  - {p}\n" for p in parts)
    f = evaluate(tmp_path, condition, host)
    assert f.status is status
    assert [c["result"] for c in f.evidence["conditions"]] == [
        {TRUE: True, FALSE: False, UNKNOWN: None}[p] for p in parts]


def test_nested_combinations_and_named_arguments(tmp_path: Path) -> None:
    root = tree(tmp_path / "root", {"/etc/issue": "Debian\n", "/etc/ssh/sshd_config": "",
                                    "/proc/sys/kernel/randomize_va_space": "2\n"})
    (root / "etc/ssh/sshd_config").chmod(0o644)
    host = fixture_host(root)
    condition = """
        all:
          - any:
              - file_absent: {path: /etc/ssh/sshd_config}
              - file_mode: {path: /etc/ssh/sshd_config, max: "0600", as: sshd}
          - none:
              - all:
                  - sysctl: {key: kernel.randomize_va_space, equals: 0}
                  - file_exists: {path: /etc/issue}
        """
    f = evaluate(tmp_path, condition, host, ["sshd_mode", "sshd_path", "value"])
    assert f.status is Status.FAIL and f.args["sshd_mode"] == "0644"
    (root / "etc/ssh/sshd_config").chmod(0o600)
    assert evaluate(tmp_path, condition, host).status is Status.PASS
    (root / "proc/sys/kernel/randomize_va_space").write_text("0\n")
    assert evaluate(tmp_path, condition, host).status is Status.FAIL


def test_the_part_that_decided_names_the_arguments(tmp_path: Path) -> None:
    host = fixture_host(tree(tmp_path / "root", {"/var/lib/dpkg/status": DPKG}))
    f = evaluate(tmp_path, """
        all:
          - package: {name: telnetd, installed: false}
          - package: {name: inetutils-telnetd, installed: false}
        """, host, ["package"])
    assert f.status is Status.FAIL and f.args["package"] == "inetutils-telnetd"
