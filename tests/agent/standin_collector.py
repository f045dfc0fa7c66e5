"""A stand-in collector for the agent's push tests: an http.server on 127.0.0.1 in a thread.

It implements the status codes of docs/api.md for `POST /api/v1/enroll` and
`POST /api/v1/reports` (201 stored, 200 duplicate, 401 for a wrong key, RFC 9457 problem
bodies) and can be programmed to answer something else: 429 with Retry-After, 503, 400/422, a
slow answer, or a connection closed without any answer. It exists so that the agent's behaviour
under each answer is tested precisely and quickly, until the collector suite exercises the real
collector (tests/agent/test_push.py also runs one end-to-end push against the real one).

Only loopback: the server binds 127.0.0.1 on a free port, optionally with TLS.
"""

from __future__ import annotations

import gzip
import json
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ENROLL = "/api/v1/enroll"
REPORTS = "/api/v1/reports"
AGENT_ID = "agt_standin0001"
AGENT_KEY = "standin-key-0123456789"
GOOD_TOKEN = "good-token"
EXPIRED_TOKEN = "expired-token"


@dataclass(frozen=True)
class Answer:
    """A programmed answer: a status with a problem body, a delay, or a closed connection."""

    status: int = 201
    detail: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False  # close the connection without writing any answer
    delay: float = 0.0  # seconds to wait before answering (for client timeouts)


@dataclass(frozen=True)
class Received:
    """One request as the stand-in saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival

    def json(self) -> Any:
        raw = self.body
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            raw = gzip.decompress(raw)
        return json.loads(raw)


class StandinCollector:
    """State shared with the handler: programmed answers, what was received and stored."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.scripts: dict[str, deque[Answer]] = {ENROLL: deque(), REPORTS: deque()}
        self.outage: Answer | None = None  # answers every request while set
        self.received: list[Received] = []
        self.stored: list[str] = []  # report ids answered 201, in order
        self.url = ""

    def program(self, path: str, *answers: Answer) -> None:
        """Queue answers for the next requests to `path` (then the default behaviour again)."""
        with self.lock:
            self.scripts[path].extend(answers)

    def set_outage(self, answer: Answer | None) -> None:
        with self.lock:
            self.outage = answer

    def requests(self, path: str = REPORTS) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def stored_ids(self) -> list[str]:
        with self.lock:
            return list(self.stored)

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Poll `condition` until true or `timeout` seconds passed (bounded)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if condition():
                return True
            time.sleep(0.01)
        return condition()

    # What the handler calls

    def next_answer(self, path: str) -> Answer | None:
        with self.lock:
            if self.outage is not None:
                return self.outage
            script = self.scripts.get(path)
            return script.popleft() if script else None

    def record(self, received: Received) -> None:
        with self.lock:
            self.received.append(received)

    def default(self, path: str, received: Received) -> tuple[int, dict[str, Any]]:
        """docs/api.md's behaviour for a well-formed exchange."""
        if path == ENROLL:
            try:
                token = received.json()["token"]
            except (ValueError, KeyError, TypeError):
                return 400, problem(400, "malformed body")
            if token == GOOD_TOKEN:
                return 201, {
                    "agent_id": AGENT_ID,
                    "key": AGENT_KEY,
                    "commune": "01001",
                    "host": "mairie-srv",
                }
            if token == EXPIRED_TOKEN:
                return 403, problem(403, "token expired")
            return 401, problem(401, "token unknown")
        if received.headers.get("Authorization") != f"Bearer {AGENT_ID}:{AGENT_KEY}":
            return 401, problem(401, "unknown agent or wrong key")
        try:
            report_id = str(received.json()["report_id"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return 400, problem(400, f"invalid Report: {exc}")
        with self.lock:
            if report_id in self.stored:
                return 200, {"report_id": report_id, "status": "duplicate"}
            self.stored.append(report_id)
        return 201, {"report_id": report_id, "status": "stored"}


def problem(status: int, detail: str) -> dict[str, Any]:
    return {"type": "about:blank", "title": "Problem", "status": status, "detail": detail}


def _handler(state: StandinCollector) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            received = Received(path, dict(self.headers.items()), body, time.monotonic())
            state.record(received)
            answer = state.next_answer(path)
            if answer is not None and answer.delay:
                time.sleep(answer.delay)
            if answer is not None and answer.close:
                self.close_connection = True
                return  # nothing written: the client sees the connection closed
            if path not in (ENROLL, REPORTS):
                self._send(404, problem(404, "no such endpoint"), {})
            elif answer is None:
                status, payload = state.default(path, received)
                self._send(status, payload, {})
            else:
                self._send(
                    answer.status,
                    problem(answer.status, answer.detail or "programmed"),
                    answer.headers,
                )

        def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            kind = "application/json" if status < 400 else "application/problem+json"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def running_standin(
    tls_cert: Path | None = None, tls_key: Path | None = None
) -> Iterator[StandinCollector]:
    """Serve a StandinCollector on 127.0.0.1 (https when a cert and key are given)."""
    state = StandinCollector()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    scheme = "http"
    if tls_cert is not None and tls_key is not None:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(tls_cert, tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    host, port = server.server_address[:2]
    state.url = f"{scheme}://{host!s}:{port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
