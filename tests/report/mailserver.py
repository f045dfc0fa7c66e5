"""A real SMTP server for the report's tests: aiosmtpd on 127.0.0.1, keeping what it receives,
and the report settings that send to it."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from tests.conftest import need

try:
    import aiosmtpd.controller as aiosmtpd_controller
except ImportError:  # skipped locally, a failure in CI (see tests/conftest.py)
    aiosmtpd_controller = None  # type: ignore[assignment]


def need_aiosmtpd() -> None:
    need(aiosmtpd_controller is not None, "aiosmtpd is not installed (pip install aiosmtpd)")


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps what it receives and can fail on purpose."""

    messages: list[Any] = field(default_factory=list)
    fail_next: list[str] = field(default_factory=list)  # replies to give instead of 250

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.fail_next:
            return self.fail_next.pop(0)
        self.messages.append(envelope)
        return "250 2.0.0 Message accepted"

    def parsed(self, i: int = -1) -> EmailMessage:
        raw = self.messages[i].original_content or self.messages[i].content
        msg = email.message_from_bytes(raw, policy=default_policy)
        assert isinstance(msg, EmailMessage)
        return msg


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_server(inbox: Inbox, **kwargs: Any) -> Iterator[int]:
    port = free_port()
    controller = aiosmtpd_controller.Controller(inbox, hostname="127.0.0.1", port=port,
                                                **kwargs)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def report_config(tmp: Path, port: int, extra: Sequence[str] = (), **smtp: Any) -> Path:
    """Report settings sending to 127.0.0.1:`port`, the sent-log in `tmp`; `extra` lines are
    appended as they are (other top-level sections)."""
    lines = [
        "mail:",
        '  from: "SOC du Syndicat <soc@syndicat.example>"',
        "  reply_to: soc@syndicat.example",
        "  smtp:",
        "    host: 127.0.0.1",
        f"    port: {port}",
        "    timeout_seconds: 10",
        *(f"    {k}: {v}" for k, v in {"security": "none", **smtp}.items()),
        "contacts:",
        '  syndicate: "Syndicat numérique de l\'Ain"',
        '  phone: "04 00 00 00 00"',
        "  email: soc@syndicat.example",
        f"sent_log: {tmp / 'sent.json'}",
        *extra,
    ]
    path = tmp / "report.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
