"""Backups (ANSSI measure 37): recent, not shrinking, with an offline copy, and restore-tested.

Locations come from the `backups.locations` section of the config: directories of backup files,
restic repositories or borg repositories. Each location is read once per cycle for all four
checks (backups_reader); a location that cannot be read is an `error` finding for that location
only, with the tool's own message, and the other locations are still checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentinelle.checks.backups_listing import Backup, BackupAccessDenied, BackupReadError, Listing
from sentinelle.checks.backups_reader import read_location
from sentinelle.checks.backups_restore import (
    RestoreTest,
    last_restore_test,
    load_restore_tests,
    record_restore_test,
)
from sentinelle.checks.base import Check, register
from sentinelle.errors import ConfigError
from sentinelle.model import Finding, Measurement, Severity, Status

if TYPE_CHECKING:
    from sentinelle.config import BackupLocation
    from sentinelle.host import Host

__all__ = [
    "BackupFreshness",
    "BackupOfflineCopy",
    "BackupRestoreTest",
    "BackupSizeChange",
    "RestoreTest",
    "load_restore_tests",
    "record_restore_test",
]

OFFLINE_CHECK = "backups.offline_copy"
# A backup dated this far in the future means a wrong clock: it would look fresh for ever.
FUTURE_TOLERANCE_SECONDS = 3600.0


def describe_age(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:.1f} h" if hours < 72 else f"{hours / 24:.1f} days"


def describe_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def _location_evidence(location: BackupLocation) -> dict[str, Any]:
    evidence: dict[str, Any] = {
        "location": location.name,
        "type": location.kind,
        "path": location.path,
        "offline": location.offline,
    }
    if location.kind == "directory":
        evidence["pattern"] = location.pattern
    return evidence


def _backup_evidence(backup: Backup) -> dict[str, Any]:
    return {"name": backup.name, "time": backup.time.isoformat(timespec="seconds")}


class _BackupCheck(Check):
    """Shared plumbing: the configured locations and their cached reads."""


    @property
    def locations(self) -> tuple[BackupLocation, ...]:
        return self.context.config.backups

    @property
    def state_dir(self) -> Path:
        # The agent's own state directory on this machine, not a path of the inspected tree.
        return Path(self.context.config.agent.state_dir)

    def read(self, host: Host, location: BackupLocation) -> Listing:
        return read_location(host, location, self.state_dir)

    def offline_limit_hours(self, location: BackupLocation) -> float:
        """Age limit of an offline copy: its own override, else offline_copy's threshold.

        One threshold for offline copies in both freshness and offline_copy, so the two checks
        never disagree about the same copy.
        """
        if location.max_age_hours is not None:
            return float(location.max_age_hours)
        params: dict[str, Any] = {}
        meta = self.context.rules.checks.get(OFFLINE_CHECK)
        if meta is not None:
            params.update(meta.params)
        settings = self.context.config.checks.get(OFFLINE_CHECK)
        if settings is not None:
            params.update(settings.params)
        return float(params.get("offline_max_age_days", 8)) * 24

    def unreadable(self, location: BackupLocation, exc: BackupReadError, **extra: Any) -> Finding:
        evidence = _location_evidence(location)
        evidence["error"] = str(exc)
        if isinstance(exc, BackupAccessDenied):
            evidence["reason"] = str(exc)
            return self.finding(
                Status.SKIP,
                f"{location.name}: not checked, {exc}",
                evidence,
                location=location.name,
                **extra,
            )
        return self.finding(
            Status.ERROR,
            f"{location.name}: the backups cannot be read: {exc}",
            evidence,
            location=location.name,
            **extra,
        )


@register
class BackupFreshness(_BackupCheck):
    """The newest backup of every configured location is recent enough."""

    id = "backups.freshness"

    def run(self, host: Host) -> Iterable[Finding]:
        if not self.locations:
            yield self.finding(
                Status.FAIL,
                "No backup location is configured: nothing shows that this server is backed up.",
                {"locations": 0},
                severity=Severity.CRITICAL,
            )
            return
        for location in self.locations:
            try:
                listing = self.read(host, location)
            except BackupReadError as exc:
                yield self.unreadable(location, exc)
                continue
            yield self._finding(host, location, listing)

    def limit_hours(self, location: BackupLocation) -> float:
        if location.offline:
            return self.offline_limit_hours(location)
        if location.max_age_hours is not None:
            return float(location.max_age_hours)
        return float(self.params["max_age_hours"])

    def _finding(self, host: Host, location: BackupLocation, listing: Listing) -> Finding:
        limit = self.limit_hours(location)
        evidence = _location_evidence(location)
        evidence.update(backups=len(listing.backups), max_age_hours=limit)
        newest = listing.newest
        if newest is None:
            return self.finding(
                Status.FAIL,
                f"{location.name}: no backup found in {location.path}.",
                evidence,
                location=location.name,
            )
        age = (host.now() - newest.time).total_seconds()
        evidence["newest"] = _backup_evidence(newest)
        evidence["age_hours"] = round(age / 3600, 2)
        measurements = [
            Measurement("backup_age_seconds", max(age, 0.0), {"location": location.name})
        ]
        try:
            size = listing.size(host, newest)
        except BackupReadError as exc:
            evidence["size_error"] = str(exc)  # the age is still known: report it
        else:
            evidence["newest"]["size_bytes"] = size
            measurements.append(
                Measurement("backup_size_bytes", float(size), {"location": location.name})
            )
        warn_at = limit * float(self.params["warn_ratio"])
        hours = age / 3600
        shown = f"{location.name}: newest backup {newest.name} is {describe_age(max(age, 0.0))} old"
        if age < -FUTURE_TOLERANCE_SECONDS:
            status, severity = Status.WARN, Severity.MEDIUM
            summary = (
                f"{location.name}: newest backup {newest.name} is dated "
                f"{describe_age(-age)} in the future: check the clocks, freshness cannot be judged."
            )
        elif hours > limit:
            status, severity = Status.FAIL, self.meta.severity
            summary = f"{shown}, more than the {limit:g} h allowed."
        elif hours > warn_at:
            status, severity = Status.WARN, Severity.MEDIUM
            summary = f"{shown}, close to the {limit:g} h allowed."
        else:
            status, severity = Status.PASS, self.meta.severity
            summary = f"{shown} (limit {limit:g} h)."
        return self.finding(
            status,
            summary,
            evidence,
            severity=severity,
            measurements=measurements,
            location=location.name,
        )


@register
class BackupSizeChange(_BackupCheck):
    """The newest backup is not much smaller than the previous one of the same series."""

    id = "backups.size_change"

    def run(self, host: Host) -> Iterable[Finding]:
        if not self.locations:
            yield self.finding(
                Status.SKIP,
                "No backup location is configured (see backups.freshness).",
                {"locations": 0},
            )
            return
        for location in self.locations:
            try:
                listing = self.read(host, location)
            except BackupReadError as exc:
                yield self.unreadable(location, exc)
                continue
            yield self._finding(host, location, listing)

    def _finding(self, host: Host, location: BackupLocation, listing: Listing) -> Finding:
        evidence = _location_evidence(location)
        newest = listing.newest
        previous = listing.previous_in_series(newest) if newest is not None else None
        if newest is None or previous is None:
            evidence["backups"] = len(listing.backups)
            return self.finding(
                Status.SKIP,
                f"{location.name}: fewer than two backups of the same series to compare.",
                evidence,
                location=location.name,
            )
        try:
            new_size = listing.size(host, newest)
            old_size = listing.size(host, previous)
        except BackupReadError as exc:
            return self.unreadable(location, exc)
        ratio = new_size / old_size if old_size > 0 else 1.0
        threshold = float(self.params["shrink_ratio"])
        evidence.update(
            newest={**_backup_evidence(newest), "size_bytes": new_size},
            previous={**_backup_evidence(previous), "size_bytes": old_size},
            ratio=round(ratio, 4),
            shrink_ratio=threshold,
        )
        sizes = (
            f"{describe_size(new_size)} for {newest.name}, "
            f"{describe_size(old_size)} for the previous {previous.name}"
        )
        if ratio < threshold:
            status = Status.FAIL
            summary = (
                f"{location.name}: the newest backup shrank to {ratio:.0%} of the previous one "
                f"({sizes})."
            )
        else:
            status = Status.PASS
            summary = f"{location.name}: backup size steady ({sizes})."
        return self.finding(
            status,
            summary,
            evidence,
            location=location.name,
            newest_size=describe_size(new_size),
            previous_size=describe_size(old_size),
        )


@register
class BackupOfflineCopy(_BackupCheck):
    """At least one location holds an offline copy (offline: true), and it is recent enough."""

    id = "backups.offline_copy"

    def run(self, host: Host) -> Iterable[Finding]:
        offline = [loc for loc in self.locations if loc.offline]
        if not offline:
            yield self.finding(
                Status.FAIL,
                "No offline copy of the backups is configured (no location with offline: true).",
                {"locations": len(self.locations), "offline_locations": 0},
            )
            return
        copies: list[dict[str, Any]] = []
        fresh: list[str] = []
        stale: list[str] = []
        unreadable: list[str] = []
        denied: list[str] = []  # refused for lack of a privilege
        for location in offline:
            row = _location_evidence(location)
            limit = self.offline_limit_hours(location)
            row["max_age_hours"] = limit
            try:
                newest = self.read(host, location).newest
            except BackupReadError as exc:
                row["error"] = str(exc)
                unreadable.append(location.name)
                if isinstance(exc, BackupAccessDenied):
                    denied.append(location.name)
            else:
                if newest is None:
                    row["backups"] = 0
                    stale.append(location.name)
                else:
                    age = (host.now() - newest.time).total_seconds()
                    row["newest"] = _backup_evidence(newest)
                    row["age_hours"] = round(age / 3600, 2)
                    # A copy from the future proves nothing about today's data.
                    ok = -FUTURE_TOLERANCE_SECONDS <= age <= limit * 3600
                    (fresh if ok else stale).append(location.name)
            copies.append(row)
        evidence = {"copies": copies, "fresh": fresh, "stale": stale, "unreadable": unreadable}
        if fresh:
            yield self.finding(Status.PASS, f"Recent offline copy in {', '.join(fresh)}.", evidence)
        elif denied and denied == unreadable and not stale:
            reason = next(str(c["error"]) for c in copies if c["location"] == denied[0])
            yield self.finding(
                Status.SKIP,
                f"Offline copies not checked: {reason}",
                {**evidence, "reason": reason},
            )
        elif unreadable:
            yield self.finding(
                Status.ERROR,
                f"No recent offline copy found; cannot read {', '.join(unreadable)}.",
                evidence,
            )
        else:
            yield self.finding(
                Status.FAIL,
                f"The offline copies are too old or empty: {', '.join(stale)}.",
                evidence,
            )


@register
class BackupRestoreTest(_BackupCheck):
    """A restore test of each location was recorded recently."""

    id = "backups.restore_test"

    def run(self, host: Host) -> Iterable[Finding]:
        if not self.locations:
            yield self.finding(
                Status.SKIP,
                "No backup location is configured (see backups.freshness).",
                {"locations": 0},
            )
            return
        try:
            journal = load_restore_tests(self.state_dir)
        except (ConfigError, OSError) as exc:
            yield self.finding(
                Status.ERROR,
                f"The restore-test journal cannot be read: {exc}",
                {"state_dir": str(self.state_dir), "error": str(exc)},
            )
            return
        for location in self.locations:
            yield self._finding(host, location, last_restore_test(journal, location.name))

    def _finding(self, host: Host, location: BackupLocation, last: RestoreTest | None) -> Finding:
        max_days = float(self.params["max_age_days"])
        evidence = _location_evidence(location)
        evidence["max_age_days"] = max_days
        if last is None:
            return self.finding(
                Status.FAIL,
                f"{location.name}: no restore test was ever recorded.",
                evidence,
                location=location.name,
            )
        days = (host.now() - last.when).total_seconds() / 86400
        evidence.update(last_test=_stamp(last.when), age_days=round(days, 2), note=last.note)
        measurements = [
            Measurement(
                "backup_last_restore_test_timestamp_seconds",
                last.when.timestamp(),
                {"location": location.name},
            )
        ]
        if days > max_days:
            status = Status.WARN
            summary = (
                f"{location.name}: last restore test {days:.0f} days ago, "
                f"more than the {max_days:g} days allowed."
            )
        else:
            status = Status.PASS
            summary = f"{location.name}: last restore test {max(days, 0):.0f} days ago."
        return self.finding(
            status, summary, evidence, measurements=measurements, location=location.name
        )


def _stamp(when: datetime) -> str:
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")
