"""certificates.expiry: certificates made by the real openssl, read by the check's DER reader
(checked against `openssl x509 -enddate`), laid out as Debian keeps them (the CA store's links,
hash links, the bundle, Let's Encrypt's live directory), and a real TLS server (openssl
s_server) in a network namespace this test creates, with a certificate that expires in 5 days.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sentinelle.checks.base import CheckContext
from sentinelle.checks.certificates.checks import CertificateExpiry
from sentinelle.checks.certificates.x509 import CertificateError, parse_der, pem_certificates
from sentinelle.config import Config
from sentinelle.host import Host
from sentinelle.model import Finding, Status
from tests.checks.netns import veth_namespace
from tests.checks.texts import RULES, remedy, rendered, summary
from tests.conftest import need_root, need_tool

REPO = Path(__file__).resolve().parents[3]


def make_cert(directory: Path, name: str, days: int, cn: str) -> Path:
    """A self-signed certificate made by the real openssl, valid `days` days from now."""
    need_tool("openssl")
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                    str(days), "-subj", f"/O=Mairie/CN={cn}", "-keyout", str(key), "-out",
                    str(cert)], check=True, capture_output=True, timeout=60)
    return cert


def openssl_enddate(cert: Path) -> datetime:
    out = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-in", str(cert)],
                         capture_output=True, text=True, check=True).stdout
    text = out.strip().split("=", 1)[1]  # notAfter=Dec  7 12:00:00 2026 GMT
    return datetime.strptime(" ".join(text.split()), "%b %d %H:%M:%S %Y %Z").replace(tzinfo=UTC)


def run(host: Host, **params: Any) -> list[Finding]:
    meta = RULES.checks[CertificateExpiry.id]
    check = CertificateExpiry(meta, {**meta.params, **params}, CheckContext(Config(), RULES))
    findings = list(check.run(host))
    for f in findings:
        rendered(f)
    return findings


def tree_host(root: Path, now: datetime | None = None) -> Host:
    return Host(root=root, clock=lambda: now or datetime.now(UTC))


def test_the_der_reader_agrees_with_openssl(tmp_path: Path) -> None:
    cert = make_cert(tmp_path, "site", 5, "mairie.example.fr")
    (der,) = pem_certificates(cert.read_bytes())
    parsed = parse_der(der)
    assert parsed.not_after == openssl_enddate(cert)
    assert parsed.subject == "mairie.example.fr"
    with pytest.raises(CertificateError):
        parse_der(der[:40])


def debian_tree(root: Path) -> Path:
    """/etc/ssl/certs as ca-certificates leaves it, a site certificate among them."""
    store = root / "usr/share/ca-certificates/mozilla"
    ca = make_cert(store, "Old_Root_CA", 2, "Old Root CA")
    ca.rename(store / "Old_Root_CA.crt")
    certs = root / "etc/ssl/certs"
    certs.mkdir(parents=True)
    (certs / "Old_Root_CA.pem").symlink_to("/usr/share/ca-certificates/mozilla/Old_Root_CA.crt")
    (certs / "a1b2c3d4.0").symlink_to("Old_Root_CA.pem")
    bundle = (store / "Old_Root_CA.crt").read_bytes() * 2
    (certs / "ca-certificates.crt").write_bytes(bundle)
    make_cert(certs, "ssl-cert-snakeoil", 3650, "mairie")
    (certs / "ssl-cert-snakeoil.key").unlink()
    return root


def test_the_ca_store_is_left_out_and_a_long_certificate_passes(tmp_path: Path) -> None:
    (f,) = run(tree_host(debian_tree(tmp_path)))
    assert f.status is Status.PASS and f.args == {"count": 1, "days": 21}
    assert [c["where"] for c in f.evidence["checked"]] == ["/etc/ssl/certs/ssl-cert-snakeoil.pem"]


def test_a_lets_encrypt_certificate_expiring_and_expired(tmp_path: Path) -> None:
    root = debian_tree(tmp_path)
    live = root / "etc/letsencrypt/live/mairie.example.fr"
    cert = make_cert(live, "cert", 5, "mairie.example.fr")
    (live / "fullchain.pem").write_bytes(cert.read_bytes() * 2)
    (f,) = run(tree_host(root))
    assert f.status is Status.FAIL and f.message == "certificates.expiry.expiring"
    assert f.args["where"] == "/etc/letsencrypt/live/mairie.example.fr/cert.pem"
    assert 4 * 86400 < f.args["remaining"] <= 5 * 86400
    assert summary(f, "fr").startswith("Le certificat « mairie.example.fr » de /etc/letsencrypt")
    assert "certbot renew" in remedy(f, "fr")
    later = datetime.now(UTC) + timedelta(days=10)
    (f,) = run(tree_host(root, later))
    assert f.status is Status.FAIL and f.message == "certificates.expiry.expired"
    assert run(tree_host(root), warn_days=3)[0].status is Status.PASS


def test_nothing_and_unreadable(tmp_path: Path) -> None:
    (f,) = run(tree_host(tmp_path / "empty"))
    assert f.status is Status.PASS and f.message == "certificates.expiry.none"
    live = tmp_path / "odd/etc/letsencrypt/live/site"
    (live / "cert.pem").mkdir(parents=True)  # not a file: it cannot be read
    (f,) = run(tree_host(tmp_path / "odd"))
    assert f.status is Status.SKIP and f.message == "certificates.expiry.unreadable"


def test_a_real_tls_server_in_a_namespace_expiring_in_5_days(tmp_path: Path) -> None:
    """The agent, inside a namespace this test creates, finds the listener, asks it for its
    certificate on loopback and reports it."""
    need_root()
    need_tool("ip")
    cert = make_cert(tmp_path, "tls", 5, "portail.mairie.test")
    with veth_namespace() as ns:
        ns.run(["ip", "link", "set", "lo", "up"])
        server = ns.popen(["openssl", "s_server", "-accept", "127.0.0.1:8443", "-cert",
                           str(cert), "-key", str(tmp_path / "tls.key"), "-www", "-quiet"])
        deadline = 50
        while deadline:  # bounded: at most 5 s for s_server to listen
            deadline -= 1
            if "0100007F:20FB" in ns.run(["cat", "/proc/net/tcp"]):
                break
            select.select([], [], [], 0.1)
        assert server.poll() is None
        out = ns.run([sys.executable, "-m", "sentinelle.cli", "check", "--only",
                      "certificates", "--format", "json"], timeout=90)
    results = json.loads(out)["results"]
    served = [r for r in results if r.get("key", "").startswith("127.0.0.1:8443/tcp")]
    assert served and served[0]["status"] == "fail", results
    assert served[0]["message"] == "certificates.expiry.expiring"
    assert served[0]["args"]["subject"] == "portail.mairie.test"
    assert os.path.exists(cert)


def test_only_the_listed_tls_ports_are_asked_for_a_handshake(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A service on another port (a database, a control port) never gets a TLS handshake it
    does not expect; the listed ones do, UDP never."""
    from sentinelle.checks.certificates import sources
    from sentinelle.checks.ports.inventory import ListeningSocket

    asked: list[int] = []

    def handshake(address: str, port: int, timeout: float) -> bytes | None:
        asked.append(port)
        return None

    monkeypatch.setattr(sources, "tls_certificate", handshake)
    sockets = [ListeningSocket("0.0.0.0", port, proto, ("x",), "network")
               for port, proto in ((5432, "tcp"), (443, "tcp"), (2024, "tcp"), (8443, "tcp"),
                                   (443, "udp"))]
    ports = RULES.checks[CertificateExpiry.id].params["ports"]
    _, tried = sources.served_certificates(sockets, ports, 32, 1.0, 20)
    assert asked == [443, 8443] and tried == 2
