"""Backups (ANSSI measure 37): recent, not shrinking, with an offline copy, and restore-tested.

Locations come from the `backups.locations` section of the config: directories of backup files,
restic repositories or borg repositories. Each location is read once per cycle for all four
checks (reader); a location that cannot be read is an `error` finding for that location
only, with the tool's own message, and the other locations are still checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentinelle.checks.backups.listing import Backup, BackupAccessDenied, BackupReadError, Listing
from sentinelle.checks.backups.reader import read_location
from sentinelle.checks.backups.restore import (
    RestoreTest,
    last_restore_test,
    load_restore_tests,
    record_restore_test,
)
from sentinelle.checks.base import Check, register
from sentinelle.config import overrides_for
from sentinelle.errors import ConfigError
from sentinelle.model import Finding, Measurement, Severity, Status
from sentinelle.params import build_params, param, specs_of

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
        meta = self.context.rules.checks[OFFLINE_CHECK]
        declared = specs_of(BackupOfflineCopy.Params)
        overrides = overrides_for(self.context.config, OFFLINE_CHECK, declared)
        offline = build_params(BackupOfflineCopy.Params, OFFLINE_CHECK, meta.params, meta.source,
                               overrides)
        return float(offline.offline_max_age_days) * 24

    def unreadable(self, location: BackupLocation, exc: BackupReadError) -> Finding:
        """A location that cannot be read: skip when it is refused for lack of a privilege,
        else error; the sentence is the `unreadable_<case>` message of the exception."""
        evidence = _location_evidence(location)
        evidence["error"] = str(exc)
        args = {**exc.values, "location": location.name}
        if isinstance(exc, BackupAccessDenied):
            evidence["reason"] = str(exc)
            return self.say(Status.SKIP, f"unreadable_{exc.case}", args, evidence)
        return self.say(Status.ERROR, f"unreadable_{exc.case}", args, evidence)


@register
class BackupFreshness(_BackupCheck):
    """The newest backup of every configured location is recent enough."""

    id = "backups.freshness"

    @dataclass(frozen=True)
    class Params:
        max_age_hours: float = param(minimum=1, doc="an older newest backup fails")
        warn_ratio: float = param(minimum=0.01, maximum=1, doc="warn past this share of it")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        if not self.locations:
            yield self.say(Status.FAIL, "none_configured", {}, {"locations": 0},
                           severity=Severity.CRITICAL)
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
        return self.params.max_age_hours

    def _finding(self, host: Host, location: BackupLocation, listing: Listing) -> Finding:
        limit = self.limit_hours(location)
        evidence = _location_evidence(location)
        evidence.update(backups=len(listing.backups), max_age_hours=limit)
        newest = listing.newest
        if newest is None:
            return self.say(Status.FAIL, "empty", {"location": location.name,
                                                   "path": location.path}, evidence,
                            key=location.name)
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
        warn_at = limit * self.params.warn_ratio
        hours = age / 3600
        args: dict[str, Any] = {"location": location.name, "backup": newest.name,
                                "age": round(max(age, 0.0)), "limit": limit * 3600}
        if age < -FUTURE_TOLERANCE_SECONDS:
            status, severity, case = Status.WARN, Severity.MEDIUM, "future"
            args["ahead"] = round(-age)
        elif hours > limit:
            status, severity, case = Status.FAIL, self.meta.severity, "old"
        elif hours > warn_at:
            status, severity, case = Status.WARN, Severity.MEDIUM, "close"
        else:
            status, severity, case = Status.PASS, self.meta.severity, "recent"
        return self.say(status, case, args, evidence, severity=severity,
                        measurements=measurements, key=location.name)


@register
class BackupSizeChange(_BackupCheck):
    """The newest backup is not much smaller than the previous one of the same series."""

    id = "backups.size_change"

    @dataclass(frozen=True)
    class Params:
        shrink_ratio: float = param(minimum=0, maximum=1, doc="smaller than this share fails")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        if not self.locations:
            yield self.say(Status.SKIP, "none_configured", {}, {"locations": 0})
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
            return self.say(Status.SKIP, "fewer_than_two", {"location": location.name}, evidence,
                            key=location.name)
        try:
            new_size = listing.size(host, newest)
            old_size = listing.size(host, previous)
        except BackupReadError as exc:
            return self.unreadable(location, exc)
        ratio = new_size / old_size if old_size > 0 else 1.0
        threshold = self.params.shrink_ratio
        evidence.update(
            newest={**_backup_evidence(newest), "size_bytes": new_size},
            previous={**_backup_evidence(previous), "size_bytes": old_size},
            ratio=round(ratio, 4),
            shrink_ratio=threshold,
        )
        args = {
            "location": location.name,
            "newest": newest.name,
            "newest_size": new_size,
            "previous": previous.name,
            "previous_size": old_size,
            "ratio": round(ratio, 4),
        }
        if ratio < threshold:
            return self.say(Status.FAIL, "shrank", args, evidence, key=location.name)
        return self.say(Status.PASS, "steady", args, evidence, key=location.name)


@register
class BackupOfflineCopy(_BackupCheck):
    """At least one location holds an offline copy (offline: true), and it is recent enough."""

    id = "backups.offline_copy"

    @dataclass(frozen=True)
    class Params:
        offline_max_age_days: float = param(minimum=1, doc="an older offline copy fails")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        offline = [loc for loc in self.locations if loc.offline]
        if not offline:
            yield self.say(Status.FAIL, "none_configured", {},
                           {"locations": len(self.locations), "offline_locations": 0})
            return
        copies: list[dict[str, Any]] = []
        fresh: list[str] = []
        stale: list[str] = []
        unreadable: list[str] = []
        denied: list[BackupAccessDenied] = []  # refused for lack of a privilege
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
                    denied.append(exc)
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
            yield self.say(Status.PASS, "fresh", {"locations": fresh}, evidence)
        elif denied and len(denied) == len(unreadable) and not stale:
            first = next(c for c in copies if c["location"] in unreadable)
            args = {**denied[0].values, "location": first["location"], "locations": unreadable}
            yield self.say(Status.SKIP, "denied", args,
                           {**evidence, "reason": str(denied[0])})
        elif unreadable:
            yield self.say(Status.ERROR, "unreadable", {"locations": unreadable}, evidence)
        else:
            yield self.say(Status.FAIL, "stale", {"locations": stale}, evidence)


@register
class BackupRestoreTest(_BackupCheck):
    """A restore test of each location was recorded recently."""

    id = "backups.restore_test"

    @dataclass(frozen=True)
    class Params:
        max_age_days: float = param(minimum=1, doc="an older restore test warns")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        if not self.locations:
            yield self.say(Status.SKIP, "none_configured", {}, {"locations": 0})
            return
        try:
            journal = load_restore_tests(self.state_dir)
        except (ConfigError, OSError) as exc:
            detail = exc.expected if isinstance(exc, ConfigError) else (exc.strerror or str(exc))
            path = exc.source if isinstance(exc, ConfigError) else str(self.state_dir)
            yield self.say(Status.ERROR, "journal_unreadable", {"path": path, "detail": detail},
                           {"state_dir": str(self.state_dir), "error": str(exc)})
            return
        for location in self.locations:
            yield self._finding(host, location, last_restore_test(journal, location.name))

    def _finding(self, host: Host, location: BackupLocation, last: RestoreTest | None) -> Finding:
        max_days = self.params.max_age_days
        evidence = _location_evidence(location)
        evidence["max_age_days"] = max_days
        args: dict[str, Any] = {"location": location.name, "limit": max_days * 86400}
        if last is None:
            return self.say(Status.FAIL, "never", args, evidence, key=location.name)
        days = (host.now() - last.when).total_seconds() / 86400
        evidence.update(last_test=_stamp(last.when), age_days=round(days, 2), note=last.note)
        measurements = [
            Measurement(
                "backup_last_restore_test_timestamp_seconds",
                last.when.timestamp(),
                {"location": location.name},
            )
        ]
        args["age"] = round(max(days, 0.0) * 86400)
        status, case = (Status.WARN, "old") if days > max_days else (Status.PASS, "recent")
        return self.say(status, case, args, evidence, measurements=measurements,
                        key=location.name)


def _stamp(when: datetime) -> str:
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")
