"""« Sentinelle — Contrôle »: one check across the whole fleet."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from sentinelle.dashboards.panels import (
    STATUS_COLOURS,
    STATUS_WORDS,
    UID_CHECK,
    Column,
    Q,
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


def build(rules: RuleSet) -> db.Dashboard:
    dash = new_dashboard(
        UID_CHECK, "Sentinelle — Contrôle",
        "Un contrôle sur toute la flotte : ce qu'il vérifie, quoi faire, et où il est en échec.")
    dash.with_variable(datasource_variable())
    dash.with_variable(query_variable(
        "check", "Contrôle", "label_values(sentinelle_check_status, check)",
        "Identifiant du contrôle, par exemple backups.freshness."))

    dash.with_row(db.Row("Le contrôle ${check}"))
    card = f"group by (check) (sentinelle_check_status{{{K}}})"
    for new in ("title", "facts", "rationale", "remediation"):
        card = copy_label(card, new, "check")
    dash.with_panel(table_panel(
        "Fiche du contrôle",
        "Ce que vérifie le contrôle, pourquoi il compte et quoi faire quand il échoue, tels "
        "qu'écrits dans le catalogue des contrôles (rules/checks). Les éléments entre crochets "
        "sont précisés dans le rapport de chaque serveur.",
        [Q(card)],
        columns={
            "title": Column("Contrôle", mappings=check_text_mappings(rules, "title"), wrap=True,
                            width=200),
            "facts": Column("Référence", mappings=check_facts_mappings(rules), wrap=True,
                            width=220),
            "rationale": Column("Pourquoi", mappings=check_text_mappings(rules, "rationale"),
                                wrap=True),
            "remediation": Column("Que faire",
                                  mappings=check_text_mappings(rules, "remediation"),
                                  wrap=True),
        },
        hide=["check", "Value"], height=9))

    dash.with_row(db.Row("Sur toute la flotte"))
    dash.with_panel(stat_panel(
        "Serveurs par statut",
        "Nombre de serveurs pour lesquels ce contrôle est en échec, en alerte, en erreur (il "
        "n'a pas pu s'exécuter), conforme ou ignoré (sans objet sur ce serveur).",
        [Q(f'count(sentinelle_check_status{{{K},status="{s}"}}) or vector(0)', word)
         for s, word in STATUS_WORDS.items()],
        width=24, colour_by_legend={w: STATUS_COLOURS[s] for s, w in STATUS_WORDS.items()}))
    dash.with_panel(table_panel(
        "Statut sur chaque serveur",
        "Un serveur par ligne, les échecs en premier : le statut du contrôle, la gravité du pire "
        "constat ouvert, s'il a pu s'exécuter et sa durée. Cliquez sur une commune pour ouvrir "
        "son tableau de bord et lire la remédiation.",
        [Q(f"max by (commune, name, host, severity, status) "
           f"(sentinelle_check_status{{{K}}} "
           f"* on (commune) group_left (name) sentinelle_commune_info)"),
         Q(f"max by (commune, host) (sentinelle_check_success{{{K}}})"),
         Q(f"max by (commune, host) (sentinelle_check_duration_seconds{{{K}}})")],
        columns={
            "name": Column("Commune", link=commune_link()),
            "commune": Column("Code INSEE", link=commune_link(), width=100),
            "host": Column("Serveur"),
            "status": Column("Statut", mappings=status_mappings(), cell="color-background",
                             width=100),
            "severity": Column("Gravité", mappings=severity_mappings(), cell="color-text",
                               width=100),
            "Value #B": Column("A pu s'exécuter", width=130, cell="color-text",
                               thresholds=steps("red", (1.0, "green")),
                               mappings=yes_no_mappings(yes_colour="green", no_colour="red")),
            "Value #C": Column("Durée", unit="s", width=100),
        },
        hide=["Value #A"], sort_by=("Statut", False), height=10))
    dash.with_panel(timeseries_panel(
        "Serveurs par statut dans le temps",
        "Combien de serveurs sont dans chaque statut pour ce contrôle, dans le temps : les "
        "échecs doivent diminuer à mesure que les mairies corrigent.",
        [Q(f'count(sentinelle_check_status{{{K},status="{s}"}}) or vector(0)', word)
         for s, word in STATUS_WORDS.items()],
        unit="short", stacked=True,
        colour_by_legend={w: STATUS_COLOURS[s] for s, w in STATUS_WORDS.items()}, decimals=0))
    dash.with_panel(bargauge_panel(
        "Durée du contrôle par serveur",
        "Temps pris par ce contrôle lors du dernier cycle de chaque agent. Un contrôle très lent "
        "retarde tout le cycle et peut finir en erreur (délai dépassé).",
        [Q(f"sentinelle_check_duration_seconds{{{K}}}", "{{commune}} / {{host}}")],
        unit="s", thresholds=check_duration_thresholds()))
    return dash

