"""Installed packages, as a few checks need them (services, remote_access): dpkg's status
file under the root (Debian, Ubuntu; parsed by sentinelle.facts), else `rpm -q` on the live
system (RHEL and its rebuilds), asked only about the names a check cares about. The running
programs are sentinelle.facts.processes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sentinelle.errors import CommandError, CommandNotFound
from sentinelle.facts import DPKG_STATUS, DPKG_STATUS_MAX_BYTES, parse_dpkg_status

if TYPE_CHECKING:
    from sentinelle.host import Host

RPM_TIMEOUT_SECONDS = 30.0
# At most this many names in one `rpm -q` (docs/checks.md: at most 64 names in an argument).
RPM_BATCH = 64


@dataclass(frozen=True)
class Packages:
    """The wanted packages that are installed, and which database said so."""

    installed: frozenset[str]
    manager: str  # "dpkg" or "rpm"


class PackagesUnseen(Exception):
    """Neither dpkg's status file nor rpm could be read; the message says why."""


def parse_rpm_query(stdout: str, wanted: Iterable[str]) -> frozenset[str]:
    """Names `rpm -q --qf '%{NAME}\\n' NAME...` printed as installed (a missing one prints
    "package NAME is not installed")."""
    names = set(wanted)
    return frozenset(line.strip() for line in stdout.splitlines() if line.strip() in names)


def installed_packages(host: Host, wanted: Sequence[str]) -> Packages:
    """Which of `wanted` are installed; PackagesUnseen when no package database answers."""
    path = host.path(DPKG_STATUS)
    if path.is_file():
        try:
            with path.open("rb") as stream:
                data = stream.read(DPKG_STATUS_MAX_BYTES + 1)
        except OSError as exc:
            raise PackagesUnseen(f"{DPKG_STATUS}: {exc.strerror or exc}") from exc
        if len(data) > DPKG_STATUS_MAX_BYTES:
            raise PackagesUnseen(f"{DPKG_STATUS}: larger than {DPKG_STATUS_MAX_BYTES} bytes")
        found = parse_dpkg_status(data.decode("utf-8", errors="replace"))
        return Packages(frozenset(n for n in wanted if n in found), "dpkg")
    if not host.is_live:
        raise PackagesUnseen(f"no {DPKG_STATUS} under {host.root}, and rpm reads only this "
                             "machine")
    return rpm_installed(host, wanted)


def rpm_installed(host: Host, wanted: Sequence[str]) -> Packages:
    """Which of `wanted` rpm says are installed (RHEL and its rebuilds)."""
    names = sorted(set(wanted))
    found_rpm: set[str] = set()
    for start in range(0, len(names), RPM_BATCH):
        batch = names[start:start + RPM_BATCH]
        try:
            result = host.run(["rpm", "-q", "--qf", "%{NAME}\\n", *batch],
                              timeout=RPM_TIMEOUT_SECONDS)
        except CommandNotFound as exc:
            raise PackagesUnseen(f"no {DPKG_STATUS} and no rpm") from exc
        except CommandError as exc:
            raise PackagesUnseen(str(exc)) from exc
        # rpm -q exits with the number of names not installed: any code is an answer as long
        # as it printed one line per name.
        if len([line for line in result.stdout.splitlines() if line.strip()]) < len(batch):
            raise PackagesUnseen(f"rpm -q exited {result.returncode}: "
                                 f"{result.stderr.strip()[:200]}")
        found_rpm |= parse_rpm_query(result.stdout, batch)
    return Packages(frozenset(found_rpm), "rpm")
