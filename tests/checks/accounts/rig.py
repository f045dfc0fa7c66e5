"""A town hall's accounts, written by the real shadow-utils: `useradd --prefix` and `usermod
--prefix` add and lock the accounts in a copy of a Debian 12 base tree (fixtures/debian12-base:
this machine's /etc/passwd, group, shadow, gshadow and login.defs trimmed to Debian's base
system accounts, and the sudo package's /etc/sudoers and sudoers.d/README). Login records are
written as glibc and shadow-utils lay them out (struct utmp, struct lastlog); test_records_real.py
has the real `last` and `lastlog` read them back.

The hashes are libxcrypt's (crypt(3) on this machine) for the password "Mairie-2026!". useradd
stamps each account's last password change with the day it runs; `stamp_password_changes` sets
the scenario's days instead, relative to the test's clock (the one field no prefix-aware tool
writes).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

from sentinelle.checks.accounts.logins import LASTLOG_RECORD, USER_PROCESS, UTMP

HERE = Path(__file__).resolve().parent
BASE = HERE / "fixtures" / "debian12-base"
YESCRYPT = "$y$j9T$Rk3yX0mQm0Wc2pJgB7eVd/$LXaaUEHvUES8cnKYdBK9HR0lguMvwaDqY6OyJSjgV55"
SHA512 = ("$6$Qn8Rb1sWfX2pLzVt$S9ViFtsx1Sorv2QTVPw8ycPA9Pa38/r.gDWFM2V0wuIYiZtnFoo6dhDGnlcqLSeWx"
          "ArRWObqjpnFwRrYVuhUw/")
MD5 = "$1$Zk2pQw9x$jlEOez52jXHz.dRmvqLBl."
DES = "XqZdoIoqaKS3E"
PWQUALITY_PROFILE = BASE / "pam-configs" / "pwquality"
FAILLOCK_PROFILE = BASE / "pam-configs" / "faillock"
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
BOOT_TIME = 2
DEAD_PROCESS = 8

# name: (useradd arguments, days since the password changed)
ACCOUNTS: dict[str, tuple[list[str], int]] = {
    # The secretary: an administrator through the sudo group, logs in every day.
    "alice": (["-u", "1000", "-s", "/bin/bash", "-G", "sudo", "-p", YESCRYPT], 30),
    # A former employee: last login 200 days ago (lastlog only, wtmp has rotated since).
    "bob": (["-u", "1001", "-s", "/bin/bash", "-p", SHA512], 400),
    # A new intern, never logged in yet, password set 10 days ago, an old MD5 hash.
    "carol": (["-u", "1002", "-s", "/bin/bash", "-p", MD5], 10),
    # Locked after leaving (usermod -L): not dormant, whatever its age.
    "dave": (["-u", "1003", "-s", "/bin/bash", "-p", SHA512], 900),
    # The maintenance contractor: a DES hash, a NOPASSWD sudo rule, logged in last week.
    "eve": (["-u", "1004", "-s", "/bin/bash", "-p", DES], 60),
    # A second UID 0 with an empty password: what an intruder leaves behind.
    "toor": (["-o", "-u", "0", "-g", "0", "-s", "/bin/bash", "-p", ""], 5),
    # A service account with a NOPASSWD rule: no person, not flagged.
    "ansible": (["-r", "-u", "990", "-s", "/bin/sh", "-p", SHA512], 100),
}
SUDOERS_D = {
    "90-eve": "# The contractor's rule\neve ALL=(ALL) NOPASSWD: ALL\n",
    "91-ansible": "ansible ALL=(root) NOPASSWD: /usr/bin/apt-get\n",
    # sudo skips names with a dot: this rule is not in force.
    "old.bak": "carol ALL=(ALL) NOPASSWD: ALL\n",
}


def build(root: Path, now: datetime) -> Path:
    """The town hall's tree under `root`, as of `now`."""
    shutil.copytree(BASE, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns("pam-configs"))
    for name, (args, _) in ACCOUNTS.items():
        subprocess.run(["useradd", "--prefix", str(root), "-M", *args, name], check=True,
                       capture_output=True, timeout=30)
    subprocess.run(["usermod", "--prefix", str(root), "-L", "dave"], check=True,
                   capture_output=True, timeout=30)
    stamp_password_changes(root, now, {n: days for n, (_, days) in ACCOUNTS.items()})
    for name, text in SUDOERS_D.items():
        (root / "etc/sudoers.d" / name).write_text(text)
    (root / "etc/hostname").write_text("mairie-srv\n")
    # PAM as Debian writes it once libpam-pwquality is installed: its default minimum length
    # (8), no lockout.
    pam_auth_update(root, ["pwquality"])
    log = root / "var/log"
    log.mkdir(parents=True, exist_ok=True)
    (log / "wtmp").write_bytes(b"".join([
        utmp(BOOT_TIME, "reboot", "~", now - timedelta(days=20), line="~"),
        utmp(USER_PROCESS, "alice", "192.0.2.10", now - timedelta(hours=20)),
        utmp(DEAD_PROCESS, "", "", now - timedelta(hours=19)),
        utmp(USER_PROCESS, "eve", "198.51.100.7", now - timedelta(days=6)),
    ]))
    # lastlog is indexed by UID; bob logged in 200 days ago, alice yesterday.
    records = {1000: now - timedelta(hours=20), 1001: now - timedelta(days=200)}
    with (log / "lastlog").open("wb") as f:
        for uid, when in sorted(records.items()):
            f.seek(uid * LASTLOG_RECORD.size)
            f.write(lastlog(when, "pts/0", "192.0.2.10"))
    return root


def pam_auth_update(root: Path, enable: list[str]) -> None:
    """The tree's /etc/pam.d written by Debian's real `pam-auth-update`, from this machine's PAM
    files and profiles plus the profiles of fixtures/debian12-base/pam-configs (pwquality: the
    libpam-pwquality package's; faillock: pam_faillock(8)'s setup as a profile). It runs in a
    private mount namespace where the tree's directories are bound over /etc/pam.d,
    /usr/share/pam-configs and /var/lib/pam: this machine's PAM is never touched."""
    work = root / ".pam-work"
    pam, configs, state = root / "etc/pam.d", work / "configs", work / "state"
    if not pam.exists():
        shutil.copytree("/etc/pam.d", pam)
    shutil.copytree("/usr/share/pam-configs", configs)
    shutil.copy(PWQUALITY_PROFILE, configs)
    shutil.copy(FAILLOCK_PROFILE, configs)
    shutil.copytree("/var/lib/pam", state)
    script = ('mount --bind "$1" /etc/pam.d && mount --bind "$2" /usr/share/pam-configs && '
              'mount --bind "$3" /var/lib/pam && shift 3 && '
              'exec pam-auth-update --package --enable "$@"')
    subprocess.run(["unshare", "--mount", "sh", "-c", script, "sh", str(pam), str(configs),
                    str(state), *enable], check=True, capture_output=True, timeout=60,
                   env={"DEBIAN_FRONTEND": "noninteractive", "PATH": SYSTEM_PATH})
    shutil.rmtree(work)


def stamp_password_changes(root: Path, now: datetime, days_ago: dict[str, int]) -> None:
    shadow = root / "etc/shadow"
    today = int(now.timestamp() // 86400)
    lines = []
    for line in shadow.read_text().splitlines():
        fields = line.split(":")
        if fields[0] in days_ago:
            fields[2] = str(today - days_ago[fields[0]])
        lines.append(":".join(fields))
    shadow.write_text("\n".join(lines) + "\n")


def utmp(kind: int, user: str, host: str, when: datetime, line: str = "pts/0") -> bytes:
    """One struct utmp as glibc writes it (bits/utmp.h, 384 bytes)."""
    seconds = int(when.timestamp())
    return UTMP.pack(kind, 4242, line.encode(), b"ts/0", user.encode(), host.encode(), 0, 0, 0,
                     seconds, 0, 0, 0, 0, 0, b"")


def lastlog(when: datetime, line: str, host: str) -> bytes:
    """One struct lastlog as shadow-utils and pam_lastlog write it (292 bytes)."""
    return LASTLOG_RECORD.pack(int(when.timestamp()), line.encode(), host.encode())


assert struct.calcsize("<h2xi32s4s32s256shhi2i4i20s") == UTMP.size == 384
assert LASTLOG_RECORD.size == 292
