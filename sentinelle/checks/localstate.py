"""What is installed and what runs on a Linux host, for the checks that ask about a daemon
(an antivirus engine, auditd, unattended-upgrades): dpkg's status file and /proc, both read
under the Host root, so fixture trees hold their own."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sentinelle.policies.conditions import PACKAGE_DB_MAX_BYTES, _dpkg_installed

if TYPE_CHECKING:
    from sentinelle.host import Host

DPKG_STATUS = "/var/lib/dpkg/status"
# /proc entries looked at: a server runs a few hundred processes; this bounds the walk.
MAX_PROCESSES = 32768


def dpkg_installed(host: Host) -> frozenset[str] | None:
    """Names of the packages dpkg has installed; None when there is no dpkg database."""
    path = host.path(DPKG_STATUS)
    try:
        with path.open("rb") as handle:
            data = handle.read(PACKAGE_DB_MAX_BYTES)
    except OSError:
        return None
    return _dpkg_installed(data.decode("utf-8", errors="replace"))


def running_programs(host: Host) -> frozenset[str] | None:
    """The names (/proc/PID/comm) of the running processes; None when there is no /proc."""
    proc = host.path("/proc")
    if not proc.is_dir():
        return None
    names: set[str] = set()
    for count, entry in enumerate(proc.iterdir()):
        if count >= MAX_PROCESSES:
            break
        if not entry.name.isdigit():
            continue
        try:
            names.add((entry / "comm").read_text(encoding="utf-8", errors="replace").strip())
        except OSError:
            continue  # the process ended meanwhile
    return frozenset(names)
