"""The ssh checks on recorded `sshd -T` outputs (this machine's real sshd, fixtures/README.md)
and on fixture trees read the way sshd reads its files: each state, in both languages."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from sentinelle.checks.base import Check, CheckContext
from sentinelle.checks.ssh.checks import (
    SshAllowList,
    SshEmptyPasswords,
    SshPasswordLogin,
    SshRootLogin,
)
from sentinelle.checks.ssh.sshd import read_files
from sentinelle.config import Config
from sentinelle.errors import CommandNotFound, CommandTimeout
from sentinelle.host import CommandResult, Host
from sentinelle.model import Finding, Severity, Status
from tests.checks.texts import RULES, remedy, rendered, summary
from tests.conftest import FIXED_NOW, fixture_host

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ALL = (SshRootLogin, SshPasswordLogin, SshEmptyPasswords, SshAllowList)


def make(cls: type[Check], **params: Any) -> Check:
    meta = RULES.checks[cls.id]
    return cls(meta, {**meta.params, **params}, CheckContext(Config(), RULES))


def run(cls: type[Check], host: Host, **params: Any) -> Finding:
    (finding,) = make(cls, **params).run(host)
    rendered(finding)
    return finding


def recorded_host(name: str) -> Host:
    """This machine as the check sees it, with `sshd -T` answering what the real sshd answered
    on a recorded configuration (a `.txt`: its output; an `.err`: its status and stderr)."""
    txt, err = FIXTURES / f"{name}.txt", FIXTURES / f"{name}.err"
    if txt.exists():
        result = CommandResult(("sshd", "-T"), 0, txt.read_text(), "", 0.01)
    else:
        status, _, stderr = err.read_text().partition("\n")
        result = CommandResult(("sshd", "-T"), int(status), "", stderr, 0.01)
    return replaying(result)


def replaying(result: CommandResult | Exception) -> Host:
    def runner(argv: Sequence[str], timeout: float, env: Mapping[str, str] | None
               ) -> CommandResult:
        assert list(argv) == ["sshd", "-T", "-f", "/etc/ssh/sshd_config"], argv
        if isinstance(result, Exception):
            raise result
        return result

    return Host("/", runner=runner, clock=lambda: FIXED_NOW)


def tree(root: Path, files: Mapping[str, str]) -> Host:
    for name, text in files.items():
        path = root / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return fixture_host(root)


# --- the live path, on recorded sshd -T outputs -------------------------------------------------

def test_debian_defaults_refuse_root_and_empty_passwords_but_list_nobody() -> None:
    host = recorded_host("debian12-default")
    f = run(SshRootLogin, host)
    # sshd -T spells prohibit-password "without-password": both are refusals.
    assert f.status is Status.PASS and f.args == {"value": "without-password"}
    assert f.evidence["source"] == "sshd -T" and f.evidence["file"] == "sshd -T"
    assert run(SshEmptyPasswords, host).status is Status.PASS
    f = run(SshAllowList, host)
    assert f.status is Status.FAIL and f.message == "ssh.allow_list.everyone"
    assert f.severity is Severity.LOW and f.references == {"anssi": [29]}
    assert "ni AllowUsers ni AllowGroups" in summary(f, "fr")


def test_a_loose_server_opens_every_check_at_its_severity() -> None:
    host = recorded_host("loose")
    f = run(SshRootLogin, host)
    assert f.status is Status.FAIL and f.severity is Severity.HIGH
    assert summary(f, "fr") == (
        "root peut se connecter par SSH avec un mot de passe : PermitRootLogin yes.")
    assert remedy(f, "fr").startswith("Dans /etc/ssh/sshd_config (ou le fichier")
    assert f.references == {"anssi": [8, 29]}
    f = run(SshEmptyPasswords, host)
    assert f.status is Status.FAIL and f.severity is Severity.CRITICAL
    assert summary(f) == "sshd accepts empty passwords: PermitEmptyPasswords yes."
    assert f.references == {"anssi": [10]}


def test_a_hardened_server_passes_and_names_its_allow_list() -> None:
    host = recorded_host("hardened")
    assert run(SshRootLogin, host).args == {"value": "no"}
    f = run(SshAllowList, host)
    assert f.status is Status.PASS and f.message == "ssh.allow_list.users_and_groups"
    assert f.args == {"users": ["alice", "bob@192.0.2.0/24"], "groups": ["ssh-users", "admins"]}
    f = run(SshPasswordLogin, host)
    assert f.status is Status.PASS and f.message == "ssh.password_login.keys_only"
    assert f.evidence["password_methods"] == []


def test_the_allowed_root_login_values_are_a_parameter() -> None:
    host = recorded_host("debian12-default")
    assert run(SshRootLogin, host, allowed=["no"]).status is Status.FAIL


def test_a_configuration_sshd_refuses_is_an_error_with_sshds_words() -> None:
    host = recorded_host("bad-keyword")
    for cls in ALL:
        f = run(cls, host)
        assert f.status is Status.ERROR and f.message == f"{cls.id}.sshd_failed"
        assert f.evidence["reason"].endswith("Bad configuration option: PermitRootLogn")


def test_a_server_never_started_is_judged_on_the_files_it_would_read(tmp_path: Path) -> None:
    # sshd refuses -T until its service has made /run/sshd: the checks read what it would
    # apply at its next start from its files (this machine's: Debian's sshd_config here), and
    # say why in the evidence.
    host = recorded_host("not-started")
    if not host.exists("/etc/ssh/sshd_config"):
        f = run(SshRootLogin, host)
        assert f.status is Status.SKIP and f.message == "ssh.root_login.no_sshd"
        return
    for cls in ALL:
        first = next(iter(make(cls).run(host)))
        rendered(first)
        assert first.evidence["source"] == "files", cls.id
        assert first.evidence["sshd_t_refused"] == (
            "Missing privilege separation directory: /run/sshd")


def test_no_sshd_program_is_a_skip() -> None:
    host = replaying(CommandNotFound("sshd: not installed"))
    for cls in ALL:
        f = run(cls, host)
        assert f.status is Status.SKIP and f.message == f"{cls.id}.no_sshd"
        assert f.evidence["reason"]


def test_an_sshd_that_does_not_answer_is_an_error() -> None:
    f = run(SshRootLogin, replaying(CommandTimeout("sshd -T: no answer after 10 s")))
    assert f.status is Status.ERROR and "no answer" in f.evidence["reason"]


# --- fixture trees: the files read as sshd reads them -------------------------------------------

def test_a_tree_without_sshd_config_has_no_ssh_server(tmp_path: Path) -> None:
    for cls in ALL:
        f = run(cls, fixture_host(tmp_path))
        assert f.status is Status.SKIP and f.message == f"{cls.id}.no_sshd"


def test_drop_ins_come_first_and_the_first_value_wins(tmp_path: Path) -> None:
    host = tree(tmp_path, {
        "/etc/ssh/sshd_config": "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin no\n"
                                "PermitEmptyPasswords no\n",
        "/etc/ssh/sshd_config.d/10-old.conf": "# nothing\n",
        "/etc/ssh/sshd_config.d/50-cloud.conf": "permitrootlogin YES\n",
        "/etc/ssh/sshd_config.d/60-later.conf": "PermitRootLogin no\nPermitEmptyPasswords=yes\n",
        "/etc/ssh/sshd_config.d/70-not-conf.txt": "PermitRootLogin no\n",
    })
    f = run(SshRootLogin, host)
    assert f.status is Status.FAIL and f.args == {"value": "yes"}
    assert f.evidence["file"] == "/etc/ssh/sshd_config.d/50-cloud.conf"
    assert f.evidence["source"] == "files"
    f = run(SshEmptyPasswords, host)
    assert f.status is Status.FAIL and f.evidence["file"] == "/etc/ssh/sshd_config.d/60-later.conf"


def test_unset_keys_take_opensshs_defaults(tmp_path: Path) -> None:
    host = tree(tmp_path, {"/etc/ssh/sshd_config": "# PermitRootLogin yes\n"})
    f = run(SshRootLogin, host)
    assert f.status is Status.PASS and f.args == {"value": "without-password"}
    assert f.evidence["file"] == "default"
    assert run(SshEmptyPasswords, host).status is Status.PASS


def test_match_blocks_and_old_spellings(tmp_path: Path) -> None:
    host = tree(tmp_path, {
        "/etc/ssh/sshd_config": "Include sshd_config.d/*.conf\nPasswordAuthentication no\n"
                                "Match Address 10.0.0.0/8\n  PermitRootLogin yes\n",
        "/etc/ssh/sshd_config.d/20-pam.conf": "UsePAM yes\nChallengeResponseAuthentication yes\n",
    })
    settings = read_files(host)
    assert settings.first("permitrootlogin") == "without-password"  # the Match line is not global
    assert settings.where("permitrootlogin") == "default"
    f = run(SshRootLogin, host)  # the Match block lets root in from 10.0.0.0/8
    assert f.status is Status.FAIL and f.message == "ssh.root_login.permitted_match"
    assert f.args == {"value": "yes", "criteria": "Address 10.0.0.0/8"}
    assert f.evidence["match_overrides"] == [
        {"criteria": "Address 10.0.0.0/8", "value": "yes", "file": "/etc/ssh/sshd_config"}]
    assert summary(f, "fr") == ("root peut se connecter par SSH avec un mot de passe quand "
                                "« Match Address 10.0.0.0/8 » s'applique : PermitRootLogin yes "
                                "dans ce bloc.")
    spelt = tree(tmp_path / "spelt",
                 {"/etc/ssh/sshd_config": "PermitRootLogin Prohibit-Password\n"})
    assert run(SshRootLogin, spelt).args == {"value": "without-password"}
    assert settings.first("kbdinteractiveauthentication") == "yes"
    f = run(SshPasswordLogin, host)  # keyboard-interactive through PAM asks for the password
    assert f.status is Status.SKIP and f.message == "ssh.password_login.no_sockets"
    assert f.args == {"methods": ["keyboard-interactive"]}


def test_authentication_methods_that_need_a_key_are_not_password_logins(tmp_path: Path) -> None:
    host = tree(tmp_path, {"/etc/ssh/sshd_config":
                           "AuthenticationMethods publickey,password publickey\n"})
    assert run(SshPasswordLogin, host).message == "ssh.password_login.keys_only"


def test_allow_lists_of_users_or_groups(tmp_path: Path) -> None:
    host = tree(tmp_path / "u", {"/etc/ssh/sshd_config": "AllowUsers alice bob\n"})
    f = run(SshAllowList, host)
    assert f.message == "ssh.allow_list.users" and f.args == {"users": ["alice", "bob"]}
    host = tree(tmp_path / "g", {"/etc/ssh/sshd_config": "AllowGroups ssh-users\n"})
    f = run(SshAllowList, host)
    assert f.message == "ssh.allow_list.groups" and f.args == {"groups": ["ssh-users"]}
    assert summary(f, "fr") == "sshd n'accepte que les membres des groupes ssh-users."


# --- password login and the listening sockets (trees recorded from a real sshd) ----------------

def copy_tree(name: str, tmp_path: Path) -> Path:
    shutil.copytree(FIXTURES / name, tmp_path / name)
    return tmp_path / name


def test_password_login_reachable_from_the_network_fails(tmp_path: Path) -> None:
    f = run(SshPasswordLogin, fixture_host(copy_tree("reachable", tmp_path)))
    assert f.status is Status.FAIL and f.severity is Severity.HIGH
    assert f.args == {"methods": ["password"], "ports": ["22"],
                      "endpoints": ["0.0.0.0:22/tcp", "[::]:22/tcp"]}
    assert f.references == {"anssi": [13]}
    assert summary(f, "fr") == ("sshd accepte les mots de passe (password) et il est joignable "
                                "depuis le réseau sur 0.0.0.0:22/tcp et [::]:22/tcp.")


def test_password_login_on_loopback_only_passes(tmp_path: Path) -> None:
    f = run(SshPasswordLogin, fixture_host(copy_tree("loopback", tmp_path)))
    assert f.status is Status.PASS and f.message == "ssh.password_login.loopback_only"
    assert f.args["endpoints"] == ["127.0.0.1:2222/tcp"] and f.args["ports"] == ["2222"]


def test_password_login_with_nothing_on_sshds_port_is_not_reachable(tmp_path: Path) -> None:
    root = copy_tree("loopback", tmp_path)
    (root / "etc/ssh/sshd_config").write_text("UsePAM yes\nPort 2200\n")
    f = run(SshPasswordLogin, fixture_host(root))
    assert f.status is Status.PASS and f.message == "ssh.password_login.not_listening"
    assert f.args["ports"] == ["2200"]


@pytest.mark.parametrize("cls", ALL)
def test_the_checks_are_asked_of_linux_only(cls: type[Check]) -> None:
    assert cls.platforms == frozenset({"linux"})


def test_a_match_block_accepting_empty_passwords_fails(tmp_path: Path) -> None:
    host = tree(tmp_path, {
        "/etc/ssh/sshd_config": "Include /etc/ssh/sshd_config.d/*.conf\nPermitEmptyPasswords no\n",
        "/etc/ssh/sshd_config.d/50-guest.conf": "Match User invite\n  PermitEmptyPasswords yes\n",
    })
    f = run(SshEmptyPasswords, host)
    assert f.status is Status.FAIL and f.severity is Severity.CRITICAL
    assert f.args == {"value": "yes", "criteria": "User invite"}
    assert f.evidence["match_overrides"][0]["file"] == "/etc/ssh/sshd_config.d/50-guest.conf"
