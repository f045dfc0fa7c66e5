"""« Sentinelle — Commune »: one town hall in detail, with what to do about each open finding."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from sentinelle.dashboards.fleet import severity_colours, severity_queries
from sentinelle.dashboards.panels import (
    UID_COMMUNE,
    Column,
    Q,
    age_thresholds,
    check_link,
    check_text_mappings,
    check_title_mappings,
    copy_label,
    count_thresholds,
    datasource_variable,
    grade_number,
    grade_number_mappings,
    grade_number_thresholds,
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


def build(rules: RuleSet) -> db.Dashboard:
    score = score_thresholds(rules)
    dash = new_dashboard(
        UID_COMMUNE, "Sentinelle — Commune",
        "Une commune en détail : ses serveurs, ses constats ouverts et quoi faire, ses mises à "
        "jour, ses sauvegardes, ses services exposés et l'historique de son score.")
    dash.with_variable(datasource_variable())
    dash.with_variable(query_variable(
        "commune", "Commune (code INSEE)", "label_values(sentinelle_commune_info, commune)",
        "Code INSEE de la commune ; son nom s'affiche dans les titres des panneaux."))
    dash.with_variable(query_variable(
        "commune_name", "Nom de la commune",
        "label_values(sentinelle_commune_info{commune=\"$commune\"}, name)",
        "Nom de la commune choisie, pour les titres.", hidden=True))

    dash.with_row(db.Row("${commune_name} (${commune}) : synthèse"))
    dash.with_panel(stat_panel(
        "Note de la commune",
        "Note de A (bonne posture) à E (risque grave). Elle n'est jamais meilleure que celle "
        "de son serveur le plus mal noté quand un constat critique ou élevé la plafonne.",
        [Q(grade_number("sentinelle_commune_grade_info", C, "commune"))], unit="none",
        thresholds=grade_number_thresholds(), mappings=grade_number_mappings(), width=3))
    dash.with_panel(stat_panel(
        "Score de la commune",
        "Moyenne des scores de ses serveurs, de 0 à 100 (100 : aucun risque ouvert). Les "
        "couleurs suivent les seuils des notes de rules/scoring.yaml.",
        [Q(f"sentinelle_commune_risk_score{{{C}}}")], unit="none", thresholds=score,
        width=3, graph=True))
    dash.with_panel(stat_panel(
        "Serveurs de la commune",
        "Serveurs enrôlés : ceux qui envoient leurs rapports, ceux devenus silencieux (plus de "
        "rapport depuis 6 h) et ceux qui n'en ont jamais envoyé.",
        [Q(f'sum(sentinelle_commune_hosts{{{C},state="reporting"}})', "qui remontent"),
         Q(f'sum(sentinelle_commune_hosts{{{C},state="silent"}})', "silencieux"),
         Q(f'sum(sentinelle_commune_hosts{{{C},state="never"}})', "jamais vus")],
        width=6, colour_by_legend={"qui remontent": "green", "silencieux": "red",
                                   "jamais vus": "orange"}))
    dash.with_panel(stat_panel(
        "Constats ouverts par gravité",
        "Constats en alerte ou en échec sur les serveurs de la commune, par gravité.",
        severity_queries(C), width=9, colour_by_legend=severity_colours()))
    dash.with_panel(stat_panel(
        "Population",
        "Population de la commune (INSEE), pour comparer des communes de même taille.",
        [Q(f"sentinelle_commune_population{{{C}}}")], unit="none", width=3))

    dash.with_row(db.Row("Serveurs de ${commune_name}"))
    dash.with_panel(table_panel(
        "Serveurs : note, système et dernier rapport",
        "Un serveur par ligne : sa note, son score, son système, la version de l'agent et l'âge "
        "de son dernier rapport. Un serveur silencieux n'a plus que ses deux dernières colonnes.",
        [Q(f"max by (commune, host, os_id, os_version, kernel, agent_version) "
           f"(sentinelle_host_info{{{C}}})"),
         Q(grade_number("sentinelle_host_grade_info", C, "commune, host")),
         Q(f"max by (commune, host) (sentinelle_host_risk_score{{{C}}})"),
         Q(f"max by (commune, host) "
           f"(time() - sentinelle_host_last_report_timestamp_seconds{{{C}}})"),
         Q(f"max by (commune, host) (sentinelle_host_silent{{{C}}})")],
        columns={
            "host": Column("Serveur"),
            "Value #B": Column("Note", mappings=grade_number_mappings(),
                               thresholds=grade_number_thresholds(), cell="color-background",
                               width=70),
            "Value #C": Column("Score", unit="none", decimals=0, thresholds=score,
                               cell="color-text", width=80),
            "os_id": Column("Système", width=90),
            "os_version": Column("Version", width=80),
            "kernel": Column("Noyau"),
            "agent_version": Column("Agent", width=80),
            "Value #D": Column("Dernier rapport il y a", unit="s",
                               thresholds=report_age_thresholds(), cell="color-text"),
            "Value #E": Column("Silencieux", mappings=yes_no_mappings("red"),
                               thresholds=neutral_thresholds(), cell="color-text", width=100),
        },
        hide=["commune", "Value #A"], sort_by=("Score", False), height=7))

    dash.with_row(db.Row("Constats ouverts et que faire"))
    open_checks = f'sentinelle_check_status{{{C},status=~"warn|fail"}}'
    dash.with_panel(table_panel(
        "Constats ouverts et remédiation",
        "Les contrôles en échec ou en alerte sur chaque serveur, avec la remédiation du "
        "catalogue des contrôles (rules/checks). Prometheus ne reçoit pas le texte propre à "
        "chaque constat : les éléments entre crochets, comme [service], sont précisés dans le "
        "rapport du serveur (commande « sentinelle check » sur le serveur). Cliquez sur un "
        "contrôle pour le voir sur toute la flotte.",
        [Q(copy_label(open_checks, "remediation", "check"))],
        columns={
            "host": Column("Serveur", width=140),
            "check": Column("Contrôle", mappings=check_title_mappings(rules), link=check_link(),
                            width=300),
            "severity": Column("Gravité", mappings=severity_mappings(), cell="color-text",
                               width=90),
            "status": Column("Statut", mappings=status_mappings(), cell="color-background",
                             width=90),
            "remediation": Column("Que faire", mappings=check_text_mappings(rules,
                                                                            "remediation"),
                                  wrap=True),
        },
        hide=["commune", "Value"], sort_by=("Statut", False), height=14))

    dash.with_row(db.Row("Mises à jour"))
    dash.with_panel(table_panel(
        "État des mises à jour par serveur",
        "Mises à jour en attente (de sécurité et autres), redémarrage nécessaire, ancienneté de "
        "la dernière mise à jour et de la liste des paquets, temps restant avant la fin du "
        "support de sécurité du système.",
        [Q(f'max by (commune, host) (sentinelle_pending_updates{{{C},kind="security"}})'),
         Q(f'max by (commune, host) (sentinelle_pending_updates{{{C},kind="other"}})'),
         Q(f"max by (commune, host) (sentinelle_reboot_required{{{C}}})"),
         Q(f"max by (commune, host) "
           f"(time() - sentinelle_last_upgrade_timestamp_seconds{{{C}}})"),
         Q(f"max by (commune, host) (sentinelle_package_lists_age_seconds{{{C}}})"),
         Q(f"max by (commune, host) "
           f"(sentinelle_os_end_of_support_timestamp_seconds{{{C}}} - time())")],
        columns={
            "host": Column("Serveur"),
            "Value #A": Column("Sécurité en attente", thresholds=count_thresholds(),
                               cell="color-text"),
            "Value #B": Column("Autres en attente", thresholds=count_thresholds("orange"),
                               cell="color-text"),
            "Value #C": Column("Redémarrage nécessaire", mappings=yes_no_mappings(),
                               thresholds=neutral_thresholds(), cell="color-text"),
            "Value #D": Column("Dernière mise à jour il y a", unit="s",
                               thresholds=age_thresholds(14 * DAY, 30 * DAY),
                               cell="color-text"),
            "Value #E": Column("Liste des paquets vieille de", unit="s",
                               thresholds=age_thresholds(2 * DAY, 7 * DAY), cell="color-text"),
            "Value #F": Column("Fin du support dans", unit="s",
                               thresholds=steps("red", (0.0, "orange"), (180 * DAY, "green")),
                               cell="color-text"),
        },
        hide=["commune"], width=14, height=7))
    dash.with_panel(timeseries_panel(
        "Mises à jour de sécurité en attente",
        "Nombre de mises à jour de sécurité en attente sur chaque serveur, dans le temps. Une "
        "courbe qui ne redescend pas signale des mises à jour qui ne s'installent pas.",
        [Q(f'sentinelle_pending_updates{{{C},kind="security"}}', "{{host}}")],
        unit="short", thresholds=count_thresholds(), width=10, height=7, decimals=0))

    dash.with_row(db.Row("Sauvegardes"))
    backup_age = backup_age_thresholds(rules)
    dash.with_panel(table_panel(
        "Sauvegardes par emplacement",
        "Pour chaque emplacement de sauvegarde déclaré : l'âge de la sauvegarde la plus récente "
        "(orange puis rouge aux seuils du contrôle backups.freshness), sa taille et le dernier "
        "test de restauration. Un serveur sans aucun emplacement n'apparaît pas ici mais dans "
        "les constats ouverts (constat critique).",
        [Q(f"max by (commune, host, location) (sentinelle_backup_age_seconds{{{C}}})"),
         Q(f"max by (commune, host, location) (sentinelle_backup_size_bytes{{{C}}})"),
         Q(f"max by (commune, host, location) "
           f"(time() - sentinelle_backup_last_restore_test_timestamp_seconds{{{C}}})")],
        columns={
            "host": Column("Serveur"),
            "location": Column("Emplacement"),
            "Value #A": Column("Dernière sauvegarde il y a", unit="s", thresholds=backup_age,
                               cell="color-text"),
            "Value #B": Column("Taille", unit="bytes"),
            "Value #C": Column("Dernier test de restauration il y a", unit="s",
                               thresholds=age_thresholds(90 * DAY, 365 * DAY),
                               cell="color-text"),
        },
        hide=["commune"], width=14, height=7))
    dash.with_panel(timeseries_panel(
        "Âge des sauvegardes",
        "Âge de la sauvegarde la plus récente de chaque emplacement. Il doit redescendre chaque "
        "nuit ; une courbe qui monte sans arrêt signale une sauvegarde arrêtée.",
        [Q(f"sentinelle_backup_age_seconds{{{C}}}", "{{host}} : {{location}}")],
        unit="s", thresholds=backup_age, show_thresholds=True, width=10, height=7, min_value=0))

    dash.with_row(db.Row("Services exposés"))
    dash.with_panel(table_panel(
        "Services joignables depuis le réseau",
        "Services qui écoutent sur une adresse réseau (et non sur la seule machine). La colonne "
        "Service nomme les services reconnus comme risqués (rules/risky_ports.yaml) : ceux-là "
        "doivent être fermés ou filtrés par le pare-feu.",
        [Q(f'sentinelle_listening_port_info{{{C},scope="network"}}')],
        columns={
            "host": Column("Serveur"),
            "address": Column("Adresse"),
            "port": Column("Port", width=80),
            "protocol": Column("Protocole", width=90),
            "process": Column("Processus"),
            "service": Column("Service à risque", cell="color-background",
                              thresholds=steps("red")),
        },
        hide=["commune", "scope", "Value"], width=14, height=8))
    dash.with_panel(table_panel(
        "Ports vus par le balayage réseau",
        "Ports trouvés ouverts par le balayage réseau de l'agent (contrôle ports.network_scan, "
        "désactivé par défaut) : ce qu'un poste du réseau de la mairie peut joindre.",
        [Q(f"sentinelle_network_scan_open_port_info{{{C}}}")],
        columns={
            "host": Column("Serveur"),
            "target": Column("Cible"),
            "port": Column("Port", width=80),
            "protocol": Column("Protocole", width=90),
            "service": Column("Service", cell="color-background", thresholds=steps("red")),
        },
        hide=["commune", "Value"], width=10, height=8))

    dash.with_row(db.Row("Historique"))
    dash.with_panel(timeseries_panel(
        "Historique du score",
        "Score de la commune et de chacun de ses serveurs (0 à 100), avec les bandes des notes "
        "A à E.",
        [Q(f"sentinelle_commune_risk_score{{{C}}}", "Commune"),
         Q(f"sentinelle_host_risk_score{{{C}}}", "{{host}}")],
        unit="none", thresholds=score, show_thresholds=True, min_value=0, max_value=100,
        decimals=0))
    dash.with_panel(timeseries_panel(
        "Constats ouverts dans le temps",
        "Nombre de constats ouverts par gravité, empilés : la hauteur totale doit baisser à "
        "mesure que les remédiations sont faites.",
        severity_queries(C), unit="short", stacked=True,
        colour_by_legend=severity_colours(), decimals=0))
    return dash
