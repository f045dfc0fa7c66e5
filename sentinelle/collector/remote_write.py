"""Prometheus remote-write 1.0 output: push the fleet's series to Mimir or VictoriaMetrics.

When one Prometheus scraping the collector no longer suffices, the collector can also push every
series to a distributed TSDB. The wire format is the remote-write 1.0 spec: a protobuf
`prometheus.WriteRequest`, block-compressed with snappy, POSTed with three fixed headers.

The protobuf message has two nested types and four scalar fields, so it is encoded by hand here
rather than adding protobuf as a dependency:

    message WriteRequest { repeated TimeSeries timeseries = 1; }
    message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
    message Label        { string name = 1; string value = 2; }
    message Sample       { double value = 1; int64 timestamp = 2; }   // milliseconds

`RemoteWriter` sends from the collector's background thread with the stdlib's urllib: it retries
5xx answers, network errors and (by default) 429 with exponential backoff and jitter, bounded in
attempts and time, and drops a batch the receiver refused with any other 4xx, since sending it
again would be refused again (that is also what Prometheus does).
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import logging
import math
import random
import ssl
import struct
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import islice
from typing import IO, Any

import cramjam
from prometheus_client.core import Metric

from sentinelle import __version__

log = logging.getLogger(__name__)

# One sample to push: its labels (with __name__), its value and its timestamp in milliseconds.
Series = tuple[Mapping[str, str], float, int]

REMOTE_WRITE_VERSION = "0.1.0"
# Headers the protocol fixes; a configured header may not override them.
_RESERVED_HEADERS = frozenset(
    {
        "content-encoding",
        "content-type",
        "x-prometheus-remote-write-version",
        "user-agent",
        "authorization",
        "content-length",
        "host",
    }
)
_MAX_ERROR_BODY = 512  # bytes of a refusal's body kept for the log


# --- protobuf encoding -------------------------------------------------------------------------

_PACK_DOUBLE = struct.Struct("<d").pack
_UNPACK_DOUBLE = struct.Struct("<d").unpack_from
_SAMPLE_VALUE_TAG = b"\x09"  # field 1, wire type 1 (64-bit)
_SAMPLE_TS_TAG = b"\x10"  # field 2, wire type 0 (varint)
_LABEL_NAME_TAG = b"\x0a"  # field 1, wire type 2 (length-delimited)
_LABEL_VALUE_TAG = b"\x12"  # field 2, wire type 2
_TS_LABEL_TAG = b"\x0a"  # TimeSeries.labels = 1
_TS_SAMPLE_TAG = b"\x12"  # TimeSeries.samples = 2
_WR_SERIES_TAG = b"\x0a"  # WriteRequest.timeseries = 1


def _varint(n: int) -> bytes:
    """Base-128 varint; a negative int64 is sent as its 64-bit two's complement (10 bytes)."""
    if 0 <= n < 0x80:
        return bytes((n,))
    if n < 0:
        n &= 0xFFFF_FFFF_FFFF_FFFF
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _delimited(tag: bytes, payload: bytes) -> bytes:
    return tag + _varint(len(payload)) + payload


def _label(name: str, value: str) -> bytes:
    n, v = name.encode(), value.encode()
    return _delimited(
        _TS_LABEL_TAG,
        _LABEL_NAME_TAG + _varint(len(n)) + n + _LABEL_VALUE_TAG + _varint(len(v)) + v,
    )


def _sample(value: float, ts_ms: int) -> bytes:
    return _delimited(
        _TS_SAMPLE_TAG, _SAMPLE_VALUE_TAG + _PACK_DOUBLE(value) + _SAMPLE_TS_TAG + _varint(ts_ms)
    )


def encode_write_request_proto(series: Iterable[Series]) -> bytes:
    """The uncompressed protobuf WriteRequest for `series` (see `encode_write_request`)."""
    # Samples of one label set go into one TimeSeries, in timestamp order, as the spec asks.
    # Two values for one label set and timestamp are ambiguous: Prometheus 2.42 silently keeps
    # the first, a receiver checking duplicates may refuse the whole batch. Send one: the last.
    grouped: dict[tuple[tuple[str, str], ...], dict[int, float]] = {}
    for labels, value, ts_ms in series:
        if not labels.get("__name__"):
            raise ValueError(f"a series needs a __name__ label: {dict(labels)!r}")
        # An empty value means "no such label" in Prometheus; the spec forbids sending it.
        key = tuple(sorted((k, v) for k, v in labels.items() if v != ""))
        grouped.setdefault(key, {})[int(ts_ms)] = float(value)
    label_cache: dict[tuple[str, str], bytes] = {}  # commune/host pairs repeat on every series
    parts: list[bytes] = []
    for key, samples in grouped.items():
        body: list[bytes] = []
        for pair in key:
            enc = label_cache.get(pair)
            if enc is None:
                enc = label_cache[pair] = _label(*pair)
            body.append(enc)
        body.extend(_sample(samples[ts_ms], ts_ms) for ts_ms in sorted(samples))
        parts.append(_delimited(_WR_SERIES_TAG, b"".join(body)))
    return b"".join(parts)


def encode_write_request(series: Iterable[Series]) -> bytes:
    """A snappy-compressed remote-write 1.0 WriteRequest, ready to POST.

    Each item is (labels, value, timestamp in ms); labels must include `__name__`, are sent sorted
    by name, and labels with an empty value are left out (Prometheus treats both the same).
    Samples sharing a label set are grouped into one TimeSeries, sorted by timestamp; of several
    values given for one label set and timestamp, the last is sent.
    """
    return bytes(cramjam.snappy.compress_raw(encode_write_request_proto(series)))


# --- protobuf decoding (for tests and debugging) -----------------------------------------------


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: bytes) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) for each field of one message; bytes for wire type 2."""
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        num, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _read_varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            size, pos = _read_varint(buf, pos)
            value, pos = buf[pos : pos + size], pos + size
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if pos > len(buf):
            raise ValueError("truncated message")
        yield num, wire, value


def decode_write_request(
    body: bytes, compressed: bool = True
) -> list[tuple[dict[str, str], list[tuple[float, int]]]]:
    """The (labels, [(value, timestamp ms)]) of each TimeSeries in a WriteRequest."""
    raw = bytes(cramjam.snappy.decompress_raw(body)) if compressed else body
    out: list[tuple[dict[str, str], list[tuple[float, int]]]] = []
    for num, wire, ts_buf in _fields(raw):
        if num != 1 or wire != 2:
            continue  # metadata (field 3) and unknown fields
        labels: dict[str, str] = {}
        samples: list[tuple[float, int]] = []
        for fnum, fwire, sub in _fields(ts_buf):
            if fwire != 2:
                continue
            if fnum == 1:
                name = value = ""
                for lnum, _, lval in _fields(sub):
                    if lnum == 1:
                        name = lval.decode()
                    elif lnum == 2:
                        value = lval.decode()
                labels[name] = value
            elif fnum == 2:
                v, ts = math.nan, 0
                for snum, swire, sval in _fields(sub):
                    if snum == 1 and swire == 1:
                        v = _UNPACK_DOUBLE(sval)[0]
                    elif snum == 2 and swire == 0:
                        ts = sval - (1 << 64) if sval >= 1 << 63 else sval
                samples.append((v, ts))
        out.append((labels, samples))
    return out


# --- from metric families ----------------------------------------------------------------------


def families_to_series(families: Iterable[Metric], timestamp: float | datetime) -> Iterator[Series]:
    """Every sample of `families` (e.g. `sentinelle.metrics.reports_metrics`) as a Series.

    `timestamp` (Unix seconds or an aware datetime) applies to samples that carry none of their
    own; the sample's name becomes `__name__`, its labels are kept as they are.
    """
    default_s = timestamp.timestamp() if isinstance(timestamp, datetime) else float(timestamp)
    default_ms = round(default_s * 1000)
    for family in families:
        for sample in family.samples:
            ts_ms = default_ms
            if sample.timestamp is not None:
                ts_ms = round(float(sample.timestamp) * 1000)
            yield {**sample.labels, "__name__": sample.name}, float(sample.value), ts_ms


# --- the writer --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteWriteStats:
    """The writer's own counters, for the collector's /metrics (all monotonic except the last)."""

    samples_sent: int = 0
    samples_failed: int = 0  # in batches dropped for good
    samples_retried: int = 0  # counted once per retried attempt, as Prometheus does
    batches_sent: int = 0
    batches_dropped: int = 0
    requests: int = 0
    last_success_timestamp: float = 0.0  # Unix seconds of the last accepted batch; 0: never
    last_error: str = ""


@dataclass(frozen=True)
class WriteResult:
    """What one `RemoteWriter.write` call did."""

    samples_sent: int
    samples_failed: int
    batches_sent: int
    batches_dropped: int

    @property
    def ok(self) -> bool:
        return self.batches_dropped == 0


class _Retry(Exception):
    """A recoverable failure of one attempt; `after` is the receiver's Retry-After, if any."""

    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.after = after


class _Drop(Exception):
    """A failure that sending the same batch again cannot fix."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib would turn a redirected POST into a body-less GET; a redirect here is a wrong URL.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class RemoteWriter:
    """Pushes series to a remote-write 1.0 endpoint, in batches, with bounded retries.

    Thread-safe: `write` may run in a background thread while `stats()` is read by /metrics;
    `close()` interrupts a backoff wait so the collector can stop promptly.

    A batch is tried at most `1 + max_retries` times, and no wait starts that would end more
    than `max_retry_seconds` after its first attempt (each attempt may add `timeout_seconds`).
    Waits double from `min_backoff_seconds` up to `max_backoff_seconds`, with jitter, and are
    lengthened to the receiver's Retry-After when it sends one. Mimir's tenant goes in
    `headers={"X-Scope-OrgID": ...}`.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_seconds: float = 30.0,
        max_series_per_request: int = 2000,
        max_retries: int = 10,
        max_retry_seconds: float = 120.0,
        min_backoff_seconds: float = 0.03,
        max_backoff_seconds: float = 5.0,
        retry_on_http_429: bool = True,
        basic_auth: tuple[str, str] | None = None,
        bearer_token: str | None = None,
        headers: Mapping[str, str] | None = None,
        ca_bundle: str | None = None,
        verify_tls: bool = True,
        proxy_url: str | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"remote_write url must be http:// or https://: {url!r}")
        if basic_auth is not None and bearer_token is not None:
            raise ValueError("remote_write: basic auth and a bearer token are exclusive")
        if max_series_per_request < 1 or max_retries < 0 or max_retry_seconds < 0:
            raise ValueError("remote_write: batch size, retries and retry time must be positive")
        for k, v in (headers or {}).items():
            if any(c in k + v for c in "\r\n\0") or not k.strip():
                raise ValueError(f"remote_write: invalid header {k!r}")
        reserved = sorted(k for k in (headers or {}) if k.lower() in _RESERVED_HEADERS)
        if reserved:
            raise ValueError(f"remote_write: these headers cannot be configured: {reserved}")
        self.url = url
        self.timeout_seconds = timeout_seconds
        self.max_series_per_request = max_series_per_request
        self.max_retries = max_retries
        self.max_retry_seconds = max_retry_seconds
        self.min_backoff_seconds = min_backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.retry_on_http_429 = retry_on_http_429
        self._rng = rng
        self._headers = {
            **dict(headers or {}),
            "Content-Encoding": "snappy",
            "Content-Type": "application/x-protobuf",
            "X-Prometheus-Remote-Write-Version": REMOTE_WRITE_VERSION,
            "User-Agent": f"sentinelle/{__version__}",
        }
        if basic_auth is not None:
            token = base64.b64encode(f"{basic_auth[0]}:{basic_auth[1]}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        elif bearer_token is not None:
            self._headers["Authorization"] = f"Bearer {bearer_token}"
        handlers: list[urllib.request.BaseHandler] = [
            # No proxy from the environment unless asked, as Prometheus (proxy_from_environment).
            urllib.request.ProxyHandler(
                {"http": proxy_url, "https": proxy_url} if proxy_url else {}
            ),
            _NoRedirect(),
        ]
        if url.startswith("https://"):
            ctx = ssl.create_default_context(cafile=ca_bundle)
            if not verify_tls:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            handlers.append(urllib.request.HTTPSHandler(context=ctx))
        self._opener = urllib.request.build_opener(*handlers)
        self._lock = threading.Lock()
        self._stats = RemoteWriteStats()
        self._closed = threading.Event()

    def stats(self) -> RemoteWriteStats:
        """A consistent copy of the counters."""
        with self._lock:
            return self._stats

    def close(self) -> None:
        """Stop: a write in progress gives up its current batch at its next wait."""
        self._closed.set()

    def _count(self, **deltas: Any) -> None:
        with self._lock:
            s = self._stats
            changes = {
                k: (v if k in ("last_success_timestamp", "last_error") else getattr(s, k) + v)
                for k, v in deltas.items()
            }
            self._stats = replace(s, **changes)

    def write(self, series: Iterable[Series]) -> WriteResult:
        """Send `series` in batches of at most `max_series_per_request`; never raises for the
        receiver's or the network's faults (they are logged and counted)."""
        it = iter(series)
        sent = failed = ok_batches = dropped = 0
        while batch := list(islice(it, self.max_series_per_request)):
            if self._send_batch(encode_write_request(batch), len(batch)):
                sent, ok_batches = sent + len(batch), ok_batches + 1
            else:
                failed, dropped = failed + len(batch), dropped + 1
        return WriteResult(sent, failed, ok_batches, dropped)

    def write_families(
        self, families: Iterable[Metric], timestamp: float | datetime
    ) -> WriteResult:
        """`write` every sample of metric families (a fleet snapshot) at `timestamp`."""
        return self.write(families_to_series(families, timestamp))

    def _send_batch(self, body: bytes, n_samples: int) -> bool:
        deadline = time.monotonic() + self.max_retry_seconds
        attempt = 0
        while True:
            try:
                self._post(body)
            except _Drop as exc:
                return self._give_up(n_samples, f"refused, not retried: {exc}")
            except _Retry as exc:
                if attempt >= self.max_retries:
                    return self._give_up(n_samples, f"{exc} (after {attempt + 1} attempts)")
                delay = self._backoff(attempt)
                if exc.after is not None:
                    delay = max(delay, exc.after)
                if time.monotonic() + delay > deadline:
                    return self._give_up(
                        n_samples, f"{exc} (retry time of {self.max_retry_seconds:g} s spent)"
                    )
                log.info("remote write: %s; retrying in %.2f s", exc, delay)
                self._count(samples_retried=n_samples)
                if self._closed.wait(delay):
                    return self._give_up(n_samples, f"{exc} (writer closed)")
                attempt += 1
                continue
            self._count(
                samples_sent=n_samples,
                batches_sent=1,
                last_success_timestamp=time.time(),
            )
            return True

    def _backoff(self, attempt: int) -> float:
        base = min(self.max_backoff_seconds, self.min_backoff_seconds * (2.0**attempt))
        # Jitter in [base/2, base): agents of a restarted TSDB do not all come back at once.
        return base * (0.5 + self._rng() / 2)

    def _give_up(self, n_samples: int, reason: str) -> bool:
        log.warning("remote write to %s: dropped %d samples: %s", self.url, n_samples, reason)
        self._count(samples_failed=n_samples, batches_dropped=1, last_error=reason)
        return False

    def _post(self, body: bytes) -> None:
        req = urllib.request.Request(self.url, data=body, headers=self._headers, method="POST")
        self._count(requests=1)
        try:
            with self._opener.open(req, timeout=self.timeout_seconds) as resp:
                resp.read(_MAX_ERROR_BODY)
                status = resp.status
        except urllib.error.HTTPError as exc:
            with exc:
                self._refused(exc.code, exc.headers.get("Retry-After"), exc)
            return
        except ssl.SSLCertVerificationError as exc:
            # A certificate the CA bundle does not vouch for stays untrusted however often we ask.
            raise _Drop(f"TLS verification failed: {exc.verify_message}") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, ssl.SSLCertVerificationError):
                raise _Drop(f"TLS verification failed: {exc.reason.verify_message}") from exc
            raise _Retry(f"network error: {exc.reason}") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise _Retry(f"network error: {exc!r}") from exc
        if not 200 <= status < 300:
            raise _Drop(f"unexpected HTTP {status}")

    def _refused(self, code: int, retry_after: str | None, body: IO[bytes]) -> None:
        try:
            detail = body.read(_MAX_ERROR_BODY).decode(errors="replace").strip()
        except (OSError, http.client.HTTPException):
            detail = ""
        reason = f"HTTP {code}: {detail}" if detail else f"HTTP {code}"
        if code >= 500 or (code == 429 and self.retry_on_http_429):
            raise _Retry(reason, parse_retry_after(retry_after))
        raise _Drop(reason)
