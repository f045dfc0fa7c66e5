"""« Sentinelle — Contrôle »: one check across the whole fleet."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from sentinelle.dashboards.panels import (
    LANG,
    STATUS_COLOURS,
    UID_CHECK,
    Column,
    Q,
    Words,
    bargauge_panel,
    check_duration_thresholds,
    check_facts_mappings,
    check_text_mappings,
    commune_link,
    copy_label,
    datasource_variable,
    new_dashboard,
    query_variable,
    severity_mappings,
    stat_panel,
    status_mappings,
    steps,
    table_panel,
    timeseries_panel,
    yes_no_mappings,
)
from sentinelle.rules import RuleSet

K = 'check="$check"'


def build(rules: RuleSet, lang: str = LANG) -> db.Dashboard:
    w = Words(rules.catalog, lang)
    statuses = w.statuses()
    dash = new_dashboard(UID_CHECK, w, "check")
    dash.with_variable(datasource_variable(w))
    dash.with_variable(query_variable(
        "check", w("check.variable.label"), "label_values(sentinelle_check_status, check)",
        w("check.variable.description")))

    dash.with_row(db.Row(w("check.row.check", check="${check}")))
    card = f"group by (check) (sentinelle_check_status{{{K}}})"
    for new in ("title", "facts", "rationale", "remediation"):
        card = copy_label(card, new, "check")
    dash.with_panel(table_panel(
        *w.panel("check.card"),
        [Q(card)],
        columns={
            "title": Column(w("column.check"), mappings=check_text_mappings(rules, "title", w),
                            wrap=True, width=200),
            "facts": Column(w("column.reference"), mappings=check_facts_mappings(rules, w),
                            wrap=True, width=220),
            "rationale": Column(w("column.why"),
                                mappings=check_text_mappings(rules, "rationale", w), wrap=True),
            "remediation": Column(w("column.what_to_do"),
                                  mappings=check_text_mappings(rules, "remediation", w),
                                  wrap=True),
        },
        hide=["check", "Value"], height=9))

    dash.with_row(db.Row(w("check.row.fleet")))
    dash.with_panel(stat_panel(
        *w.panel("check.by_status"),
        [Q(f'count(sentinelle_check_status{{{K},status="{s}"}}) or vector(0)', word)
         for s, word in statuses.items()],
        width=24, colour_by_legend={word: STATUS_COLOURS[s] for s, word in statuses.items()}))
    dash.with_panel(table_panel(
        *w.panel("check.servers"),
        [Q(f"max by (commune, name, host, severity, status) "
           f"(sentinelle_check_status{{{K}}} "
           f"* on (commune) group_left (name) sentinelle_commune_info)"),
         Q(f"max by (commune, host) (sentinelle_check_success{{{K}}})"),
         Q(f"max by (commune, host) (sentinelle_check_duration_seconds{{{K}}})")],
        columns={
            "name": Column(w("column.commune"), link=commune_link(w)),
            "commune": Column(w("column.insee"), link=commune_link(w), width=100),
            "host": Column(w("column.host")),
            "status": Column(w("column.status"), mappings=status_mappings(w),
                             cell="color-background", width=100),
            "severity": Column(w("column.severity"), mappings=severity_mappings(w),
                               cell="color-text", width=100),
            "Value #B": Column(w("column.ran"), width=130, cell="color-text",
                               thresholds=steps("red", (1.0, "green")),
                               mappings=yes_no_mappings(w, yes_colour="green", no_colour="red")),
            "Value #C": Column(w("column.duration"), unit="s", width=100),
        },
        hide=["Value #A"], sort_by=(w("column.status"), False), height=10))
    dash.with_panel(timeseries_panel(
        *w.panel("check.status_history"),
        [Q(f'count(sentinelle_check_status{{{K},status="{s}"}}) or vector(0)', word)
         for s, word in statuses.items()],
        unit="short", stacked=True,
        colour_by_legend={word: STATUS_COLOURS[s] for s, word in statuses.items()}, decimals=0))
    dash.with_panel(bargauge_panel(
        *w.panel("check.durations"),
        [Q(f"sentinelle_check_duration_seconds{{{K}}}", "{{commune}} / {{host}}")],
        unit="s", thresholds=check_duration_thresholds()))
    return dash
