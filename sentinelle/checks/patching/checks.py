"""Patching: pending updates, package list freshness, pending reboot, last upgrade, OS support.

Debian and Ubuntu are inspected with the real apt-get (a simulation that changes nothing),
RHEL-family systems with dnf on its cached metadata; the dates of end of support are data
(rules/os_support.yaml). `refresh_package_lists` is the one helper that writes, and only into the
agent's own state directory.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentinelle.checks.base import Check, register
from sentinelle.checks.patching.apt import (
    ListsState,
    agent_apt_dir,
    agent_lists,
    lists_in_use,
    refresh_package_lists,
    simulate_argv,
    simulate_upgrade,
    system_lists,
)
from sentinelle.checks.patching.commands import ToolFailed
from sentinelle.checks.patching.dnf import dnf_metadata_updated, query_dnf
from sentinelle.checks.patching.history import last_upgrade
from sentinelle.checks.patching.support import load_os_support
from sentinelle.checks.patching.versions import compare_versions, newest
from sentinelle.errors import CommandError, CommandNotFound, CommandTimeout
from sentinelle.facts import os_release
from sentinelle.model import Finding, Measurement, Severity, Status
from sentinelle.params import param

if TYPE_CHECKING:
    from sentinelle.host import Host

__all__ = [
    "LastUpgrade",
    "OsSupport",
    "PackageListsAge",
    "PendingUpdates",
    "RebootRequired",
    "package_family",
    "refresh_package_lists",
]

DEB = "deb"
RPM = "rpm"
_DEB_IDS = {"debian", "ubuntu"}
_RPM_IDS = {"rhel", "fedora", "centos"}
REBOOT_FLAGS = ("/run/reboot-required", "/var/run/reboot-required")
KERNEL_DIRS = ("/lib/modules", "/usr/lib/modules")
DAY = 86400.0
# Package names a finding's sentence lists; more are said as "N updates, among them ...".
SUMMARY_NAMES = 10


def package_family(host: Host) -> str | None:
    """`deb` or `rpm` from os-release ID/ID_LIKE, else from the package database present."""
    osr = os_release(host)
    ids = {osr.get("ID", "").lower(), *osr.get("ID_LIKE", "").lower().split()}
    if ids & _DEB_IDS:
        return DEB
    if ids & _RPM_IDS:
        return RPM
    if host.exists("/var/lib/dpkg/status"):
        return DEB
    if host.exists("/var/lib/rpm"):
        return RPM
    return None


def _iso(when: datetime | date | None) -> str | None:
    if when is None:
        return None
    if isinstance(when, datetime):
        return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return when.isoformat()


def _bounded(names: Sequence[str], limit: int) -> dict[str, Any]:
    shown = list(names[:limit])
    out: dict[str, Any] = {"packages": shown}
    if len(names) > len(shown):
        out["not_listed"] = len(names) - len(shown)
    return out


@register
class PendingUpdates(Check):
    """Pending package updates, security and other, counted as the package manager counts them.

    Debian/Ubuntu: the `Inst` lines of `apt-get -s upgrade`, security when the candidate comes
    from an archive ending in -security. RHEL family: `dnf -C check-update` and
    `dnf -C updateinfo list --security --available`.
    """

    id = "patching.pending_updates"
    # apt and dnf, /run/reboot-required: Windows has patching.windows_* instead.
    platforms = frozenset({"linux"})

    @dataclass(frozen=True)
    class Params:
        security_threshold: int = param(minimum=0, doc="fail above this many security updates")
        other_threshold: int = param(minimum=0, doc="warn above this many other updates")
        max_listed: int = param(minimum=1, maximum=100_000, doc="package names in evidence")
        stale_lists_hours: float = param(minimum=1, doc="older lists: counts may be too low")
        timeout_seconds: float = param(minimum=1, maximum=3600, doc="per apt or dnf command")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        family = package_family(host)
        timeout = self.params.timeout_seconds
        if family == DEB:
            yield from self._apt(host, timeout)
        elif family == RPM:
            yield from self._dnf(host, timeout)
        else:
            yield self._skip("unsupported", "unsupported package manager")

    def _cache_dir(self) -> Path | None:
        """The agent's own apt directory, when its state directory can be written."""
        state_dir = Path(self.context.config.agent.state_dir)
        probe = state_dir if state_dir.exists() else state_dir.parent
        return agent_apt_dir(state_dir) if os.access(probe, os.W_OK) else None

    def _skip(self, case: str, reason: str) -> Finding:
        return self.say(Status.SKIP, case, {}, {"reason": reason})

    def _error(self, exc: CommandError, tool: str, **evidence: Any) -> Finding:
        """apt-get or dnf could not answer: which command, and what it said."""
        evidence["error"] = str(exc)
        if isinstance(exc, ToolFailed):
            args: dict[str, Any] = {"command": exc.command, "code": exc.returncode,
                                    "detail": exc.detail}
            return self.say(Status.ERROR, "tool_failed", args, evidence)
        if isinstance(exc, CommandTimeout):
            args = {"command": tool, "seconds": self.params.timeout_seconds}
            return self.say(Status.ERROR, "tool_timeout", args, evidence)
        return self.say(Status.ERROR, "tool_error", {"command": tool, "detail": str(exc)},
                        evidence)

    def _apt(self, host: Host, timeout: float) -> Iterator[Finding]:
        lists = lists_in_use(host, self.context.config.agent.state_dir)
        argv = simulate_argv(host, lists)
        try:
            plan = simulate_upgrade(host, lists, timeout, self._cache_dir())
        except CommandNotFound:
            yield self._skip("apt_missing", "apt-get not installed")
            return
        except CommandError as exc:
            yield self._error(exc, "apt-get -s upgrade", command=argv)
            return
        age = _age_hours(host, lists.updated)
        common = {
            "source": "apt-get -s upgrade",
            "command": argv,
            "lists": lists.source,
            "lists_updated": _iso(lists.updated),
            "lists_age_hours": age,
            "kept_back": len(plan.kept_back),
            "kept_back_packages": list(plan.kept_back[: self._limit]),
            "apt_summary": plan.summary,
        }
        yield from self._pair([p.name for p in plan.security], [p.name for p in plan.other], common)

    def _dnf(self, host: Host, timeout: float) -> Iterator[Finding]:
        try:
            updates = query_dnf(host, timeout)
        except CommandNotFound:
            yield self._skip("dnf_missing", "dnf not installed")
            return
        except CommandError as exc:
            yield self._error(exc, "dnf check-update")
            return
        updated, _ = dnf_metadata_updated(host)
        common = {
            "source": "dnf -C check-update; dnf -C updateinfo list --security --available",
            "advisories": list(updates.advisories[: self._limit]),
            "metadata": updates.metadata_checked,
            "lists_updated": _iso(updated),
            "lists_age_hours": _age_hours(host, updated),
        }
        yield from self._pair(list(updates.security), updates.other, common)

    @property
    def _limit(self) -> int:
        return self.params.max_listed

    def _pair(
        self, security: list[str], other: list[str], common: dict[str, Any]
    ) -> Iterator[Finding]:
        sec_max = self.params.security_threshold
        other_max = self.params.other_threshold
        age = common.get("lists_age_hours")
        stale = isinstance(age, float) and age > self.params.stale_lists_hours
        for kind, names, limit, over, severity in (
            ("security", security, sec_max, Status.FAIL, Severity.HIGH),
            ("other", other, other_max, Status.WARN, Severity.LOW),
        ):
            args: dict[str, Any] = {"count": len(names), "packages": names[:SUMMARY_NAMES]}
            case = f"{kind}_none" if not names else f"{kind}_pending"
            if len(names) > SUMMARY_NAMES:
                case += "_more"
            if stale:
                case += "_stale"
                args["lists_age"] = round(float(age or 0.0) * 3600)
            yield self.say(
                over if len(names) > limit else Status.PASS,
                case,
                args,
                {"kind": kind, "count": len(names), "threshold": limit, **common}
                | _bounded(names, self._limit),
                severity=severity,
                measurements=[Measurement("pending_updates", len(names), {"kind": kind})],
            )


def _age_hours(host: Host, updated: datetime | None) -> float | None:
    if updated is None:
        return None
    return round(max(0.0, (host.now() - updated).total_seconds()) / 3600, 2)


@register
class PackageListsAge(Check):
    """Age of the package lists the pending-update counts come from (stale lists hide updates)."""

    id = "patching.package_lists_age"
    # apt and dnf, /run/reboot-required: Windows has patching.windows_* instead.
    platforms = frozenset({"linux"})

    @dataclass(frozen=True)
    class Params:
        max_age_hours: float = param(minimum=1, doc="older package lists warn")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        family = package_family(host)
        max_hours = self.params.max_age_hours
        if family == DEB:
            state_dir = self.context.config.agent.state_dir
            in_use = lists_in_use(host, state_dir)
            system = system_lists(host)
            agent = agent_lists(host, state_dir)
            extra = {
                "system_lists_updated": _iso(system.updated),
                "agent_lists_updated": _iso(agent.updated) if agent else None,
                "agent_lists_dir": str(Path(state_dir) / "apt" / "lists"),
            }
            yield self._verdict(host, in_use, max_hours, extra, "apt-get update")
        elif family == RPM:
            updated, newest_file = dnf_metadata_updated(host)
            state = ListsState("system", host.path("/var/cache/dnf"), updated, newest_file)
            yield self._verdict(host, state, max_hours, {}, "dnf makecache")
        else:
            yield self.say(Status.SKIP, "unsupported", {},
                           {"reason": "unsupported package manager"})

    def _verdict(
        self,
        host: Host,
        lists: ListsState,
        max_hours: float,
        extra: dict[str, Any],
        refresh: str,
    ) -> Finding:
        evidence: dict[str, Any] = {
            "lists": lists.source,
            "directory": str(lists.directory),
            "newest_file": lists.evidence_file,
            "updated": _iso(lists.updated),
            "max_age_hours": max_hours,
            **extra,
        }
        if lists.updated is None:
            return self.say(Status.WARN, "never", {"command": refresh}, evidence)
        age_seconds = max(0.0, (host.now() - lists.updated).total_seconds())
        age_hours = round(age_seconds / 3600, 2)
        evidence["age_hours"] = age_hours
        measurement = Measurement("package_lists_age_seconds", round(age_seconds, 3))
        args = {"age": round(age_seconds), "max_age": max_hours * 3600, "command": refresh}
        if age_hours > max_hours:
            return self.say(Status.WARN, "old", args, evidence, measurements=[measurement])
        case = "fresh_agent" if lists.source == "agent" else "fresh"
        return self.say(Status.PASS, case, args, evidence, measurements=[measurement])


def _installed_kernels(host: Host) -> dict[str, Path]:
    """Kernel release -> the file or directory whose mtime tells when it was installed."""
    found: dict[str, Path] = {}
    for path in host.glob("/boot", "vmlinuz-*"):
        found.setdefault(path.name.removeprefix("vmlinuz-"), path)
    for directory in KERNEL_DIRS:
        for path in host.glob(directory, "*"):
            if not path.is_dir() or path.is_symlink():
                continue
            # A removed kernel can leave its modules directory behind (DKMS leftovers): it
            # counts only with its image in /boot or its own kernel/ modules.
            if path.name in found or (path / "kernel").is_dir():
                # The modules directory dates the install: dpkg keeps vmlinuz's packaged mtime.
                found[path.name] = path
    return found


def _running_kernel(host: Host) -> str:
    if host.is_live:
        return platform.release()
    return host.read_text("/proc/sys/kernel/osrelease", default="").strip()


@register
class RebootRequired(Check):
    """A reboot is needed: the reboot-required flag, or a running kernel older than installed."""

    id = "patching.reboot_required"
    # apt and dnf, /run/reboot-required: Windows has patching.windows_* instead.
    platforms = frozenset({"linux"})

    @dataclass(frozen=True)
    class Params:
        max_pending_days: float = param(minimum=0, doc="a reboot waiting longer fails")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        flag = next((host.path(p) for p in REBOOT_FLAGS if host.path(p).is_file()), None)
        running = _running_kernel(host)
        kernels = _installed_kernels(host)
        latest = newest(list(kernels))
        evidence: dict[str, Any] = {
            "running_kernel": running or None,
            "newest_installed_kernel": latest,
            "installed_kernels": sorted(kernels)[:20],
            "reboot_required_file": str(flag) if flag else None,
        }
        flagged = False
        outdated = False  # an installed kernel newer than the running one
        since: list[datetime] = []
        if flag is not None:
            pkgs_path = flag.with_name(flag.name + ".pkgs")
            pkgs = pkgs_path.read_text(errors="replace") if pkgs_path.is_file() else ""
            names = list(dict.fromkeys(line.strip() for line in pkgs.splitlines() if line.strip()))
            evidence["packages"] = names[:50]
            flagged = True
            since.append(datetime.fromtimestamp(flag.stat().st_mtime, UTC))
        if running and latest and compare_versions(running, latest) < 0:
            outdated = True
            since.append(datetime.fromtimestamp(kernels[latest].stat().st_mtime, UTC))
        args: dict[str, Any] = {"running": running, "latest": latest or ""}
        if not since and not running:
            yield self.say(Status.SKIP, "kernel_unknown", args,
                           {**evidence, "reason": "running kernel unknown"})
            return
        measurements = [Measurement("reboot_required", 1.0 if since else 0.0)]
        if not since:
            case = "none" if latest else "none_no_kernel"
            yield self.say(Status.PASS, case, args, evidence, measurements=measurements)
            return
        pending = max(0.0, (host.now() - min(since)).total_seconds())
        evidence["pending_days"] = round(pending / DAY, 1)
        args["pending"] = round(pending)
        status = Status.FAIL if pending / DAY > self.params.max_pending_days else Status.WARN
        case = "flagged_kernel" if flagged and outdated else "flagged" if flagged else "kernel"
        yield self.say(status, case, args, evidence, measurements=measurements)


@register
class LastUpgrade(Check):
    """Days since packages were last upgraded (apt history, dpkg or dnf logs)."""

    id = "patching.last_upgrade"
    # apt and dnf, /run/reboot-required: Windows has patching.windows_* instead.
    platforms = frozenset({"linux"})

    @dataclass(frozen=True)
    class Params:
        max_days: float = param(minimum=1, doc="fail after this many days without an upgrade")
        warn_days: float = param(minimum=0, doc="warn after this many")
        count_installs: bool = param(doc="installing new packages also counts as an upgrade")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        max_days = self.params.max_days
        warn_days = self.params.warn_days
        count_installs = self.params.count_installs
        history = last_upgrade(host, count_installs)
        evidence: dict[str, Any] = {
            "log_files": list(history.files[:20]),
            "max_days": max_days,
            "warn_days": warn_days,
            "count_installs": count_installs,
        }
        args: dict[str, Any] = {"max_days": max_days * DAY}
        if history.last is None and history.oldest_record is None:
            yield self.say(Status.SKIP, "no_logs", args,
                           {**evidence, "reason": "no package manager log"})
            return
        now = host.now()
        if history.last is None:
            assert history.oldest_record is not None
            days = (now - history.oldest_record).total_seconds() / DAY
            evidence["logs_start"] = _iso(history.oldest_record)
            case = "none_in_logs"
            args["when"] = _iso(history.oldest_record)
            measurements: list[Measurement] = []
        else:
            event = history.last
            days = (now - event.when).total_seconds() / DAY
            evidence.update(
                {
                    "last_upgrade": _iso(event.when),
                    "source": event.source,
                    "packages": event.packages,
                    "command": event.command,
                }
            )
            case = "upgraded"
            args.update(when=_iso(event.when), packages=event.packages)
            measurements = [Measurement("last_upgrade_timestamp_seconds", event.when.timestamp())]
        evidence["days"] = round(days, 2)
        args["age"] = round(max(days, 0.0) * DAY)
        if days > max_days:
            status = Status.FAIL
        elif days > warn_days:
            status = Status.WARN
        else:
            status = Status.PASS
        yield self.say(status, case, args, evidence, measurements=measurements)


@register
class OsSupport(Check):
    """The operating system still receives security fixes, with a countdown to their end."""

    id = "patching.os_support"

    @dataclass(frozen=True)
    class Params:
        warn_days: int = param(minimum=0, doc="warn this many days before the end of support")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        table = load_os_support(self.context.rules)
        osr = os_release(host)
        os_id = osr.get("ID", "").lower()
        version = osr.get("VERSION_ID", "")
        base = {"os_id": os_id or None, "os_version": version or None}
        if not os_id or not version:
            yield self.say(Status.SKIP, "unknown_os", {}, {**base, "reason": "unknown OS"})
            return
        window = table.lookup(os_id, version)
        if window is None:
            unlisted = {"system": osr.get("PRETTY_NAME", os_id), "os_id": os_id,
                        "version": version, "table": Path(table.source).name}
            yield self.say(Status.SKIP, "not_listed", unlisted,
                           {**base, "reason": "OS version not in os_support.yaml"})
            return
        today = host.now().astimezone(UTC).date()
        days_left = (window.end - today).days
        warn_days = self.params.warn_days
        evidence: dict[str, Any] = {
            **base,
            "name": window.name,
            "end": window.end.isoformat(),
            "days_left": days_left,
            "warn_days": warn_days,
            "source": window.source,
        }
        phase = ""
        if window.regular_end is not None:
            evidence["regular_end"] = window.regular_end.isoformat()
            if today > window.regular_end and days_left >= 0:
                phase = window.later_phase
                evidence["phase"] = phase
        if window.extended_end is not None:
            evidence["extended_end"] = window.extended_end.isoformat()
            evidence["extended_phase"] = window.extended_phase
        stamp = datetime(window.end.year, window.end.month, window.end.day, tzinfo=UTC)
        measurement = Measurement(
            "os_end_of_support_timestamp_seconds",
            stamp.timestamp(),
            {"os_id": os_id, "os_version": version},
        )
        args: dict[str, Any] = {"name": window.name, "end": window.end.isoformat()}
        if days_left < 0:
            status, case = Status.FAIL, "ended"
            args["ago"] = -days_left * DAY
        else:
            status = Status.WARN if days_left <= warn_days else Status.PASS
            case = "supported_phase" if phase else "supported"
            args["left"] = days_left * DAY
            if phase:
                args["phase"] = phase
        yield self.say(status, case, args, evidence, measurements=[measurement])
