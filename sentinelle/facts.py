"""Host facts that head every Report: name, operating system, kernel."""

from __future__ import annotations

import platform
import socket
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
# /proc entries looked at: a server runs a few hundred processes; this bounds the walk.
MAX_PROCESSES = 32768


def dpkg_installed(host: Host) -> frozenset[str] | None:
    """Names of the packages dpkg has installed; None when there is no dpkg database."""
    from sentinelle.policies.conditions import PACKAGE_DB_MAX_BYTES, _dpkg_installed

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
