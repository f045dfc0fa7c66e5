"""« Sentinelle — Santé des agents »: are the agents and the collector doing their job?

Each Report carries the agent's own health (spool, dropped and rejected Reports, failed writes
under its state directory), so the SOC sees it through the collector although agents sit behind
NAT; with it: versions, last reports, the delay between a Report's creation and its storage,
checks that errored and check durations, and what the collector turned away.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from sentinelle.dashboards.panels import (
    LANG,
    UID_AGENTS,
    Column,
    Q,
    Words,
    age_thresholds,
    bargauge_panel,
    check_duration_thresholds,
    check_link,
    check_title_mappings,
    commune_link,
    count_thresholds,
    datasource_variable,
    neutral_thresholds,
    new_dashboard,
    piechart_panel,
    report_age_thresholds,
    stat_panel,
    table_panel,
    timeseries_panel,
    yes_no_mappings,
)
from sentinelle.rules import RuleSet

TRANSIT = ("sentinelle_host_last_report_timestamp_seconds - "
           "sentinelle_report_timestamp_seconds")


def _with_spool_note(w: Words, key: str) -> tuple[str, str]:
    """A panel's title and description, the description pointing to the send-queue row."""
    title, description = w.panel(key)
    return title, f"{description} {w('agents.spool_note')}"


def build(rules: RuleSet, lang: str = LANG) -> db.Dashboard:
    w = Words(rules.catalog, lang)
    dash = new_dashboard(UID_AGENTS, w, "agents")
    dash.with_variable(datasource_variable(w))
    legends = {key: w(f"legend.{key}") for key in ("reporting", "silent", "never")}

    dash.with_row(db.Row(w("agents.row.fleet")))
    dash.with_panel(stat_panel(
        *w.panel("agents.by_state"),
        [Q(f'sum(sentinelle_commune_hosts{{state="{state}"}})', word)
         for state, word in legends.items()],
        width=8, colour_by_legend={legends["reporting"]: "green", legends["silent"]: "red",
                                   legends["never"]: "orange"}))
    dash.with_panel(stat_panel(
        *w.panel("agents.errors"),
        [Q("count(sentinelle_check_success == 0) or vector(0)")], width=4,
        thresholds=count_thresholds()))
    dash.with_panel(stat_panel(
        *w.panel("agents.oldest"),
        [Q("max(time() - sentinelle_host_last_report_timestamp_seconds)")], unit="s",
        decimals=None, width=4, thresholds=report_age_thresholds()))
    dash.with_panel(piechart_panel(
        *w.panel("agents.versions"),
        [Q("count by (agent_version) (sentinelle_host_info)", "{{agent_version}}")],
        width=8, height=6))

    dash.with_row(db.Row(w("agents.row.each")))
    dash.with_panel(table_panel(
        *_with_spool_note(w, "agents.table"),
        [Q("max by (commune, host, agent_version, os_id, os_version, kernel) "
           "(sentinelle_host_info)"),
         Q("max by (commune, host) "
           "(time() - sentinelle_host_last_report_timestamp_seconds)"),
         Q(f"max by (commune, host) ({TRANSIT})"),
         Q("sum by (commune, host) (1 - sentinelle_check_success)"),
         Q("max by (commune, host) (sentinelle_host_silent)")],
        columns={
            "commune": Column(w("column.insee"), link=commune_link(w), width=100),
            "host": Column(w("column.host")),
            "agent_version": Column(w("column.agent"), width=80),
            "os_id": Column(w("column.system"), width=90),
            "os_version": Column(w("column.os_version"), width=80),
            "kernel": Column(w("column.kernel")),
            "Value #B": Column(w("column.last_report"), unit="s",
                               thresholds=report_age_thresholds(), cell="color-text"),
            "Value #C": Column(w("column.transit"), unit="s",
                               thresholds=transit_thresholds(), cell="color-text"),
            "Value #D": Column(w("column.check_errors"), thresholds=count_thresholds(),
                               cell="color-text"),
            "Value #E": Column(w("column.silent"), mappings=yes_no_mappings(w, "red"),
                               thresholds=neutral_thresholds(), cell="color-text", width=100),
        },
        hide=["Value #A"], sort_by=(w("column.last_report"), True), height=9))
    dash.with_panel(timeseries_panel(
        *w.panel("agents.report_age"),
        [Q("time() - sentinelle_host_last_report_timestamp_seconds",
           "{{commune}} / {{host}}")],
        unit="s", thresholds=report_age_thresholds(), show_thresholds=True, min_value=0))
    dash.with_panel(timeseries_panel(
        *_with_spool_note(w, "agents.transit"),
        [Q(TRANSIT, "{{commune}} / {{host}}")],
        unit="s", thresholds=transit_thresholds(), show_thresholds=True, min_value=0))

    dash.with_row(db.Row(w("agents.row.spool")))
    dash.with_panel(stat_panel(
        *w.panel("agents.dropped"),
        [Q("sum(increase(sentinelle_agent_health_reports_dropped_total[24h])) or vector(0)")],
        width=6, thresholds=count_thresholds()))
    dash.with_panel(stat_panel(
        *w.panel("agents.waiting"),
        [Q("sum(sentinelle_agent_health_spool_reports) or vector(0)")],
        width=6, thresholds=count_thresholds()))
    dash.with_panel(stat_panel(
        *w.panel("agents.disk_full"),
        [Q("count(sentinelle_agent_health_state_dir_writable == 0) or vector(0)")],
        width=6, thresholds=count_thresholds()))
    dash.with_panel(stat_panel(
        *w.panel("agents.rejected"),
        [Q("sum(sentinelle_agent_health_reports_rejected_total) or vector(0)")],
        width=6, thresholds=count_thresholds()))
    dash.with_panel(table_panel(
        *w.panel("agents.queues"),
        [Q("max by (commune, host) (sentinelle_agent_health_spool_reports)"),
         Q("max by (commune, host) (sentinelle_agent_health_reports_dropped_total)"),
         Q("max by (commune, host) (sentinelle_agent_health_reports_rejected_total)"),
         Q("max by (commune, host) (sentinelle_agent_health_push_consecutive_failures)"),
         Q("max by (commune, host) (sentinelle_agent_health_state_dir_writable)")],
        columns={
            "commune": Column(w("column.insee"), link=commune_link(w), width=100),
            "host": Column(w("column.host")),
            "Value #A": Column(w("column.waiting"), thresholds=count_thresholds(),
                               cell="color-text"),
            "Value #B": Column(w("column.dropped"), thresholds=count_thresholds(),
                               cell="color-text"),
            "Value #C": Column(w("column.rejected"), thresholds=count_thresholds(),
                               cell="color-text"),
            "Value #D": Column(w("column.push_failures"), thresholds=count_thresholds(),
                               cell="color-text"),
            "Value #E": Column(w("column.state_dir_writable"),
                               mappings=yes_no_mappings(w, "green", "red"),
                               thresholds=neutral_thresholds(), cell="color-text", width=140),
        },
        sort_by=(w("column.dropped"), True), height=8, width=24))

    dash.with_row(db.Row(w("agents.row.checks")))
    dash.with_panel(table_panel(
        *w.panel("agents.failing"),
        [Q("sentinelle_check_success == 0")],
        columns={
            "commune": Column(w("column.insee"), link=commune_link(w), width=100),
            "host": Column(w("column.host")),
            "check": Column(w("column.check"), mappings=check_title_mappings(rules, w),
                            link=check_link(w)),
        },
        hide=["Value"], width=12, height=8))
    dash.with_panel(bargauge_panel(
        *w.panel("agents.slowest"),
        [Q("topk(10, max by (check) (sentinelle_check_duration_seconds))", "{{check}}")],
        unit="s", thresholds=check_duration_thresholds(), width=12))
    dash.with_panel(timeseries_panel(
        *w.panel("agents.total_duration"),
        [Q("sum by (commune, host) (sentinelle_check_duration_seconds)",
           "{{commune}} / {{host}}")],
        unit="s", thresholds=check_duration_thresholds(), width=24))

    dash.with_row(db.Row(w("agents.row.collector")))
    dash.with_panel(timeseries_panel(
        *w.panel("agents.received"),
        [Q("sum by (result) (increase(sentinelle_collector_reports_total[$__rate_interval]))",
           "{{result}}")],
        unit="short", stacked=True, width=12, decimals=0))
    dash.with_panel(timeseries_panel(
        *w.panel("agents.ingest"),
        [Q("histogram_quantile(0.95, sum by (le) "
           "(rate(sentinelle_collector_ingest_duration_seconds_bucket[$__rate_interval])))",
           w("legend.p95"))],
        unit="s", thresholds=age_thresholds(0.5, 2.0), width=6))
    dash.with_panel(stat_panel(
        *w.panel("agents.exposition"),
        [Q("max(sentinelle_collector_exposition_render_seconds)")], unit="s", decimals=None,
        width=6, height=8, thresholds=age_thresholds(1.0, 5.0), graph=True))
    dash.with_panel(timeseries_panel(
        *w.panel("agents.refused"),
        [Q("sum by (reason) (increase(sentinelle_collector_refused_total[$__rate_interval]))",
           "{{reason}}")],
        unit="short", stacked=True, width=12, decimals=0))
    dash.with_panel(stat_panel(
        *w.panel("agents.unrenderable"),
        [Q("max(sentinelle_collector_unrenderable_hosts)")],
        width=12, thresholds=count_thresholds()))
    return dash


def transit_thresholds() -> db.ThresholdsConfig:
    """Minutes are normal (push retries); an hour or more means Reports waited in the spool."""
    return age_thresholds(300.0, 3600.0)
