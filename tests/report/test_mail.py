"""Sending the monthly email to a real SMTP server (aiosmtpd on 127.0.0.1): MIME structure and
encodings of what arrives, STARTTLS and implicit TLS with a throwaway certificate, login,
retries on transient failures, and the sent-log that stops a month from going out twice."""

from __future__ import annotations

import argparse
import subprocess
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from sentinelle.report.arguments import add_report_parser
from sentinelle.report.cli import MonthlyRun
from sentinelle.report.config import SmtpSettings
from sentinelle.report.mail import (
    MailError,
    SentLog,
    SentLogBusy,
    SmtpSender,
    build_message,
)
from tests.conftest import need_tool
from tests.report.mailserver import (
    Inbox,
    free_port,
    need_aiosmtpd,
    report_config,
    smtp_server,
)
from tests.report.scenario import NOW, Scenario

try:
    import aiosmtpd.smtp as aiosmtpd_smtp
except ImportError:  # skipped locally, a failure in CI (see tests/conftest.py)
    aiosmtpd_smtp = None  # type: ignore[assignment]


@pytest.fixture(autouse=True)
def _aiosmtpd() -> None:
    need_aiosmtpd()

USER, PASSWORD = "sentinelle", "mot-de-passe-très-secret"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                   auth_data: Any) -> Any:
    ok = (isinstance(auth_data, aiosmtpd_smtp.LoginPassword)
          and auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode())
    # handled=False: aiosmtpd itself answers 535 to a refusal.
    return aiosmtpd_smtp.AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1, made by openssl."""
    openssl = need_tool("openssl")
    d = tmp_path_factory.mktemp("pki")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


def _server_tls(certificate: tuple[Path, Path]) -> Any:
    import ssl

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(certificate[0]), str(certificate[1]))
    return ctx


def _message(to: tuple[str, ...] = ("maire@saint-exemple.fr",)) -> EmailMessage:
    return build_message(
        subject="Sécurité informatique — Saint-Exemple : point de mars 2026, niveau A",
        sender="SOC du Syndicat <soc@syndicat.example>",
        recipients=to,
        text="Les données de la semaine dernière sont-elles récupérables ? OUI\n",
        html='<p>Évolution</p><img src="cid:chart@syndicat.example">',
        chart_png=b"\x89PNG\r\n\x1a\n" + b"0" * 64,
        chart_cid="chart@syndicat.example",
        pdf=b"%PDF-1.4 test",
        pdf_name="point-securite-01001-2026-03.pdf",
        lang="fr",
    )


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    add_report_parser(parser.add_subparsers(dest="command"))
    run = MonthlyRun(parser.parse_args(["report", "monthly", *argv]), now=NOW)
    try:
        return run.run()
    finally:
        run.close()


def _walk(part: EmailMessage, depth: int = 0) -> list[str]:
    out = ["  " * depth + part.get_content_type()]
    if part.is_multipart():
        for sub in part.iter_parts():
            assert isinstance(sub, EmailMessage)
            out += _walk(sub, depth + 1)
    return out


def test_monthly_send_delivers_a_complete_french_email(
    scenario: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    need_tool("chromium")
    inbox = Inbox()
    with smtp_server(inbox) as port:
        config = report_config(tmp_path, port)
        rc = _run("--month", "2026-03", "--store", scenario.store_url, "--report-config",
                  str(config), "--send")
    out = capsys.readouterr().out
    assert rc == 0, out
    # Communes with a mayor address got one email each; the others are named as skipped.
    assert "01010 Les Attentes : aucune adresse e-mail de maire, commune ignorée" in out
    by_rcpt = {tuple(e.rcpt_tos): e for e in inbox.messages}
    assert set(by_rcpt) == {
        ("maire@saint-exemple.fr", "mairie@saint-exemple.fr"),
        ("maire@bourg-temoin.fr",),
        ("maire@val-silencieux.fr",),
        ("maire@nouveau-village.fr",),
    }
    i = inbox.messages.index(by_rcpt[("maire@saint-exemple.fr", "mairie@saint-exemple.fr")])
    raw = inbox.messages[i].original_content
    msg = inbox.parsed(i)
    assert inbox.messages[i].mail_from == "soc@syndicat.example"
    # Structure: mixed( alternative( plain, related( html, png ) ), pdf )
    assert _walk(msg) == [
        "multipart/mixed",
        "  multipart/alternative",
        "    text/plain",
        "    multipart/related",
        "      text/html",
        "      image/png",
        "  application/pdf",
    ]
    # Accents: RFC 2047 on the wire, intact once decoded.
    header_block = raw.split(b"\r\n\r\n", 1)[0]
    assert b"Subject: =?utf-8?" in header_block
    assert msg["Subject"] == ("Sécurité informatique — Saint-Exemple : point de mars 2026, "
                              "niveau B")
    assert "Secrétariat" in str(msg["To"]) and "maire@saint-exemple.fr" in str(msg["To"])
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Reply-To"] == "soc@syndicat.example"
    alternative = next(msg.iter_parts())
    plain, related = list(alternative.iter_parts())  # type: ignore[union-attr]
    assert plain["Content-Transfer-Encoding"] == "quoted-printable"
    text = plain.get_content()  # type: ignore[union-attr]
    assert "Données de la semaine dernière récupérables : OUI" in text
    html_part, png = list(related.iter_parts())  # type: ignore[union-attr]
    html = html_part.get_content()  # type: ignore[union-attr]
    cid = png["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in html
    assert png.get_content_disposition() == "inline"
    assert png.get_content().startswith(b"\x89PNG")  # type: ignore[union-attr]
    assert "Sécurité" in html and "Les trois actions prioritaires" in html
    pdf = next(iter(msg.iter_attachments()))
    assert pdf.get_filename() == "point-securite-01001-2026-03.pdf"
    assert pdf.get_content().startswith(b"%PDF-")  # type: ignore[union-attr]
    # The month is recorded as sent, per commune, with its recipients.
    log = SentLog(tmp_path / "sent.json")
    entry = log.get("2026-03", "01001")
    assert entry is not None and entry["grade"] == "B" and len(entry["recipients"]) == 2


def test_a_month_is_not_sent_twice_unless_forced(
    scenario: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    need_tool("chromium")
    inbox = Inbox()
    with smtp_server(inbox) as port:
        config = str(report_config(tmp_path, port))
        common = ("--month", "2026-03", "--store", scenario.store_url, "--report-config",
                  config, "--send", "--commune", "01003")
        assert _run(*common) == 0
        assert _run(*common) == 0
        assert "01003 Bourg-Témoin : déjà envoyé le " in capsys.readouterr().out
        assert len(inbox.messages) == 1
        assert _run(*common, "--force") == 0
        assert len(inbox.messages) == 2
        # Another month is another sending.
        assert _run("--month", "2026-02", *common[2:]) == 0
        assert len(inbox.messages) == 3
        assert "février 2026" in str(inbox.parsed()["Subject"])


def test_english_email(scenario: Scenario, tmp_path: Path) -> None:
    need_tool("chromium")
    inbox = Inbox()
    with smtp_server(inbox) as port:
        config = str(report_config(tmp_path, port))
        assert _run("--month", "2026-03", "--store", scenario.store_url, "--report-config",
                    config, "--send", "--commune", "01001", "--lang", "en") == 0
    msg = inbox.parsed()
    assert msg["Subject"] == "IT security — Saint-Exemple: March 2026 summary, grade B"
    assert msg["Content-Language"] == "en"
    assert next(iter(msg.iter_attachments())).get_filename() == (
        "security-summary-01001-2026-03.pdf"
    )


def test_starttls_and_login(certificate: tuple[Path, Path], tmp_path: Path) -> None:
    inbox = Inbox()
    password = tmp_path / "password"
    password.write_text(PASSWORD + "\n", encoding="utf-8")
    with smtp_server(inbox, tls_context=_server_tls(certificate), require_starttls=True,
                     authenticator=_authenticator, auth_required=True) as port:
        settings = SmtpSettings(host="127.0.0.1", port=port, security="starttls",
                                username=USER, password_file=str(password),
                                ca_bundle=str(certificate[0]), retries=0, timeout_seconds=10)
        result = SmtpSender(settings).send(_message())
        assert result.attempts == 1 and result.refused == {}
        assert len(inbox.messages) == 1
        # A wrong password is a permanent refusal: no retry, a clear error.
        password.write_text("faux", encoding="utf-8")
        sleeps: list[float] = []
        wrong = SmtpSender(replace(settings, retries=3), sleep=sleeps.append)
        with pytest.raises(MailError, match="refused the message: 535"):
            wrong.send(_message())
        assert sleeps == []
        # Without STARTTLS the server refuses to go on; so does the client without the CA.
        with pytest.raises(MailError):
            SmtpSender(replace(settings, security="none", username=None,
                               password_file=None)).send(_message())
        with pytest.raises(MailError, match="refused the message"):
            SmtpSender(replace(settings, ca_bundle=None, username=None, password_file=None,
                               retries=2), sleep=sleeps.append).send(_message())
        assert sleeps == []  # a certificate that does not verify is not retried
    assert len(inbox.messages) == 1


def test_implicit_tls(certificate: tuple[Path, Path]) -> None:
    inbox = Inbox()
    with smtp_server(inbox, ssl_context=_server_tls(certificate)) as port:
        settings = SmtpSettings(host="127.0.0.1", port=port, security="tls",
                                ca_bundle=str(certificate[0]), retries=0, timeout_seconds=10)
        assert SmtpSender(settings).send(_message()).attempts == 1
    assert inbox.parsed()["Subject"].startswith("Sécurité informatique")


def test_transient_failures_are_retried_with_backoff() -> None:
    inbox = Inbox(fail_next=["451 4.3.0 Mail server temporarily busy",
                             "421 4.7.0 Try again later"])
    sleeps: list[float] = []
    with smtp_server(inbox) as port:
        settings = SmtpSettings(host="127.0.0.1", port=port, security="none", retries=3,
                                backoff_seconds=0.5, timeout_seconds=10)
        result = SmtpSender(settings, sleep=sleeps.append).send(_message())
    assert result.attempts == 3
    assert sleeps == [0.5, 1.0]
    assert len(inbox.messages) == 1


def test_retries_are_bounded_and_permanent_errors_are_not_retried() -> None:
    sleeps: list[float] = []
    closed = SmtpSettings(host="127.0.0.1", port=free_port(), security="none", retries=2,
                          backoff_seconds=1.0, timeout_seconds=5)
    with pytest.raises(MailError, match="gave up after 3 attempt"):
        SmtpSender(closed, sleep=sleeps.append).send(_message())
    assert sleeps == [1.0, 2.0]
    inbox = Inbox(fail_next=["554 5.7.1 Rejected for policy reasons"])
    sleeps.clear()
    with smtp_server(inbox) as port:
        settings = replace(closed, port=port)
        with pytest.raises(MailError, match="554"):
            SmtpSender(settings, sleep=sleeps.append).send(_message())
    assert sleeps == [] and inbox.messages == []


def test_failed_sending_is_not_recorded_and_exit_code_says_so(
    scenario: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    need_tool("chromium")
    config = str(report_config(tmp_path, free_port(), retries=0))
    rc = _run("--month", "2026-03", "--store", scenario.store_url, "--report-config", config,
              "--send", "--commune", "01003")
    assert rc == 1
    assert "NON ENVOYÉ : " in capsys.readouterr().err
    assert SentLog(tmp_path / "sent.json").get("2026-03", "01003") is None


def test_sent_log_is_locked_during_a_run_and_written_atomically(tmp_path: Path) -> None:
    log = SentLog(tmp_path / "state" / "sent.json")
    other = SentLog(tmp_path / "state" / "sent.json")
    with log.holding():
        with pytest.raises(SentLogBusy), other.holding():
            pass
        log.record("2026-03", "01001", {"sent_at": "2026-04-01T07:00:00+00:00"})
    # No temporary file is left behind; the lock is free again.
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == [
        "sent.json", "sent.json.lock"
    ]
    with other.holding():
        assert other.get("2026-03", "01001") == {"sent_at": "2026-04-01T07:00:00+00:00"}
        assert other.get("2026-03", "01002") is None
