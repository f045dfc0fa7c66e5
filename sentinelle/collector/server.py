"""The collector's HTTP service (aiohttp): enrollment, authenticated ingest, /metrics, /sd."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import re
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

from sentinelle import __version__
from sentinelle.collector.devices import seen_devices
from sentinelle.collector.fleet import Fleet
from sentinelle.collector.guard import (
    LOCAL,
    ConnectionGuard,
    GuardedSockSite,
    RateLimiter,
    client_address,
    parse_networks,
)
from sentinelle.collector.gzipped import InflateRefused, compress, inflate_member
from sentinelle.collector.ingest import GroupCommitter
from sentinelle.collector.openapi import openapi_document
from sentinelle.collector.policy import approved_by_commune, effective_policy
from sentinelle.collector.records import (
    AgentRecord,
    DailySnapshot,
    IncomingReport,
    PolicyRecord,
    SeenDevice,
    WaiverRecord,
    checks_document,
)
from sentinelle.collector.remote_write import RemoteWriter
from sentinelle.collector.secrets import digest, new_agent_id, new_secret, verify
from sentinelle.collector.settings import CollectorSettings
from sentinelle.collector.store import Redemption, Store
from sentinelle.collector.validate import ReportInvalid, canonical_json, decode_report
from sentinelle.collector.validate import prepare as prepare_decoder
from sentinelle.errors import ConfigError, expect
from sentinelle.metrics import metric_help
from sentinelle.model import STATUS_ORDER, Score
from sentinelle.scoring import ScoringPolicy, score_outcomes
from sentinelle.validation import os_reason

log = logging.getLogger("sentinelle.collector")
HOST_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}\Z")  # \Z: no trailing newline
AGENT_CACHE_SECONDS = 10.0
GC_YOUNG_THRESHOLD = 50_000
FLEET_SYNC_SECONDS = 5.0
# Workers commit batches concurrently: re-read a little before the last seen time so that a
# batch committed late with an earlier timestamp is not missed.
SYNC_OVERLAP = timedelta(seconds=5)  # how long a revocation from the CLI may take to apply
PROBLEM = "application/problem+json"
_ENCODE = msgspec.json.Encoder().encode
MAX_TOKEN_LENGTH = 256
REPORTS_PATH = "/api/v1/reports"
POLICY_PATH = "/api/v1/policy"
# Authenticated routes: limited per agent once its key is checked, anonymous until then.
AGENT_PATHS = frozenset({REPORTS_PATH, POLICY_PATH})
POLICY_CACHE_SECONDS = 5.0  # how stale a worker's copy of the policy tables may be
LISTEN_BACKLOG = 1024  # a fleet waking at once queues in the kernel, not refused


def problem(
    status: int,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    kind: str = "about:blank",
) -> web.Response:
    body = {"type": kind, "title": title, "status": status, "detail": detail}
    return web.Response(status=status, text=json.dumps(body), content_type=PROBLEM, headers=headers)


class CollectorService:
    """State and handlers of one collector process."""

    def __init__(
        self,
        settings: CollectorSettings,
        store: Store,
        scoring: ScoringPolicy,
        clock: Callable[[], float] = time.time,
        primary: bool = True,
    ) -> None:
        self.primary = primary
        self._watermark: datetime | None = None
        self.settings = settings
        self.store = store
        self.scoring = scoring
        self.clock = clock
        self.fleet = Fleet(
            scoring, settings.silent_after_seconds, settings.limits, settings.lang
        )
        self.limiter = RateLimiter(settings.rate_limit.per_second, settings.rate_limit.burst)
        guard = settings.protection
        self.trusted_proxies = parse_networks(guard.trusted_proxies)
        self.anonymous_limiter = RateLimiter(guard.anonymous.per_second, guard.anonymous.burst)
        self.enroll_limiter = RateLimiter(guard.enroll.per_second, guard.enroll.burst)
        self.enroll_total_limiter = RateLimiter(
            guard.enroll_total.per_second, guard.enroll_total.burst
        )
        self.committer: GroupCommitter | None = None
        self._agents: dict[str, tuple[AgentRecord | None, float]] = {}
        self._policy_tables: (
            tuple[float, dict[str, PolicyRecord], list[WaiverRecord], dict[str, list[str]]] | None
        ) = None
        self._tasks: list[asyncio.Task[None]] = []
        # _created series would only add cardinality to the fleet view.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=False)
        self.pushes = Counter(
            "sentinelle_collector_reports",
            metric_help("collector_reports", settings.lang),
            ["result"],
            registry=self.registry,
        )
        self.enrollments = Counter(
            "sentinelle_collector_enrollments",
            metric_help("collector_enrollments", settings.lang),
            ["result"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sentinelle_collector_ingest_duration_seconds",
            metric_help("collector_ingest_duration_seconds", settings.lang),
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self.render_seconds = Gauge(
            "sentinelle_collector_exposition_render_seconds",
            metric_help("collector_exposition_render_seconds", settings.lang),
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.rw_samples = Counter(
            "sentinelle_collector_remote_write_samples",
            metric_help("collector_remote_write_samples", settings.lang),
            ["result"],
            registry=self.registry,
        )
        self.rw_last_success = Gauge(
            "sentinelle_collector_remote_write_last_success_timestamp_seconds",
            metric_help("collector_remote_write_last_success_timestamp_seconds", settings.lang),
            registry=self.registry,
            multiprocess_mode="max",
        )
        self.refused = Counter(
            "sentinelle_collector_refused",
            metric_help("collector_refused", settings.lang),
            ["reason"],
            registry=self.registry,
        )
        self.unrenderable = Gauge(
            "sentinelle_collector_unrenderable_hosts",
            metric_help("collector_unrenderable_hosts", settings.lang),
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        for reason in REFUSAL_REASONS:
            self.refused.labels(reason)
        self.remote_writer = build_remote_writer(settings)
        for result in ("stored", "duplicate", "rejected", "unauthorized", "rate_limited", "error"):
            self.pushes.labels(result)

    # Lifecycle

    def application(self) -> web.Application:
        app = web.Application(
            client_max_size=self.settings.limits.max_body_bytes + 1,
            middlewares=[self._anonymous_limit],
        )
        app.add_routes(
            [
                web.post("/api/v1/enroll", self.enroll),
                web.post("/api/v1/reports", self.ingest),
                web.get(POLICY_PATH, self.policy),
                web.get("/metrics", self.metrics),
                web.get("/sd", self.service_discovery),
                web.get("/api/v1/openapi.json", self.openapi),
                web.get("/healthz", self.health),
            ]
        )
        app.cleanup_ctx.append(self._lifespan)
        return app

    async def _lifespan(self, app: web.Application) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.store.migrate)
        await loop.run_in_executor(None, self.load_fleet)
        prepare_decoder(self.settings.limits)
        # What start-up built lives as long as the process: out of the collector's reach, the
        # garbage collector's passes over each push's short-lived objects stay short.
        gc.freeze()
        # A push allocates thousands of small containers that die with it; at the default
        # threshold (700) the young generation was collected several times per push, each
        # pass visiting the objects of every push still waiting for its commit.
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        self.committer = GroupCommitter(self.store, self.settings.batch_max)
        self._tasks = [
            asyncio.create_task(
                self._every(self.settings.registry_refresh_seconds, self.refresh_registry)
            ),
            asyncio.create_task(self._every(FLEET_SYNC_SECONDS, self.sync_fleet)),
        ]
        if self.primary and self.remote_writer is not None:
            interval = self.settings.remote_write.interval_seconds  # type: ignore[union-attr]
            self._tasks.append(asyncio.create_task(self._every(interval, self.remote_write)))
        if self.primary:  # jobs that must run once per collector, not once per worker
            self._tasks += [
                asyncio.create_task(
                    self._every(self.settings.snapshot_interval_seconds, self.take_snapshots)
                ),
                asyncio.create_task(self._every(6 * 3600, self.prune)),
            ]
        yield
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.primary:
            await loop.run_in_executor(None, self.take_snapshots)
        self.committer.close()
        if self.remote_writer is not None:
            self.remote_writer.close()

    def remote_write(self) -> None:
        """Send the fleet's current series to the remote-write URL (Mimir, VictoriaMetrics)."""
        if self.remote_writer is None:
            return
        if self.settings.workers > 1:
            self.sync_fleet()
        now = self.clock()
        result = self.remote_writer.write_families(self.fleet.families(now), now)
        self.rw_samples.labels("sent").inc(result.samples_sent)
        self.rw_samples.labels("failed").inc(result.samples_failed)
        if result.ok:
            self.rw_last_success.set(now)

    async def _every(self, seconds: float, job: Callable[[], object]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(seconds)
            try:
                await loop.run_in_executor(None, job)
            except Exception:
                log.exception("background job %s failed", getattr(job, "__name__", job))

    def load_fleet(self) -> None:
        """Rebuild the in-memory fleet from the store (at start)."""
        self.refresh_registry()
        self.sync_fleet()

    def sync_fleet(self) -> None:
        """Adopt Reports that other workers stored since the last sync (all of them at start).

        The store is the one source of truth shared by every worker process; the score is
        read from the store, so only Reports a scrape renders are ever decompressed.
        """
        since = self._watermark - SYNC_OVERLAP if self._watermark is not None else None
        for latest in self.store.latest_reports(since):
            received = latest.received_at.timestamp()
            self._watermark = max(self._watermark or latest.received_at, latest.received_at)
            known = self.fleet.received_at(latest.agent.agent_id)
            if known is not None and known >= received:
                continue
            try:
                score = Score.from_dict(json.loads(latest.score_json))
            except (ValueError, KeyError, TypeError):
                log.warning("stored score of %s is unreadable; skipped", latest.agent.agent_id)
                continue
            self.fleet.update(latest.agent, received, latest.generated_at, score, latest.body)

    def own_metrics_registry(self) -> CollectorRegistry:
        """The collector's own counters; summed over worker processes when there are several."""
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if self.settings.workers > 1 and directory:
            registry = CollectorRegistry(auto_describe=False)
            multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
            return registry
        return self.registry

    def refresh_registry(self) -> None:
        """Reload communes and agents; every known agent's record is cached for auth, so a push
        from a known agent needs no database read (a revocation applies at the next refresh)."""
        agents = self.store.list_agents()
        self.fleet.set_registry(self.store.list_communes(), agents)
        self.fleet.set_devices(self.store.list_devices())
        now = time.monotonic()
        self._agents = {a.agent_id: (a, now) for a in agents}

    def take_snapshots(self) -> None:
        """Today's per-commune snapshot from the current fleet (kept 13 months and more)."""
        if self.settings.workers > 1:
            self.sync_fleet()  # what the other workers stored counts too
        now = self.clock()
        day = datetime.fromtimestamp(now, UTC).date()
        totals: dict[str, int] = {}
        reporting_by: dict[str, int] = {}
        for entry in self.fleet.hosts():  # one pass: counts per commune
            code = entry.agent.commune
            totals[code] = totals.get(code, 0) + 1
            if entry.body is not None and not self.fleet.is_silent(entry, now):
                reporting_by[code] = reporting_by.get(code, 0) + 1
        for code, score in self.fleet.commune_scores(now).items():
            reporting = reporting_by.get(code, 0)
            self.store.upsert_snapshot(
                DailySnapshot(
                    code,
                    day,
                    score.value,
                    score.grade,
                    totals.get(code, reporting),
                    reporting,
                    dict(score.open_by_severity),
                )
            )

    def prune(self) -> None:
        now = datetime.fromtimestamp(self.clock(), UTC)
        removed = self.store.prune_reports(
            now - timedelta(days=self.settings.raw_report_retention_days)
        )
        self.store.prune_snapshots(
            (now - timedelta(days=self.settings.snapshot_retention_days)).date()
        )
        if removed:
            log.info("pruned %d raw reports past retention", removed)

    # Helpers

    def _incoming(
        self, body: bytes, agent: AgentRecord, received: float
    ) -> tuple[IncomingReport, Score, list[SeenDevice] | None]:
        """Validate a pushed body and make what is stored of it, with the LAN devices it lists.
        The decoded structs die when this returns: a push then waits for its commit holding
        only bytes and tuples, which keeps the garbage collector's work per push small when
        many are in flight."""
        data = decode_report(body, self.settings.limits, datetime.fromtimestamp(received, UTC))
        score = self._score(data)
        incoming = IncomingReport(
            data.report_id,
            agent.agent_id,
            agent.commune,
            agent.host,
            datetime.fromtimestamp(received, UTC),
            data.generated_at,
            score.value,
            score.grade,
            # The canonical form, never the bytes received; compressed: a tenth of the bytes
            # to write and to keep for the retention.
            compress(canonical_json(data)),
            _checks_json(data.results),
            _ENCODE(score.to_dict()).decode(),
        )
        return incoming, score, seen_devices(data.results)

    def _observe_devices(self, agent: AgentRecord, devices: list[SeenDevice],
                         at: datetime) -> None:
        """The commune's inventory after a stored Report: kept apart from the Report's own
        transaction, so an inventory that cannot be written never costs the Report (the next
        one records the devices again)."""
        try:
            self.store.observe_devices(agent.commune, agent.agent_id, devices, at)
            self.fleet.set_devices(self.store.list_devices(agent.commune), agent.commune)
        except Exception as exc:
            log.warning("LAN inventory of %s not recorded: %s", agent.commune, exc)

    def _score(self, report: Any) -> Score:
        """The collector's own score of a decoded Report: one scoring function for all."""
        return score_outcomes(
            ((f.check, f.status, f.severity) for f in report.results if f.waiver is None),
            self.scoring,
        )

    async def _agent(self, agent_id: str) -> AgentRecord | None:
        now = time.monotonic()
        cached = self._agents.get(agent_id)
        ttl = max(AGENT_CACHE_SECONDS, 2 * self.settings.registry_refresh_seconds)
        if cached is not None and now - cached[1] < ttl:
            return cached[0]
        loop = asyncio.get_running_loop()
        agent = await loop.run_in_executor(None, self.store.get_agent, agent_id)
        if len(self._agents) > 100_000:
            self._agents.clear()
        self._agents[agent_id] = (agent, now)
        return agent

    def client(self, request: web.Request) -> str:
        """The source address of the request (through trusted proxies); LOCAL for one made on
        the collector's machine."""
        return client_address(
            request.remote, request.headers.get("X-Forwarded-For"), self.trusted_proxies
        )

    def _anonymous_wait(self, request: web.Request) -> float:
        client = self.client(request)
        return 0.0 if client == LOCAL else self.anonymous_limiter.check(client)

    def _too_many(self, reason: str, wait: float) -> web.Response:
        self.refused.labels(reason).inc()
        return problem(
            429, "Too many requests", "slow down", {"Retry-After": str(max(1, int(wait + 0.999)))}
        )

    @web.middleware
    async def _anonymous_limit(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        """Every request but a push spends a token of its source address's anonymous bucket
        (a push spends one only when its credentials fail: see `ingest`)."""
        if request.path not in AGENT_PATHS:
            wait = self._anonymous_wait(request)
            if wait > 0:
                return self._too_many("anonymous_rate", wait)
        response: web.StreamResponse = await handler(request)
        return response

    async def _read_limited(self, request: web.Request, limit: int) -> bytes | web.Response:
        """The request body, at most `limit` bytes, within the body timeout."""
        def too_large() -> web.Response:
            return problem(413, "Payload too large", f"body exceeds {limit} bytes")

        if request.content_length is not None and request.content_length > limit:
            return too_large()
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.settings.protection.body_timeout_seconds):
                while True:
                    chunk = await request.content.readany()
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > limit:
                        return too_large()
                    chunks.append(chunk)
        except TimeoutError:
            self.refused.labels("body_timeout").inc()
            return problem(408, "Request timeout", "the body did not arrive in time")
        except (ConnectionError, RequestPayloadError) as exc:  # the client went away, or lied
            return problem(400, "Bad request body", str(exc)[:200] or type(exc).__name__)
        return b"".join(chunks)

    async def _read_body(self, request: web.Request) -> bytes | web.Response:
        """The JSON bytes of a push (inflated when gzip), or the problem to answer."""
        limits = self.settings.limits
        raw = await self._read_limited(request, limits.max_body_bytes)
        if not isinstance(raw, bytes):  # a problem to answer (not an ABC check: cheaper)
            return raw
        encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding in ("", "identity"):
            if len(raw) > limits.max_decompressed_bytes:
                return problem(413, "Payload too large", "body too large")
            return raw
        if encoding != "gzip":
            return problem(415, "Unsupported encoding", "use gzip or no Content-Encoding")
        try:
            return inflate_member(raw, limits.max_decompressed_bytes)
        except InflateRefused as exc:
            if exc.reason == "too_large":  # a gzip bomb stops here, after at most the limit
                return problem(
                    413,
                    "Payload too large",
                    f"decompressed body exceeds {limits.max_decompressed_bytes} bytes",
                )
            detail = {
                "invalid": f"the gzip body cannot be inflated: {exc.__cause__}",
                "truncated": "truncated gzip stream",
                # A second member (or anything) after the first: one Report is one member.
                "trailing_data": "data after the end of the gzip member",
            }[exc.reason]
            return problem(400, "Bad gzip body", detail)

    # Handlers

    async def enroll(self, request: web.Request) -> web.Response:
        # Guessing tokens: a few tries per address, and a ceiling for all addresses together.
        client = self.client(request)
        if client != LOCAL:
            for limiter, key, reason in (
                (self.enroll_limiter, client, "enroll_rate"),
                (self.enroll_total_limiter, "all", "enroll_total_rate"),
            ):
                wait = limiter.check(key)
                if wait > 0:
                    self.enrollments.labels("rate_limited").inc()
                    return self._too_many(reason, wait)
        body = await self._read_limited(request, self.settings.protection.max_enroll_body_bytes)
        if not isinstance(body, bytes):
            self.enrollments.labels("bad_request").inc()
            return body
        try:
            # UTF-8 only (RFC 8259): json.loads would also guess UTF-16 and UTF-32 from bytes.
            data = json.loads(body.decode("utf-8"))
            token, hostname = data["token"], data["hostname"]
            if not isinstance(token, str) or not isinstance(hostname, str):
                raise TypeError
            if not token.isascii() or len(token) > MAX_TOKEN_LENGTH:
                raise ValueError
        except (ValueError, KeyError, TypeError, RecursionError):
            self.enrollments.labels("bad_request").inc()
            return problem(
                400, "Bad enrollment request", 'expected {"token": "...", "hostname": "..."}'
            )
        if not HOST_LABEL.match(hostname):
            self.enrollments.labels("bad_request").inc()
            return problem(
                422, "Bad host name", "hostname: 1-63 letters, digits, dots, dashes or underscores"
            )
        loop = asyncio.get_running_loop()
        now = datetime.fromtimestamp(self.clock(), UTC)
        outcome, commune = await loop.run_in_executor(
            None, self.store.redeem_token, digest(token), now
        )
        if outcome is not Redemption.OK or commune is None:
            self.enrollments.labels(outcome.value).inc()
            status = 401 if outcome is Redemption.UNKNOWN else 403
            return problem(status, "Enrollment refused", f"token {outcome.value}")
        agent_id, key = new_agent_id(), new_secret()

        def register() -> str:
            host = hostname.lower()
            n = 1
            while self.store.host_taken(commune, host):  # cloned VMs keep distinct labels
                n += 1
                host = f"{hostname.lower()}-{n}"
            self.store.add_agent(AgentRecord(agent_id, commune, host, digest(key), now))
            return host

        host = await loop.run_in_executor(None, register)
        await loop.run_in_executor(None, self.refresh_registry)
        self.enrollments.labels("ok").inc()
        log.info("enrolled agent %s as %s/%s", agent_id, commune, host)
        return web.json_response(
            {"agent_id": agent_id, "key": key, "commune": commune, "host": host}, status=201
        )

    async def _authenticate(self, request: web.Request) -> AgentRecord | web.Response:
        """The agent whose key the request carries, or the problem to answer (401, 403, 429)."""
        auth = request.headers.get("Authorization", "")
        scheme, _, credentials = auth.partition(" ")
        agent_id, _, key = credentials.partition(":")
        well_formed = (
            scheme.lower() == "bearer"
            and 0 < len(agent_id) <= 64
            and 0 < len(key) <= MAX_TOKEN_LENGTH
            and credentials.isascii()  # header bytes that are not ASCII are no key of ours
        )
        if well_formed and agent_id not in self._agents:
            # An id this worker does not know costs a store read: anonymous until proven, so
            # a stream of made-up ids spends its address's bucket before reaching the store.
            wait = self._anonymous_wait(request)
            if wait > 0:
                return self._too_many("anonymous_rate", wait)
        agent = await self._agent(agent_id) if well_formed else None
        if agent is None or not verify(key, agent.key_hash):
            wait = self._anonymous_wait(request)
            if wait > 0:
                return self._too_many("anonymous_rate", wait)
            self.pushes.labels("unauthorized").inc()
            detail = (
                "unknown agent or wrong key"
                if well_formed
                else "expected Authorization: Bearer AGENT_ID:KEY"
            )
            return problem(401, "Unauthorized", detail, {"WWW-Authenticate": "Bearer"})
        if agent.revoked_at is not None:
            self.pushes.labels("unauthorized").inc()
            return problem(403, "Agent revoked", "this agent was revoked; enroll again")
        wait = self.limiter.check(agent.agent_id)
        if wait > 0:
            self.pushes.labels("rate_limited").inc()
            return problem(
                429,
                "Too many requests",
                "slow down",
                {"Retry-After": str(max(1, int(wait + 0.999)))},
            )
        return agent

    async def ingest(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        agent = await self._authenticate(request)
        if not isinstance(agent, AgentRecord):
            return agent
        assert self.committer is not None
        self.committer.on_the_way += 1
        try:
            body = await self._read_body(request)
            if not isinstance(body, bytes):
                self.pushes.labels("rejected").inc()
                return body
            received = self.clock()
            try:
                incoming, score, devices = self._incoming(body, agent, received)
            except ReportInvalid as exc:
                self.pushes.labels("rejected").inc()
                if exc.field == "$" and "invalid JSON" in str(exc):
                    return problem(400, "Invalid JSON", str(exc)[:300])
                return problem(422, "Invalid Report", str(exc)[:500])
            pending = self.committer.submit(incoming)
        finally:
            self.committer.on_the_way -= 1
        generated, stored_body = incoming.generated_at, incoming.body
        try:
            is_new = await pending
        except Exception:
            self.pushes.labels("error").inc()
            return problem(
                503,
                "Storage unavailable",
                "the Report was not stored; retry later",
                {"Retry-After": "30"},
            )
        self.latency.observe(time.perf_counter() - started)
        if not is_new:
            self.pushes.labels("duplicate").inc()
            return web.json_response({"report_id": incoming.report_id, "status": "duplicate"})
        self.fleet.update(agent, received, generated, score, stored_body)
        self.pushes.labels("stored").inc()
        if devices is not None:
            await asyncio.get_running_loop().run_in_executor(
                None, self._observe_devices, agent, devices, datetime.fromtimestamp(received, UTC))
        return web.Response(
            body=_ENCODE({"report_id": incoming.report_id, "status": "stored"}),
            status=201,
            content_type="application/json",
        )

    def _load_policy_tables(
        self,
    ) -> tuple[dict[str, PolicyRecord], list[WaiverRecord], dict[str, list[str]]]:
        now = time.monotonic()
        cached = self._policy_tables
        if cached is not None and now - cached[0] < POLICY_CACHE_SECONDS:
            return cached[1], cached[2], cached[3]
        policies = {p.scope: p for p in self.store.list_policies()}
        waivers = self.store.list_waivers()
        approved = approved_by_commune(self.store.list_devices())
        self._policy_tables = (now, policies, waivers, approved)
        return policies, waivers, approved

    async def policy(self, request: web.Request) -> web.Response:
        """The agent's effective policy (its scopes' settings and waivers); 304 when the
        agent already holds this version (If-None-Match), so an unchanged policy costs a
        header."""
        agent = await self._authenticate(request)
        if not isinstance(agent, AgentRecord):
            return agent
        loop = asyncio.get_running_loop()
        try:
            policies, waivers, approved = await loop.run_in_executor(None,
                                                                     self._load_policy_tables)
        except Exception as exc:
            return problem(503, "Store unavailable", str(exc)[:200], {"Retry-After": "60"})
        commune = self.fleet.commune(agent.commune)
        served = effective_policy(agent, commune, policies, waivers,
                                  approved.get(agent.commune, ()))
        etag = f'"{served.version}"'
        if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(
            body=_ENCODE(served.to_dict()),
            content_type="application/json",
            headers={"ETag": etag, "Cache-Control": "no-cache"},
        )

    async def metrics(self, request: web.Request) -> web.Response:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        if self.settings.workers > 1:
            await loop.run_in_executor(None, self.sync_fleet)
        text = await loop.run_in_executor(None, self.fleet.render, self.clock())
        self.render_seconds.set(time.perf_counter() - started)
        self.unrenderable.set(self.fleet.unrenderable)
        own = generate_latest(self.own_metrics_registry()).decode()
        return web.Response(
            text=text + own,
            content_type="text/plain",
            charset="utf-8",
            headers={"X-Content-Type-Version": "0.0.4"},
        )

    async def service_discovery(self, request: web.Request) -> web.Response:
        communes = {c.code: c for c in self.fleet.communes()}
        groups: list[dict[str, Any]] = []
        for entry in sorted(self.fleet.hosts(), key=lambda e: (e.agent.commune, e.agent.host)):
            commune = communes.get(entry.agent.commune)
            groups.append(
                {
                    "targets": [f"{entry.agent.host}:{self.settings.agent_port}"],
                    "labels": {
                        "commune": entry.agent.commune,
                        "host": entry.agent.host,
                        "__meta_sentinelle_agent_id": entry.agent.agent_id,
                        "__meta_sentinelle_departement": commune.departement if commune else "",
                    },
                }
            )
        return web.json_response(groups)

    async def openapi(self, request: web.Request) -> web.Response:
        return web.json_response(openapi_document(__version__, self.settings.limits))

    async def health(self, request: web.Request) -> web.Response:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, self.store.list_communes)
        except Exception as exc:
            return problem(503, "Store unavailable", str(exc)[:200])
        return web.json_response({"status": "ok", "version": __version__})


def _checks_json(results: list[Any]) -> str:
    """Per check, the worst finding's status, severity and summary, straight from the decoded
    structs."""
    worst: dict[str, Any] = {}
    rank = STATUS_RANK
    for f in results:
        if f.waiver is not None:
            continue  # an accepted risk: not the check's state while its waiver holds
        current = worst.get(f.check)
        if current is None or rank[f.status] < rank[current.status]:
            worst[f.check] = f
    return checks_document(
        (check, f.status, f.severity, f.summary[:500]) for check, f in worst.items()
    )


STATUS_RANK = {s.value: i for i, s in enumerate(STATUS_ORDER)}
REFUSAL_REASONS = (
    "anonymous_rate",
    "enroll_rate",
    "enroll_total_rate",
    "body_timeout",
    "connections_total",
    "connections_per_address",
)


def build_remote_writer(settings: CollectorSettings) -> RemoteWriter | None:
    rw = settings.remote_write
    if rw is None:
        return None
    token = None
    if rw.bearer_token_file:
        try:
            token = Path(rw.bearer_token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                settings.source,
                "remote_write.bearer_token_file",
                expect("readable_file"),
                os_reason(exc),
            ) from exc
    return RemoteWriter(rw.url, bearer_token=token, headers=rw.headers, ca_bundle=rw.ca_bundle)


def ssl_context(settings: CollectorSettings) -> ssl.SSLContext | None:
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
    return ctx


def listening_socket(settings: CollectorSettings) -> socket.socket:
    """Bind the listen address once (a single worker)."""
    return listening_sockets(settings, 1)[0]


def listening_sockets(settings: CollectorSettings, count: int) -> list[socket.socket]:
    """One listening socket per worker, all on the listen address.

    Several workers each get their own socket with SO_REUSEPORT, and the kernel spreads new
    connections over them by address hash. Sharing one socket instead lets whichever worker
    wakes first accept a whole burst: agents keep their connection alive, so one worker then
    carried most of the fleet while the others idled. Only sockets of the same user can join
    the group, so another account on the machine cannot take a share of the connections.
    """
    host, _, port = settings.listen_address.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    bound_port = int(port)
    for _ in range(count):
        sock = socket.create_server(
            (host, bound_port), family=family, backlog=LISTEN_BACKLOG, reuse_port=count > 1
        )
        bound_port = int(sock.getsockname()[1])  # port 0: the others join the one chosen
        sock.set_inheritable(True)
        sockets.append(sock)
    return sockets


async def serve(
    service: CollectorService,
    stop: asyncio.Event,
    ready: Callable[[str, int], None] | None = None,
    sock: socket.socket | None = None,
) -> None:
    """Run until `stop` is set; `ready` gets the bound address."""
    protection = service.settings.protection
    runner = web.AppRunner(
        service.application(),
        access_log=None,
        handle_signals=False,
        # Off: gzip is inflated by _read_body, under the decompressed-size limit.
        auto_decompress=False,
        # Armed at connect and after each answer, it fires while no complete request has
        # arrived: it is the header timeout too (idle and slowly sent headers are cut).
        keepalive_timeout=protection.header_timeout_seconds,
        max_headers=32,
    )
    await runner.setup()
    sock = sock or listening_socket(service.settings)
    guard = ConnectionGuard(
        protection.max_connections,
        protection.max_connections_per_address,
        service.trusted_proxies,
        on_refused=lambda why: service.refused.labels(f"connections_{why}").inc(),
    )
    # The backlog again: create_server listens anew with the site's own (aiohttp's 128).
    site = GuardedSockSite(
        runner, sock, guard, ssl_context=ssl_context(service.settings), backlog=LISTEN_BACKLOG
    )
    await site.start()
    bound = sock.getsockname()
    if ready is not None:
        ready(str(bound[0]), int(bound[1]))
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
