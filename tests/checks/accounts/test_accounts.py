"""The accounts checks on a town hall's tree whose accounts the real shadow-utils wrote
(fixtures/townhall, recorded by fixtures/record.py: see rig.py), and on variations of it: every
state of each check, in both languages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from sentinelle.checks.accounts import checks as accounts_checks
from sentinelle.checks.accounts.checks import (
    AdminAccounts,
    DormantAccounts,
    PasswordHashes,
    PasswordPolicy,
    SecondUidZero,
)
from sentinelle.checks.accounts.files import hash_scheme
from sentinelle.checks.base import Check, CheckContext
from sentinelle.config import AgentSettings, Config
from sentinelle.host import Host
from sentinelle.model import Finding, Severity, Status
from tests.checks.accounts.rig import DES, MD5, SHA512, YESCRYPT
from tests.checks.texts import RULES, remedy, rendered, summary
from tests.conftest import FIXED_NOW, fixture_host

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def make(cls: type[Check], config: Config | None = None, **params: Any) -> Check:
    meta = RULES.checks[cls.id]
    return cls(meta, {**meta.params, **params}, CheckContext(config or Config(), RULES))


def findings(cls: type[Check], root: Path, config: Config | None = None,
             **params: Any) -> list[Finding]:
    found = list(make(cls, config, **params).run(fixture_host(root)))
    for f in found:
        rendered(f)
    return found


def one(cls: type[Check], root: Path, **params: Any) -> Finding:
    (f,) = findings(cls, root, **params)
    return f


@pytest.fixture
def townhall(tmp_path: Path) -> Path:
    root = tmp_path / "townhall"
    shutil.copytree(FIXTURES / "townhall", root)
    return root


def edit(root: Path, path: str, old: str, new: str) -> None:
    file = root / path.lstrip("/")
    text = file.read_text()
    assert old in text, (path, old)
    file.write_text(text.replace(old, new))


# --- accounts.uid0 ------------------------------------------------------------------------------

def test_a_second_uid0_account_fails_where_wazuhs_debian12_rule_passes(townhall: Path) -> None:
    # Wazuh's CIS Debian 12 rule looks for a "root" line among the UID 0 accounts and passes as
    # soon as it finds one; toor sits beside root here and must fail.
    f = one(SecondUidZero, townhall)
    assert f.status is Status.FAIL and f.severity is Severity.CRITICAL
    assert f.args == {"count": 1, "accounts": ["toor"]}
    assert f.evidence["uid0"] == ["root", "toor"] and f.references == {"anssi": [5]}
    assert summary(f, "fr") == (
        "Un compte autre que root a l'UID 0, donc tous les droits : toor.")
    assert remedy(f, "fr").startswith("Vérifiez qui a créé toor et pourquoi.")


def test_only_root_with_uid0_passes(tmp_path: Path) -> None:
    f = one(SecondUidZero, FIXTURES / "debian12-base")
    assert f.status is Status.PASS and f.message == "accounts.uid0.root_only"


def test_several_uid0_accounts_and_a_broken_line(townhall: Path) -> None:
    with (townhall / "etc/passwd").open("a") as out:
        out.write("backdoor:x:0:0::/root:/bin/sh\nbroken line without colons\n+nisuser\n")
    f = one(SecondUidZero, townhall)
    assert f.args == {"count": 2, "accounts": ["toor", "backdoor"]}
    assert f.evidence["unparsed"] == ["/etc/passwd:31"] and f.evidence["unparsed_lines"] == 1
    assert summary(f) == ("2 accounts other than root have UID 0, hence every right: toor and "
                          "backdoor.")


def test_no_passwd_is_a_skip(tmp_path: Path) -> None:
    for cls in (SecondUidZero, DormantAccounts, AdminAccounts):
        f = one(cls, tmp_path)
        assert f.status is Status.SKIP and f.message == f"{cls.id}.no_passwd"


# --- accounts.password_hashes ------------------------------------------------------------------

def test_hash_schemes_as_crypt5_names_them() -> None:
    assert [hash_scheme(h) for h in (YESCRYPT, SHA512, MD5, DES, "_J9..abcdefghijk", "x")] == [
        "y", "6", "1", "des", "bsdi", "unknown"]


def test_an_empty_hash_is_critical_and_old_hashes_medium(townhall: Path) -> None:
    empty, weak = findings(PasswordHashes, townhall)
    assert empty.status is Status.FAIL and empty.severity is Severity.CRITICAL
    assert empty.args == {"count": 1, "accounts": ["toor"]}
    assert empty.references == {"anssi": [10, 11]}
    assert weak.status is Status.FAIL and weak.severity is Severity.MEDIUM
    assert weak.args == {"count": 2, "accounts": ["carol", "eve"]}  # MD5 and DES; dave is locked
    assert weak.evidence["schemes"] == {"1": 1, "6": 2, "des": 1, "y": 1}
    assert summary(weak, "fr") == ("Les mots de passe de 2 comptes sont rangés avec une méthode "
                                   "ancienne (DES ou MD5) : carol et eve.")
    assert empty.key == "empty" and weak.key == "hashes"


def test_the_weak_severity_and_schemes_are_parameters(townhall: Path) -> None:
    _, weak = findings(PasswordHashes, townhall, weak_severity="high", weak_schemes=["des"])
    assert weak.severity is Severity.HIGH and weak.args["accounts"] == ["eve"]


def test_login_defs_decides_how_new_passwords_are_stored(townhall: Path) -> None:
    edit(townhall, "/etc/login.defs", "\nENCRYPT_METHOD SHA512", "\nENCRYPT_METHOD MD5")
    f = findings(PasswordHashes, townhall)[-1]
    assert f.message == "accounts.password_hashes.weak_method" and f.severity is Severity.MEDIUM
    assert f.args == {"file": "/etc/login.defs", "method": "MD5"}
    edit(townhall, "/etc/login.defs", "\nENCRYPT_METHOD MD5", "\n#ENCRYPT_METHOD MD5")
    f = findings(PasswordHashes, townhall)[-1]
    assert f.message == "accounts.password_hashes.method_unset"
    assert "l'ancienne DES" in summary(f, "fr")


def test_strong_hashes_pass_and_all_locked_says_so(townhall: Path) -> None:
    shadow = townhall / "etc/shadow"
    kept = [line for line in shadow.read_text().splitlines()
            if line.split(":")[0] not in {"carol", "eve", "toor"}]
    shadow.write_text("\n".join(kept) + "\n")
    f = one(PasswordHashes, townhall)
    assert f.status is Status.PASS and f.args == {"count": 3, "method": "SHA512"}
    f = one(PasswordHashes, FIXTURES / "debian12-base")
    assert f.message == "accounts.password_hashes.none_set" and f.args["count"] == 0


def test_an_unreadable_shadow_is_a_skip_naming_the_missing_privilege(
    townhall: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (townhall / "etc/shadow").unlink()
    (townhall / "etc/shadow").mkdir()  # read_text fails with an OSError, as a 0640 file would
    f = one(PasswordHashes, townhall)
    assert f.status is Status.SKIP and f.message == "accounts.password_hashes.unreadable"
    monkeypatch.setattr(accounts_checks, "missing", lambda *names: list(names))
    for cls in (PasswordHashes, DormantAccounts):
        f = one(cls, townhall)
        assert f.status is Status.SKIP and f.message == f"{cls.id}.unreadable_privilege"
        assert f.args["capabilities"] == ["CAP_DAC_READ_SEARCH"]
        assert "CAP_DAC_READ_SEARCH" in f.evidence["reason"]


def test_no_shadow_is_a_skip(townhall: Path) -> None:
    (townhall / "etc/shadow").unlink()
    for cls in (PasswordHashes, DormantAccounts):
        f = one(cls, townhall)
        assert f.status is Status.SKIP and f.message == f"{cls.id}.no_shadow"


# --- accounts.dormant ---------------------------------------------------------------------------

def test_dormant_accounts_from_wtmp_lastlog_and_shadow(townhall: Path) -> None:
    f = one(DormantAccounts, townhall)
    # bob: lastlog 200 days ago; ansible: a password 100 days old, never used. alice and eve
    # logged in (wtmp), carol's password is 10 days old, dave is locked, toor has none.
    assert f.status is Status.FAIL and f.severity is Severity.MEDIUM
    assert f.args == {"count": 2, "accounts": ["bob", "ansible"], "days": 90}
    assert f.references == {"anssi": [6]}
    rows = {r["account"]: r for r in f.evidence["accounts"]}
    assert set(rows) == {"alice", "bob", "carol", "eve", "ansible"}
    assert rows["bob"]["last_login"] == "2026-05-12T12:00:00Z"
    assert rows["eve"]["last_login"] == "2026-11-22T12:00:00Z"
    assert rows["carol"]["last_login"] is None and not rows["carol"]["dormant"]
    assert f.evidence["sources"] == ["/var/log/wtmp", "/var/log/lastlog"]
    assert summary(f, "fr").startswith("2 comptes ouverts avec un mot de passe n'ont servi")


def test_the_idle_limit_is_a_parameter(townhall: Path) -> None:
    f = one(DormantAccounts, townhall, max_idle_days=400)
    assert f.status is Status.PASS and f.args == {"count": 5, "days": 400}
    f = one(DormantAccounts, townhall, max_idle_days=5)
    assert f.args["accounts"] == ["bob", "carol", "eve", "ansible"]


def test_an_expired_account_is_not_a_login_account(townhall: Path) -> None:
    edit(townhall, "/etc/shadow", ":20385:0:99999:7:::", ":20385:0:99999:7::20000:")
    f = one(DormantAccounts, townhall)
    assert f.args["accounts"] == ["ansible"]


def test_no_login_records_is_a_skip_not_a_pass(townhall: Path) -> None:
    shutil.rmtree(townhall / "var/log")
    f = one(DormantAccounts, townhall)
    assert f.status is Status.SKIP and f.message == "accounts.dormant.no_records"


def test_no_login_account_passes(tmp_path: Path) -> None:
    f = one(DormantAccounts, FIXTURES / "debian12-base")
    assert f.status is Status.PASS and f.message == "accounts.dormant.no_login_accounts"


def test_lastlog2_is_read_when_present(townhall: Path) -> None:
    import sqlite3

    (townhall / "var/lib/lastlog").mkdir(parents=True)
    db = sqlite3.connect(townhall / "var/lib/lastlog/lastlog2.db")
    # util-linux's lastlog2 schema (liblastlog2/src/lastlog2.c).
    db.execute("CREATE TABLE Lastlog2(Name TEXT PRIMARY KEY, Time INTEGER NOT NULL, "
               "TTY TEXT, RemoteHost TEXT, Service TEXT)")
    db.execute("INSERT INTO Lastlog2 VALUES ('bob', ?, 'pts/1', '192.0.2.20', 'sshd')",
               (int(FIXED_NOW.timestamp()) - 3 * 86400,))
    db.commit()
    db.close()
    f = one(DormantAccounts, townhall)
    assert f.args["accounts"] == ["ansible"]
    assert "/var/lib/lastlog/lastlog2.db" in f.evidence["sources"]


# --- accounts.admins ----------------------------------------------------------------------------

def admins_config(state: Path) -> Config:
    return Config(agent=AgentSettings(state_dir=str(state)))


def test_the_administrators_inventory_and_a_nopasswd_rule_for_a_person(
    townhall: Path, tmp_path: Path
) -> None:
    inventory, nopasswd = findings(AdminAccounts, townhall, admins_config(tmp_path / "state"))
    assert inventory.status is Status.PASS and inventory.severity is Severity.INFO
    assert inventory.args == {"count": 4, "accounts": ["alice", "ansible", "eve", "root"]}
    # alice: a member of sudo, which /etc/sudoers's %sudo rule names.
    assert inventory.evidence["how"]["alice"] == ["group:sudo", "sudoers"]
    assert inventory.evidence["previous_report"] is None
    assert inventory.references == {"anssi": [5, 29]}
    # eve is a person (UID 1004); ansible's rule is a service account's; carol's rule sits in
    # old.bak, which sudo does not read.
    assert nopasswd.status is Status.FAIL and nopasswd.severity is Severity.MEDIUM
    assert nopasswd.args == {"count": 1, "accounts": ["eve"]}
    assert nopasswd.evidence["rules"] == {"eve": "/etc/sudoers.d/90-eve:2"}
    assert summary(nopasswd, "fr") == ("Une personne peut devenir root sans retaper son mot de "
                                       "passe (NOPASSWD) : eve.")
    assert inventory.evidence["sudoers_files"] == [
        "/etc/sudoers", "/etc/sudoers.d/90-eve", "/etc/sudoers.d/91-ansible",
        "/etc/sudoers.d/README"]


def previous_report(state: Path, hostname: str, admins: list[str],
                    first_seen: dict[str, str] | None = None) -> None:
    """The agent's previous Report as the daemon keeps it (only what the check reads)."""
    results: list[dict[str, Any]] = [
        {"check": "accounts.admins", "message": "accounts.admins.inventory",
         "evidence": {"admins": admins}}]
    if first_seen:
        results.append({"check": "accounts.admins", "message": "accounts.admins.added",
                        "evidence": {"first_seen": first_seen}})
    state.mkdir(parents=True, exist_ok=True)
    (state / "last-report.json").write_text(json.dumps({
        "generated_at": "2026-11-27T12:00:00Z", "host": {"hostname": hostname},
        "results": results}))


def test_an_administrator_added_since_the_previous_cycle(townhall: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    previous_report(state, "mairie-srv", ["alice", "ansible", "root"])
    found = findings(AdminAccounts, townhall, admins_config(state))
    added = found[-1]
    assert added.status is Status.FAIL and added.message == "accounts.admins.added"
    assert added.args == {"count": 1, "accounts": ["eve"], "since": "2026-11-28T12:00:00Z"}
    assert added.evidence["first_seen"] == {"eve": "2026-11-28T12:00:00Z"}
    assert found[0].evidence["previous_report"] == "2026-11-27T12:00:00Z"
    assert "28 novembre 2026" in summary(added, "fr")


def test_a_new_administrator_stays_open_for_some_days_then_not(
    townhall: Path, tmp_path: Path
) -> None:
    # The previous Report already listed eve, but as first seen 3 days ago: still open.
    state = tmp_path / "state"
    previous_report(state, "mairie-srv", ["alice", "ansible", "eve", "root"],
                    {"eve": "2026-11-25T12:00:00Z", "gone": "2026-11-25T12:00:00Z"})
    added = findings(AdminAccounts, townhall, admins_config(state))[-1]
    assert added.args == {"count": 1, "accounts": ["eve"], "since": "2026-11-25T12:00:00Z"}
    found = findings(AdminAccounts, townhall, admins_config(state), added_open_days=3)
    assert [f.message for f in found] == ["accounts.admins.inventory", "accounts.admins.nopasswd"]


def test_a_previous_report_of_another_host_is_no_baseline(townhall: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    previous_report(state, "autre-machine", ["root"])
    found = findings(AdminAccounts, townhall, admins_config(state))
    assert [f.message for f in found] == ["accounts.admins.inventory", "accounts.admins.nopasswd"]
    (state / "last-report.json").write_text("{not json")
    assert len(findings(AdminAccounts, townhall, admins_config(state))) == 2


def test_sudo_rules_for_groups_aliases_and_everyone(townhall: Path, tmp_path: Path) -> None:
    (townhall / "etc/sudoers.d/90-eve").write_text(
        "User_Alias OPS = carol, \\\n    dave\nOPS ALL = (root) NOPASSWD: /usr/bin/systemctl\n"
        "%adm ALL=(ALL) PASSWD: /bin/journalctl\n")
    edit(townhall, "/etc/group", "adm:x:4:", "adm:x:4:bob")
    inventory, nopasswd = findings(AdminAccounts, townhall, admins_config(tmp_path / "s"))
    assert inventory.args["accounts"] == ["alice", "ansible", "bob", "carol", "dave", "root"]
    assert nopasswd.args["accounts"] == ["carol", "dave"]
    # The alias spans lines 1 and 2; the rule is line 3.
    assert nopasswd.evidence["rules"]["dave"] == "/etc/sudoers.d/90-eve:3"


class RefusingHost(Host):
    """The tree as the unprivileged agent sees it: `refused` files raise PermissionError, as a
    root-only file (sudoers.d's 0440) does for the sentinelle user."""

    def __init__(self, root: Path, refused: str) -> None:
        super().__init__(root, clock=lambda: FIXED_NOW)
        self.refused = refused

    def read_text(self, path: str | Path, default: str | None = None) -> str:
        if str(path) == self.refused:
            raise PermissionError(13, "Permission denied", str(path))
        return super().read_text(path, default)


def test_unreadable_sudoers_is_a_skip_beside_the_group_inventory(tmp_path: Path) -> None:
    host = RefusingHost(FIXTURES / "townhall", "/etc/sudoers.d/91-ansible")
    found = list(make(AdminAccounts, admins_config(tmp_path / "s")).run(host))
    for f in found:
        rendered(f)
    assert found[0].args["accounts"] == ["alice", "eve", "root"]  # ansible's rule is unseen
    assert found[0].message == "accounts.admins.inventory_partial"
    assert "certaines règles sudo n'ont pas pu être lues" in summary(found[0], "fr")
    skip = [f for f in found if f.status is Status.SKIP]
    assert [f.message for f in skip] == ["accounts.admins.unreadable"]
    assert skip[0].args == {"path": "/etc/sudoers.d/91-ansible"}
    assert found[0].evidence["sudoers_unreadable"] == ["/etc/sudoers.d/91-ansible"]


def test_no_administrator_at_all(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "debian12-base", root)
    (root / "etc/sudoers").unlink()
    shutil.rmtree(root / "etc/sudoers.d")
    f = one(AdminAccounts, root)
    assert f.message == "accounts.admins.none" and f.args == {"count": 0, "accounts": []}


# --- accounts.password_policy -------------------------------------------------------------------

def test_pwquality_default_length_is_too_short_and_no_lockout(townhall: Path) -> None:
    length, lockout = findings(PasswordPolicy, townhall)
    assert length.status is Status.FAIL and length.severity is Severity.LOW
    assert length.args == {"minlen": 8, "min_length": 12, "file": "/etc/pam.d/common-password"}
    assert length.evidence["minlen_from"] == "default"
    assert lockout.status is Status.FAIL and lockout.message == (
        "accounts.password_policy.no_lockout")
    assert length.references == {"anssi": [10]}


def test_pwquality_conf_then_its_drop_ins_then_the_module_arguments(townhall: Path) -> None:
    security = townhall / "etc/security"
    (security / "pwquality.conf.d").mkdir(parents=True)
    (security / "pwquality.conf").write_text("# minlen = 8\nminlen = 10\n")
    (security / "pwquality.conf.d/50-mairie.conf").write_text("minlen = 12\n")
    length = findings(PasswordPolicy, townhall)[0]
    assert length.status is Status.PASS and length.args["minlen"] == 12
    assert length.evidence["minlen_from"] == "/etc/security/pwquality.conf.d/50-mairie.conf"
    edit(townhall, "/etc/pam.d/common-password", "pam_pwquality.so retry=3",
         "pam_pwquality.so retry=3 minlen=9")
    length = findings(PasswordPolicy, townhall)[0]
    assert length.status is Status.FAIL and length.args["minlen"] == 9
    assert findings(PasswordPolicy, townhall, min_length=8)[0].status is Status.PASS


def test_no_quality_module(townhall: Path) -> None:
    edit(townhall, "/etc/pam.d/common-password", "password\trequisite\t\t\tpam_pwquality.so",
         "# password\trequisite\t\t\tpam_pwquality.so")
    length = findings(PasswordPolicy, townhall)[0]
    assert length.message == "accounts.password_policy.no_quality"


def test_faillock_locks_unless_deny_is_zero(townhall: Path) -> None:
    edit(townhall, "/etc/pam.d/common-auth", "# here are the per-package modules (the \"Primary\""
         " block)\n", "# here are the per-package modules (the \"Primary\" block)\n"
         "auth\trequisite\t\t\tpam_faillock.so preauth\n")
    lockout = findings(PasswordPolicy, townhall)[1]
    assert lockout.status is Status.PASS and lockout.args == {
        "deny": 3, "file": "/etc/pam.d/common-auth"}
    (townhall / "etc/security").mkdir(exist_ok=True)
    (townhall / "etc/security/faillock.conf").write_text("# deny = 3\ndeny = 0\n")
    lockout = findings(PasswordPolicy, townhall)[1]
    assert lockout.status is Status.FAIL and lockout.message == (
        "accounts.password_policy.lockout_off")
    (townhall / "etc/security/faillock.conf").write_text("deny = 5\n")
    lockout = findings(PasswordPolicy, townhall)[1]
    assert lockout.args["deny"] == 5 and summary(lockout, "fr") == (
        "Un compte est verrouillé après 5 échecs de connexion (/etc/pam.d/common-auth).")


def test_no_pam_is_a_skip(tmp_path: Path) -> None:
    f = one(PasswordPolicy, tmp_path)
    assert f.status is Status.SKIP and f.message == "accounts.password_policy.no_pam"


@pytest.mark.parametrize("cls", [SecondUidZero, PasswordHashes, DormantAccounts, AdminAccounts,
                                 PasswordPolicy])
def test_the_checks_are_asked_of_linux_only(cls: type[Check]) -> None:
    assert cls.platforms == frozenset({"linux"})


def test_without_the_privilege_sudoers_and_shadow_skips_name_it(
    townhall: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (townhall / "etc/shadow").unlink()
    (townhall / "etc/shadow").mkdir()
    f = one(DormantAccounts, townhall)
    assert f.status is Status.SKIP and f.message == "accounts.dormant.unreadable"
    monkeypatch.setattr(accounts_checks, "missing", lambda *names: list(names))
    host = RefusingHost(FIXTURES / "townhall", "/etc/sudoers")
    found = list(make(AdminAccounts, admins_config(tmp_path / "s")).run(host))
    for finding in found:
        rendered(finding)
    inventory, skip = found
    assert inventory.args["accounts"] == ["alice"]  # the sudo group, read without privilege
    assert inventory.message == "accounts.admins.inventory_partial"
    assert skip.message == "accounts.admins.unreadable_privilege"
    assert skip.args == {"path": "/etc/sudoers", "user": skip.args["user"],
                         "capabilities": ["CAP_DAC_READ_SEARCH"]}
    assert "CAP_DAC_READ_SEARCH" in summary(skip, "fr")


def test_the_daemons_own_previous_report_is_the_baseline(townhall: Path, tmp_path: Path) -> None:
    """Two real agent cycles (sentinelle.agent.daemon writes last-report.json after each): an
    administrator added between them is open in the second."""
    from sentinelle.agent.daemon import Agent
    from sentinelle.runner import build_setup

    config = tmp_path / "agent.yaml"
    config.write_text(f"agent: {{state_dir: {tmp_path / 'state'}}}\n")
    agent = Agent(build_setup(config, only=["accounts.admins"]), fixture_host(townhall))
    first = agent.cycle()
    assert first is not None and [f.message for f in first.results] == [
        "accounts.admins.inventory", "accounts.admins.nopasswd"]
    edit(townhall, "/etc/group", "adm:x:4:", "adm:x:4:carol")
    second = agent.cycle()
    assert second is not None
    (added,) = [f for f in second.results if f.message == "accounts.admins.added"]
    assert added.args["accounts"] == ["carol"] and added.status is Status.FAIL


def test_a_partial_inventory_is_no_baseline(townhall: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    previous_report(state, "mairie-srv", ["alice"])
    host = RefusingHost(townhall, "/etc/sudoers")
    found = list(make(AdminAccounts, admins_config(state)).run(host))
    assert "accounts.admins.added" not in [f.message for f in found]  # eve's rule is unseen
    (townhall / "etc/group").write_text("root:x:0:\n")
    found = list(make(AdminAccounts, admins_config(state)).run(host))
    assert found[0].message == "accounts.admins.none_partial" and found[0].evidence["partial"]
    rendered(found[0])
    # The previous Report was partial: its inventory is no baseline either.
    report = json.loads((state / "last-report.json").read_text())
    report["results"][0]["evidence"]["partial"] = True
    (state / "last-report.json").write_text(json.dumps(report))
    found = findings(AdminAccounts, townhall, admins_config(state))
    assert "accounts.admins.added" not in [f.message for f in found]


def test_defaults_not_authenticate_is_nopasswd_for_those_rules(townhall: Path,
                                                               tmp_path: Path) -> None:
    (townhall / "etc/sudoers.d/20-defaults").write_text(
        "Defaults:alice, carol !authenticate\nDefaults env_reset\n"
        "Defaults>root !authenticate\nDefaults@mairie-srv !authenticate\n")
    inventory, nopasswd = findings(AdminAccounts, townhall, admins_config(tmp_path / "s"))
    # alice is an administrator through %sudo: her rules ask no password now; carol has no
    # rule, so she is no administrator and nothing is asked of her.
    assert nopasswd.args["accounts"] == ["alice", "eve"]
    assert nopasswd.evidence["rules"]["alice"] == "/etc/sudoers.d/20-defaults:1"
    assert "carol" not in inventory.args["accounts"]
    (townhall / "etc/sudoers.d/20-defaults").write_text("Defaults !authenticate\n")
    assert findings(AdminAccounts, townhall, admins_config(tmp_path / "s"))[1].args[
        "accounts"] == ["alice", "eve"]


def test_root_is_exempt_from_dormancy_by_default(townhall: Path) -> None:
    # root with a password set long ago and no login record: su and sudo write none.
    edit(townhall, "/etc/shadow", "root:*:", f"root:{SHA512}:")
    assert one(DormantAccounts, townhall).args["accounts"] == ["bob", "ansible"]
    assert one(DormantAccounts, townhall, exempt=[]).args["accounts"] == [
        "root", "bob", "ansible"]


def test_a_long_wtmp_is_read_a_chunk_at_a_time_and_only_its_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from sentinelle.checks.accounts import logins
    from tests.checks.accounts.rig import utmp

    (tmp_path / "var/log").mkdir(parents=True)
    count = logins.CHUNK_RECORDS * 2 + 3
    # u0..u9 log in in turn, one second apart, newest last: the newest of each is in the tail.
    records = [utmp(7, f"u{i % 10}", "h", FIXED_NOW - timedelta(seconds=count - i))
               for i in range(count)]
    (tmp_path / "var/log/wtmp").write_bytes(b"".join(records) + b"torn")
    seen = logins.read_logins(fixture_host(tmp_path), {})
    newest = int(FIXED_NOW.timestamp()) - 1
    assert seen.last["u" + str((count - 1) % 10)] == newest and len(seen.last) == 10
    monkeypatch.setattr(logins, "MAX_WTMP_BYTES", 3 * logins.UTMP.size)
    seen = logins.read_logins(fixture_host(tmp_path), {})
    assert len(seen.last) == 3  # only the last three records are read


def test_an_unreadable_login_record_is_a_skip_not_a_dormant_verdict(townhall: Path) -> None:
    # bob's only login is in lastlog: without it he would look dormant.
    (townhall / "var/log/lastlog").unlink()
    (townhall / "var/log/lastlog").mkdir()
    f = one(DormantAccounts, townhall)
    assert f.status is Status.SKIP and f.args == {"path": "/var/log/lastlog"}
