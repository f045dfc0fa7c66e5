"""Installed packages and running programs, as a few checks need them (services,
remote_access, removable_media).

Packages: dpkg's status file under the root (Debian, Ubuntu), else `rpm -q` on the live system
(RHEL and its rebuilds), asked only about the names a check cares about. Programs: the names in
/proc/PID/comm under the root (the kernel truncates them to 15 bytes, so the first word of
/proc/PID/cmdline completes them), which work on the live host and on a fixture tree alike and
need no privilege.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sentinelle.errors import CommandError, CommandNotFound

if TYPE_CHECKING:
    from sentinelle.host import Host

DPKG_STATUS = "/var/lib/dpkg/status"
# A real status file is a few MB; a bigger one is not what dpkg wrote.
DPKG_STATUS_MAX_BYTES = 64 << 20
RPM_TIMEOUT_SECONDS = 30.0
# At most this many names in one `rpm -q` (docs/checks.md: at most 64 names in an argument).
RPM_BATCH = 64
# The process table is bounded: a town-hall server runs a few hundred processes.
MAX_PROCESSES = 8192
COMM_LENGTH = 15  # TASK_COMM_LEN - 1: longer names are cut in /proc/PID/comm
_PID = re.compile(r"^[0-9]+$")


@dataclass(frozen=True)
class Packages:
    """The wanted packages that are installed, and which database said so."""

    installed: frozenset[str]
    manager: str  # "dpkg" or "rpm"


class PackagesUnseen(Exception):
    """Neither dpkg's status file nor rpm could be read; the message says why."""


def dpkg_installed(text: str) -> frozenset[str]:
    """Packages whose files are on disk: a stanza whose Status is not not-installed or
    config-files (removed, its configuration kept)."""
    installed: set[str] = set()
    name = state = ""
    for line in [*text.splitlines(), ""]:
        if not line.strip():
            if name and state and state not in ("not-installed", "config-files"):
                installed.add(name)
            name = state = ""
        elif line.startswith("Package:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("Status:"):
            words = line.split(":", 1)[1].split()
            state = words[-1] if words else ""
    return frozenset(installed)


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
        found = dpkg_installed(data.decode("utf-8", errors="replace"))
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


@dataclass(frozen=True)
class Processes:
    """The names of the running programs, and how many processes were read."""

    names: frozenset[str]
    count: int


def running_programs(host: Host) -> Processes | None:
    """Names of the programs running on the host (comm, completed from cmdline when cut);
    None when the tree has no /proc with processes."""
    names: set[str] = set()
    count = 0
    for entry in host.glob("/proc", "*"):
        if not _PID.match(entry.name):
            continue
        if count >= MAX_PROCESSES:
            break
        try:
            comm = (entry / "comm").read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            continue  # the process ended meanwhile
        count += 1
        if not comm:
            continue
        names.add(comm)
        if len(comm) >= COMM_LENGTH:
            full = _first_word(entry)
            if full and full.startswith(comm):
                names.add(full)
    return Processes(frozenset(names), count) if count else None


def _first_word(entry: Path) -> str:
    """The program name of /proc/PID/cmdline's first argument ("" when unreadable)."""
    try:
        raw = (entry / "cmdline").read_bytes()[:4096]
    except OSError:
        return ""
    first = raw.split(b"\0", 1)[0].decode("utf-8", errors="replace")
    return first.rsplit("/", 1)[-1].split()[0] if first.strip() else ""
