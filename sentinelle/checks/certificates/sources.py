"""Where the certificates come from: files this machine keeps, and the TLS ports it serves.

Files: Let's Encrypt's live certificates (cert.pem, the site's own, not its chain) and the
single certificates of the certificate directories, leaving out the CA store (links into
/usr/share/ca-certificates and the like, hash-named links, bundles of many certificates).

Ports: each TCP socket this host listens on gets a TLS handshake on its own address (a wildcard
address on loopback), with a short timeout and without verifying anything: the check only
reads the certificate the server presents. Only on the live host, only its own sockets.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import ssl
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sentinelle.checks.certificates.x509 import pem_certificates

if TYPE_CHECKING:
    from sentinelle.checks.ports.inventory import ListeningSocket
    from sentinelle.host import Host

LETSENCRYPT_LIVE = "/etc/letsencrypt/live"
MAX_FILES = 1024
MAX_FILE_BYTES = 1 << 20
_HASH_LINK = re.compile(r"^[0-9a-f]{8}\.r?[0-9]+$")


@dataclass(frozen=True)
class Found:
    """One certificate's DER bytes and where it was found (a path, or an endpoint)."""

    where: str
    der: bytes


@dataclass(frozen=True)
class Unreadable:
    """A certificate file that could not be read, and why."""

    where: str
    reason: str


def _link_target(host: Host, path: Path, shown: str) -> str | None:
    """Where a symlink points, as a path of the inspected system; None when not a link."""
    if not path.is_symlink():
        return None
    target = os.readlink(path)
    if not target.startswith("/"):
        target = os.path.normpath(os.path.join(os.path.dirname(shown), target))
    return target


def certificate_files(host: Host, directories: Sequence[str],
                      trust_stores: Sequence[str]) -> Iterator[Found | Unreadable]:
    """The certificates on disk: one per Let's Encrypt live site, and every single-certificate
    file of `directories` that is not a link into one of `trust_stores`."""
    seen = 0
    candidates: list[tuple[str, bool]] = []  # (path, is a Let's Encrypt live cert)
    for site in sorted(host.glob(LETSENCRYPT_LIVE, "*")):
        if site.is_dir():
            candidates.append((f"{LETSENCRYPT_LIVE}/{site.name}/cert.pem", True))
    for directory in directories:
        for entry in sorted(host.glob(directory, "*")):
            if _HASH_LINK.match(entry.name) or entry.is_dir():
                continue
            shown = f"{directory.rstrip('/')}/{entry.name}"
            target = _link_target(host, entry, shown)
            if target is not None and any(target.startswith(store.rstrip("/") + "/")
                                          for store in trust_stores):
                continue
            candidates.append((shown, False))
    for shown, live in candidates:
        if seen >= MAX_FILES:
            break
        seen += 1
        try:
            with host.path(shown).open("rb") as stream:
                data = stream.read(MAX_FILE_BYTES)
        except FileNotFoundError:
            continue  # a dangling link: nothing is served from it
        except OSError as exc:
            yield Unreadable(shown, exc.strerror or type(exc).__name__)
            continue
        ders = pem_certificates(data, limit=2)
        if not ders or (len(ders) > 1 and not live):
            continue  # not a certificate (a key, a CSR), or a bundle of CAs
        yield Found(shown, ders[0])


def connect_address(address: str) -> str:
    """The address to reach a socket listening on `address` from this host."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.is_unspecified:
        return "127.0.0.1" if ip.version == 4 else "::1"
    return address


def tls_certificate(address: str, port: int, timeout: float) -> bytes | None:
    """The certificate the server at address:port presents in a TLS handshake; None when it
    does not speak TLS (or not in time)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # Read any server's certificate, an old one's too: nothing is trusted or sent.
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    context.set_ciphers("ALL:@SECLEVEL=0")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as raw:
            raw.settimeout(timeout)
            raw.connect((address, port))
            with context.wrap_socket(raw, do_handshake_on_connect=True) as tls:
                return tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError, ValueError):
        return None


def served_certificates(sockets: Sequence[ListeningSocket], ports: Sequence[str],
                        max_ports: int, timeout: float, budget: float
                        ) -> tuple[list[Found], int]:
    """The certificates of the listening TCP sockets on `ports` (at most `max_ports`, within
    `budget` seconds), and how many sockets were tried."""
    found: list[Found] = []
    tried = 0
    started = time.monotonic()
    for s in sockets:
        if s.protocol != "tcp" or str(s.port) not in ports:
            continue
        if tried >= max_ports or time.monotonic() - started > budget:
            break
        tried += 1
        try:
            address = connect_address(s.address)
        except ValueError:
            continue
        der = tls_certificate(address, s.port, timeout)
        if der:
            found.append(Found(s.describe(), der))
    return found, tried
