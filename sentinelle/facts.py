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
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        text = host.read_text(path, default="")
        if text:
            return parse_os_release(text)
    return {}


def host_facts(host: Host) -> dict[str, Any]:
    """Facts for the Report header; on a fixture root, the hostname comes from etc/hostname."""
    osr = os_release(host)
    if host.is_live:
        hostname = socket.gethostname()
        kernel = platform.release()
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
