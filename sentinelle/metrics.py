"""Prometheus metrics derived from a Report: one function shared by the agent and the collector.

Checks attach `Measurement`s to their findings; this module knows each measurement's type and
help text (the contract in docs/metrics.md) and adds the per-check and per-host series.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)

from sentinelle.i18n import DEFAULT_LANG, parse_message
from sentinelle.model import Report, Severity, Status
from sentinelle.waivers import EXPIRED_MESSAGE

PREFIX = "sentinelle_"


@dataclass(frozen=True)
class MeasurementSpec:
    """Label names of one measurement name (without the prefix); its HELP text is the catalog
    entry `metric.<name>` in rules/messages/metrics.yaml."""

    labels: tuple[str, ...] = ()


# The measurement names checks may emit. Adding one here documents it; a test checks that
# docs/metrics.md lists every name and that the catalog has its help text.
MEASUREMENTS: dict[str, MeasurementSpec] = {
    "pending_updates": MeasurementSpec(("kind",)),
    "package_lists_age_seconds": MeasurementSpec(),
    "reboot_required": MeasurementSpec(),
    "last_upgrade_timestamp_seconds": MeasurementSpec(),
    "os_end_of_support_timestamp_seconds": MeasurementSpec(("os_id", "os_version")),
    "listening_port_info": MeasurementSpec(
        ("address", "port", "protocol", "process", "scope", "service")
    ),
    "network_scan_open_port_info": MeasurementSpec(("target", "port", "protocol", "service")),
    "lan_device_info": MeasurementSpec(("mac", "ip", "vendor", "class")),
    "backup_age_seconds": MeasurementSpec(("location",)),
    "backup_size_bytes": MeasurementSpec(("location",)),
    "backup_last_restore_test_timestamp_seconds": MeasurementSpec(("location",)),
}

# The agent's own health as its Report carries it (sentinelle.model.AgentHealth): name, field,
# counter or gauge. Prefixed `agent_health_` so they never clash with the live
# `sentinelle_agent_push_*` families of the agent's own /metrics.
AGENT_HEALTH: tuple[tuple[str, str, bool], ...] = (
    ("agent_health_spool_reports", "spool_reports", False),
    ("agent_health_spool_bytes", "spool_bytes", False),
    ("agent_health_reports_dropped", "reports_dropped_total", True),
    ("agent_health_spool_quarantined", "spool_quarantined_total", True),
    ("agent_health_reports_rejected", "reports_rejected_total", True),
    ("agent_health_push_consecutive_failures", "push_consecutive_failures", False),
    ("agent_health_cycle_failures", "cycle_failures_total", True),
    ("agent_health_state_write_errors", "state_write_errors_total", True),
    ("agent_health_state_dir_writable", "state_dir_writable", False),
)


@lru_cache(maxsize=4)
def _help_texts(lang: str) -> dict[str, str]:
    """`metric.<name>` of rules/messages/metrics.yaml, in one language. Only that file is read
    (the agent's daemon pays for no other catalog), and its texts have no placeholder: no
    Babel either."""
    from sentinelle.i18n import render_message
    from sentinelle.rules import default_rules_dir
    from sentinelle.validation import load_yaml_file

    path = default_rules_dir() / "messages" / "metrics.yaml"
    data = load_yaml_file(path)
    texts: dict[str, str] = {}
    for msg_id, entry in (data or {}).items():
        if str(msg_id).startswith("metric."):
            message = parse_message(str(msg_id), entry, str(path))
            texts[message.id.removeprefix("metric.")] = render_message(message, {}, lang)
    return texts


def metric_help(name: str, lang: str = DEFAULT_LANG) -> str:
    """The HELP text of a family (name without the prefix) in `lang`."""
    return _help_texts(lang).get(name, name)


def _ts(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def report_metrics(
    report: Report, extra_labels: Mapping[str, str] | None = None, lang: str = DEFAULT_LANG
) -> Iterator[Metric]:
    """Metric families for one Report; `extra_labels` (commune, host) prefix every series;
    HELP texts in `lang`."""
    yield from reports_metrics([(report, dict(extra_labels or {}))], lang)


def reports_metrics(
    items: Sequence[tuple[Report, Mapping[str, str]]], lang: str = DEFAULT_LANG
) -> Iterator[Metric]:
    """Metric families for many Reports (the collector's fleet), each with its own labels."""
    label_names = list(items[0][1].keys()) if items else []

    def fam(name: str, labels: Sequence[str] = ()) -> GaugeMetricFamily:
        return GaugeMetricFamily(
            PREFIX + name, metric_help(name, lang), labels=[*label_names, *labels]
        )

    status = fam("check_status", ("check", "severity", "status"))
    success = fam("check_success", ("check",))
    duration = fam("check_duration_seconds", ("check",))
    open_findings = fam("findings_open", ("severity",))
    score = fam("host_risk_score")
    grade = InfoMetricFamily(
        PREFIX + "host_grade", metric_help("host_grade", lang), labels=[*label_names]
    )
    stamp = fam("report_timestamp_seconds")
    waived = fam("findings_waived", ("check",))
    waiver_expiry = fam("waiver_expiry_timestamp_seconds", ("check", "waiver"))
    expired_open = fam("waivers_expired_open", ("check",))
    host_info = InfoMetricFamily(
        PREFIX + "host", metric_help("host", lang), labels=[*label_names]
    )
    measured: dict[str, GaugeMetricFamily] = {
        name: fam(name, spec.labels) for name, spec in MEASUREMENTS.items()
    }
    health: list[tuple[str, GaugeMetricFamily | CounterMetricFamily]] = [
        (
            attr,
            CounterMetricFamily(PREFIX + name, metric_help(name, lang), labels=label_names)
            if counter
            else fam(name),
        )
        for name, attr, counter in AGENT_HEALTH
    ]

    for report, extra in items:
        base = [extra[k] for k in label_names]
        # A check's severity label: the worst of its open findings, else the worst of all.
        open_sev: dict[str, Severity] = {}
        any_sev: dict[str, Severity] = {}
        for f in report.results:
            for table, applies in ((open_sev, f.status.is_open), (any_sev, True)):
                if applies and (f.check not in table or f.severity.rank < table[f.check].rank):
                    table[f.check] = f.severity
        for f in report.results:
            for m in f.measurements:
                target = measured.get(m.name)
                if target is None:
                    continue  # an unknown measurement from a newer agent: ignore, do not fail
                spec = MEASUREMENTS[m.name]
                target.add_metric(
                    [*base, *(str(m.labels.get(k, "")) for k in spec.labels)], m.value
                )
        waived_by_check: dict[str, int] = {}
        expiries: dict[tuple[str, str], float] = {}
        expired_by_check: dict[str, int] = {}
        for f in report.results:
            if f.waiver is not None:
                waived_by_check[f.check] = waived_by_check.get(f.check, 0) + 1
                # The end of the waiver's last day, UTC.
                expiries[(f.check, f.waiver.id)] = _ts(f.waiver.expires + "T23:59:59Z")
            elif f.message == EXPIRED_MESSAGE:
                expired_by_check[f.check] = expired_by_check.get(f.check, 0) + 1
        for check, count in waived_by_check.items():
            waived.add_metric([*base, check], count)
        for (check, waiver_id), stamp_s in expiries.items():
            waiver_expiry.add_metric([*base, check, waiver_id], stamp_s)
        for check, count in expired_by_check.items():
            expired_open.add_metric([*base, check], count)
        for run in report.checks:
            sev = open_sev.get(run.check) or any_sev.get(run.check, Severity.INFO)
            status.add_metric([*base, run.check, sev.value, run.status.value], 1)
            success.add_metric([*base, run.check], 0 if run.status == Status.ERROR else 1)
            duration.add_metric([*base, run.check], run.duration_seconds)
        for sev_name, count in report.score.open_by_severity.items():
            open_findings.add_metric([*base, sev_name], count)
        score.add_metric(base, report.score.value)
        grade.add_metric(base, {"grade": report.score.grade})
        stamp.add_metric(base, _ts(report.generated_at))
        if report.agent_health is not None:
            for attr, family in health:
                family.add_metric(base, float(getattr(report.agent_health, attr)))
        host_info.add_metric(
            base,
            {
                "hostname": str(report.host.get("hostname", "")),
                "os_id": str(report.host.get("os_id", "")),
                "os_version": str(report.host.get("os_version", "")),
                "kernel": str(report.host.get("kernel", "")),
                "agent_version": report.agent_version,
            },
        )

    yield from (status, success, duration, open_findings, score, grade, stamp, host_info)
    yield from (f for f in (waived, waiver_expiry, expired_open) if f.samples)
    yield from (m for m in measured.values() if m.samples)
    yield from (family for _, family in health if family.samples)
