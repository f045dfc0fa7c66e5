"""The fleet as the collector holds it in memory: the latest Report of every agent.

Rebuilt from the store at start, updated after each durable ingest, refreshed from the store
now and then (new communes, revoked agents from the CLI). Renders `/metrics`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric

from sentinelle.collector.exposition import Block, FamilyHeader, join_blocks, render_block
from sentinelle.collector.gzipped import inflate_member
from sentinelle.collector.records import AgentRecord, Commune, DeviceRecord
from sentinelle.collector.validate import Limits, decode_report, to_report
from sentinelle.metrics import metric_help, report_metrics
from sentinelle.model import Report, Score
from sentinelle.scoring import ScoringPolicy, combine_scores

log = logging.getLogger("sentinelle.collector.fleet")


@dataclass
class HostEntry:
    """One agent's latest known state.

    The Report stays gzip-compressed JSON until a scrape needs it: ingest only scores it, and
    thousands of parsed Reports would cost far more memory than their compressed bodies.
    """

    agent: AgentRecord
    received_at: float | None = None  # Unix seconds
    generated_at: str = ""
    score: Score | None = None  # the collector's own score of the Report
    body: bytes | None = field(default=None, repr=False)  # gzip JSON of the Report
    block: Block | None = field(default=None, repr=False)  # cached rendering of the Report
    unrenderable: bool = False  # the stored Report failed to render (until a new one comes)

    def report(self, limits: Limits) -> Report:
        """The stored Report, decoded through the same strict schema as a push: a body stored
        by an older version that the schema now refuses raises, and the caller leaves the
        host out instead of rendering something a consumer cannot use."""
        assert self.body is not None and self.score is not None
        # Bounded like a push: a gzip bomb an older version stored inflates no further.
        body = inflate_member(self.body, limits.max_decompressed_bytes)
        parsed = to_report(decode_report(body, limits))
        return replace(parsed, score=self.score)


class Fleet:
    """Thread-safe in-memory view of every commune and agent."""

    def __init__(
        self,
        scoring: ScoringPolicy,
        silent_after_seconds: float,
        limits: Limits | None = None,
        lang: str = "fr",
    ) -> None:
        self.lang = lang
        self.scoring = scoring
        self.silent_after = silent_after_seconds
        self.limits = limits or Limits()
        self.unrenderable = 0  # hosts the last render left out
        self._lock = threading.Lock()
        self._hosts: dict[str, HostEntry] = {}
        self._communes: dict[str, Commune] = {}
        self._headers: dict[str, FamilyHeader] = {}
        self._devices: dict[str, list[DeviceRecord]] = {}  # the LAN inventory, by commune

    def set_registry(self, communes: Iterable[Commune], agents: Iterable[AgentRecord]) -> None:
        """Adopt the store's communes and active agents, keeping known Reports."""
        with self._lock:
            self._communes = {c.code: c for c in communes}
            active = {a.agent_id: a for a in agents if a.revoked_at is None}
            for agent_id in list(self._hosts):
                if agent_id not in active:
                    del self._hosts[agent_id]
            for agent_id, agent in active.items():
                entry = self._hosts.get(agent_id)
                if entry is None:
                    self._hosts[agent_id] = HostEntry(agent)
                else:
                    entry.agent = agent

    def set_devices(self, devices: Iterable[DeviceRecord], commune: str | None = None) -> None:
        """Adopt the store's LAN inventory (of every commune, or of one)."""
        by: dict[str, list[DeviceRecord]] = {}
        for d in devices:
            by.setdefault(d.commune, []).append(d)
        with self._lock:
            if commune is None:
                self._devices = by
            else:
                self._devices[commune] = by.get(commune, [])

    def devices(self) -> dict[str, list[DeviceRecord]]:
        with self._lock:
            return {code: list(ds) for code, ds in self._devices.items()}

    def update(
        self,
        agent: AgentRecord,
        received_at: float,
        generated_at: datetime,
        score: Score,
        body_gz: bytes,
    ) -> None:
        """Record a newly stored Report unless an already known one is newer."""
        stamp = generated_at.astimezone(UTC).isoformat()
        with self._lock:
            entry = self._hosts.setdefault(agent.agent_id, HostEntry(agent))
            if entry.body is not None and entry.generated_at > stamp:
                return  # an older Report replayed from a spool
            entry.received_at, entry.generated_at = received_at, stamp
            entry.score, entry.body, entry.block = score, body_gz, None
            entry.unrenderable = False

    def received_at(self, agent_id: str) -> float | None:
        with self._lock:
            entry = self._hosts.get(agent_id)
            return entry.received_at if entry is not None else None

    def hosts(self) -> list[HostEntry]:
        with self._lock:
            return list(self._hosts.values())

    def commune(self, code: str) -> Commune | None:
        with self._lock:
            return self._communes.get(code)

    def communes(self) -> list[Commune]:
        with self._lock:
            return list(self._communes.values())

    def is_silent(self, entry: HostEntry, now: float) -> bool:
        return entry.received_at is None or now - entry.received_at > self.silent_after

    def commune_scores(self, now: float) -> dict[str, Score]:
        """Score of each commune over its reporting (non-silent) hosts."""
        per: dict[str, list[Score]] = {}
        for entry in self.hosts():
            if entry.score is not None and not self.is_silent(entry, now):
                per.setdefault(entry.agent.commune, []).append(entry.score)
        return {code: combine_scores(scores, self.scoring) for code, scores in per.items()}

    def _host_block(self, entry: HostEntry) -> Block | None:
        """The host's rendered series, or None (logged) when its stored state cannot be
        rendered: one host never takes the exposition down for the others."""
        if entry.block is None:
            labels = {"commune": entry.agent.commune, "host": entry.agent.host}
            try:
                entry.block = render_block(
                    report_metrics(entry.report(self.limits), labels, self.lang), self._headers
                )
            except Exception as exc:
                if not entry.unrenderable:
                    log.error(
                        "host %s/%s (agent %s) left out of /metrics: its stored Report cannot "
                        "be rendered (%s: %s)",
                        entry.agent.commune,
                        entry.agent.host,
                        entry.agent.agent_id,
                        type(exc).__name__,
                        str(exc)[:300],
                    )
                entry.unrenderable = True
                return None
            entry.unrenderable = False
        return entry.block

    def _commune_families(self, now: float) -> Iterable[Metric]:
        info = InfoMetricFamily(
            "sentinelle_commune", metric_help("commune", self.lang), labels=["commune"]
        )
        population = GaugeMetricFamily(
            "sentinelle_commune_population",
            metric_help("commune_population", self.lang),
            labels=["commune"],
        )
        score = GaugeMetricFamily(
            "sentinelle_commune_risk_score",
            metric_help("commune_risk_score", self.lang),
            labels=["commune"],
        )
        grade = InfoMetricFamily(
            "sentinelle_commune_grade", metric_help("commune_grade", self.lang), labels=["commune"]
        )
        hosts = GaugeMetricFamily(
            "sentinelle_commune_hosts",
            metric_help("commune_hosts", self.lang),
            labels=["commune", "state"],
        )
        last = GaugeMetricFamily(
            "sentinelle_host_last_report_timestamp_seconds",
            metric_help("host_last_report_timestamp_seconds", self.lang),
            labels=["commune", "host"],
        )
        silent = GaugeMetricFamily(
            "sentinelle_host_silent",
            metric_help("host_silent", self.lang),
            labels=["commune", "host"],
        )
        counts: dict[str, dict[str, int]] = {
            c.code: {"reporting": 0, "silent": 0, "never": 0} for c in self.communes()
        }
        for entry in self.hosts():
            state = (
                "never"
                if entry.received_at is None
                else "silent"
                if self.is_silent(entry, now)
                else "reporting"
            )
            counts.setdefault(entry.agent.commune, {"reporting": 0, "silent": 0, "never": 0})
            counts[entry.agent.commune][state] += 1
            if entry.received_at is not None:
                labels = [entry.agent.commune, entry.agent.host]
                last.add_metric(labels, entry.received_at)
                silent.add_metric(labels, 1 if state == "silent" else 0)
        for c in self.communes():
            info.add_metric([c.code], {"name": c.name, "departement": c.departement})
            if c.population is not None:
                population.add_metric([c.code], c.population)
        for code, s in self.commune_scores(now).items():
            score.add_metric([code], s.value)
            grade.add_metric([code], {"grade": s.grade})
        for code, by_state in counts.items():
            for state, n in by_state.items():
                hosts.add_metric([code, state], n)
        return (info, population, score, grade, hosts, last, silent, *self._lan_families())

    def _lan_families(self) -> tuple[Metric, ...]:
        """Each commune's LAN inventory: devices present by class and approval, unknown ones,
        and when each present device was first seen (for "a new unknown device" alerts)."""
        by_class = GaugeMetricFamily(
            "sentinelle_commune_lan_devices", metric_help("commune_lan_devices", self.lang),
            labels=["commune", "class", "approved"])
        unknown = GaugeMetricFamily(
            "sentinelle_commune_lan_unknown_devices",
            metric_help("commune_lan_unknown_devices", self.lang), labels=["commune"])
        first = GaugeMetricFamily(
            "sentinelle_lan_device_first_seen_timestamp_seconds",
            metric_help("lan_device_first_seen_timestamp_seconds", self.lang),
            labels=["commune", "mac", "class", "vendor", "approved"])
        for code, devices in sorted(self.devices().items()):
            present = [d for d in devices if d.first_seen is not None and d.missing_since is None]
            counts: dict[tuple[str, str], int] = {}
            for d in present:
                approved = "true" if d.approved else "false"
                key = (d.device_class, approved)
                counts[key] = counts.get(key, 0) + 1
                assert d.first_seen is not None
                first.add_metric([code, d.mac, d.device_class, d.vendor, approved],
                                 d.first_seen.timestamp())
            for (device_class, approved), n in sorted(counts.items()):
                by_class.add_metric([code, device_class, approved], n)
            unknown.add_metric([code], sum(1 for d in present if not d.approved))
        return (by_class, unknown, first)

    def families(self, now: float) -> Iterator[Metric]:
        """The same series as `render`, as metric families (for remote write).

        Decodes every reporting host's Report: for a large fleet this costs seconds, which is
        why only the remote-write thread calls it, once per interval.
        """
        yield from self._commune_families(now)
        for entry in self.hosts():
            if entry.body is not None and not self.is_silent(entry, now):
                labels = {"commune": entry.agent.commune, "host": entry.agent.host}
                try:
                    families = list(
                        report_metrics(entry.report(self.limits), labels, self.lang)
                    )
                except Exception:
                    log.exception("host %s left out of remote write", entry.agent.agent_id)
                    continue
                yield from families

    def render(self, now: float) -> str:
        """The fleet exposition: commune series, then every non-silent host's posture."""
        blocks: list[Block] = [render_block(self._commune_families(now), self._headers)]
        left_out = 0
        for entry in self.hosts():
            if entry.body is not None and not self.is_silent(entry, now):
                block = self._host_block(entry)
                if block is None:
                    left_out += 1
                else:
                    blocks.append(block)
        self.unrenderable = left_out
        return join_blocks(blocks, self._headers)
