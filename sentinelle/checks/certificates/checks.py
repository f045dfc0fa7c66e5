"""Certificates that expire soon or have expired: those this machine serves on its
listening TLS ports, and those it keeps on disk (sources)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sentinelle.checks.base import Check, register
from sentinelle.checks.certificates.sources import (
    Found,
    Unreadable,
    certificate_files,
    served_certificates,
)
from sentinelle.checks.certificates.x509 import CertificateError, parse_der
from sentinelle.model import Finding, Status
from sentinelle.params import param

if TYPE_CHECKING:
    from sentinelle.host import Host

DAY = 86400
MAX_LISTED = 64


@register
class CertificateExpiry(Check):
    """No certificate served or kept by this machine expires within the warning window (or
    has expired)."""

    id = "certificates.expiry"
    platforms = frozenset({"linux"})

    @dataclass(frozen=True)
    class Params:
        warn_days: int = param(minimum=1, maximum=365,
                               doc="days before expiry when a certificate is reported")
        directories: tuple[str, ...] = param(doc="directories of certificates to read")
        trust_stores: tuple[str, ...] = param(
            doc="where the CA store's certificates live (links into them are left out)")
        ports: tuple[str, ...] = param(doc="listening TCP ports asked for a TLS handshake")
        max_ports: int = param(minimum=0, maximum=256, doc="listening ports tried at most")
        connect_timeout_seconds: float = param(minimum=0.1, maximum=10,
                                               doc="per port: connection and handshake")
        budget_seconds: float = param(minimum=1, maximum=120, doc="all ports together")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        p = self.params
        found: list[Found] = []
        unreadable: list[Unreadable] = []
        for item in certificate_files(host, p.directories, p.trust_stores):
            if isinstance(item, Found):
                found.append(item)
            else:
                unreadable.append(item)
        tried = 0
        if host.is_live:
            from sentinelle.checks.ports.inventory import collect_inventory

            inventory = collect_inventory(host)
            if inventory is not None:
                served, tried = served_certificates(
                    inventory.sockets, p.ports, p.max_ports, p.connect_timeout_seconds,
                    p.budget_seconds)
                found.extend(served)
        now = host.now()
        seen: set[tuple[str, str]] = set()
        problems = 0
        checked = 0
        unparsed: list[str] = []
        listed: list[dict[str, str]] = []
        for item in found:
            try:
                cert = parse_der(item.der)
            except CertificateError:
                unparsed.append(item.where)
                continue
            if (cert.sha256, item.where) in seen:
                continue
            seen.add((cert.sha256, item.where))
            checked += 1
            if len(listed) < MAX_LISTED:
                listed.append({"where": item.where, "subject": cert.subject,
                               "not_after": cert.not_after.isoformat()})
            left = (cert.not_after - now).total_seconds()
            if left > p.warn_days * DAY:
                continue
            problems += 1
            args = {"where": item.where, "subject": cert.subject,
                    "not_after": cert.not_after.isoformat().replace("+00:00", "Z")}
            evidence: dict[str, Any] = {**args, "sha256": cert.sha256,
                                        "warn_days": p.warn_days}
            if left <= 0:
                yield self.say(Status.FAIL, "expired", args, evidence, key=item.where)
            else:
                yield self.say(Status.FAIL, "expiring", {**args, "remaining": int(left)},
                               evidence, key=item.where)
        for item in unreadable[:MAX_LISTED]:
            yield self.say(Status.SKIP, "unreadable", {"where": item.where},
                           {"reason": f"{item.where}: {item.reason}"}, key=item.where)
        if problems:
            return
        summary: dict[str, Any] = {"certificates": checked, "checked": listed,
                                   "ports_tried": tried,
                                   "unparsed": unparsed[:MAX_LISTED], "warn_days": p.warn_days}
        if checked:
            yield self.say(Status.PASS, "valid", {"count": checked, "days": p.warn_days},
                           summary)
        elif not unreadable:
            yield self.say(Status.PASS, "none", {}, summary)
