"""Updates: security updates install by themselves, and come from a security source (ANSSI 34).

Debian/Ubuntu: unattended-upgrades, enabled in APT's effective configuration (`apt-config
dump`: APT::Periodic::Unattended-Upgrade), allowed to take security updates, and seen running
in its own log; being installed is not enough (Lynis stops there). RHEL family: dnf-automatic
applying updates from an enabled timer. The sources are apt's own reading of them.
"""

from __future__ import annotations

import configparser
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sentinelle.checks.base import Check, register
from sentinelle.checks.patching.checks import DEB, RPM, package_family
from sentinelle.checks.patching.commands import ToolFailed
from sentinelle.checks.updates.apt import (
    LOG_TAIL_BYTES,
    UNATTENDED_LOG_DIR,
    UNATTENDED_LOG_FILE,
    apt_config,
    apt_sources,
    is_security_suite,
    last_logged_run,
)
from sentinelle.errors import CommandError, CommandNotFound, CommandTimeout
from sentinelle.facts import dpkg_installed, os_release
from sentinelle.model import Finding, Status
from sentinelle.params import param

if TYPE_CHECKING:
    from sentinelle.host import Host

DAY = 86400.0
UNATTENDED_PACKAGE = "unattended-upgrades"
PERIODIC_ENABLE = "APT::Periodic::Enable"
PERIODIC_UNATTENDED = "APT::Periodic::Unattended-Upgrade"
ORIGIN_KEYS = ("Unattended-Upgrade::Origins-Pattern", "Unattended-Upgrade::Allowed-Origins")
SYSTEMD_SYSTEM = "/etc/systemd/system"
DNF_AUTOMATIC_CONF = "/etc/dnf/automatic.conf"
# dnf-automatic-install.timer applies whatever automatic.conf says; dnf-automatic.timer only
# when apply_updates = yes.
DNF_TIMERS = ("dnf-automatic-install.timer", "dnf-automatic.timer")
TIMER_STAMPS = "/var/lib/systemd/timers"
YUM_REPOS = "/etc/yum.repos.d"
MAX_REPO_FILES = 256


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _timer_state(host: Host, unit: str) -> str:
    """"enabled", "masked" or "disabled", from the links systemd keeps in /etc."""
    own = host.path(f"{SYSTEMD_SYSTEM}/{unit}")
    if own.is_symlink() and str(own.readlink()) == "/dev/null":
        return "masked"
    for wants in host.glob(SYSTEMD_SYSTEM, "*.wants"):
        if (wants / unit).is_symlink() or (wants / unit).exists():
            return "enabled"
    return "disabled"


@register
class AutomaticUpdates(Check):
    """Security updates install automatically, and did so recently."""

    id = "updates.automatic"
    platforms = frozenset({"linux"})

    @dataclass(frozen=True)
    class Params:
        max_age_days: float = param(minimum=1, maximum=365, doc="last automatic run at most")
        timeout_seconds: float = param(minimum=1, maximum=600, doc="per apt-config command")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        family = package_family(host)
        if family == DEB:
            yield self._apt(host)
        elif family == RPM:
            yield self._dnf(host)
        else:
            yield self.say(Status.SKIP, "unsupported", {},
                           {"reason": "neither a Debian nor a Red Hat package system"})

    def _apt(self, host: Host) -> Finding:
        packages = dpkg_installed(host) or frozenset()
        if UNATTENDED_PACKAGE not in packages:
            return self.say(Status.FAIL, "apt_not_installed", {"package": UNATTENDED_PACKAGE},
                            {"package": UNATTENDED_PACKAGE, "installed": False})
        try:
            config = apt_config(host, self.params.timeout_seconds)
        except CommandError as exc:
            return self._tool_error("apt-config dump", exc)
        enable = (config.get(PERIODIC_ENABLE) or ["1"])[-1]
        interval = (config.get(PERIODIC_UNATTENDED) or ["0"])[-1]
        origins = [o for key in ORIGIN_KEYS for o in config.get(key, [])]
        timer = _timer_state(host, "apt-daily-upgrade.timer")
        evidence: dict[str, Any] = {
            "package": UNATTENDED_PACKAGE, PERIODIC_ENABLE: enable,
            PERIODIC_UNATTENDED: interval, "origins": origins[:32],
            "apt-daily-upgrade.timer": timer,
        }
        if enable == "0" or interval in ("", "0") or timer == "masked":
            setting = f'{PERIODIC_ENABLE} "0"' if enable == "0" else (
                "apt-daily-upgrade.timer masked" if timer == "masked"
                else f'{PERIODIC_UNATTENDED} "{interval}"')
            return self.say(Status.FAIL, "apt_disabled", {"setting": setting}, evidence)
        if not any("security" in o.lower() for o in origins):
            return self.say(Status.FAIL, "apt_no_security_origin",
                            {"keys": list(ORIGIN_KEYS)}, evidence)
        log_dir = (config.get("Unattended-Upgrade::LogDir") or [UNATTENDED_LOG_DIR])[-1]
        log_file = (config.get("Unattended-Upgrade::LogFile") or [UNATTENDED_LOG_FILE])[-1]
        log = log_file if log_file.startswith("/") else f"{log_dir.rstrip('/')}/{log_file}"
        return self._last_run(host, log, evidence)

    def _last_run(self, host: Host, log: str, evidence: dict[str, Any]) -> Finding:
        last: datetime | None = None
        # The current log, then yesterday's when logrotate has just emptied it.
        for path in (log, f"{log}.1"):
            real = host.path(path)
            try:
                with real.open("rb") as handle:
                    size = handle.seek(0, 2)
                    handle.seek(max(0, size - LOG_TAIL_BYTES))
                    text = handle.read().decode("utf-8", errors="replace")
            except FileNotFoundError:
                continue
            except OSError as exc:
                evidence["error"] = str(exc)
                return self.say(Status.SKIP, "log_unreadable", {"path": path},
                                {**evidence, "reason": f"{path}: {exc.strerror}"})
            last = last_logged_run(text)
            if last is not None:
                evidence["log"] = path
                break
        if last is None:
            return self.say(Status.FAIL, "never_ran", {"path": log}, evidence)
        when = last.astimezone()  # the log writes the machine's local time
        age = max(0.0, (host.now() - when).total_seconds())
        evidence["last_run"] = _iso(when)
        args = {"last_run": _iso(when), "age": age, "limit": self.params.max_age_days * DAY}
        if age > self.params.max_age_days * DAY:
            return self.say(Status.FAIL, "stale", args, evidence)
        return self.say(Status.PASS, "apt_recent", args, evidence)

    def _dnf(self, host: Host) -> Finding:
        text = host.read_text(DNF_AUTOMATIC_CONF, default="")
        if not text:
            return self.say(Status.FAIL, "dnf_not_installed", {"package": "dnf-automatic"},
                            {"package": "dnf-automatic", "installed": False})
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(text, source=DNF_AUTOMATIC_CONF)
        except configparser.Error as exc:
            return self.say(Status.ERROR, "dnf_conf_invalid", {"path": DNF_AUTOMATIC_CONF},
                            {"error": str(exc)})
        apply = parser.get("commands", "apply_updates", fallback="no").strip().lower()
        upgrade_type = parser.get("commands", "upgrade_type", fallback="default").strip()
        timers = {t: _timer_state(host, t) for t in DNF_TIMERS}
        evidence: dict[str, Any] = {"apply_updates": apply, "upgrade_type": upgrade_type,
                                    "timers": timers}
        applying = [t for t, state in timers.items() if state == "enabled"
                    and (t == "dnf-automatic-install.timer" or apply in ("yes", "true", "1"))]
        if not applying:
            return self.say(Status.FAIL, "dnf_disabled", {"path": DNF_AUTOMATIC_CONF}, evidence)
        stamps = [host.mtime(f"{TIMER_STAMPS}/stamp-{t}") for t in applying]
        ran = [s for s in stamps if s is not None]
        if not ran:
            return self.say(Status.FAIL, "never_ran", {"path": f"{TIMER_STAMPS}/stamp-"
                                                       f"{applying[0]}"}, evidence)
        when = max(ran)
        age = max(0.0, (host.now() - when).total_seconds())
        evidence["last_run"] = _iso(when)
        args = {"last_run": _iso(when), "age": age, "limit": self.params.max_age_days * DAY}
        if age > self.params.max_age_days * DAY:
            return self.say(Status.FAIL, "stale", args, evidence)
        return self.say(Status.PASS, "dnf_recent", args, evidence)

    def _tool_error(self, command: str, exc: CommandError) -> Finding:
        return _tool_error(self, command, exc, self.params.timeout_seconds)


def _tool_error(check: Check, command: str, exc: CommandError, timeout: float) -> Finding:
    evidence = {"error": str(exc)}
    if isinstance(exc, CommandNotFound):
        return check.say(Status.SKIP, "no_apt", {"command": command},
                         {**evidence, "reason": str(exc)})
    if isinstance(exc, CommandTimeout):
        return check.say(Status.ERROR, "tool_timeout", {"command": command, "seconds": timeout},
                         evidence)
    detail = exc.detail if isinstance(exc, ToolFailed) else str(exc)
    return check.say(Status.ERROR, "tool_failed", {"command": command, "detail": detail},
                     evidence)


@register
class SecuritySource(Check):
    """The package sources include this release's security updates."""

    id = "updates.security_source"
    platforms = frozenset({"linux"})

    @dataclass(frozen=True)
    class Params:
        rpm_update_repos: tuple[str, ...] = param(
            doc="repository ids (fnmatch patterns) that carry a RHEL-family system's updates")
        timeout_seconds: float = param(minimum=1, maximum=600, doc="per apt-get command")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        family = package_family(host)
        if family == DEB:
            yield self._apt(host)
        elif family == RPM:
            yield self._rpm(host)
        else:
            yield self.say(Status.SKIP, "unsupported", {},
                           {"reason": "neither a Debian nor a Red Hat package system"})

    def _apt(self, host: Host) -> Finding:
        try:
            sources = apt_sources(host, self.params.timeout_seconds)
        except CommandError as exc:
            return _tool_error(self, "apt-get indextargets", exc, self.params.timeout_seconds)
        codename = os_release(host).get("VERSION_CODENAME", "")
        security = [s for s in sources if is_security_suite(s.suite, codename)]
        evidence: dict[str, Any] = {
            "codename": codename,
            "sources": [f"{s.site} {s.suite}" for s in sources][:64],
            "security": [f"{s.site} {s.suite}" for s in security][:64],
        }
        if security:
            return self.say(Status.PASS, "apt_security",
                            {"sources": evidence["security"][:8]}, evidence)
        return self.say(Status.FAIL, "apt_missing",
                        {"suite": f"{codename}-security" if codename else "-security"},
                        evidence)

    def _rpm(self, host: Host) -> Finding:
        from fnmatch import fnmatch

        enabled: list[str] = []
        for count, path in enumerate(sorted(host.glob(YUM_REPOS, "*.repo"))):
            if count >= MAX_REPO_FILES:
                break
            parser = configparser.ConfigParser(interpolation=None, strict=False)
            try:
                parser.read_string(path.read_text(encoding="utf-8", errors="replace"),
                                   source=str(path))
            except configparser.Error as exc:
                return self.say(Status.ERROR, "repo_invalid",
                                {"path": f"{YUM_REPOS}/{path.name}"}, {"error": str(exc)})
            for section in parser.sections():
                if parser.get(section, "enabled", fallback="1").strip() in ("1", "yes", "true"):
                    enabled.append(section)
        updates = [r for r in enabled
                   if any(fnmatch(r.lower(), p) for p in self.params.rpm_update_repos)]
        evidence = {"enabled": enabled[:64], "updates": updates[:64]}
        if updates:
            return self.say(Status.PASS, "rpm_updates", {"repos": updates[:8]}, evidence)
        return self.say(Status.FAIL, "rpm_missing", {"path": YUM_REPOS}, evidence)
