"""« Sentinelle — Santé des agents »: are the agents and the collector doing their job?

The agent's push client metrics (spool depth, push attempts, backoff) exist only on each agent's
own local /metrics; the collector never receives them. This dashboard therefore uses what the
collector knows: versions, last reports, the delay between a Report's creation and its storage
(which grows when Reports waited in the spool), checks that errored and check durations.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from sentinelle.dashboards.panels import (
    UID_AGENTS,
    Column,
    Q,
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

SPOOL_NOTE = (
    " La profondeur du spool de l'agent (sentinelle_agent_push_spool_depth) et ses tentatives "
    "d'envoi ne sont visibles que sur le /metrics local de chaque agent : le collecteur ne les "
    "reçoit pas, ce panneau ne peut donc pas les montrer.")
TRANSIT = ("sentinelle_host_last_report_timestamp_seconds - "
           "sentinelle_report_timestamp_seconds")


def build(rules: RuleSet) -> db.Dashboard:
    dash = new_dashboard(
        UID_AGENTS, "Sentinelle — Santé des agents",
        "Les agents envoient-ils leurs rapports, dans quelle version, leurs contrôles "
        "s'exécutent-ils, et le collecteur reçoit-il bien tout ?")
    dash.with_variable(datasource_variable())

    dash.with_row(db.Row("Le parc d'agents"))
    dash.with_panel(stat_panel(
        "Agents par état",
        "Serveurs enrôlés qui envoient leurs rapports, devenus silencieux (plus de rapport "
        "depuis le délai de silence du collecteur, 6 h par défaut) ou jamais vus.",
        [Q('sum(sentinelle_commune_hosts{state="reporting"})', "qui remontent"),
         Q('sum(sentinelle_commune_hosts{state="silent"})', "silencieux"),
         Q('sum(sentinelle_commune_hosts{state="never"})', "jamais vus")],
        width=8, colour_by_legend={"qui remontent": "green", "silencieux": "red",
                                   "jamais vus": "orange"}))
    dash.with_panel(stat_panel(
        "Contrôles en erreur",
        "Nombre de contrôles qui n'ont pas pu s'exécuter lors du dernier cycle, sur toute la "
        "flotte (sentinelle_check_success à 0 : erreur ou délai dépassé). Doit rester à zéro.",
        [Q("count(sentinelle_check_success == 0) or vector(0)")], width=4,
        thresholds=count_thresholds()))
    dash.with_panel(stat_panel(
        "Rapport le plus ancien",
        "Âge du plus ancien dernier rapport parmi tous les serveurs : orange au-delà de deux "
        "cycles de l'agent, rouge au-delà du délai de silence.",
        [Q("max(time() - sentinelle_host_last_report_timestamp_seconds)")], unit="s",
        decimals=None, width=4, thresholds=report_age_thresholds()))
    dash.with_panel(piechart_panel(
        "Versions de l'agent",
        "Nombre de serveurs par version de l'agent Sentinelle (sentinelle_host_info) : utile "
        "pour suivre un déploiement de nouvelle version.",
        [Q("count by (agent_version) (sentinelle_host_info)", "{{agent_version}}")],
        width=8, height=6))

    dash.with_row(db.Row("Chaque agent"))
    dash.with_panel(table_panel(
        "Agents : version, système et dernier rapport",
        "Un serveur par ligne : version de l'agent, système, âge du dernier rapport, délai de "
        "transmission (temps entre la création d'un rapport et son enregistrement : il grandit "
        "quand les rapports ont attendu dans le spool de l'agent, réseau coupé par exemple) et "
        "nombre de contrôles en erreur." + SPOOL_NOTE,
        [Q("max by (commune, host, agent_version, os_id, os_version, kernel) "
           "(sentinelle_host_info)"),
         Q("max by (commune, host) "
           "(time() - sentinelle_host_last_report_timestamp_seconds)"),
         Q(f"max by (commune, host) ({TRANSIT})"),
         Q("sum by (commune, host) (1 - sentinelle_check_success)"),
         Q("max by (commune, host) (sentinelle_host_silent)")],
        columns={
            "commune": Column("Code INSEE", link=commune_link(), width=100),
            "host": Column("Serveur"),
            "agent_version": Column("Agent", width=80),
            "os_id": Column("Système", width=90),
            "os_version": Column("Version", width=80),
            "kernel": Column("Noyau"),
            "Value #B": Column("Dernier rapport il y a", unit="s",
                               thresholds=report_age_thresholds(), cell="color-text"),
            "Value #C": Column("Délai de transmission", unit="s",
                               thresholds=transit_thresholds(), cell="color-text"),
            "Value #D": Column("Contrôles en erreur", thresholds=count_thresholds(),
                               cell="color-text"),
            "Value #E": Column("Silencieux", mappings=yes_no_mappings("red"),
                               thresholds=neutral_thresholds(), cell="color-text", width=100),
        },
        hide=["Value #A"], sort_by=("Dernier rapport il y a", True), height=9))
    dash.with_panel(timeseries_panel(
        "Âge du dernier rapport",
        "Temps écoulé depuis le dernier rapport de chaque serveur. La courbe doit retomber à "
        "chaque cycle de l'agent (toutes les heures par défaut).",
        [Q("time() - sentinelle_host_last_report_timestamp_seconds",
           "{{commune}} / {{host}}")],
        unit="s", thresholds=report_age_thresholds(), show_thresholds=True, min_value=0))
    dash.with_panel(timeseries_panel(
        "Délai de transmission des rapports",
        "Temps entre la création de chaque rapport par l'agent et son enregistrement par le "
        "collecteur. Quelques secondes d'habitude ; des heures quand le rapport a attendu dans "
        "le spool de l'agent." + SPOOL_NOTE,
        [Q(TRANSIT, "{{commune}} / {{host}}")],
        unit="s", thresholds=transit_thresholds(), show_thresholds=True, min_value=0))

    dash.with_row(db.Row("Contrôles"))
    dash.with_panel(table_panel(
        "Contrôles en erreur",
        "Les contrôles qui n'ont pas pu s'exécuter lors du dernier cycle (erreur ou délai "
        "dépassé), par serveur. Le détail de l'erreur est dans le rapport du serveur. Ce "
        "tableau doit rester vide.",
        [Q("sentinelle_check_success == 0")],
        columns={
            "commune": Column("Code INSEE", link=commune_link(), width=100),
            "host": Column("Serveur"),
            "check": Column("Contrôle", mappings=check_title_mappings(rules),
                            link=check_link()),
        },
        hide=["Value"], width=12, height=8))
    dash.with_panel(bargauge_panel(
        "Contrôles les plus lents",
        "Les dix contrôles les plus longs (durée maximale sur la flotte au dernier cycle). "
        "Orange au-delà de la moitié du délai accordé à un contrôle, rouge près de ce délai.",
        [Q("topk(10, max by (check) (sentinelle_check_duration_seconds))", "{{check}}")],
        unit="s", thresholds=check_duration_thresholds(), width=12))
    dash.with_panel(timeseries_panel(
        "Durée totale des contrôles par serveur",
        "Somme des durées des contrôles de chaque serveur à chaque cycle : une hausse brutale "
        "signale un contrôle qui se bloque ou un serveur surchargé.",
        [Q("sum by (commune, host) (sentinelle_check_duration_seconds)",
           "{{commune}} / {{host}}")],
        unit="s", thresholds=check_duration_thresholds(), width=24))

    dash.with_row(db.Row("Le collecteur"))
    dash.with_panel(timeseries_panel(
        "Rapports reçus par le collecteur",
        "Rapports reçus par résultat : stored (enregistré), duplicate (déjà reçu), rejected "
        "(refusé car invalide), unauthorized (clé d'agent inconnue), rate_limited (trop de "
        "rapports), error (erreur du collecteur). Hors « stored », tout doit rester à zéro.",
        [Q("sum by (result) (increase(sentinelle_collector_reports_total[$__rate_interval]))",
           "{{result}}")],
        unit="short", stacked=True, width=12, decimals=0))
    dash.with_panel(timeseries_panel(
        "Temps d'enregistrement d'un rapport",
        "95e centile du temps entre la réception d'un rapport et son enregistrement durable "
        "par le collecteur. Vide tant qu'aucun rapport n'arrive.",
        [Q("histogram_quantile(0.95, sum by (le) "
           "(rate(sentinelle_collector_ingest_duration_seconds_bucket[$__rate_interval])))",
           "95e centile")],
        unit="s", thresholds=age_thresholds(0.5, 2.0), width=6))
    dash.with_panel(stat_panel(
        "Rendu de la page /metrics",
        "Temps pris par le collecteur pour préparer la dernière page /metrics de la flotte que "
        "Prometheus collecte. S'il approche du délai de collecte, Prometheus perd des mesures.",
        [Q("max(sentinelle_collector_exposition_render_seconds)")], unit="s", decimals=None,
        width=6, height=8, thresholds=age_thresholds(1.0, 5.0), graph=True))
    return dash


def transit_thresholds() -> db.ThresholdsConfig:
    """Minutes are normal (push retries); an hour or more means Reports waited in the spool."""
    return age_thresholds(300.0, 3600.0)
