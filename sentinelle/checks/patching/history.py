"""When packages were last upgraded, from the package managers' own logs.

Sources, first that has an answer wins: apt's /var/log/apt/history.log (and its rotated copies,
plain or gzip), dpkg's /var/log/dpkg.log, dnf's /var/log/dnf.rpm.log. apt and dpkg write local
time without a zone, so the inspected system's time zone is read from its /etc.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from sentinelle.host import Host

APT_HISTORY = "/var/log/apt"
DPKG_LOG = "/var/log"
DNF_LOG = "/var/log"
# A log far larger than any real one is not read whole: a bound on what one check may read.
MAX_LOG_BYTES = 64 * 1024 * 1024
RUN_WINDOW = timedelta(hours=1)

_APT_DATE = "%Y-%m-%d %H:%M:%S"
_DPKG_LINE = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (\S+) (.*)$")
_DNF_LINE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{4}) \S+ (\S+): (\S+)")


@dataclass(frozen=True)
class UpgradeEvent:
    """One successful package operation that counts as an upgrade."""

    when: datetime
    source: str
    packages: int  # changed by that apt run; for dpkg and dnf logs, in the hour before it
    command: str = ""


@dataclass(frozen=True)
class UpgradeHistory:
    """The newest upgrade found, and how far back the logs go when none was found."""

    last: UpgradeEvent | None
    oldest_record: datetime | None
    files: tuple[str, ...]


def host_timezone(host: Host) -> tzinfo:
    """The inspected system's time zone: /etc/timezone, else the /etc/localtime link, else UTC."""
    names = [host.read_text("/etc/timezone", default="").strip()]
    link = host.path("/etc/localtime")
    if link.is_symlink():
        target = str(link.readlink())
        if "zoneinfo/" in target:
            names.append(target.split("zoneinfo/", 1)[1])
    for name in names:
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return UTC


def _rotated(host: Host, directory: str, name: str) -> list[Path]:
    """`name`, `name.1`, `name.2.gz`... newest first."""
    found: list[tuple[int, Path]] = []
    for path in host.glob(directory, name + "*"):
        suffix = path.name[len(name) :]
        if suffix == "":
            found.append((0, path))
            continue
        number = suffix.lstrip(".").removesuffix(".gz")
        if suffix.startswith(".") and number.isdigit():
            found.append((int(number), path))
    return [p for _, p in sorted(found, key=lambda item: item[0])]


def _read(path: Path) -> str:
    if path.stat().st_size > MAX_LOG_BYTES:
        raise ValueError(f"{path}: larger than {MAX_LOG_BYTES} bytes, not read")
    if path.name.endswith(".gz"):
        with gzip.open(path, "rb") as handle:
            data = handle.read(MAX_LOG_BYTES + 1)
    else:
        data = path.read_bytes()
    return data[:MAX_LOG_BYTES].decode("utf-8", errors="replace")


def _apt_entries(text: str) -> Iterator[dict[str, str]]:
    entry: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if entry:
                yield entry
            entry = {}
            continue
        key, sep, value = line.partition(": ")
        if sep:
            if key == "Start-Date" and entry:
                yield entry  # a missing blank line between entries
                entry = {}
            entry[key] = value.strip()
    if entry:
        yield entry


def _apt_date(value: str, zone: tzinfo) -> datetime | None:
    try:
        naive = datetime.strptime(" ".join(value.split()), _APT_DATE)
    except ValueError:
        return None
    return naive.replace(tzinfo=zone).astimezone(UTC)


def _count(packages: str) -> int:
    # "a:amd64 (1.0, 1.1), b:amd64 (2.0, automatic)": one "(" per package.
    return packages.count("(")


def _from_apt(host: Host, zone: tzinfo, count_installs: bool, files: list[str]) -> UpgradeHistory:
    oldest: datetime | None = None
    for path in _rotated(host, APT_HISTORY, "history.log"):
        files.append(str(path))
        newest_here: UpgradeEvent | None = None
        for entry in _apt_entries(_read(path)):
            start = _apt_date(entry.get("Start-Date", ""), zone)
            if start is not None and (oldest is None or start < oldest):
                oldest = start
            keys = ("Upgrade", "Install") if count_installs else ("Upgrade",)
            changed = sum(_count(entry[k]) for k in keys if k in entry)
            if not changed or "Error" in entry or "End-Date" not in entry:
                continue
            end = _apt_date(entry["End-Date"], zone)
            if end is None:
                continue
            if newest_here is None or end > newest_here.when:
                newest_here = UpgradeEvent(end, str(path), changed, entry.get("Commandline", ""))
        if newest_here is not None:
            # Rotated files are older: the newest file with an upgrade has the newest upgrade.
            return UpgradeHistory(newest_here, oldest, tuple(files))
    return UpgradeHistory(None, oldest, tuple(files))


def _last_run(
    done: list[datetime], path: Path, oldest: datetime | None, files: list[str]
) -> UpgradeHistory | None:
    """The newest completion; dpkg and dnf logs have no runs, so a run is the hour before it."""
    if not done:
        return None
    last = max(done)
    run = sum(1 for when in done if last - RUN_WINDOW <= when <= last)
    return UpgradeHistory(UpgradeEvent(last, str(path), run), oldest, tuple(files))


def _from_dpkg(host: Host, zone: tzinfo, count_installs: bool, files: list[str]) -> UpgradeHistory:
    oldest: datetime | None = None
    actions = ("upgrade", "install") if count_installs else ("upgrade",)
    for path in _rotated(host, DPKG_LOG, "dpkg.log"):
        files.append(str(path))
        pending: dict[str, str] = {}  # package -> version being upgraded to
        done: list[datetime] = []
        for line in _read(path).splitlines():
            match = _DPKG_LINE.match(line)
            if not match:
                continue
            when = _apt_date(match[1], zone)
            if when is None:
                continue
            if oldest is None or when < oldest:
                oldest = when
            action, rest = match[2], match[3].split()
            if action in actions and len(rest) == 3:
                pending[rest[0]] = rest[2]
            elif (
                action == "status"
                and len(rest) == 3
                and rest[0] == "installed"
                and pending.get(rest[1]) == rest[2]
            ):
                # An upgrade counts once dpkg reports the new version fully installed.
                del pending[rest[1]]
                done.append(when)
        found = _last_run(done, path, oldest, files)
        if found is not None:
            return found
    return UpgradeHistory(None, oldest, tuple(files))


def _from_dnf(host: Host, count_installs: bool, files: list[str]) -> UpgradeHistory:
    oldest: datetime | None = None
    kinds = ("Upgrade", "Install") if count_installs else ("Upgrade",)
    for path in _rotated(host, DNF_LOG, "dnf.rpm.log"):
        files.append(str(path))
        done: list[datetime] = []
        for line in _read(path).splitlines():
            match = _DNF_LINE.match(line)
            if not match:
                continue
            try:
                when = datetime.strptime(match[1], "%Y-%m-%dT%H:%M:%S%z").astimezone(UTC)
            except ValueError:
                continue
            if oldest is None or when < oldest:
                oldest = when
            if match[2] in kinds:
                done.append(when)
        found = _last_run(done, path, oldest, files)
        if found is not None:
            return found
    return UpgradeHistory(None, oldest, tuple(files))


def last_upgrade(host: Host, count_installs: bool = False) -> UpgradeHistory:
    """The newest successful upgrade in the logs (apt history, dpkg, then dnf)."""
    zone = host_timezone(host)
    files: list[str] = []
    oldest: list[datetime] = []
    for found in (
        _from_apt(host, zone, count_installs, files),
        _from_dpkg(host, zone, count_installs, files),
        _from_dnf(host, count_installs, files),
    ):
        if found.last is not None:
            return UpgradeHistory(found.last, found.oldest_record, tuple(files))
        if found.oldest_record is not None:
            oldest.append(found.oldest_record)
    return UpgradeHistory(None, min(oldest) if oldest else None, tuple(files))
