"""Host facts that head every Report: name, operating system, kernel."""

from __future__ import annotations

import platform
import socket
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sentinelle.host import Host


def parse_os_release(text: str) -> dict[str, str]:
    """Parse /etc/os-release (shell-style KEY=value lines)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip().strip('"').strip("'")
    return out


def os_release(host: Host) -> dict[str, str]:
    """/etc/os-release's keys; on Windows the same keys from the registry's CurrentVersion
    (ID: the edition's lifecycle in rules/os_support.yaml, VERSION_ID: 10.0.<build>)."""
    if host.is_windows:
        return windows_release(host)
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        text = host.read_text(path, default="")
        if text:
            return parse_os_release(text)
    return {}


def windows_release(host: Host) -> dict[str, str]:
    from sentinelle.errors import CommandError
    from sentinelle.windows.collectors import collect
    from sentinelle.windows.psjson import PsJsonError
    from sentinelle.windows.system import parse_release

    try:
        release = parse_release(collect(host, "os"))
    except (CommandError, PsJsonError):
        return {}
    return {"ID": release.os_id, "VERSION_ID": release.version, "PRETTY_NAME": release.name,
            "BUILD": f"{release.build}.{release.ubr}" if release.ubr is not None
            else str(release.build)}


def host_facts(host: Host) -> dict[str, Any]:
    """Facts for the Report header; on a fixture root, the hostname comes from etc/hostname."""
    osr = os_release(host)
    if host.is_live:
        hostname = socket.gethostname()
        kernel = platform.release()
    elif host.is_windows:  # a replayed capture: its host name was redacted
        hostname = "HOST"
        kernel = osr.get("BUILD", "")
    else:
        hostname = host.read_text("/etc/hostname", default="").strip() or "unknown"
        kernel = host.read_text("/proc/sys/kernel/osrelease", default="").strip()
    return {
        "hostname": hostname,
        "os_id": osr.get("ID", "unknown"),
        "os_version": osr.get("VERSION_ID", ""),
        "os_name": osr.get("PRETTY_NAME", osr.get("NAME", "unknown")),
        "kernel": kernel,
        "arch": platform.machine(),
    }


# What is installed and what runs, for the checks that ask about a daemon (an antivirus
# engine, auditd, a time service): dpkg's status file and /proc, read under the Host root, so
# fixture trees hold their own.
DPKG_STATUS = "/var/lib/dpkg/status"
# A real status file is a few MB; a bigger one is not what dpkg wrote.
DPKG_STATUS_MAX_BYTES = 64 << 20
COMM_LENGTH = 15  # TASK_COMM_LEN - 1: longer names are cut in /proc/PID/comm
# /proc entries looked at: a server runs a few hundred processes; this bounds the walk.
MAX_PROCESSES = 32768


@lru_cache(maxsize=4)
def parse_dpkg_status(text: str) -> frozenset[str]:
    """Packages whose files are on disk: a stanza of dpkg's status file whose Status is not
    not-installed or config-files (removed, its configuration kept). Cached: several checks of
    one cycle read the same file."""
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


def dpkg_installed(host: Host) -> frozenset[str] | None:
    """Names of the packages dpkg has installed; None when there is no dpkg database."""
    path = host.path(DPKG_STATUS)
    try:
        with path.open("rb") as handle:
            data = handle.read(DPKG_STATUS_MAX_BYTES)
    except OSError:
        return None
    return parse_dpkg_status(data.decode("utf-8", errors="replace"))


@dataclass(frozen=True)
class Processes:
    """The names of the running programs, and how many processes were read."""

    names: frozenset[str]
    count: int


def processes(host: Host) -> Processes | None:
    """The programs running on the host: /proc/PID/comm, completed from cmdline's first word
    when the kernel cut it (TASK_COMM_LEN); None when the tree has no /proc with processes."""
    names: set[str] = set()
    count = 0
    for entry in host.glob("/proc", "*"):
        if not entry.name.isdigit():
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


def running_programs(host: Host) -> frozenset[str] | None:
    """The names of the running programs (see `processes`); None when there is no /proc, an
    empty set when it lists no process."""
    if not host.path("/proc").is_dir():
        return None
    found = processes(host)
    return found.names if found else frozenset()


def _first_word(entry: Path) -> str:
    """The program name of /proc/PID/cmdline's first argument ("" when unreadable)."""
    try:
        raw = (entry / "cmdline").read_bytes()[:4096]
    except OSError:
        return ""
    first = raw.split(b"\0", 1)[0].decode("utf-8", errors="replace")
    return first.rsplit("/", 1)[-1].split()[0] if first.strip() else ""
