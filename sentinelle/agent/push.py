"""Push each Report to the collector, through the on-disk spool, in order, without hammering.

Design: every new Report (the Agent's hook) goes first to the spool, then a single background
thread drains the spool oldest first with `POST /api/v1/reports` (docs/api.md):

- 201 / 200 (stored / duplicate): acknowledged, removed from the spool;
- 429: draining stops until `Retry-After` (seconds or an HTTP date);
- 5xx, 408, redirects, network errors, timeouts, TLS failures: draining stops for an exponential
  backoff with full jitter, between `backoff_initial_seconds` and `backoff_max_seconds`; a new
  Report arriving meanwhile is spooled but does not bring the next attempt forward;
- any other 4xx: retrying cannot fix it, so the Report is set aside (spool/rejected/), counted as
  rejected and the collector's problem detail logged; 401 and 403 mean the credentials are bad.

When the spool cannot write a Report (a full disk under the state directory), the Report is
held in a small in-memory queue (`HELD_MAX_REPORTS`, oldest dropped and counted beyond it) and
pushed from there after the spool, so the SOC still hears from a machine whose disk is full;
once writes work again the held Reports move back to the spool, in order.

Every wait is bounded, measured on the monotonic clock (a wall-clock step neither brings an
attempt forward nor stalls it) and wakes up on the stop event. Only the standard library talks
HTTP here (urllib), so the agent stays light; TLS is always verified, with the system CAs or
`ca_bundle`.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import gzip
import http.client
import json
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sentinelle.agent.enroll import (
    USER_AGENT,
    Credentials,
    CredentialsError,
    build_opener,
    credentials_path,
    load_credentials,
    read_problem,
)
from sentinelle.agent.spool import Spool, SpoolEntry
from sentinelle.config import Config, PushSettings
from sentinelle.errors import SentinelleError
from sentinelle.metrics import metric_help
from sentinelle.model import AgentHealth, Report

log = logging.getLogger("sentinelle.agent.push")

REPORTS_PATH = "/api/v1/reports"
POLL_SECONDS = 0.5  # longest sleep between looks at the stop event
MAX_ANSWER_BYTES = 64 * 1024
RESULTS = ("ok", "retry", "rejected")
HELD_MAX_REPORTS = 10  # Reports kept in memory while the spool cannot write (full disk)


class Outcome(enum.Enum):
    """What one push attempt means for the spooled Report."""

    OK = "ok"  # acknowledged: remove it
    RETRY = "retry"  # keep it, back off
    RATE_LIMITED = "rate_limited"  # keep it, wait as the collector asked
    REJECTED = "rejected"  # refused for good: set it aside


@dataclass(frozen=True)
class PushResult:
    """The outcome of one attempt, with the HTTP status (None without an answer) and why."""

    outcome: Outcome
    status: int | None
    detail: str
    retry_after: float | None = None


@dataclass(frozen=True)
class HeldReport:
    """A Report the spool could not write, kept in memory until it is pushed or spooled."""

    report_id: str
    body: bytes


Pending = SpoolEntry | HeldReport  # what one push attempt sends


@dataclass(frozen=True)
class PushStatus:
    """A consistent snapshot of the push client, for /metrics and for people."""

    enrolled: bool
    spool_depth: int
    spool_bytes: int
    dropped_total: int
    quarantined_total: int
    rejected_total: int
    attempts: dict[str, int]
    last_success: float  # Unix seconds, 0 before the first success of this process
    backoff_remaining: float
    consecutive_failures: int
    last_error: str
    held_reports: int = 0  # in memory because the spool could not write them
    held_bytes: int = 0


def backoff_delay(failures: int, initial: float, maximum: float, rng: random.Random) -> float:
    """Full jitter: uniform between `initial` and min(maximum, initial * 2**failures).

    The floor at `initial` is what keeps a fleet from hammering a collector that just came back.
    """
    low = min(initial, maximum)
    high = min(maximum, initial * 2.0 ** min(max(failures, 0), 60))
    return rng.uniform(low, max(low, high))


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or HTTP date); None if absent.

    `now` should be the answer's own `Date` (see `answer_time`): an HTTP date compared with the
    collector's clock does not depend on whether this machine's clock is right.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def answer_time(date_header: str | None, fallback: float) -> float:
    """The time an HTTP answer was made, from its `Date` header; `fallback` without one."""
    if date_header:
        try:
            when = parsedate_to_datetime(date_header)
        except (TypeError, ValueError, IndexError):
            return fallback
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.timestamp()
    return fallback


def encode_report(report: Report) -> bytes:
    """The gzip-compressed JSON body of a Report, as spooled and sent."""
    raw = json.dumps(report.to_dict(), ensure_ascii=False, separators=(",", ":")).encode()
    return gzip.compress(raw, compresslevel=6, mtime=0)


class Pusher:
    """Pushes Reports to the enrolled collector through the spool; see the module docstring.

    Use: `agent.hooks.append(pusher.on_report)`, `pusher.start()`, and `pusher.close()` at exit.
    Credentials are re-read whenever credentials.json changes, so enrolling (again) takes effect
    without restarting the agent.
    """

    def __init__(
        self,
        spool: Spool,
        state_dir: str | Path,
        settings: PushSettings,
        stop_event: threading.Event | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spool = spool
        self.state_dir = Path(state_dir)
        self.settings = settings
        self.stop_event = stop_event or threading.Event()
        self._rng = rng or random.Random()
        self._clock = clock
        self._monotonic = monotonic
        self._wake = threading.Event()
        self._lock = threading.Lock()  # counters and schedule
        self._drain_lock = threading.Lock()  # one drain at a time
        self._creds_lock = threading.Lock()  # the hook and the push thread both read them
        self._thread: threading.Thread | None = None
        self._opener: urllib.request.OpenerDirector | None = None
        self._creds: Credentials | None = None
        self._creds_stamp: tuple[int, int, int] | None = None
        self._told_unenrolled = False
        self._not_before = 0.0  # monotonic time before which no attempt is made
        self._failures = 0
        self._held: collections.deque[HeldReport] = collections.deque()
        self._held_lock = threading.Lock()
        self.attempts = dict.fromkeys(RESULTS, 0)
        self.last_success = 0.0
        self.last_error = ""

    # Credentials

    def credentials(self) -> Credentials | None:
        """The current credentials, re-read when the file changed; None when not enrolled."""
        path = credentials_path(self.state_dir)
        with self._creds_lock:
            try:
                st = os.stat(path)
            except FileNotFoundError:
                self._creds, self._creds_stamp = None, None
                return None
            except OSError as exc:
                log.error("cannot read %s: %s", path, exc)
                return self._creds
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if stamp != self._creds_stamp:
                try:
                    self._creds = load_credentials(self.state_dir)
                except CredentialsError as exc:
                    log.error("%s", exc)
                    self._creds = None
                self._creds_stamp = stamp
                if self._creds is not None:
                    log.info(
                        "pushing Reports to %s as agent %s",
                        self._creds.collector_url,
                        self._creds.agent_id,
                    )
            return self._creds

    def _opener_for_push(self) -> urllib.request.OpenerDirector:
        if self._opener is None:
            self._opener = build_opener(self.settings.ca_bundle)
        return self._opener

    # The hook

    def on_report(self, report: Report) -> None:
        """Agent hook: spool the Report, then let the push thread send it (never blocks on I/O
        to the network)."""
        if self.credentials() is None:
            if not self._told_unenrolled:
                log.info(
                    "not enrolled with a collector (no %s): Reports are not pushed; "
                    "run `sentinelle agent enroll` to push them",
                    credentials_path(self.state_dir),
                )
                self._told_unenrolled = True
            return
        self._told_unenrolled = False
        self._flush_held()  # older Reports first, so the spool keeps the order
        self._spool_or_hold(HeldReport(report.report_id, encode_report(report)))
        self._wake.set()

    def _spool_or_hold(self, item: HeldReport) -> None:
        """Spool `item`, or keep it in memory when the spool cannot write (counted there)."""
        with self._held_lock:
            if not self._held:
                try:
                    self.spool.put(item.report_id, item.body)
                    return
                except OSError:
                    pass  # counted and logged (once) by the spool's StateWrites
            self._held.append(item)
            overflow = len(self._held) - HELD_MAX_REPORTS
            for _ in range(max(0, overflow)):
                lost = self._held.popleft()
                log.error("held Report %s dropped: memory queue full", lost.report_id)
        if overflow > 0:
            self.spool.record_dropped(overflow)

    def _flush_held(self) -> None:
        """Move held Reports to the spool, oldest first, while it can write them."""
        with self._held_lock:
            while self._held:  # bounded: each turn removes one or stops
                item = self._held[0]
                try:
                    self.spool.put(item.report_id, item.body)
                except OSError:
                    return  # still failing: keep them (the failure is counted by the spool)
                self._held.popleft()

    def fill_health(self, health: AgentHealth) -> AgentHealth:
        """`health` (the Agent's own part) completed with the spool's and the push client's
        state: the provider the Agent calls before each Report is spooled and pushed."""
        status = self.status()
        return dataclasses.replace(
            health,
            spool_reports=status.spool_depth + status.held_reports,
            spool_bytes=status.spool_bytes + status.held_bytes,
            reports_dropped_total=status.dropped_total,
            spool_quarantined_total=status.quarantined_total,
            reports_rejected_total=status.rejected_total,
            push_consecutive_failures=status.consecutive_failures,
            state_write_errors_total=health.state_write_errors_total
            + self.spool.writes.errors_total,
            state_dir_writable=health.state_dir_writable and self.spool.writes.writable,
        )

    # The thread

    def start(self) -> None:
        """Start the background drain thread (it also replays what a previous run spooled)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self._run, name="sentinelle-push", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the thread (an attempt in flight ends within the HTTP timeout) and the spool."""
        self.stop_event.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("push thread still busy after %.0fs; leaving it", timeout)
        self._flush_held()  # the disk may have space again: keep them for the next start
        with self._held_lock:
            lost = len(self._held)
            self._held.clear()
        if lost:
            log.error("%d Reports held in memory (spool not writable) are lost at exit", lost)
            self.spool.record_dropped(lost)
        self.spool.close()

    def wake(self) -> None:
        """Look at the spool now (an attempt still waits for any backoff)."""
        self._wake.set()

    def _due_in(self) -> float | None:
        """Seconds before the next drain is allowed; None when there is nothing to send."""
        if (self.spool.depth() == 0 and self.held() == 0) or self.credentials() is None:
            return None
        with self._lock:
            return max(0.0, self._not_before - self._monotonic())

    def _run(self) -> None:
        while not self.stop_event.is_set():
            self._wake.clear()
            try:
                due = self._due_in()
                if due == 0:
                    self.drain()
                    continue
            except Exception:  # a bug here must not kill pushing for good, nor spin
                log.exception("push drain failed")
                self._schedule_backoff(None)
                due = POLL_SECONDS
            self._wake.wait(POLL_SECONDS if due is None else min(due, POLL_SECONDS))

    # Draining

    def drain(self) -> int:
        """Send spooled Reports oldest first until the spool is empty, a retry is scheduled or
        the agent stops; returns how many the collector acknowledged."""
        creds = self.credentials()
        if creds is None:
            return 0
        acknowledged = 0
        with self._drain_lock:
            # Bounded by the backlog now: Reports spooled meanwhile go in the next drain.
            for _ in range(self.spool.depth() + self.held()):
                if self.stop_event.is_set():
                    break
                with self._lock:
                    if self._monotonic() < self._not_before:
                        break
                # The spool holds the older Reports (written before the disk filled up).
                entry: Pending | None = self.spool.peek_oldest() or self._oldest_held()
                if entry is None:
                    break
                result = self.push_one(entry, creds)
                if result.outcome is Outcome.OK:
                    self._forget(entry)
                    acknowledged += 1
                    self._record_success()
                elif result.outcome is Outcome.REJECTED:
                    self._forget(entry, set_aside=True)
                    self._record_rejection(entry, result, creds)
                else:
                    self._schedule_backoff(result, entry)
                    break
        return acknowledged

    def held(self) -> int:
        """Reports held in memory because the spool could not write them."""
        with self._held_lock:
            return len(self._held)

    def _oldest_held(self) -> HeldReport | None:
        with self._held_lock:
            return self._held[0] if self._held else None

    def _forget(self, entry: Pending, set_aside: bool = False) -> None:
        if isinstance(entry, SpoolEntry):
            self.spool.remove(entry, set_aside=set_aside)
            return
        with self._held_lock:
            # By identity: the cycle may have moved it to the spool meanwhile (then the spool
            # copy is sent again and the collector answers 200 duplicate).
            for i, item in enumerate(self._held):
                if item is entry:
                    del self._held[i]
                    break

    def push_one(self, entry: Pending, creds: Credentials) -> PushResult:
        """One POST of one spooled (or held) Report; classifies the answer, changes nothing."""
        request = urllib.request.Request(
            creds.collector_url + REPORTS_PATH,
            data=entry.body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
                "Accept": "application/json",
                "Authorization": creds.authorization(),
                "User-Agent": USER_AGENT,
            },
        )
        try:
            opener = self._opener_for_push()
        except SentinelleError as exc:  # e.g. an unreadable ca_bundle: fixable, so keep Reports
            return PushResult(Outcome.RETRY, None, str(exc))
        try:
            with opener.open(request, timeout=self.settings.timeout_seconds) as response:
                status = int(response.status)
                response.read(MAX_ANSWER_BYTES)
        except urllib.error.HTTPError as err:
            try:
                return self._classify_error(err)
            finally:
                err.close()
        except urllib.error.URLError as err:
            return PushResult(Outcome.RETRY, None, f"unreachable: {err.reason}")
        except (OSError, http.client.HTTPException, ValueError) as err:
            return PushResult(Outcome.RETRY, None, f"{type(err).__name__}: {err}")
        if 200 <= status < 300:
            return PushResult(Outcome.OK, status, "")
        return PushResult(Outcome.RETRY, status, f"unexpected status {status}")

    def _classify_error(self, err: urllib.error.HTTPError) -> PushResult:
        status = err.code
        detail = read_problem(err)
        now = answer_time(err.headers.get("Date"), self._clock())
        retry_after = parse_retry_after(err.headers.get("Retry-After"), now)
        if status == 429:
            return PushResult(Outcome.RATE_LIMITED, status, detail, retry_after)
        if status >= 500 or status == 408:
            return PushResult(Outcome.RETRY, status, detail, retry_after)
        if 300 <= status < 400:
            where = err.headers.get("Location", "?")
            return PushResult(Outcome.RETRY, status, f"redirected to {where}; fix collector_url")
        return PushResult(Outcome.REJECTED, status, detail)

    # Bookkeeping

    def _record_success(self) -> None:
        with self._lock:
            self.attempts["ok"] += 1
            self._failures = 0
            self._not_before = 0.0
            self.last_success = self._clock()
            self.last_error = ""

    def _record_rejection(self, entry: Pending, result: PushResult, creds: Credentials) -> None:
        with self._lock:
            self.attempts["rejected"] += 1
            self.last_error = f"{result.status}: {result.detail}"
        self.spool.record_rejected()  # persisted with the spool's counters
        if result.status in (401, 403):
            log.error(
                "collector %s refused the credentials of agent %s (%s: %s): Report %s dropped; "
                "this agent was revoked or its key is wrong — enroll again "
                "(`sentinelle agent enroll --force`)",
                creds.collector_url,
                creds.agent_id,
                result.status,
                result.detail,
                entry.report_id,
            )
        else:
            log.error(
                "collector refused Report %s (%s: %s); dropped (kept in %s)",
                entry.report_id,
                result.status,
                result.detail,
                self.spool.directory / "rejected",
            )

    @property
    def rejected_total(self) -> int:
        """Reports refused for good since the state directory was created."""
        return self.spool.rejected_total

    def _schedule_backoff(self, result: PushResult | None, entry: Pending | None = None) -> None:
        settings = self.settings
        with self._lock:
            self.attempts["retry"] += 1
            rate_limited = result is not None and result.outcome is Outcome.RATE_LIMITED
            if not rate_limited:
                self._failures += 1
            delay = (
                0.0
                if rate_limited
                else backoff_delay(
                    self._failures,
                    settings.backoff_initial_seconds,
                    settings.backoff_max_seconds,
                    self._rng,
                )
            )
            if result is not None and result.retry_after is not None:
                # Honoured, but a bogus far-future value cannot silence the agent for good, and
                # a zero or past one (an HTTP date read against a clock that jumped) cannot make
                # it retry in a loop: never less than the initial backoff.
                delay = max(
                    delay,
                    min(
                        max(result.retry_after, settings.backoff_initial_seconds),
                        settings.backoff_max_seconds,
                    ),
                )
            elif rate_limited:
                delay = backoff_delay(
                    1, settings.backoff_initial_seconds, settings.backoff_max_seconds, self._rng
                )
            self._not_before = self._monotonic() + delay
            what = "no answer" if result is None or result.status is None else str(result.status)
            self.last_error = f"{what}: {result.detail if result else 'internal error'}"
        log.warning(
            "push of Report %s failed (%s); %d Reports spooled, %d held in memory, "
            "next attempt in %.1fs",
            entry.report_id if entry else "?",
            self.last_error,
            self.spool.depth(),
            self.held(),
            delay,
        )

    # Observability

    def status(self) -> PushStatus:
        with self._lock:
            attempts = dict(self.attempts)
            last_success = self.last_success
            remaining = max(0.0, self._not_before - self._monotonic())
            failures = self._failures
            last_error = self.last_error
        with self._held_lock:
            held = len(self._held)
            held_bytes = sum(len(item.body) for item in self._held)
        return PushStatus(
            enrolled=self.credentials() is not None,
            spool_depth=self.spool.depth(),
            spool_bytes=self.spool.bytes(),
            dropped_total=self.spool.dropped_total,
            quarantined_total=self.spool.quarantined_total,
            rejected_total=self.spool.rejected_total,
            attempts=attempts,
            last_success=last_success,
            backoff_remaining=remaining,
            consecutive_failures=failures,
            last_error=last_error,
            held_reports=held,
            held_bytes=held_bytes,
        )

    def collector(self) -> Collector:
        """A prometheus Collector of the push client's state (for AgentState.extra)."""
        return PushCollector(self)


class PushCollector(Collector):
    """sentinelle_agent_push_* metrics, built from a snapshot at each scrape."""

    def __init__(self, pusher: Pusher, lang: str = "fr") -> None:
        self.pusher = pusher
        self.lang = lang  # of the HELP texts

    def collect(self) -> Iterator[Metric]:
        s = self.pusher.status()
        yield GaugeMetricFamily(
            "sentinelle_agent_push_enrolled",
            metric_help("agent_push_enrolled", self.lang),
            value=1 if s.enrolled else 0,
        )
        if s.last_success:
            yield GaugeMetricFamily(
                "sentinelle_agent_push_last_success_timestamp_seconds",
                metric_help("agent_push_last_success_timestamp_seconds", self.lang),
                value=s.last_success,
            )
        yield GaugeMetricFamily(
            "sentinelle_agent_push_spool_depth",
            metric_help("agent_push_spool_depth", self.lang),
            value=s.spool_depth,
        )
        yield GaugeMetricFamily(
            "sentinelle_agent_push_spool_bytes",
            metric_help("agent_push_spool_bytes", self.lang),
            value=s.spool_bytes,
        )
        yield GaugeMetricFamily(
            "sentinelle_agent_push_held_reports",
            metric_help("agent_push_held_reports", self.lang),
            value=s.held_reports,
        )
        yield CounterMetricFamily(
            "sentinelle_agent_push_dropped",
            metric_help("agent_push_dropped", self.lang),
            value=s.dropped_total,
        )
        yield CounterMetricFamily(
            "sentinelle_agent_push_spool_quarantined",
            metric_help("agent_push_spool_quarantined", self.lang),
            value=s.quarantined_total,
        )
        yield CounterMetricFamily(
            "sentinelle_agent_push_rejected",
            metric_help("agent_push_rejected", self.lang),
            value=s.rejected_total,
        )
        attempts = CounterMetricFamily(
            "sentinelle_agent_push_attempts",
            metric_help("agent_push_attempts", self.lang),
            labels=["result"],
        )
        for result in RESULTS:
            attempts.add_metric([result], s.attempts.get(result, 0))
        yield attempts
        yield GaugeMetricFamily(
            "sentinelle_agent_push_backoff_seconds",
            metric_help("agent_push_backoff_seconds", self.lang),
            value=s.backoff_remaining,
        )
        yield GaugeMetricFamily(
            "sentinelle_agent_push_consecutive_failures",
            metric_help("agent_push_consecutive_failures", self.lang),
            value=s.consecutive_failures,
        )


def build_pusher(config: Config, stop_event: threading.Event | None = None) -> Pusher | None:
    """The Pusher of this configuration, or None when push is disabled.

    Opens (and locks) `<state_dir>/spool`; raises SpoolError if another process holds it.
    """
    if not config.push.enabled:
        return None
    state_dir = Path(config.agent.state_dir)
    spool = Spool(state_dir / "spool", config.push.spool_max_reports, config.push.spool_max_bytes)
    return Pusher(spool, state_dir, config.push, stop_event=stop_event)
