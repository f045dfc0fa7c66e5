"""« Sentinelle — Vue de la flotte »: every commune at a glance, for the SOC analyst."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from sentinelle.dashboards.panels import (
    GRADE_COLOURS,
    LANG,
    SEVERITY_COLOURS,
    UID_FLEET,
    Column,
    Q,
    Words,
    check_link,
    check_title_mappings,
    commune_link,
    count_thresholds,
    datasource_variable,
    family_title_mappings,
    grade_number,
    grade_number_mappings,
    grade_number_thresholds,
    neutral_thresholds,
    new_dashboard,
    piechart_panel,
    report_age_thresholds,
    score_thresholds,
    severity_mappings,
    stat_panel,
    status_mappings,
    steps,
    table_panel,
    timeseries_panel,
    with_family,
    yes_no_mappings,
)
from sentinelle.rules import RuleSet

WITH_NAME = "* on (commune) group_left (name) sentinelle_commune_info"
WORST_HOSTS = "bottomk(10, sentinelle_host_risk_score)"
OLDEST_REPORTS = "topk(10, time() - sentinelle_host_last_report_timestamp_seconds)"


def severity_queries(w: Words, matchers: str = "") -> list[Q]:
    """One query per severity, worst first, so that the panel keeps that order."""
    sep = "," if matchers else ""
    return [Q(f'sum(sentinelle_findings_open{{{matchers}{sep}severity="{s}"}})', word)
            for s, word in w.severities().items()]


def severity_colours(w: Words) -> dict[str, str]:
    return {word: SEVERITY_COLOURS[s] for s, word in w.severities().items()}


def build(rules: RuleSet, lang: str = LANG) -> db.Dashboard:
    w = Words(rules.catalog, lang)
    score = score_thresholds(rules)
    dash = new_dashboard(UID_FLEET, w, "fleet")
    dash.with_variable(datasource_variable(w))

    dash.with_row(db.Row(w("fleet.row.overview")))
    dash.with_panel(stat_panel(
        *w.panel("fleet.communes"),
        [Q("count(sentinelle_commune_info)")], width=3))
    dash.with_panel(stat_panel(
        *w.panel("fleet.reporting"),
        [Q('sum(sentinelle_commune_hosts{state="reporting"})')], width=3))
    dash.with_panel(stat_panel(
        *w.panel("fleet.silent"),
        [Q('sum(sentinelle_commune_hosts{state="silent"})')], width=3,
        thresholds=count_thresholds()))
    dash.with_panel(stat_panel(
        *w.panel("fleet.never"),
        [Q('sum(sentinelle_commune_hosts{state="never"})')], width=3,
        thresholds=count_thresholds("orange")))
    dash.with_panel(stat_panel(
        *w.panel("fleet.average"),
        [Q("avg(sentinelle_commune_risk_score)")], unit="none", width=4, thresholds=score,
        graph=True))
    dash.with_panel(stat_panel(
        *w.panel("fleet.open"),
        severity_queries(w), width=8, colour_by_legend=severity_colours(w)))

    dash.with_row(db.Row(w("fleet.row.communes")))
    dash.with_panel(table_panel(
        *w.panel("fleet.table"),
        [Q("max by (commune, name, departement) (sentinelle_commune_info)"),
         Q(grade_number("sentinelle_commune_grade_info", "", "commune")),
         Q("max by (commune) (sentinelle_commune_risk_score)"),
         Q("max by (commune) (delta(sentinelle_commune_risk_score[7d]))"),
         Q('sum by (commune) (sentinelle_findings_open{severity="critical"})'),
         Q('sum by (commune) (sentinelle_findings_open{severity="high"})'),
         Q('sum by (commune) (sentinelle_commune_hosts{state="reporting"})'),
         Q('sum by (commune) (sentinelle_commune_hosts{state="silent"})')],
        columns={
            "name": Column(w("column.commune"), link=commune_link(w)),
            "commune": Column(w("column.insee"), link=commune_link(w), width=110),
            "departement": Column(w("column.departement"), width=110),
            "Value #B": Column(w("column.grade"), mappings=grade_number_mappings(),
                               thresholds=grade_number_thresholds(), cell="color-background",
                               width=70),
            "Value #C": Column(w("column.score"), unit="none", decimals=0, thresholds=score,
                               cell="color-text", width=80),
            "Value #D": Column(w("column.trend_7d"), unit="none", decimals=1,
                               thresholds=steps("red", (-0.5, "text"), (0.5, "green")),
                               cell="color-text", width=110),
            "Value #E": Column(w("column.critical"), thresholds=count_thresholds("dark-red"),
                               cell="color-text", width=90),
            "Value #F": Column(w("column.high"), thresholds=count_thresholds("orange"),
                               cell="color-text", width=80),
            "Value #G": Column(w("column.hosts"), width=90),
            "Value #H": Column(w("column.silent"), thresholds=count_thresholds(),
                               cell="color-text", width=100),
        },
        hide=["Value #A"], sort_by=(w("column.score"), False), width=16, height=10))
    dash.with_panel(piechart_panel(
        *w.panel("fleet.by_grade"),
        [Q("count by (grade) (sentinelle_commune_grade_info)", "{{grade}}")],
        colour_by_legend=GRADE_COLOURS, width=8, height=10))
    dash.with_panel(timeseries_panel(
        *w.panel("fleet.scores"),
        [Q(f"sentinelle_commune_risk_score {WITH_NAME}", "{{name}} ({{commune}})")],
        unit="none", thresholds=score, show_thresholds=True, min_value=0, max_value=100,
        width=24, decimals=0))

    # Which families of checks are open where: the SOC's campaign list ("17 communes still
    # let root log in over SSH").
    open_checks = with_family('sentinelle_check_status{status=~"warn|fail"}')
    dash.with_row(db.Row(w("fleet.row.families")))
    dash.with_panel(table_panel(
        *w.panel("fleet.families"),
        [Q(f"count by (family) (count by (family, commune) ({open_checks}))"),
         Q(f"count by (family) (count by (family, commune, host) ({open_checks}))"),
         Q(f"count by (family) ({open_checks})")],
        columns={
            "family": Column(w("column.family"), mappings=family_title_mappings(rules, w)),
            "Value #A": Column(w("column.communes"), thresholds=count_thresholds("orange"),
                               cell="color-text", width=110),
            "Value #B": Column(w("column.hosts"), width=90),
            "Value #C": Column(w("column.open_checks"), width=120),
        },
        sort_by=(w("column.communes"), True), width=24, height=8))
    dash.with_panel(table_panel(
        *w.panel("fleet.lan_unknown"),
        [Q("(sentinelle_commune_lan_unknown_devices > 0) " + WITH_NAME)],
        columns={
            "name": Column(w("column.commune"), link=commune_link(w)),
            "commune": Column(w("column.insee"), width=110),
            "Value": Column(w("column.unknown_devices"), thresholds=count_thresholds("orange"),
                            cell="color-text", width=150),
        },
        sort_by=(w("column.unknown_devices"), True), width=24, height=6))
    dash.with_row(db.Row(w("fleet.row.exposures")))
    dash.with_panel(table_panel(
        *w.panel("fleet.serious"),
        [Q('sentinelle_check_status{status=~"warn|fail",severity=~"critical|high"} '
           + WITH_NAME)],
        columns={
            "name": Column(w("column.commune"), link=commune_link(w)),
            "commune": Column(w("column.insee"), link=commune_link(w), width=100),
            "host": Column(w("column.host")),
            "check": Column(w("column.check"), mappings=check_title_mappings(rules, w),
                            link=check_link(w)),
            "severity": Column(w("column.severity"), mappings=severity_mappings(w),
                               cell="color-text", width=100),
            "status": Column(w("column.status"), mappings=status_mappings(w),
                             cell="color-background", width=100),
        },
        hide=["Value"], sort_by=(w("column.severity"), False), width=24, height=10))
    dash.with_panel(table_panel(
        *w.panel("fleet.risky"),
        [Q('sentinelle_listening_port_info{scope="network",service!=""} ' + WITH_NAME)],
        columns={
            "name": Column(w("column.commune"), link=commune_link(w)),
            "commune": Column(w("column.insee"), width=100),
            "host": Column(w("column.host")),
            "service": Column(w("column.service"), cell="color-background",
                              thresholds=steps("red")),
            "address": Column(w("column.address")),
            "port": Column(w("column.port"), width=80),
            "protocol": Column(w("column.protocol"), width=90),
            "process": Column(w("column.process")),
        },
        hide=["Value", "scope"], width=12, height=8))
    dash.with_panel(table_panel(
        *w.panel("fleet.worst"),
        [Q(f"max by (commune, host) ({WORST_HOSTS})"),
         Q(f'({grade_number("sentinelle_host_grade_info", "", "commune, host")})'
           f" and on (commune, host) {WORST_HOSTS}")],
        columns={
            "commune": Column(w("column.insee"), link=commune_link(w), width=100),
            "host": Column(w("column.host")),
            "Value #A": Column(w("column.score"), unit="none", decimals=0, thresholds=score,
                               cell="color-text", width=80),
            "Value #B": Column(w("column.grade"), mappings=grade_number_mappings(),
                               thresholds=grade_number_thresholds(), cell="color-background",
                               width=70),
        },
        sort_by=(w("column.score"), False), width=12, height=8))
    dash.with_panel(table_panel(
        *w.panel("fleet.late"),
        [Q(f"max by (commune, host) ({OLDEST_REPORTS})"),
         Q(f"max by (commune, host) (sentinelle_host_silent) and on (commune, host) "
           f"{OLDEST_REPORTS}")],
        columns={
            "commune": Column(w("column.insee"), link=commune_link(w), width=100),
            "host": Column(w("column.host")),
            "Value #A": Column(w("column.last_report"), unit="s",
                               thresholds=report_age_thresholds(), cell="color-text"),
            "Value #B": Column(w("column.silent"), mappings=yes_no_mappings(w, "red"),
                               thresholds=neutral_thresholds(), cell="color-text", width=100),
        },
        sort_by=(w("column.last_report"), True), width=24, height=8))
    return dash
