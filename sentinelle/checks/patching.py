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
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentinelle.checks.base import Check, register
from sentinelle.checks.patching_apt import (
    ListsState,
    agent_apt_dir,
    agent_lists,
    lists_in_use,
    refresh_package_lists,
    simulate_argv,
    simulate_upgrade,
    system_lists,
)
from sentinelle.checks.patching_dnf import dnf_metadata_updated, query_dnf
from sentinelle.checks.patching_history import last_upgrade
from sentinelle.checks.patching_support import load_os_support
from sentinelle.checks.patching_versions import compare_versions, newest
from sentinelle.errors import CommandError, CommandNotFound
from sentinelle.facts import os_release
from sentinelle.model import Finding, Measurement, Severity, Status

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


def _short_list(names: Sequence[str], limit: int = 10) -> str:
    text = ", ".join(names[:limit])
    return text + (f" (+{len(names) - limit})" if len(names) > limit else "")


@register
class PendingUpdates(Check):
    """Pending package updates, security and other, counted as the package manager counts them.

    Debian/Ubuntu: the `Inst` lines of `apt-get -s upgrade`, security when the candidate comes
    from an archive ending in -security. RHEL family: `dnf -C check-update` and
    `dnf -C updateinfo list --security --available`.
    """

    id = "patching.pending_updates"

    def run(self, host: Host) -> Iterable[Finding]:
        family = package_family(host)
        timeout = float(self.params.get("timeout_seconds", 100.0))
        if family == DEB:
            yield from self._apt(host, timeout)
        elif family == RPM:
            yield from self._dnf(host, timeout)
        else:
            yield self._skip(
                "Neither a Debian/Ubuntu nor a RHEL-family system: no apt-get or dnf to ask "
                "for pending updates.",
                "unsupported package manager",
            )

    def _cache_dir(self) -> Path | None:
        """The agent's own apt directory, when its state directory can be written."""
        state_dir = Path(self.context.config.agent.state_dir)
        probe = state_dir if state_dir.exists() else state_dir.parent
        return agent_apt_dir(state_dir) if os.access(probe, os.W_OK) else None

    def _skip(self, summary: str, reason: str) -> Finding:
        return self.finding(Status.SKIP, summary, {"reason": reason}, count=0, packages="")

    def _error(self, summary: str, **evidence: Any) -> Finding:
        return self.finding(Status.ERROR, summary, evidence, count=0, packages="")

    def _apt(self, host: Host, timeout: float) -> Iterator[Finding]:
        lists = lists_in_use(host, self.context.config.agent.state_dir)
        argv = simulate_argv(host, lists)
        try:
            plan = simulate_upgrade(host, lists, timeout, self._cache_dir())
        except CommandNotFound:
            yield self._skip(
                "apt-get is not installed on this machine: pending updates cannot be counted.",
                "apt-get not installed",
            )
            return
        except CommandError as exc:
            yield self._error(str(exc), command=argv)
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
            yield self._skip(
                "dnf is not installed on this machine: pending updates cannot be counted.",
                "dnf not installed",
            )
            return
        except CommandError as exc:
            yield self._error(str(exc))
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
        return int(self.params.get("max_listed", 50))

    def _pair(
        self, security: list[str], other: list[str], common: dict[str, Any]
    ) -> Iterator[Finding]:
        sec_max = int(self.params.get("security_threshold", 0))
        other_max = int(self.params.get("other_threshold", 0))
        stale = ""
        age = common.get("lists_age_hours")
        if isinstance(age, float) and age > float(self.params.get("stale_lists_hours", 48.0)):
            stale = f" (package lists are {age / 24:.0f} days old: the real number may be higher)"
        sec_status = Status.FAIL if len(security) > sec_max else Status.PASS
        yield self.finding(
            sec_status,
            (
                f"{len(security)} security update(s) pending{stale}: {_short_list(security)}."
                if security
                else f"No security update pending{stale}."
            ),
            {"kind": "security", "count": len(security), "threshold": sec_max, **common}
            | _bounded(security, self._limit),
            severity=Severity.HIGH,
            measurements=[Measurement("pending_updates", len(security), {"kind": "security"})],
            count=len(security),
            packages=_short_list(security),
        )
        other_status = Status.WARN if len(other) > other_max else Status.PASS
        yield self.finding(
            other_status,
            (
                f"{len(other)} other (non-security) update(s) pending{stale}: {_short_list(other)}."
                if other
                else f"No other update pending{stale}."
            ),
            {"kind": "other", "count": len(other), "threshold": other_max, **common}
            | _bounded(other, self._limit),
            severity=Severity.LOW,
            measurements=[Measurement("pending_updates", len(other), {"kind": "other"})],
            count=len(other),
            packages=_short_list(other),
        )


def _age_hours(host: Host, updated: datetime | None) -> float | None:
    if updated is None:
        return None
    return round(max(0.0, (host.now() - updated).total_seconds()) / 3600, 2)


@register
class PackageListsAge(Check):
    """Age of the package lists the pending-update counts come from (stale lists hide updates)."""

    id = "patching.package_lists_age"

    def run(self, host: Host) -> Iterable[Finding]:
        family = package_family(host)
        max_hours = float(self.params.get("max_age_hours", 48.0))
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
            yield self.finding(
                Status.SKIP,
                "Neither a Debian/Ubuntu nor a RHEL-family system: no package lists to date.",
                {"reason": "unsupported package manager"},
                age="",
                command="",
            )

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
            return self.finding(
                Status.WARN,
                f"No package lists at all: `{refresh}` has never run, so pending updates "
                "cannot be counted.",
                evidence,
                age="never",
                command=refresh,
            )
        age_seconds = max(0.0, (host.now() - lists.updated).total_seconds())
        age_hours = round(age_seconds / 3600, 2)
        evidence["age_hours"] = age_hours
        measurement = Measurement("package_lists_age_seconds", round(age_seconds, 3))
        if age_hours > max_hours:
            return self.finding(
                Status.WARN,
                f"The package lists are {_describe_age(age_seconds)} old (limit {max_hours:g} h): "
                "updates published since then are not counted as pending.",
                evidence,
                measurements=[measurement],
                age=_describe_age(age_seconds),
                command=refresh,
            )
        return self.finding(
            Status.PASS,
            f"The package lists are {_describe_age(age_seconds)} old ({lists.source} lists).",
            evidence,
            measurements=[measurement],
            age=_describe_age(age_seconds),
            command=refresh,
        )


def _describe_age(seconds: float) -> str:
    if seconds >= 2 * DAY:
        return f"{seconds / DAY:.0f} days"
    return f"{seconds / 3600:.0f} h"


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
        reasons: list[str] = []
        since: list[datetime] = []
        if flag is not None:
            pkgs_path = flag.with_name(flag.name + ".pkgs")
            pkgs = pkgs_path.read_text(errors="replace") if pkgs_path.is_file() else ""
            names = list(dict.fromkeys(line.strip() for line in pkgs.splitlines() if line.strip()))
            evidence["packages"] = names[:50]
            reasons.append("the system flagged it (/run/reboot-required)")
            since.append(datetime.fromtimestamp(flag.stat().st_mtime, UTC))
        if running and latest and compare_versions(running, latest) < 0:
            reasons.append(f"kernel {running} runs but {latest} is installed")
            since.append(datetime.fromtimestamp(kernels[latest].stat().st_mtime, UTC))
        if not reasons and not running:
            yield self.finding(
                Status.SKIP,
                "The running kernel is unknown (no /proc/sys/kernel/osrelease in the inspected "
                "tree) and no reboot-required flag is set.",
                {**evidence, "reason": "running kernel unknown"},
                reason="",
            )
            return
        value = 1.0 if reasons else 0.0
        measurements = [Measurement("reboot_required", value)]
        if not reasons:
            note = (
                f"running kernel {running} is the newest installed"
                if latest
                else f"running kernel {running}; no kernel installed in /boot or /lib/modules "
                "(a container, or a kernel booted from outside)"
            )
            yield self.finding(
                Status.PASS,
                f"No reboot pending: {note}.",
                evidence,
                measurements=measurements,
                reason="",
            )
            return
        pending_days = (host.now() - min(since)).total_seconds() / DAY
        evidence["pending_days"] = round(pending_days, 1)
        max_days = float(self.params.get("max_pending_days", 7))
        status = Status.FAIL if pending_days > max_days else Status.WARN
        yield self.finding(
            status,
            f"A reboot is needed ({'; '.join(reasons)}), pending for {pending_days:.0f} day(s).",
            evidence,
            measurements=measurements,
            reason="; ".join(reasons),
        )


@register
class LastUpgrade(Check):
    """Days since packages were last upgraded (apt history, dpkg or dnf logs)."""

    id = "patching.last_upgrade"

    def run(self, host: Host) -> Iterable[Finding]:
        max_days = float(self.params.get("max_days", 30))
        warn_days = float(self.params.get("warn_days", 14))
        count_installs = bool(self.params.get("count_installs", False))
        history = last_upgrade(host, count_installs)
        evidence: dict[str, Any] = {
            "log_files": list(history.files[:20]),
            "max_days": max_days,
            "warn_days": warn_days,
            "count_installs": count_installs,
        }
        if history.last is None and history.oldest_record is None:
            yield self.finding(
                Status.SKIP,
                "No package manager log (apt history, dpkg.log, dnf.rpm.log): the last upgrade "
                "date is unknown.",
                {**evidence, "reason": "no package manager log"},
                days="?",
            )
            return
        now = host.now()
        if history.last is None:
            assert history.oldest_record is not None
            days = (now - history.oldest_record).total_seconds() / DAY
            evidence["logs_start"] = _iso(history.oldest_record)
            summary = (
                f"No package upgrade in the logs, which go back {days:.0f} day(s) "
                f"(to {history.oldest_record.date().isoformat()})."
            )
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
            summary = (
                f"Last package upgrade {days:.0f} day(s) ago "
                f"({event.when.date().isoformat()}, {event.packages} package(s))."
            )
            measurements = [Measurement("last_upgrade_timestamp_seconds", event.when.timestamp())]
        evidence["days"] = round(days, 2)
        if days > max_days:
            status = Status.FAIL
        elif days > warn_days:
            status = Status.WARN
        else:
            status = Status.PASS
        yield self.finding(status, summary, evidence, measurements=measurements, days=f"{days:.0f}")


@register
class OsSupport(Check):
    """The operating system still receives security fixes, with a countdown to their end."""

    id = "patching.os_support"

    def run(self, host: Host) -> Iterable[Finding]:
        table = load_os_support(self.context.rules)
        osr = os_release(host)
        os_id = osr.get("ID", "").lower()
        version = osr.get("VERSION_ID", "")
        base = {"os_id": os_id or None, "os_version": version or None}
        if not os_id or not version:
            yield self.finding(
                Status.SKIP,
                "Unknown operating system or version (no ID or VERSION_ID in os-release): its "
                "end of support cannot be looked up.",
                {**base, "reason": "unknown OS"},
                name="",
                end="",
                days="",
            )
            return
        window = table.lookup(os_id, version)
        if window is None:
            yield self.finding(
                Status.SKIP,
                f"No end-of-support date known for {osr.get('PRETTY_NAME', os_id)} "
                f"({os_id} {version}) in {Path(table.source).name}.",
                {**base, "reason": "OS version not in os_support.yaml"},
                name="",
                end="",
                days="",
            )
            return
        today = host.now().astimezone(UTC).date()
        days_left = (window.end - today).days
        warn_days = int(self.params.get("warn_days", 365))
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
        if days_left < 0:
            status = Status.FAIL
            summary = (
                f"{window.name} has had no security support since {window.end.isoformat()} "
                f"({-days_left} day(s) ago)."
            )
        else:
            status = Status.WARN if days_left <= warn_days else Status.PASS
            during = f", now in its {phase} phase" if phase else ""
            summary = (
                f"{window.name}: security support ends on {window.end.isoformat()}, in "
                f"{days_left} day(s){during}."
            )
        yield self.finding(
            status,
            summary,
            evidence,
            measurements=[measurement],
            name=window.name,
            end=window.end.isoformat(),
            days=str(days_left),
        )
