"""Logs: the system keeps enough history, and auditd records what matters (ANSSI 36 and 38).

journald keeps its journal across reboots only when its effective Storage= says so
(`persistent`, or `auto` with /var/log/journal present); the history really kept is the age
of the oldest entry still in /var/log/journal. Where journald keeps nothing on disk, rsyslog
writing /var/log/syslog and rotated by logrotate long enough is an acceptable alternative.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sentinelle.checks.base import Check, register
from sentinelle.checks.logs.journal import (
    CAT_CONFIG,
    JOURNALD_BINARIES,
    PERSISTENT_DIR,
    logrotate_retention_days,
    oldest_entry,
    parse_cat_config,
)
from sentinelle.checks.privileges import lacking_args, lacking_reason, missing
from sentinelle.errors import CommandError, CommandNotFound, CommandTimeout
from sentinelle.facts import dpkg_installed, running_programs
from sentinelle.model import Finding, Status
from sentinelle.params import param

if TYPE_CHECKING:
    from sentinelle.host import Host

DAY = 86400.0
SYSLOG_FILES = ("/var/log/syslog", "/var/log/messages")
RSYSLOG_BINARY = "/usr/sbin/rsyslogd"
LOGROTATE_CONF = "/etc/logrotate.conf"
LOGROTATE_DIR = "/etc/logrotate.d"
MAX_LOGROTATE_FILES = 256
AUDITD_BINARIES = ("/sbin/auditd", "/usr/sbin/auditd")
AUDITCTL_STATUS = ("auditctl", "-s")


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class _Said(Exception):
    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


@register
class JournalRetention(Check):
    """The system's logs survive a reboot and reach back at least the configured days."""

    id = "logs.journal"
    platforms = frozenset({"linux"})

    @dataclass(frozen=True)
    class Params:
        min_history_days: float = param(minimum=1, maximum=3650, doc="history kept at least")
        timeout_seconds: float = param(minimum=1, maximum=600, doc="per systemd command")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        try:
            yield self._judge(host)
        except _Said as said:
            yield said.finding

    def _limit(self) -> float:
        return self.params.min_history_days * DAY

    def _judge(self, host: Host) -> Finding:
        journald = any(host.exists(p) for p in JOURNALD_BINARIES)
        if not journald:
            return self._rsyslog(host, {"journald": False})
        settings = parse_cat_config(self._command(host, self._cat_config_argv(host)))
        has_dir = host.path(PERSISTENT_DIR).is_dir()
        storage = settings.storage
        persistent = storage == "persistent" or (storage == "auto" and has_dir)
        evidence: dict[str, Any] = {"journald": True, "storage": storage,
                                    "persistent_dir": has_dir, "persistent": persistent,
                                    "settings": dict(list(settings.values.items())[:32])}
        if not persistent:
            return self._rsyslog(host, evidence)
        retention = settings.max_retention_seconds
        if retention:  # 0 is journald's "no limit"
            evidence["max_retention_seconds"] = retention
            if retention < self._limit():
                return self.say(Status.FAIL, "retention_limit",
                                {"retention": retention, "limit": self._limit()}, evidence)
        header = self._command(host, ("journalctl", "--header",
                                      f"--directory={host.path(PERSISTENT_DIR)}"))
        oldest = oldest_entry(header)
        if oldest is None:
            return self.say(Status.FAIL, "empty", {"path": PERSISTENT_DIR}, evidence)
        history = max(0.0, (host.now() - oldest).total_seconds())
        evidence.update(oldest_entry=_iso(oldest), history_seconds=history)
        args = {"history": history, "limit": self._limit(), "oldest": _iso(oldest)}
        if history < self._limit():
            return self.say(Status.FAIL, "short", args, evidence)
        return self.say(Status.PASS, "persistent", args, evidence)

    def _cat_config_argv(self, host: Host) -> tuple[str, ...]:
        if host.is_live:
            return CAT_CONFIG
        return ("systemd-analyze", f"--root={host.root.resolve()}", *CAT_CONFIG[1:])

    def _command(self, host: Host, argv: tuple[str, ...]) -> str:
        shown = " ".join(a for a in argv if not a.startswith(("--root=", "--directory=")))
        try:
            result = host.run(argv, timeout=self.params.timeout_seconds)
        except CommandNotFound as exc:
            raise _Said(self.say(Status.SKIP, "no_tool", {"program": argv[0]},
                                 {"reason": str(exc)})) from exc
        except CommandTimeout as exc:
            raise _Said(self.say(Status.ERROR, "timeout",
                                 {"command": shown, "seconds": self.params.timeout_seconds},
                                 {"error": str(exc)})) from exc
        except CommandError as exc:
            raise _Said(self.say(Status.ERROR, "failed", {"command": shown, "detail": str(exc)},
                                 {"error": str(exc)})) from exc
        if result.ok:
            return result.stdout
        detail = " / ".join(result.stderr.strip().splitlines()[-2:]) or f"exit {result.returncode}"
        lacking = missing("CAP_DAC_READ_SEARCH")
        if "ermission denied" in result.stderr and lacking:
            raise _Said(self.say(Status.SKIP, "no_privilege",
                                 {"command": shown, **lacking_args(lacking)},
                                 {"reason": lacking_reason(lacking, "read the journal"),
                                  "error": detail}))
        raise _Said(self.say(Status.ERROR, "failed", {"command": shown, "detail": detail},
                             {"error": detail, "returncode": result.returncode}))

    def _rsyslog(self, host: Host, evidence: dict[str, Any]) -> Finding:
        """journald keeps nothing on disk (or is absent): does rsyslog keep enough?"""
        storage = evidence.get("storage", "")
        logs = [p for p in SYSLOG_FILES if host.exists(p)]
        if not host.exists(RSYSLOG_BINARY) or not logs:
            evidence["rsyslog"] = False
            if not evidence.get("journald"):
                return self.say(Status.FAIL, "no_logging", {}, evidence)
            return self.say(Status.FAIL, "volatile", {"storage": storage}, evidence)
        stanzas = []
        for count, path in enumerate(sorted(host.glob(LOGROTATE_DIR, "*"))):
            if count >= MAX_LOGROTATE_FILES:
                break
            if path.is_file():
                stanzas.append(path.read_text(encoding="utf-8", errors="replace"))
        days = logrotate_retention_days(host.read_text(LOGROTATE_CONF, default=""), stanzas,
                                        logs[0])
        evidence.update(rsyslog=True, log=logs[0], logrotate_days=days)
        if days is None:
            return self.say(Status.FAIL, "rsyslog_unrotated", {"log": logs[0]}, evidence)
        args = {"log": logs[0], "retention": days * DAY, "limit": self._limit()}
        if days * DAY < self._limit():
            return self.say(Status.FAIL, "rsyslog_short", args, evidence)
        return self.say(Status.PASS, "rsyslog", args, evidence)


@register
class AuditDaemon(Check):
    """auditd runs and the kernel's audit is on."""

    id = "logs.audit"
    platforms = frozenset({"linux"})

    @dataclass(frozen=True)
    class Params:
        timeout_seconds: float = param(minimum=1, maximum=120, doc="for auditctl -s")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        packages = dpkg_installed(host)
        installed = any(host.exists(p) for p in AUDITD_BINARIES) or (
            packages is not None and "auditd" in packages)
        running = running_programs(host)
        if running is None:
            yield self.say(Status.SKIP, "no_proc", {},
                           {"reason": f"no /proc under {host.root}"})
            return
        evidence: dict[str, Any] = {"installed": installed, "running": "auditd" in running}
        if "auditd" not in running:
            case = "inactive" if installed else "absent"
            yield self.say(Status.FAIL, case, {"package": "auditd"}, evidence)
            return
        status = self._status(host) if host.is_live else None
        if status is not None:
            evidence["auditctl"] = status
            if status.get("enabled") == "0":
                yield self.say(Status.FAIL, "disabled", {"package": "auditd"}, evidence)
                return
        yield self.say(Status.PASS, "active", {}, evidence)

    def _status(self, host: Host) -> dict[str, str] | None:
        """`auditctl -s` as key -> value; None when it cannot be asked (it needs
        CAP_AUDIT_CONTROL, which the agent does not hold: the running daemon is then the
        evidence)."""
        try:
            result = host.run(AUDITCTL_STATUS, timeout=self.params.timeout_seconds)
        except CommandError:
            return None
        if not result.ok:
            return None
        pairs = (line.split(None, 1) for line in result.stdout.splitlines())
        return {p[0]: p[1].strip() for p in pairs if len(p) == 2}
