"""Bounds that hold before authentication: connection counts, client addresses, rate limits.

An anonymous client on the internet can open connections, send headers slowly and guess
enrollment tokens. The collector answers with fixed costs: a connection over the limits is
turned away at once (503), idle or half-sent headers are cut by the keep-alive timeout, and
every unauthenticated request spends a token of its source address's bucket (429 when empty).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import Response, StreamResponse
from aiohttp.web_runner import BaseSite, SockSite

_log = logging.getLogger("sentinelle.collector.guard")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 32\r\n"
    b"Retry-After: 10\r\nConnection: close\r\n\r\ntoo many connections; retry later"
)


@dataclass(frozen=True)
class Bucket:
    """A token bucket's shape: `burst` requests at once, refilled at `per_second`."""

    per_second: float
    burst: int


class RateLimiter:
    """A token bucket per key; `check` returns 0 when allowed, else seconds to wait.

    Bounded: past `max_keys` keys, the buckets that have refilled completely (idle clients)
    are forgotten, so a spray of source addresses cannot grow it without end.
    """

    def __init__(self, per_second: float, burst: int, max_keys: int = 100_000) -> None:
        self.per_second = per_second
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.per_second)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                allowed = True
            else:
                self._buckets[key] = (tokens, now)
                allowed = False
            if len(self._buckets) > self.max_keys:
                self._forget_idle(now)
        return 0.0 if allowed else (1.0 - tokens) / self.per_second

    def _forget_idle(self, now: float) -> None:
        full = self.burst / self.per_second
        idle = [k for k, (_, last) in self._buckets.items() if now - last >= full]
        for key in idle:
            del self._buckets[key]
        if len(self._buckets) > self.max_keys:  # all busy: forgetting some is the lesser harm
            for key in list(self._buckets)[: len(self._buckets) - self.max_keys]:
                del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or CIDR networks; raises ValueError naming the bad one."""
    networks: list[Network] = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an IP address or network") from exc
    return tuple(networks)


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None


def is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip in net for net in trusted)


LOCAL = ""  # what client_address returns for a request made on the collector's machine


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The client's address, or LOCAL for a request from a trusted address that names no
    client (an administrator or Prometheus on the collector's own machine: not rate limited).

    Through a trusted proxy, the client is the right-most X-Forwarded-For entry that is not
    itself a trusted proxy: nginx's `$proxy_add_x_forwarded_for` appends the address it saw,
    and what the client wrote on its own stands to the left and is not believed.
    """
    peer = peer or "unknown"
    if not is_trusted(peer, trusted):
        return peer
    if not forwarded_for:
        return LOCAL
    for hop in reversed(forwarded_for.split(",")):
        ip = _ip(hop)
        if ip is None:
            return peer  # a garbled header: count it against the proxy, not nobody
        if not any(ip in net for net in trusted):
            return str(ip)
    return LOCAL


class ConnectionGuard:
    """Counts open connections, in all and per source address, and turns away the excess.

    Connections from trusted proxies count only toward the total: one nginx carries many
    clients.
    """

    def __init__(
        self,
        max_connections: int,
        max_per_address: int,
        trusted: Sequence[Network],
        on_refused: Callable[[str], None] | None = None,
    ) -> None:
        self.max_connections = max_connections
        self.max_per_address = max_per_address
        self.trusted = tuple(trusted)
        self.on_refused = on_refused
        self.open = 0
        self._per_address: dict[str, int] = {}

    def admit(self, address: str) -> bool:
        if self.open >= self.max_connections:
            self._refuse("total")
            return False
        if not is_trusted(address, self.trusted):
            if self._per_address.get(address, 0) >= self.max_per_address:
                self._refuse("per_address")
                return False
            self._per_address[address] = self._per_address.get(address, 0) + 1
        self.open += 1
        return True

    def release(self, address: str) -> None:
        self.open -= 1
        n = self._per_address.get(address)
        if n is not None:
            if n <= 1:
                del self._per_address[address]
            else:
                self._per_address[address] = n - 1

    def _refuse(self, why: str) -> None:
        if self.on_refused is not None:
            self.on_refused(why)

    def protocol(self, inner: asyncio.Protocol) -> asyncio.Protocol:
        return _GuardedProtocol(inner, self)


class _GuardedProtocol(asyncio.Protocol):
    """Stands in front of aiohttp's request handler for one connection."""

    def __init__(self, inner: asyncio.Protocol, guard: ConnectionGuard) -> None:
        self._inner = inner
        self._guard = guard
        self._address: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer: Any = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        if not self._guard.admit(address):
            assert isinstance(transport, asyncio.Transport)
            transport.write(_BUSY)
            transport.close()
            return
        self._address = address
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._address is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        if self._address is not None:
            return self._inner.eof_received()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._address is not None:
            self._guard.release(self._address)
            self._address = None
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._address is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._address is not None:
            self._inner.resume_writing()


_PROBLEM_TYPE = "application/problem+json"


class ProblemRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering requests its HTTP parser refuses (a NUL in a
    header, two Content-Length headers…) with a problem document like every other refusal,
    and logging them without the offending bytes: they may hold an agent's key."""

    __slots__ = ()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> StreamResponse:
        if status >= 500:
            return super().handle_error(request, status, exc, message)
        _log.warning("malformed HTTP request from %s refused (%d, %s)", request.remote, status,
                     type(exc).__name__ if exc is not None else "bad request")
        if request.writer.output_size > 0:
            raise ConnectionError("a response was already sent on this connection")
        body = json.dumps({
            "type": "about:blank",
            "title": "Malformed HTTP request",
            "status": status,
            "detail": "the request line, a header or the body framing (Content-Length, "
                      "Transfer-Encoding) is not valid HTTP/1.1",
        })
        response = Response(status=status, text=body, content_type=_PROBLEM_TYPE)
        response.force_close()
        return response


def _handler_for(server: web.Server) -> asyncio.Protocol:
    """A ProblemRequestHandler for this aiohttp server, built the way `Server.__call__` builds
    its own (aiohttp has no hook to choose the handler class)."""
    loop = getattr(server, "_loop", None)
    kwargs = getattr(server, "_kwargs", None)
    if loop is None or not isinstance(kwargs, dict):
        return server()  # an aiohttp that changed its insides: its own handler still works
    return ProblemRequestHandler(server, loop=loop, **kwargs)


class GuardedSockSite(SockSite):
    """aiohttp's SockSite with every connection passing through a ConnectionGuard."""

    def __init__(self, runner: web.BaseRunner, sock: Any, guard: ConnectionGuard,
                 **kwargs: Any) -> None:
        super().__init__(runner, sock, **kwargs)
        self._guard = guard

    async def start(self) -> None:
        await BaseSite.start(self)
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        guard = self._guard
        self._server = await loop.create_server(
            lambda: guard.protocol(_handler_for(server)),
            sock=self._sock,
            ssl=self._ssl_context,
            backlog=self._backlog,
        )
