"""The agent's own /metrics: a custom collector built from the last Report at each scrape."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from sentinelle import __version__
from sentinelle.metrics import metric_help, report_metrics
from sentinelle.model import AgentHealth, Report


class AgentState:
    """What the daemon knows between cycles; read by the collector under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.report: Report | None = None
        self.cycles = 0
        self.cycle_failures = 0
        self.last_cycle_seconds = 0.0
        self.last_cycle_end = 0.0
        self.started = time.time()
        self.extra: list[Collector] = []  # e.g. the push client's own state (collector issue)
        # The agent's live health (read at each scrape, so a disk that fills up between cycles
        # shows before the next Report); None outside the daemon.
        self.health_source: Callable[[], AgentHealth] | None = None

    def record_cycle(self, report: Report | None, seconds: float) -> None:
        with self._lock:
            self.cycles += 1
            if report is None:
                self.cycle_failures += 1
            else:
                self.report = report
            self.last_cycle_seconds = seconds
            self.last_cycle_end = time.time()

    def snapshot(self) -> tuple[Report | None, int, int, float, float]:
        with self._lock:
            return (
                self.report,
                self.cycles,
                self.cycle_failures,
                self.last_cycle_seconds,
                self.last_cycle_end,
            )


class AgentCollector(Collector):
    """Yields the posture metrics of the last Report plus the agent's own health."""

    def __init__(self, state: AgentState, lang: str = "fr") -> None:
        self.state = state
        self.lang = lang  # of the HELP texts

    def collect(self) -> Iterator[Metric]:
        report, cycles, failures, seconds, last_end = self.state.snapshot()
        info = InfoMetricFamily("sentinelle_agent", metric_help("agent", self.lang))
        info.add_metric([], {"version": __version__})
        yield info
        yield CounterMetricFamily(
            "sentinelle_agent_cycles", metric_help("agent_cycles", self.lang), value=cycles
        )
        yield CounterMetricFamily(
            "sentinelle_agent_cycle_failures",
            metric_help("agent_cycle_failures", self.lang),
            value=failures,
        )
        yield GaugeMetricFamily(
            "sentinelle_agent_last_cycle_duration_seconds",
            metric_help("agent_last_cycle_duration_seconds", self.lang),
            value=seconds,
        )
        if last_end:
            yield GaugeMetricFamily(
                "sentinelle_agent_last_cycle_timestamp_seconds",
                metric_help("agent_last_cycle_timestamp_seconds", self.lang),
                value=last_end,
            )
        yield GaugeMetricFamily(
            "sentinelle_agent_start_time_seconds",
            metric_help("agent_start_time_seconds", self.lang),
            value=self.state.started,
        )
        if self.state.health_source is not None:
            health = self.state.health_source()
            yield CounterMetricFamily(
                "sentinelle_agent_state_write_errors",
                metric_help("agent_state_write_errors", self.lang),
                value=health.state_write_errors_total,
            )
            yield GaugeMetricFamily(
                "sentinelle_agent_state_dir_writable",
                metric_help("agent_state_dir_writable", self.lang),
                value=1 if health.state_dir_writable else 0,
            )
        if report is not None:
            yield from report_metrics(report, lang=self.lang)
        for extra in self.state.extra:
            yield from extra.collect()


def agent_registry(state: AgentState) -> CollectorRegistry:
    """A private registry (no default process/platform collectors mixed in unasked)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(state))
    return registry


def single_report_registry(report: Report, lang: str = "fr") -> CollectorRegistry:
    """What `check --format prometheus` prints: the Report's metrics only, HELP in `lang`."""
    registry = CollectorRegistry(auto_describe=False)

    class _Once(Collector):
        def collect(self) -> Iterator[Metric]:
            yield from report_metrics(report, lang=lang)

    registry.register(_Once())
    return registry
