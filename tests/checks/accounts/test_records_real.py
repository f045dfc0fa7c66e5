"""The accounts checks against the real tools: shadow-utils writes the accounts (useradd and
usermod --prefix), Debian's pam-auth-update writes PAM, util-linux's `last` and shadow-utils'
`lastlog` read back the login records in the layout the checks parse, and sudo's own parser
(cvtsudoers) reads the same sudo rules as the checks."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sentinelle.checks.accounts.checks import (
    AdminAccounts,
    DormantAccounts,
    PasswordHashes,
    PasswordPolicy,
    SecondUidZero,
)
from sentinelle.checks.accounts.logins import LoginRecords, parse_wtmp
from sentinelle.checks.accounts.sudoers import read_sudoers
from sentinelle.checks.base import Check
from sentinelle.config import Config
from sentinelle.host import Host
from sentinelle.model import Finding, Status
from tests.checks.accounts.rig import build, lastlog, pam_auth_update, utmp
from tests.checks.accounts.test_accounts import admins_config, make
from tests.checks.texts import rendered
from tests.conftest import need_root, need_tool

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(autouse=True)
def real_tools() -> None:
    need_root()
    for tool in ("useradd", "usermod", "pam-auth-update", "unshare", "last", "lastlog",
                 "cvtsudoers"):
        need_tool(tool)


@pytest.fixture(scope="module")
def townhall(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("real") / "townhall", NOW)


def run(cls: type[Check], root: Path, config: Config | None = None) -> list[Finding]:
    host = Host(root, clock=lambda: NOW)
    found = list(make(cls, config).run(host))
    for f in found:
        rendered(f)
    return found


def test_the_checks_on_accounts_shadow_utils_just_wrote(townhall: Path, tmp_path: Path) -> None:
    assert run(SecondUidZero, townhall)[0].args["accounts"] == ["toor"]
    empty, weak = run(PasswordHashes, townhall)
    assert empty.args["accounts"] == ["toor"] and weak.args["accounts"] == ["carol", "eve"]
    (dormant,) = run(DormantAccounts, townhall)
    assert dormant.args["accounts"] == ["bob", "ansible"]
    inventory, nopasswd = run(AdminAccounts, townhall, config=admins_config(tmp_path))
    assert inventory.args["accounts"] == ["alice", "ansible", "eve", "root"]
    assert nopasswd.args["accounts"] == ["eve"]
    # usermod -L locks with a "!" in front of the hash: dave is no login account.
    assert (townhall / "etc/shadow").read_text().count("dave:!$6$") == 1


def test_util_linux_last_reads_the_wtmp_records_as_the_check_does(townhall: Path) -> None:
    out = subprocess.run(["last", "-f", str(townhall / "var/log/wtmp"), "--time-format", "iso",
                          "-w"], capture_output=True, text=True, timeout=30, check=True).stdout
    theirs = {line.split()[0]: line.split()[3] for line in out.splitlines()
              if line and not line.startswith(("wtmp", "reboot"))}
    records = LoginRecords()
    parse_wtmp((townhall / "var/log/wtmp").read_bytes(), records)
    assert set(theirs) == set(records.last) == {"alice", "eve"}
    for name, seconds in records.last.items():
        assert datetime.fromisoformat(theirs[name]) == datetime.fromtimestamp(seconds, UTC)


def test_a_torn_wtmp_keeps_its_whole_records(tmp_path: Path) -> None:
    data = utmp(7, "alice", "h", NOW) + utmp(7, "bob", "h", NOW - timedelta(days=1))[:100]
    records = LoginRecords()
    parse_wtmp(data, records)
    assert set(records.last) == {"alice"}


def test_shadow_utils_lastlog_reads_the_records_as_the_check_does(townhall: Path) -> None:
    # lastlog reads /etc/passwd and /var/log/lastlog: the tree's, bound over them in a private
    # mount namespace.
    script = ('mount --bind "$1/etc/passwd" /etc/passwd && '
              'mount --bind "$1/var/log/lastlog" /var/log/lastlog && exec lastlog -u bob')
    out = subprocess.run(["unshare", "--mount", "sh", "-c", script, "sh", str(townhall)],
                         capture_output=True, text=True, timeout=30, check=True,
                         env={"TZ": "UTC", "LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/bin"}
                         ).stdout
    (row,) = out.splitlines()[1:]
    when = NOW - timedelta(days=200)
    assert row.split()[0] == "bob" and when.strftime("%b %e %H:%M:%S") in row
    assert str(when.year) in row
    assert lastlog(when, "pts/0", "x")[:4] == (townhall / "var/log/lastlog").read_bytes()[
        1001 * 292:1001 * 292 + 4]


def test_sudos_own_parser_reads_the_same_rules(townhall: Path, tmp_path: Path) -> None:
    mine = read_sudoers(Host(townhall))
    assert mine is not None
    for path in mine.files:
        # One file at a time, without its include lines: cvtsudoers would read this machine's
        # /etc/sudoers.d.
        alone = tmp_path / path.replace("/", "_")
        alone.write_text("".join(
            line for line in (townhall / path.lstrip("/")).read_text().splitlines(True)
            if not line.startswith(("@include", "#include"))))
        spec = json.loads(subprocess.run(["cvtsudoers", "-f", "json", str(alone)],
                                         capture_output=True, text=True, timeout=30,
                                         check=True).stdout or "{}")
        theirs = set()
        for user_spec in spec.get("User_Specs", []):
            who = tuple(u.get("username") or "%" + u.get("usergroup", "")
                        for u in user_spec["User_List"])
            nopasswd = any({"authenticate": False} in c.get("Options", [])
                           for c in user_spec["Cmnd_Specs"])
            theirs.add((who, nopasswd))
        ours = {(r.who, r.nopasswd) for r in mine.rules if r.where.startswith(path + ":")}
        assert ours == theirs, path


def test_sudos_own_parser_reads_the_same_defaults(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    # (Not Defaults>runas: cvtsudoers' JSON prints its binding as a user's.)
    text = "Defaults env_reset\nDefaults:carol, %adm !authenticate\nDefaults !authenticate\n"
    (root / "etc/sudoers").write_text(text)
    spec = json.loads(subprocess.run(["cvtsudoers", "-f", "json", str(root / "etc/sudoers")],
                                     capture_output=True, text=True, timeout=30,
                                     check=True).stdout)
    theirs = set()
    for default in spec["Defaults"]:
        binding = default.get("Binding", [{"username": "ALL"}])
        if {"authenticate": False} in default["Options"] and all(
                "username" in b or "usergroup" in b for b in binding):
            theirs.add(tuple(b.get("username") or "%" + b["usergroup"] for b in binding))
    mine = read_sudoers(Host(root))
    assert mine is not None
    assert {r.who for r in mine.no_authenticate} == theirs == {("carol", "%adm"), ("ALL",)}


def test_pam_auth_update_with_pwquality_and_faillock(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    pam_auth_update(root, ["pwquality", "faillock"])
    (root / "etc/security").mkdir()
    (root / "etc/security/pwquality.conf").write_text("# minlen = 8\nminlen = 14\n")
    length, lockout = run(PasswordPolicy, root)
    assert length.status is Status.PASS and length.args["minlen"] == 14
    assert lockout.status is Status.PASS and lockout.args == {
        "deny": 3, "file": "/etc/pam.d/common-auth"}


def as_nobody(root: Path, *caps: str) -> dict[str, dict[str, object]]:
    """`sentinelle check --only accounts` on `root`, run as nobody with only `caps` (ambient,
    as the packaged unit grants them): the kernel decides what can be read."""
    import os
    import sys

    setpriv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    if caps:
        wanted = ",".join(f"+{c}" for c in caps)
        setpriv += [f"--inh-caps={wanted}", f"--ambient-caps={wanted}"]
    out = subprocess.run(
        [*setpriv, sys.executable, "-m", "sentinelle.cli", "check", "--root", str(root),
         "--only", "accounts", "--format", "json", "--lang", "en"],
        capture_output=True, text=True, timeout=120, check=True,
        env={**os.environ, "HOME": "/tmp"}).stdout
    return {f"{r['check']}/{r['message']}": r for r in json.loads(out)["results"]}


def test_the_kernel_refuses_shadow_and_sudoers_to_an_agent_without_the_privilege(
    townhall: Path,
) -> None:
    import os
    import shutil
    import tempfile

    need_tool("setpriv")
    # The tree with a real system's modes (shadow 0640 root:shadow, sudoers 0440), somewhere
    # nobody can walk to.
    top = Path(tempfile.mkdtemp(prefix="sntl-accounts-"))
    try:
        top.chmod(0o755)
        root = top / "root"
        shutil.copytree(townhall, root)
        for path in root.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        shadow_gid = int(subprocess.run(["getent", "group", "shadow"], capture_output=True,
                                        text=True, check=True).stdout.split(":")[2])
        os.chown(root / "etc/shadow", 0, shadow_gid)
        (root / "etc/shadow").chmod(0o640)
        for path in [root / "etc/sudoers", *(root / "etc/sudoers.d").iterdir()]:
            path.chmod(0o440)
        without = as_nobody(root)
        assert "accounts.password_hashes/accounts.password_hashes.unreadable_privilege" in without
        assert "accounts.dormant/accounts.dormant.unreadable_privilege" in without
        skip = without["accounts.admins/accounts.admins.unreadable_privilege"]
        assert skip["args"] == {"path": "/etc/sudoers", "user": "nobody",
                                "capabilities": ["CAP_DAC_READ_SEARCH"]}
        assert "accounts.admins/accounts.admins.inventory_partial" in without
        assert "accounts.uid0/accounts.uid0.others" in without  # /etc/passwd: readable by all
        granted = as_nobody(root, "dac_read_search")
        assert "accounts.password_hashes/accounts.password_hashes.empty" in granted
        assert "accounts.admins/accounts.admins.nopasswd" in granted
        assert not [k for k in granted if "unreadable" in k]
    finally:
        shutil.rmtree(top)
