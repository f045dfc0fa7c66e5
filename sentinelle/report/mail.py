"""The email: MIME assembly, SMTP sending with bounded retries, and the sent-log.

Message structure (what webmail and Outlook show best):

    multipart/mixed
    ├── multipart/alternative
    │   ├── text/plain                      the text version
    │   └── multipart/related
    │       ├── text/html                   the page, <img src="cid:…">
    │       └── image/png (inline, cid)     the 12-month chart
    └── application/pdf (attachment)        the same page, to print or forward
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import smtplib
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses, make_msgid
from pathlib import Path
from typing import Any

from sentinelle.errors import SentinelleError
from sentinelle.report.config import SmtpSettings


class MailError(SentinelleError):
    """A message could not be sent (after the retries, for transient failures)."""


class SentLogBusy(SentinelleError):
    """Another sending run holds the sent-log."""


def _domain(sender: str) -> str:
    addresses = getaddresses([sender])
    address = addresses[0][1] if addresses else ""
    return address.rpartition("@")[2] or "localhost"


def new_cid(sender: str) -> str:
    """A Content-ID for the chart, unique worldwide (without the angle brackets)."""
    return make_msgid("chart", _domain(sender))[1:-1]


def build_message(
    *,
    subject: str,
    sender: str,
    recipients: Sequence[str],
    text: str,
    html: str,
    chart_png: bytes,
    chart_cid: str,
    pdf: bytes,
    pdf_name: str,
    lang: str,
    reply_to: str | None = None,
    now: datetime | None = None,
) -> EmailMessage:
    """The monthly email; `html` must show the chart as `cid:{chart_cid}`."""
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    msg["Message-ID"] = make_msgid("sentinelle", _domain(sender))
    # RFC 3834: vacation responders and the like should not answer an automatic message.
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    html_part = next(part for part in msg.iter_parts() if part.get_content_subtype() == "html")
    assert isinstance(html_part, EmailMessage)
    html_part.add_related(
        chart_png,
        maintype="image",
        subtype="png",
        cid=f"<{chart_cid}>",
        disposition="inline",
        filename="evolution.png",
    )
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=pdf_name)
    # Last: building the parts moves or drops the Content-* headers set before.
    msg["Content-Language"] = lang
    return msg


@dataclass(frozen=True)
class SendResult:
    """What the relay accepted."""

    attempts: int
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)


def _transient(exc: BaseException) -> bool:
    """Worth another try: a 4xx reply, a dropped or refused connection, a timeout."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(400 <= c < 500 for c in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exc, ssl.SSLCertVerificationError | smtplib.SMTPNotSupportedError):
        return False  # a configuration problem: retrying cannot help
    return isinstance(exc, OSError)  # refused, reset, unreachable, timeout


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        message = exc.smtp_error.decode(errors="replace") if isinstance(
            exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {message}".strip()
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "every recipient refused: " + ", ".join(
            f"{addr} ({code})" for addr, (code, _) in exc.recipients.items()
        )
    return f"{type(exc).__name__}: {exc}"


class SmtpSender:
    """Sends messages through one relay: STARTTLS, implicit TLS or plain, optional login,
    `retries` further attempts after a transient failure with exponential backoff."""

    def __init__(
        self,
        settings: SmtpSettings,
        source: str = "(report settings)",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._password = settings.password(source)
        self._sleep = sleep

    def _context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.settings.ca_bundle)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.security == "tls":
            return smtplib.SMTP_SSL(
                s.host, s.port, timeout=s.timeout_seconds, context=self._context()
            )
        return smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)

    def _attempt(self, msg: EmailMessage) -> dict[str, tuple[int, str]]:
        s = self.settings
        with self._connect() as smtp:
            smtp.ehlo()
            if s.security == "starttls":
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if s.username is not None and self._password is not None:
                _login(smtp, s.username, self._password)
            refused = smtp.send_message(msg)
        return {addr: (code, _text(reply)) for addr, (code, reply) in refused.items()}

    def send(self, msg: EmailMessage) -> SendResult:
        attempts = 0
        while True:
            attempts += 1
            try:
                return SendResult(attempts, self._attempt(msg))
            except (smtplib.SMTPException, OSError) as exc:
                where = f"{self.settings.host}:{self.settings.port}"
                if not _transient(exc):
                    raise MailError(f"{where} refused the message: {_describe(exc)}") from exc
                if attempts > self.settings.retries:
                    raise MailError(
                        f"{where}: gave up after {attempts} attempt(s): {_describe(exc)}"
                    ) from exc
                self._sleep(self.settings.backoff_seconds * 2 ** (attempts - 1))


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """AUTH PLAIN with UTF-8 credentials (RFC 4954) when the relay offers it: one exchange,
    and non-ASCII passwords work (smtplib's login encodes ASCII only and, after a refusal,
    tries the next mechanism). Else smtplib's login and its mechanisms."""
    mechanisms = smtp.esmtp_features.get("auth", "").upper().split()
    if "PLAIN" not in mechanisms:
        smtp.login(user, password)
        return
    token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    code, reply = smtp.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def _text(reply: Any) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


class SentLog:
    """Which month's summary went to which commune: a JSON file, replaced atomically.

    `holding()` takes an exclusive lock for a whole sending run, so two runs (a timer and a
    person, say) can never both send the same month.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_fd: int | None = None

    @contextlib.contextmanager
    def holding(self) -> Iterator[SentLog]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(self.path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SentLogBusy(
                f"another run is sending right now (it holds {self.path}.lock); try again later"
            ) from None
        self._lock_fd = fd
        try:
            yield self
        finally:
            self._lock_fd = None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"version": 1, "sent": {}}
        except (OSError, ValueError) as exc:
            raise SentinelleError(f"the sent-log {self.path} is unreadable: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("sent"), dict):
            raise SentinelleError(f"the sent-log {self.path} is not a Sentinelle sent-log")
        return data

    def get(self, month: str, commune: str) -> dict[str, Any] | None:
        entry = self._read()["sent"].get(month, {}).get(commune)
        return dict(entry) if isinstance(entry, dict) else None

    def record(self, month: str, commune: str, entry: dict[str, Any]) -> None:
        """Add one sending; the file is replaced in one step, never left half-written."""
        if self._lock_fd is None:
            raise SentinelleError("record() outside holding(): the sent-log is not locked")
        data = self._read()
        data["sent"].setdefault(month, {})[commune] = entry
        fd, tmp = tempfile.mkstemp(prefix=".sent-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, ensure_ascii=False, indent=1, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself survives a crash
        finally:
            os.close(dir_fd)
