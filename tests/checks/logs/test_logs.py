"""logs.journal on trees read by the real systemd-analyze and journalctl (journal files written
by systemd-journal-remote), with rsyslog/logrotate as the alternative; logs.audit on /proc trees
and recorded `auditctl -s`."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sentinelle.checks.base import Check, CheckContext
from sentinelle.checks.logs import checks as logs
from sentinelle.checks.logs.checks import AUDITCTL_STATUS, AuditDaemon, JournalRetention
from sentinelle.checks.logs.journal import oldest_entry, parse_timespan
from sentinelle.config import Config
from sentinelle.errors import CommandNotFound, CommandTimeout
from sentinelle.host import Host
from sentinelle.model import Finding, Status
from sentinelle.rules import load_rules
from tests.checks.texts import remedy, rendered, summary
from tests.conftest import fixture_host, need_tool, recorded

RULES = load_rules()
FIXTURES = Path(__file__).parent / "fixtures"
JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
# journalctl --directory looks in machine-id subdirectories, as journald writes them.
MACHINE_DIR = "var/log/journal/3d1219c7c4c5404aaa1f6d2a48adfda4"


def run(cls: type[Check], host: Host, **params: Any) -> Finding:
    meta = RULES.checks[cls.id]
    (finding,) = cls(meta, {**meta.params, **params}, CheckContext(Config(), RULES)).run(host)
    rendered(finding, RULES)
    return finding


def write_journal(directory: Path, *times: datetime) -> None:
    """A real journal file holding one entry at each time (systemd-journal-remote)."""
    need_tool(JOURNAL_REMOTE)
    directory.mkdir(parents=True, exist_ok=True)
    export = "".join(
        f"__CURSOR=s=1;i={i}\n__REALTIME_TIMESTAMP={int(t.timestamp() * 1e6)}\n"
        f"__MONOTONIC_TIMESTAMP={1000 * (i + 1)}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n"
        f"_HOSTNAME=mairie\nMESSAGE=entry {i}\n\n" for i, t in enumerate(times))
    subprocess.run([JOURNAL_REMOTE, "-o", str(directory / "system.journal"), "-"],
                   input=export, text=True, capture_output=True, timeout=30, check=True)


def journald_tree(root: Path, conf: str = "", persistent_dir: bool = True) -> Path:
    (root / "lib/systemd").mkdir(parents=True)
    (root / "lib/systemd/systemd-journald").write_text("")
    (root / "etc/systemd").mkdir(parents=True)
    # Debian 12's journald.conf: everything commented out.
    (root / "etc/systemd/journald.conf").write_text("[Journal]\n#Storage=auto\n#MaxRetentionSec=\n")
    if conf:
        (root / "etc/systemd/journald.conf.d").mkdir()
        (root / "etc/systemd/journald.conf.d/50-local.conf").write_text(conf)
    if persistent_dir:
        (root / "var/log/journal").mkdir(parents=True)
    return root


def real(root: Path) -> Host:
    need_tool("systemd-analyze")
    need_tool("journalctl")
    return Host(root, clock=lambda: NOW)


def test_persistent_with_sixty_days_passes(tmp_path: Path) -> None:
    root = journald_tree(tmp_path)
    write_journal(root / MACHINE_DIR, NOW - timedelta(days=60), NOW - timedelta(hours=1))
    f = run(JournalRetention, real(root))
    assert f.status is Status.PASS and f.message == "logs.journal.persistent"
    assert f.args["history"] == pytest.approx(60 * 86400, abs=1)
    assert f.evidence["storage"] == "auto" and f.evidence["persistent"] is True


def test_a_short_history_fails(tmp_path: Path) -> None:
    root = journald_tree(tmp_path)
    write_journal(root / MACHINE_DIR, NOW - timedelta(days=5))
    f = run(JournalRetention, real(root))
    assert f.status is Status.FAIL and f.message == "logs.journal.short"
    assert "ne remonte qu'à 5 jours" in summary(f, "fr", RULES)
    assert remedy(f, "fr", RULES).startswith("Faites conserver le journal sur le disque")
    assert run(JournalRetention, real(root), min_history_days=3).status is Status.PASS


def test_a_drop_in_making_it_volatile_wins(tmp_path: Path) -> None:
    root = journald_tree(tmp_path, conf="[Journal]\nStorage=volatile\n")
    write_journal(root / MACHINE_DIR, NOW - timedelta(days=90))
    f = run(JournalRetention, real(root))
    assert f.status is Status.FAIL and f.message == "logs.journal.volatile"
    assert f.args == {"storage": "volatile"}


def test_auto_without_the_directory_is_not_persistent(tmp_path: Path) -> None:
    f = run(JournalRetention, real(journald_tree(tmp_path, persistent_dir=False)))
    assert f.message == "logs.journal.volatile" and f.evidence["persistent_dir"] is False


def test_a_retention_limit_shorter_than_wanted_fails(tmp_path: Path) -> None:
    root = journald_tree(tmp_path, conf="[Journal]\nStorage=persistent\nMaxRetentionSec=2week\n")
    f = run(JournalRetention, real(root))
    assert f.status is Status.FAIL and f.message == "logs.journal.retention_limit"
    assert f.args["retention"] == 14 * 86400


def test_persistent_but_empty_fails(tmp_path: Path) -> None:
    # This machine: /var/log/journal exists, journald never ran.
    f = run(JournalRetention, real(journald_tree(tmp_path)))
    assert f.status is Status.FAIL and f.message == "logs.journal.empty"


def test_rsyslog_with_debians_logrotate_keeps_five_weeks(tmp_path: Path) -> None:
    root = journald_tree(tmp_path, conf="[Journal]\nStorage=volatile\n")
    (root / "usr/sbin").mkdir(parents=True)
    (root / "usr/sbin/rsyslogd").write_text("")
    (root / "var/log/syslog").write_text("")
    (root / "etc/logrotate.d").mkdir()
    (root / "etc/logrotate.conf").write_text((FIXTURES / "logrotate.conf").read_text())
    rsyslog = (FIXTURES / "logrotate.d-rsyslog").read_text()
    (root / "etc/logrotate.d/rsyslog").write_text(rsyslog)
    f = run(JournalRetention, real(root))
    assert f.status is Status.PASS and f.message == "logs.journal.rsyslog"
    assert f.args["retention"] == 35 * 86400  # rotate 4, weekly: four old weeks and this one
    f = run(JournalRetention, real(root), min_history_days=60)
    assert f.status is Status.FAIL and f.message == "logs.journal.rsyslog_short"
    (root / "etc/logrotate.d/rsyslog").write_text(rsyslog.replace("/var/log/syslog\n", ""))
    assert run(JournalRetention, real(root)).message == "logs.journal.rsyslog_unrotated"


def test_no_journald_and_no_rsyslog(tmp_path: Path) -> None:
    f = run(JournalRetention, fixture_host(tmp_path))
    assert f.status is Status.FAIL and f.message == "logs.journal.no_logging"


def test_recorded_header_gives_the_first_entry() -> None:
    oldest = oldest_entry((FIXTURES / "journalctl-header.out").read_text())
    assert oldest == datetime(2026, 10, 1, 8, 0, tzinfo=UTC)


def test_timespans() -> None:
    assert parse_timespan("1month") == 2629800
    assert parse_timespan("2w 3d") == 17 * 86400
    assert parse_timespan("3600") == 3600
    assert parse_timespan("soon") is None


@pytest.mark.parametrize(
    ("result", "case", "status"),
    [(CommandNotFound("systemd-analyze: not installed"), "no_tool", Status.SKIP),
     (CommandTimeout("systemd-analyze: no answer after 30 s"), "timeout", Status.ERROR),
     (recorded("", 1, "Failed to read\n"), "failed", Status.ERROR)])
def test_systemd_analyze_that_cannot_answer(tmp_path: Path, result: Any, case: str,
                                            status: Status) -> None:
    host = fixture_host(journald_tree(tmp_path), commands={("systemd-analyze",): result})
    f = run(JournalRetention, host)
    assert f.status is status and f.message == f"logs.journal.{case}"


def test_journalctl_refused_without_the_privilege(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "missing", lambda *names: list(names))
    cat = recorded("[Journal]\nStorage=persistent\n")
    denied = recorded("", 1, "Failed to open journal directory: Permission denied\n")
    host = fixture_host(journald_tree(tmp_path),
                        commands={("systemd-analyze",): cat, ("journalctl",): denied})
    f = run(JournalRetention, host)
    assert f.status is Status.SKIP and f.message == "logs.journal.no_privilege"
    assert f.args["capabilities"] == ["CAP_DAC_READ_SEARCH"]


# logs.audit


def proc_tree(root: Path, *programs: str, auditd_installed: bool = True) -> Path:
    for pid, name in enumerate(["systemd", "sshd", *programs], start=1):
        (root / "proc" / str(pid)).mkdir(parents=True)
        (root / "proc" / str(pid) / "comm").write_text(name + "\n")
    if auditd_installed:
        (root / "sbin").mkdir()
        (root / "sbin/auditd").write_text("")
    return root


def test_auditd_running_on_a_tree_passes(tmp_path: Path) -> None:
    f = run(AuditDaemon, fixture_host(proc_tree(tmp_path, "auditd")))
    assert f.status is Status.PASS and f.message == "logs.audit.active"


def test_auditd_installed_not_running_fails(tmp_path: Path) -> None:
    f = run(AuditDaemon, fixture_host(proc_tree(tmp_path)))
    assert f.status is Status.FAIL and f.message == "logs.audit.inactive"
    assert remedy(f, "fr", RULES).startswith("Installez et démarrez auditd")


def test_auditd_absent_fails(tmp_path: Path) -> None:
    f = run(AuditDaemon, fixture_host(proc_tree(tmp_path, auditd_installed=False)))
    assert f.status is Status.FAIL and f.message == "logs.audit.absent"


def test_no_proc_is_a_skip(tmp_path: Path) -> None:
    f = run(AuditDaemon, fixture_host(tmp_path))
    assert f.status is Status.SKIP and f.message == "logs.audit.no_proc"


@pytest.mark.parametrize(("recording", "case"), [("auditctl-s-enabled.out", "active"),
                                                 ("auditctl-s-disabled.out", "disabled")])
def test_the_kernels_audit_flag_on_the_live_system(monkeypatch: pytest.MonkeyPatch,
                                                   recording: str, case: str) -> None:
    monkeypatch.setattr(logs, "running_programs", lambda host: frozenset({"auditd"}))
    out = recorded((FIXTURES / recording).read_text())
    f = run(AuditDaemon, fixture_host(Path("/"), commands={AUDITCTL_STATUS: out}))
    assert f.message == f"logs.audit.{case}"


def test_auditctl_refused_leaves_the_running_daemon_as_evidence(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "running_programs", lambda host: frozenset({"auditd"}))
    refused = recorded("", 4, "You must be root to run this program.\n")
    f = run(AuditDaemon, fixture_host(Path("/"), commands={AUDITCTL_STATUS: refused}))
    assert f.status is Status.PASS and "auditctl" not in f.evidence


def test_the_live_machine_as_it_is() -> None:
    # auditctl -s and /proc of this machine, read for real: whatever the state, it agrees.
    need_tool("auditctl")
    f = run(AuditDaemon, Host("/"))
    running = "auditd" in (logs.running_programs(Host("/")) or frozenset())
    assert (f.status is Status.PASS) == (running and f.evidence.get("auditctl", {}).get(
        "enabled") != "0")
