"""« Sentinelle — Santé des agents »: are the agents and the collector doing their job?

Each Report carries the agent's own health (spool, dropped and rejected Reports, failed writes
under its state directory), so the SOC sees it through the collector although agents sit behind
NAT; with it: versions, last reports, the delay between a Report's creation and its storage,
checks that errored and check durations, and what the collector turned away.
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
    " L'état de la file d'envoi de chaque agent (rapports en attente, perdus) est plus bas, "
    "dans « La file d'envoi des agents ».")
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

    dash.with_row(db.Row("La file d'envoi des agents"))
    dash.with_panel(stat_panel(
        "Rapports perdus (24 h)",
        "Rapports que les agents ont dû supprimer sans les envoyer ces dernières 24 heures, "
        "leur file d'attente étant pleine (collecteur injoignable longtemps). Chaque agent le "
        "dit dans le rapport suivant qu'il réussit à envoyer. Doit rester à zéro.",
        [Q("sum(increase(sentinelle_agent_health_reports_dropped_total[24h])) or vector(0)")],
        width=6, thresholds=count_thresholds()))
    dash.with_panel(stat_panel(
        "Rapports en attente",
        "Rapports qui attendaient dans la file d'envoi des agents au moment de leur dernier "
        "rapport, sur toute la flotte : ils arriveront dans l'ordre dès que le réseau revient.",
        [Q("sum(sentinelle_agent_health_spool_reports) or vector(0)")],
        width=6, thresholds=count_thresholds()))
    dash.with_panel(stat_panel(
        "Agents au disque plein",
        "Agents qui n'ont pas pu écrire dans leur répertoire d'état lors de leur dernier cycle "
        "(disque plein le plus souvent) : ils continuent leurs contrôles mais ne gardent plus "
        "leurs rapports en cas de coupure.",
        [Q("count(sentinelle_agent_health_state_dir_writable == 0) or vector(0)")],
        width=6, thresholds=count_thresholds()))
    dash.with_panel(stat_panel(
        "Rapports refusés par le collecteur",
        "Rapports que le collecteur a refusés définitivement (rapport invalide, clé révoquée) "
        "depuis l'installation de chaque agent, sur toute la flotte.",
        [Q("sum(sentinelle_agent_health_reports_rejected_total) or vector(0)")],
        width=6, thresholds=count_thresholds()))
    dash.with_panel(table_panel(
        "File d'envoi de chaque agent",
        "Un serveur par ligne, tel que son agent l'a décrit dans son dernier rapport : rapports "
        "en attente, rapports perdus et refusés depuis l'installation, échecs d'envoi "
        "consécutifs, et si l'agent peut écrire sur son disque.",
        [Q("max by (commune, host) (sentinelle_agent_health_spool_reports)"),
         Q("max by (commune, host) (sentinelle_agent_health_reports_dropped_total)"),
         Q("max by (commune, host) (sentinelle_agent_health_reports_rejected_total)"),
         Q("max by (commune, host) (sentinelle_agent_health_push_consecutive_failures)"),
         Q("max by (commune, host) (sentinelle_agent_health_state_dir_writable)")],
        columns={
            "commune": Column("Code INSEE", link=commune_link(), width=100),
            "host": Column("Serveur"),
            "Value #A": Column("En attente", thresholds=count_thresholds(), cell="color-text"),
            "Value #B": Column("Perdus", thresholds=count_thresholds(), cell="color-text"),
            "Value #C": Column("Refusés", thresholds=count_thresholds(), cell="color-text"),
            "Value #D": Column("Échecs d'envoi", thresholds=count_thresholds(),
                               cell="color-text"),
            "Value #E": Column("Disque inscriptible", mappings=yes_no_mappings("green", "red"),
                               thresholds=neutral_thresholds(), cell="color-text", width=140),
        },
        sort_by=("Perdus", True), height=8, width=24))

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
    dash.with_panel(timeseries_panel(
        "Refus avant authentification",
        "Requêtes et connexions que le collecteur a refusées avant toute authentification, par "
        "motif : trop de tentatives d'inscription ou de requêtes anonymes depuis une adresse, "
        "corps de requête trop lent, trop de connexions. Une hausse soudaine signale une "
        "tentative de deviner des jetons ou de saturer le collecteur.",
        [Q("sum by (reason) (increase(sentinelle_collector_refused_total[$__rate_interval]))",
           "{{reason}}")],
        unit="short", stacked=True, width=12, decimals=0))
    dash.with_panel(stat_panel(
        "Serveurs non affichables",
        "Serveurs dont le dernier rapport enregistré ne peut pas être affiché (rapport d'une "
        "ancienne version devenu invalide) : ils sont retirés de la page /metrics, les autres "
        "restent. Le journal du collecteur nomme l'agent. Doit rester à zéro.",
        [Q("max(sentinelle_collector_unrenderable_hosts)")],
        width=12, thresholds=count_thresholds()))
    return dash


def transit_thresholds() -> db.ThresholdsConfig:
    """Minutes are normal (push retries); an hour or more means Reports waited in the spool."""
    return age_thresholds(300.0, 3600.0)
