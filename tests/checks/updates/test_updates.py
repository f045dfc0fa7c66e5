"""updates.automatic and updates.security_source on Debian trees read by the real apt-config
and apt-get (the files copied from this Debian 12 machine), and on RHEL-family trees."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sentinelle.checks.base import Check, CheckContext
from sentinelle.checks.updates.apt import APT_CONFIG_ARGV, INDEXTARGETS_ARGV, parse_config_dump
from sentinelle.checks.updates.checks import AutomaticUpdates, SecuritySource
from sentinelle.config import Config
from sentinelle.errors import CommandError, CommandNotFound, CommandTimeout
from sentinelle.host import Host
from sentinelle.model import Finding, Status
from sentinelle.rules import load_rules
from tests.checks.texts import remedy, rendered, summary
from tests.conftest import FIXED_NOW, fixture_host, need_tool, recorded

RULES = load_rules()
FIXTURES = Path(__file__).parent / "fixtures"
# The recorded log's last line, in the machine's local time.
LAST_LOGGED = datetime(2026, 12, 2, 11, 36, 25).astimezone()


def run(cls: type[Check], host: Host, **params: Any) -> Finding:
    meta = RULES.checks[cls.id]
    check = cls(meta, {**meta.params, **params}, CheckContext(Config(), RULES))
    (finding,) = check.run(host)
    rendered(finding, RULES)
    return finding


def debian(root: Path, *, log: bool = True, sources: str | None = None) -> Path:
    """A Debian 12 tree as this machine has it: unattended-upgrades installed and enabled."""
    for rel, name in [("etc/os-release", "os-release"), ("var/lib/dpkg/status", "dpkg-status"),
                      ("etc/apt/apt.conf.d/20auto-upgrades", "20auto-upgrades"),
                      ("etc/apt/apt.conf.d/50unattended-upgrades", "50unattended-upgrades"),
                      ("etc/apt/sources.list.d/debian.sources", "debian.sources")]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / name, root / rel)
    if sources is not None:
        (root / "etc/apt/sources.list.d/debian.sources").write_text(sources)
    if log:
        (root / "var/log/unattended-upgrades").mkdir(parents=True)
        shutil.copy(FIXTURES / "unattended-upgrades.log",
                    root / "var/log/unattended-upgrades/unattended-upgrades.log")
    timers = root / "etc/systemd/system/timers.target.wants"
    timers.mkdir(parents=True)
    (timers / "apt-daily-upgrade.timer").symlink_to("/lib/systemd/system/apt-daily-upgrade.timer")
    return root


def real(root: Path, now: datetime = LAST_LOGGED + timedelta(days=1)) -> Host:
    """The tree read by the real apt tools."""
    need_tool("apt-config")
    return Host(root, clock=lambda: now)


def conf(root: Path, name: str, text: str) -> None:
    (root / "etc/apt/apt.conf.d" / name).write_text(text)


# updates.automatic, Debian


def test_enabled_and_ran_yesterday_passes(tmp_path: Path) -> None:
    f = run(AutomaticUpdates, real(debian(tmp_path)))
    assert f.status is Status.PASS and f.message == "updates.automatic.apt_recent"
    assert f.args["age"] == pytest.approx(86400)
    assert f.evidence["APT::Periodic::Unattended-Upgrade"] == "1"
    assert "origin=Debian,codename=${distro_codename}-security,label=Debian-Security" in \
        f.evidence["origins"] and "" not in f.evidence["origins"]
    assert summary(f, "fr", RULES) == ("Les mises à jour de sécurité s'installent "
                                       "automatiquement ; dernier passage il y a 24 heures.")


def test_installed_is_not_enough_when_the_last_run_is_old(tmp_path: Path) -> None:
    # Lynis passes this machine: the package is installed. It last ran ten days ago.
    f = run(AutomaticUpdates, real(debian(tmp_path), now=LAST_LOGGED + timedelta(days=10)))
    assert f.status is Status.FAIL and f.message == "updates.automatic.stale"
    assert f.args["limit"] == 7 * 86400
    assert "n'a plus tourné depuis 10 jours" in summary(f, "fr", RULES)
    assert run(AutomaticUpdates, real(tmp_path, now=LAST_LOGGED + timedelta(days=10)),
               max_age_days=14).status is Status.PASS


def test_installed_and_enabled_but_never_ran_fails(tmp_path: Path) -> None:
    f = run(AutomaticUpdates, real(debian(tmp_path, log=False)))
    assert f.status is Status.FAIL and f.message == "updates.automatic.never_ran"
    assert f.args["path"] == "/var/log/unattended-upgrades/unattended-upgrades.log"


def test_a_later_file_turning_it_off_wins(tmp_path: Path) -> None:
    root = debian(tmp_path)
    conf(root, "99local", 'APT::Periodic::Unattended-Upgrade "0";\n')
    f = run(AutomaticUpdates, real(root))
    assert f.status is Status.FAIL and f.message == "updates.automatic.apt_disabled"
    assert f.args["setting"] == 'APT::Periodic::Unattended-Upgrade "0"'
    assert remedy(f, "fr", RULES).startswith("Sur Debian ou Ubuntu")


def test_an_earlier_file_turning_it_off_loses(tmp_path: Path) -> None:
    root = debian(tmp_path)
    conf(root, "10off", 'APT::Periodic::Unattended-Upgrade "0";\n')
    assert run(AutomaticUpdates, real(root)).status is Status.PASS


def test_periodic_enable_zero_turns_everything_off(tmp_path: Path) -> None:
    root = debian(tmp_path)
    conf(root, "99off", 'APT::Periodic::Enable "0";\n')
    f = run(AutomaticUpdates, real(root))
    assert f.message == "updates.automatic.apt_disabled"
    assert f.args["setting"] == 'APT::Periodic::Enable "0"'


def test_a_masked_timer_never_runs_it(tmp_path: Path) -> None:
    root = debian(tmp_path)
    (root / "etc/systemd/system/apt-daily-upgrade.timer").symlink_to("/dev/null")
    f = run(AutomaticUpdates, real(root))
    assert f.message == "updates.automatic.apt_disabled"
    assert f.args["setting"] == "apt-daily-upgrade.timer masked"


def test_no_security_origin_allowed_fails(tmp_path: Path) -> None:
    root = debian(tmp_path)
    conf(root, "99only-stable", '#clear Unattended-Upgrade::Origins-Pattern;\n'
         'Unattended-Upgrade::Origins-Pattern { "origin=Debian,codename=bookworm"; };\n')
    f = run(AutomaticUpdates, real(root))
    assert f.status is Status.FAIL and f.message == "updates.automatic.apt_no_security_origin"


def test_the_log_directory_is_read_from_apts_configuration(tmp_path: Path) -> None:
    root = debian(tmp_path, log=False)
    conf(root, "99logdir", 'Unattended-Upgrade::LogDir "/srv/uu-logs";\n')
    (root / "srv/uu-logs").mkdir(parents=True)
    shutil.copy(FIXTURES / "unattended-upgrades.log", root / "srv/uu-logs/unattended-upgrades.log")
    f = run(AutomaticUpdates, real(root))
    assert f.status is Status.PASS and f.evidence["log"] == "/srv/uu-logs/unattended-upgrades.log"


def test_yesterdays_rotated_log_counts(tmp_path: Path) -> None:
    root = debian(tmp_path)
    log = root / "var/log/unattended-upgrades/unattended-upgrades.log"
    log.rename(log.with_name("unattended-upgrades.log.1"))
    log.write_text("")
    assert run(AutomaticUpdates, real(root)).status is Status.PASS


def test_an_unreadable_log_is_a_skip(tmp_path: Path) -> None:
    root = debian(tmp_path, log=False)
    (root / "var/log/unattended-upgrades/unattended-upgrades.log").mkdir(parents=True)
    f = run(AutomaticUpdates, real(root))
    assert f.status is Status.SKIP and f.message == "updates.automatic.log_unreadable"
    assert f.evidence["reason"].startswith("/var/log/unattended-upgrades/unattended-upgrades.log")


def test_not_installed_fails(tmp_path: Path) -> None:
    root = debian(tmp_path)
    status = root / "var/lib/dpkg/status"
    status.write_text(status.read_text().replace("Package: unattended-upgrades",
                                                 "Package: something-else"))
    f = run(AutomaticUpdates, fixture_host(root))
    assert f.status is Status.FAIL and f.message == "updates.automatic.apt_not_installed"


@pytest.mark.parametrize(
    ("error", "case"),
    [(CommandNotFound("apt-config: not installed"), "no_apt"),
     (CommandTimeout("apt-config: no answer after 30 s"), "tool_timeout"),
     (CommandError("apt-config: [Errno 8] Exec format error"), "tool_failed")])
def test_apt_config_that_cannot_answer(tmp_path: Path, error: Exception, case: str) -> None:
    host = fixture_host(debian(tmp_path), commands={APT_CONFIG_ARGV: error})
    f = run(AutomaticUpdates, host)
    assert f.message == f"updates.automatic.{case}"
    assert f.status is (Status.SKIP if case == "no_apt" else Status.ERROR)


def test_apt_config_failing_says_what_apt_said(tmp_path: Path) -> None:
    root = debian(tmp_path)
    conf(root, "99broken", 'APT::Periodic::Unattended-Upgrade "1"\n')  # no semicolon
    f = run(AutomaticUpdates, real(root))
    assert f.status is Status.ERROR and f.message == "updates.automatic.tool_failed"
    assert "99broken" in f.args["detail"]


def test_config_dump_lists_and_last_value() -> None:
    dump = ('APT::Periodic::Unattended-Upgrade "1";\nAPT::Periodic::Unattended-Upgrade "0";\n'
            'U::O "";\nU::O:: "a";\nU::O:: "b \\"q\\"";\n')
    assert parse_config_dump(dump) == {"APT::Periodic::Unattended-Upgrade": ["0"],
                                       "U::O": ["a", 'b "q"']}


# updates.automatic, RHEL family


def rhel(root: Path, apply: str = "yes", timer: str | None = "dnf-automatic.timer",
         ran: timedelta | None = timedelta(days=1)) -> Path:
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text(
        'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n')
    (root / "etc/dnf").mkdir()
    # As dnf-automatic 4.14 ships it, apply_updates changed.
    (root / "etc/dnf/automatic.conf").write_text(
        "[commands]\n# What kind of upgrade to perform:\nupgrade_type = default\n"
        f"random_sleep = 0\nnetwork_online_timeout = 60\ndownload_updates = yes\n"
        f"apply_updates = {apply}\nreboot = never\n\n[emitters]\nemit_via = stdio\n")
    wants = root / "etc/systemd/system/timers.target.wants"
    wants.mkdir(parents=True)
    if timer:
        (wants / timer).symlink_to(f"/usr/lib/systemd/system/{timer}")
        if ran is not None:
            stamp = root / "var/lib/systemd/timers" / f"stamp-{timer}"
            stamp.parent.mkdir(parents=True)
            stamp.write_text("")
            when = (FIXED_NOW - ran).timestamp()
            import os
            os.utime(stamp, (when, when))
    return root


def test_dnf_automatic_applying_and_recent_passes(tmp_path: Path) -> None:
    f = run(AutomaticUpdates, fixture_host(rhel(tmp_path)))
    assert f.status is Status.PASS and f.message == "updates.automatic.dnf_recent"


def test_dnf_automatic_that_only_downloads_fails(tmp_path: Path) -> None:
    f = run(AutomaticUpdates, fixture_host(rhel(tmp_path, apply="no")))
    assert f.status is Status.FAIL and f.message == "updates.automatic.dnf_disabled"


def test_the_install_timer_applies_whatever_the_file_says(tmp_path: Path) -> None:
    root = rhel(tmp_path, apply="no", timer="dnf-automatic-install.timer")
    assert run(AutomaticUpdates, fixture_host(root)).status is Status.PASS


def test_dnf_automatic_stale_or_never_ran(tmp_path: Path) -> None:
    assert run(AutomaticUpdates, fixture_host(rhel(tmp_path / "a", ran=timedelta(days=9)))
               ).message == "updates.automatic.stale"
    assert run(AutomaticUpdates, fixture_host(rhel(tmp_path / "b", ran=None))
               ).message == "updates.automatic.never_ran"


def test_dnf_automatic_absent_or_broken(tmp_path: Path) -> None:
    root = rhel(tmp_path)
    (root / "etc/dnf/automatic.conf").write_text("apply_updates = yes\n")
    f = run(AutomaticUpdates, fixture_host(root))
    assert f.status is Status.ERROR and f.message == "updates.automatic.dnf_conf_invalid"
    (root / "etc/dnf/automatic.conf").unlink()
    f = run(AutomaticUpdates, fixture_host(root))
    assert f.status is Status.FAIL and f.message == "updates.automatic.dnf_not_installed"


def test_another_system_is_a_skip(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text("ID=alpine\n")
    assert run(AutomaticUpdates, fixture_host(tmp_path)).message == "updates.automatic.unsupported"
    assert run(SecuritySource, fixture_host(tmp_path)).message == \
        "updates.security_source.unsupported"


# updates.security_source


def test_this_machines_sources_have_bookworm_security(tmp_path: Path) -> None:
    f = run(SecuritySource, real(debian(tmp_path)))
    assert f.status is Status.PASS
    assert f.args["sources"] == ["http://deb.debian.org/debian-security bookworm-security"]


DEB822_NO_SECURITY = """\
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Enabled: no
"""


def test_a_disabled_deb822_stanza_does_not_count(tmp_path: Path) -> None:
    f = run(SecuritySource, real(debian(tmp_path, sources=DEB822_NO_SECURITY)))
    assert f.status is Status.FAIL and f.message == "updates.security_source.apt_missing"
    assert f.args["suite"] == "bookworm-security"
    assert "Aucune source de mises à jour de sécurité (bookworm-security)" in summary(
        f, "fr", RULES)


def test_a_one_line_list_counts_but_not_for_another_release(tmp_path: Path) -> None:
    root = debian(tmp_path, sources=DEB822_NO_SECURITY)
    lst = root / "etc/apt/sources.list"
    lst.write_text("deb http://security.debian.org/debian-security bullseye-security main\n"
                   "deb-src http://security.debian.org/debian-security bookworm-security main\n")
    assert run(SecuritySource, real(root)).status is Status.FAIL  # wrong release, source only
    lst.write_text("deb http://security.debian.org/debian-security bookworm-security main\n")
    assert run(SecuritySource, real(root)).status is Status.PASS


def test_indextargets_failing_is_an_error(tmp_path: Path) -> None:
    host = fixture_host(debian(tmp_path), commands={
        INDEXTARGETS_ARGV: recorded("", 100, "E: Malformed entry 1 in list file\n")})
    f = run(SecuritySource, host)
    assert f.status is Status.ERROR and f.args["detail"] == "E: Malformed entry 1 in list file"


def rhel_repos(root: Path, text: str) -> Path:
    (root / "etc/yum.repos.d").mkdir(parents=True)
    (root / "etc/os-release").write_text('ID="rocky"\nID_LIKE="rhel centos fedora"\n')
    (root / "etc/yum.repos.d/rocky.repo").write_text(text)
    return root


ROCKY = """\
[baseos]
name=Rocky Linux $releasever - BaseOS
mirrorlist=https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=BaseOS-$releasever
gpgcheck=1
enabled={enabled}
[appstream]
name=Rocky Linux $releasever - AppStream
enabled=1
"""


def test_rpm_updates_repository(tmp_path: Path) -> None:
    f = run(SecuritySource, fixture_host(rhel_repos(tmp_path / "a", ROCKY.format(enabled=1))))
    assert f.status is Status.PASS and f.args["repos"] == ["baseos"]
    f = run(SecuritySource, fixture_host(rhel_repos(tmp_path / "b", ROCKY.format(enabled=0))))
    assert f.status is Status.FAIL and f.message == "updates.security_source.rpm_missing"
    f = run(SecuritySource, fixture_host(rhel_repos(tmp_path / "c", "enabled=1\n")))
    assert f.status is Status.ERROR and f.message == "updates.security_source.repo_invalid"


@pytest.mark.parametrize(
    ("error", "case"),
    [(CommandNotFound("apt-get: not installed"), "no_apt"),
     (CommandTimeout("apt-get indextargets: no answer after 30 s"), "tool_timeout")])
def test_indextargets_that_cannot_answer(tmp_path: Path, error: Exception, case: str) -> None:
    f = run(SecuritySource, fixture_host(debian(tmp_path), commands={INDEXTARGETS_ARGV: error}))
    assert f.message == f"updates.security_source.{case}"
    assert f.status is (Status.SKIP if case == "no_apt" else Status.ERROR)
