"""« Sentinelle — Commune »: one town hall in detail, with what to do about each open finding."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from sentinelle.dashboards.fleet import severity_colours, severity_queries
from sentinelle.dashboards.panels import (
    LANG,
    UID_COMMUNE,
    Column,
    Q,
    Words,
    age_thresholds,
    approved_mappings,
    check_link,
    check_text_mappings,
    check_title_mappings,
    copy_label,
    count_thresholds,
    datasource_variable,
    families,
    family_open_checks,
    grade_number,
    grade_number_mappings,
    grade_number_thresholds,
    lan_class_mappings,
    neutral_thresholds,
    new_dashboard,
    query_variable,
    report_age_thresholds,
    score_thresholds,
    severity_mappings,
    stat_panel,
    status_mappings,
    steps,
    table_panel,
    timeseries_panel,
    yes_no_mappings,
)
from sentinelle.rules import RuleSet

C = 'commune="$commune"'
DAY = 86400.0


def _hours_param(rules: RuleSet, check: str, name: str, default: float) -> float:
    value = rules.checks[check].params.get(name, default) if check in rules.checks else default
    return float(value)


def backup_age_thresholds(rules: RuleSet) -> db.ThresholdsConfig:
    """Orange and red at the same ages as the backups.freshness check (rules/checks)."""
    limit = _hours_param(rules, "backups.freshness", "max_age_hours", 26.0) * 3600
    warn = _hours_param(rules, "backups.freshness", "warn_ratio", 0.95) * limit
    return age_thresholds(warn, limit)


def build(rules: RuleSet, lang: str = LANG) -> db.Dashboard:
    w = Words(rules.catalog, lang)
    score = score_thresholds(rules)
    dash = new_dashboard(UID_COMMUNE, w, "commune")
    dash.with_variable(datasource_variable(w))
    dash.with_variable(query_variable(
        "commune", w("commune.variable.commune.label"),
        "label_values(sentinelle_commune_info, commune)",
        w("commune.variable.commune.description")))
    dash.with_variable(query_variable(
        "commune_name", w("commune.variable.name.label"),
        "label_values(sentinelle_commune_info{commune=\"$commune\"}, name)",
        w("commune.variable.name.description"), hidden=True))
    legends = {key: w(f"legend.{key}") for key in ("reporting", "silent", "never")}

    dash.with_row(db.Row(w("commune.row.summary", name="${commune_name}", code="${commune}")))
    dash.with_panel(stat_panel(
        *w.panel("commune.grade"),
        [Q(grade_number("sentinelle_commune_grade_info", C, "commune"))], unit="none",
        thresholds=grade_number_thresholds(), mappings=grade_number_mappings(), width=3))
    dash.with_panel(stat_panel(
        *w.panel("commune.score"),
        [Q(f"sentinelle_commune_risk_score{{{C}}}")], unit="none", thresholds=score,
        width=3, graph=True))
    dash.with_panel(stat_panel(
        *w.panel("commune.hosts"),
        [Q(f'sum(sentinelle_commune_hosts{{{C},state="{state}"}})', word)
         for state, word in legends.items()],
        width=6, colour_by_legend={legends["reporting"]: "green", legends["silent"]: "red",
                                   legends["never"]: "orange"}))
    dash.with_panel(stat_panel(
        *w.panel("commune.open"),
        severity_queries(w, C), width=9, colour_by_legend=severity_colours(w)))
    dash.with_panel(stat_panel(
        *w.panel("commune.population"),
        [Q(f"sentinelle_commune_population{{{C}}}")], unit="none", width=3))

    # One panel per family of checks: where the commune stands on SSH, accounts, firewall…
    # at a glance, before the detail of the findings table below.
    dash.with_row(db.Row(w("commune.row.families")))
    for family, heading in families(rules).items():
        dash.with_panel(stat_panel(
            heading[w.lang], w("commune.family.description", family=family,
                               heading=heading[w.lang]),
            [Q(family_open_checks(family, C))], thresholds=count_thresholds(),
            width=3, height=3, no_value=w("commune.family.not_checked")))

    dash.with_row(db.Row(w("commune.row.hosts", name="${commune_name}")))
    dash.with_panel(table_panel(
        *w.panel("commune.servers"),
        [Q(f"max by (commune, host, os_id, os_version, kernel, agent_version) "
           f"(sentinelle_host_info{{{C}}})"),
         Q(grade_number("sentinelle_host_grade_info", C, "commune, host")),
         Q(f"max by (commune, host) (sentinelle_host_risk_score{{{C}}})"),
         Q(f"max by (commune, host) "
           f"(time() - sentinelle_host_last_report_timestamp_seconds{{{C}}})"),
         Q(f"max by (commune, host) (sentinelle_host_silent{{{C}}})")],
        columns={
            "host": Column(w("column.host")),
            "Value #B": Column(w("column.grade"), mappings=grade_number_mappings(),
                               thresholds=grade_number_thresholds(), cell="color-background",
                               width=70),
            "Value #C": Column(w("column.score"), unit="none", decimals=0, thresholds=score,
                               cell="color-text", width=80),
            "os_id": Column(w("column.system"), width=90),
            "os_version": Column(w("column.os_version"), width=80),
            "kernel": Column(w("column.kernel")),
            "agent_version": Column(w("column.agent"), width=80),
            "Value #D": Column(w("column.last_report"), unit="s",
                               thresholds=report_age_thresholds(), cell="color-text"),
            "Value #E": Column(w("column.silent"), mappings=yes_no_mappings(w, "red"),
                               thresholds=neutral_thresholds(), cell="color-text", width=100),
        },
        hide=["commune", "Value #A"], sort_by=(w("column.score"), False), height=7))

    dash.with_row(db.Row(w("commune.row.findings")))
    open_checks = f'sentinelle_check_status{{{C},status=~"warn|fail"}}'
    dash.with_panel(table_panel(
        *w.panel("commune.findings"),
        [Q(copy_label(open_checks, "remediation", "check"))],
        columns={
            "host": Column(w("column.host"), width=140),
            "check": Column(w("column.check"), mappings=check_title_mappings(rules, w),
                            link=check_link(w), width=300),
            "severity": Column(w("column.severity"), mappings=severity_mappings(w),
                               cell="color-text", width=90),
            "status": Column(w("column.status"), mappings=status_mappings(w),
                             cell="color-background", width=90),
            "remediation": Column(w("column.what_to_do"),
                                  mappings=check_text_mappings(rules, "remediation", w),
                                  wrap=True),
        },
        hide=["commune", "Value"], sort_by=(w("column.status"), False), height=14))
    # Accepted risks: what a waiver takes out of the score, and how long it has left (a
    # negative time left: expired, the risk counts again).
    dash.with_panel(table_panel(
        *w.panel("commune.waivers"),
        [Q(f"(sentinelle_waiver_expiry_timestamp_seconds{{{C}}} - time())")],
        columns={
            "host": Column(w("column.host"), width=140),
            "check": Column(w("column.check"), mappings=check_title_mappings(rules, w),
                            link=check_link(w), width=300),
            "waiver": Column(w("column.waiver"), width=160),
            "Value": Column(w("column.time_left"), unit="s", cell="color-background",
                            thresholds=steps("red", (0, "orange"), (30 * 86400, "green"))),
        },
        hide=["commune"], sort_by=(w("column.time_left"), False), height=7))

    dash.with_row(db.Row(w("commune.row.updates")))
    dash.with_panel(table_panel(
        *w.panel("commune.updates"),
        [Q(f'max by (commune, host) (sentinelle_pending_updates{{{C},kind="security"}})'),
         Q(f'max by (commune, host) (sentinelle_pending_updates{{{C},kind="other"}})'),
         Q(f"max by (commune, host) (sentinelle_reboot_required{{{C}}})"),
         Q(f"max by (commune, host) "
           f"(time() - sentinelle_last_upgrade_timestamp_seconds{{{C}}})"),
         Q(f"max by (commune, host) (sentinelle_package_lists_age_seconds{{{C}}})"),
         Q(f"max by (commune, host) "
           f"(sentinelle_os_end_of_support_timestamp_seconds{{{C}}} - time())")],
        columns={
            "host": Column(w("column.host")),
            "Value #A": Column(w("column.security_pending"), thresholds=count_thresholds(),
                               cell="color-text"),
            "Value #B": Column(w("column.other_pending"), thresholds=count_thresholds("orange"),
                               cell="color-text"),
            "Value #C": Column(w("column.reboot_required"), mappings=yes_no_mappings(w),
                               thresholds=neutral_thresholds(), cell="color-text"),
            "Value #D": Column(w("column.last_upgrade"), unit="s",
                               thresholds=age_thresholds(14 * DAY, 30 * DAY),
                               cell="color-text"),
            "Value #E": Column(w("column.package_lists_age"), unit="s",
                               thresholds=age_thresholds(2 * DAY, 7 * DAY), cell="color-text"),
            "Value #F": Column(w("column.end_of_support"), unit="s",
                               thresholds=steps("red", (0.0, "orange"), (180 * DAY, "green")),
                               cell="color-text"),
        },
        hide=["commune"], width=14, height=7))
    dash.with_panel(timeseries_panel(
        *w.panel("commune.security_updates"),
        [Q(f'sentinelle_pending_updates{{{C},kind="security"}}', "{{host}}")],
        unit="short", thresholds=count_thresholds(), width=10, height=7, decimals=0))

    dash.with_row(db.Row(w("commune.row.backups")))
    backup_age = backup_age_thresholds(rules)
    dash.with_panel(table_panel(
        *w.panel("commune.backups"),
        [Q(f"max by (commune, host, location) (sentinelle_backup_age_seconds{{{C}}})"),
         Q(f"max by (commune, host, location) (sentinelle_backup_size_bytes{{{C}}})"),
         Q(f"max by (commune, host, location) "
           f"(time() - sentinelle_backup_last_restore_test_timestamp_seconds{{{C}}})")],
        columns={
            "host": Column(w("column.host")),
            "location": Column(w("column.location")),
            "Value #A": Column(w("column.last_backup"), unit="s", thresholds=backup_age,
                               cell="color-text"),
            "Value #B": Column(w("column.size"), unit="bytes"),
            "Value #C": Column(w("column.last_restore_test"), unit="s",
                               thresholds=age_thresholds(90 * DAY, 365 * DAY),
                               cell="color-text"),
        },
        hide=["commune"], width=14, height=7))
    dash.with_panel(timeseries_panel(
        *w.panel("commune.backup_age"),
        [Q(f"sentinelle_backup_age_seconds{{{C}}}", "{{host}} : {{location}}")],
        unit="s", thresholds=backup_age, show_thresholds=True, width=10, height=7, min_value=0))

    dash.with_row(db.Row(w("commune.row.services")))
    dash.with_panel(table_panel(
        *w.panel("commune.services"),
        [Q(f'sentinelle_listening_port_info{{{C},scope="network"}}')],
        columns={
            "host": Column(w("column.host")),
            "address": Column(w("column.address")),
            "port": Column(w("column.port"), width=80),
            "protocol": Column(w("column.protocol"), width=90),
            "process": Column(w("column.process")),
            "service": Column(w("column.risky_service"), cell="color-background",
                              thresholds=steps("red")),
        },
        hide=["commune", "scope", "Value"], width=14, height=8))
    dash.with_panel(table_panel(
        *w.panel("commune.scan"),
        [Q(f"sentinelle_network_scan_open_port_info{{{C}}}")],
        columns={
            "host": Column(w("column.host")),
            "target": Column(w("column.target")),
            "port": Column(w("column.port"), width=80),
            "protocol": Column(w("column.protocol"), width=90),
            "service": Column(w("column.service"), cell="color-background",
                              thresholds=steps("red")),
        },
        hide=["commune", "Value"], width=10, height=8))

    # The town hall's network (lan family, docs/lan.md): what the collector's inventory holds.
    dash.with_row(db.Row(w("commune.row.lan")))
    dash.with_panel(stat_panel(
        *w.panel("commune.lan_unknown"),
        [Q(f"sentinelle_commune_lan_unknown_devices{{{C}}}")],
        thresholds=count_thresholds("orange"), width=4, height=8))
    dash.with_panel(table_panel(
        *w.panel("commune.lan_classes"),
        [Q(f"sum by (class, approved) (sentinelle_commune_lan_devices{{{C}}})")],
        columns={
            "class": Column(w("column.device_class"), mappings=lan_class_mappings(w)),
            "approved": Column(w("column.approved"), mappings=approved_mappings(w),
                               cell="color-text", width=110),
            "Value": Column(w("column.devices"), width=100),
        },
        sort_by=(w("column.devices"), True), width=7, height=8))
    dash.with_panel(table_panel(
        *w.panel("commune.lan_devices"),
        [Q(f"time() - sentinelle_lan_device_first_seen_timestamp_seconds{{{C}}}")],
        columns={
            "mac": Column(w("column.mac"), width=150),
            "vendor": Column(w("column.vendor")),
            "class": Column(w("column.device_class"), mappings=lan_class_mappings(w),
                            width=150),
            "approved": Column(w("column.approved"), mappings=approved_mappings(w),
                               cell="color-text", width=100),
            "Value": Column(w("column.first_seen"), unit="s", width=130),
        },
        hide=["commune"], sort_by=(w("column.first_seen"), False), width=13, height=8))

    dash.with_row(db.Row(w("commune.row.history")))
    dash.with_panel(timeseries_panel(
        *w.panel("commune.score_history"),
        [Q(f"sentinelle_commune_risk_score{{{C}}}", w("legend.commune")),
         Q(f"sentinelle_host_risk_score{{{C}}}", "{{host}}")],
        unit="none", thresholds=score, show_thresholds=True, min_value=0, max_value=100,
        decimals=0))
    dash.with_panel(timeseries_panel(
        *w.panel("commune.open_history"),
        severity_queries(w, C), unit="short", stacked=True,
        colour_by_legend=severity_colours(w), decimals=0))
    return dash
