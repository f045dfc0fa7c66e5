"""Clear-text services: telnet, FTP without TLS, rsh, TFTP installed or listening.

What counts is data (rules/cleartext_services.yaml). Installed packages come from dpkg's status
file or rpm (packages), listening sockets from psutil or /proc/net (ports.inventory). vsftpd is
clear-text unless its own configuration enforces TLS for logins and data.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sentinelle.checks.base import Check, register
from sentinelle.checks.ports.inventory import ListeningSocket, collect_inventory
from sentinelle.checks.services.catalog import Software, all_packages, load_software
from sentinelle.checks.services.packages import Packages, PackagesUnseen, installed_packages
from sentinelle.model import Finding, Status

if TYPE_CHECKING:
    from sentinelle.host import Host

CATALOG = "cleartext_services"
VSFTPD_MAX_BYTES = 1 << 20


def vsftpd_tls(text: str) -> dict[str, str]:
    """The TLS settings of a vsftpd.conf (`key=value`, no spaces, `#` comments; the last
    value wins), with vsftpd's defaults for those not set."""
    settings = {"ssl_enable": "NO", "force_local_logins_ssl": "YES",
                "force_local_data_ssl": "YES"}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        if key in settings:
            settings[key] = value.strip().upper()
    return settings


def enforces_tls(settings: dict[str, str]) -> bool:
    return (settings["ssl_enable"] == "YES" and settings["force_local_logins_ssl"] != "NO"
            and settings["force_local_data_ssl"] != "NO")


@register
class CleartextServices(Check):
    """No clear-text network service (telnet, FTP without TLS, rsh, TFTP) is installed or
    listening."""

    id = "services.cleartext"
    platforms = frozenset({"linux"})

    def run(self, host: Host) -> Iterable[Finding]:
        catalog = load_software(self.context.rules, CATALOG, "services")
        packages: Packages | None = None
        unseen = ""
        try:
            packages = installed_packages(host, all_packages(catalog))
        except PackagesUnseen as exc:
            unseen = str(exc)
        inventory = collect_inventory(host)
        sockets = inventory.sockets if inventory is not None else ()
        found = 0
        for software in catalog:
            finding = self._software(host, software, packages, sockets)
            if finding is not None:
                found += 1
                yield finding
        if found:
            return
        if packages is None or inventory is None:
            reasons = [r for r in (unseen, "" if inventory else "no /proc/net files") if r]
            yield self.say(Status.SKIP, "unseen", {}, {"reason": "; ".join(reasons)})
            return
        yield self.say(Status.PASS, "none", {"manager": packages.manager}, {
            "manager": packages.manager, "socket_source": inventory.source,
            "looked_for": [s.name for s in catalog]})

    def _software(self, host: Host, software: Software, packages: Packages | None,
                  sockets: Iterable[ListeningSocket]) -> Finding | None:
        installed = sorted(p for p in software.packages if packages and p in packages.installed)
        tls: dict[str, Any] = {}
        if software.tls_package in installed:
            where, settings = self._tls_settings(host, software)
            tls = {"package": software.tls_package, "file": where, **settings}
            if enforces_tls(settings):
                installed.remove(software.tls_package)
                tls["enforced"] = True
        listening = [s for s in sockets if (s.port, s.protocol) in software.ports]
        if tls.get("enforced") and not installed:
            # The TLS-only server owns the port: its sockets are not clear-text.
            listening = [s for s in listening
                         if s.processes and software.tls_package not in s.processes]
        if not installed and not listening:
            return None
        args = {"service": software.name, "packages": installed,
                "addresses": [s.describe() for s in listening]}
        evidence: dict[str, Any] = {
            **args, "manager": packages.manager if packages else "",
            "ports": [f"{port}/{protocol}" for port, protocol in software.ports],
            "scopes": sorted({s.scope for s in listening})}
        if tls:
            evidence["tls"] = tls
        if installed and listening:
            case = "installed_listening"
        elif installed:
            case = "installed"
        else:
            case = "listening"
        return self.say(Status.FAIL, case, args, evidence, key=software.name)

    @staticmethod
    def _tls_settings(host: Host, software: Software) -> tuple[str, dict[str, str]]:
        """The first of the package's configuration files that exists, and its settings
        (the defaults, with no file at all)."""
        for path in software.tls_config:
            if host.path(path).is_file():
                text = host.read_text(path)[:VSFTPD_MAX_BYTES]
                return path, vsftpd_tls(text)
        return "", vsftpd_tls("")
