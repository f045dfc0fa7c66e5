"""« Sentinelle — Vue de la flotte »: every commune at a glance, for the SOC analyst."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from sentinelle.dashboards.panels import (
    GRADE_COLOURS,
    SEVERITY_COLOURS,
    SEVERITY_WORDS,
    UID_FLEET,
    Column,
    Q,
    check_link,
    check_title_mappings,
    commune_link,
    count_thresholds,
    datasource_variable,
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
    yes_no_mappings,
)
from sentinelle.rules import RuleSet

WITH_NAME = "* on (commune) group_left (name) sentinelle_commune_info"
WORST_HOSTS = "bottomk(10, sentinelle_host_risk_score)"
OLDEST_REPORTS = "topk(10, time() - sentinelle_host_last_report_timestamp_seconds)"


def severity_queries(matchers: str = "") -> list[Q]:
    """One query per severity, worst first, so that the panel keeps that order."""
    sep = "," if matchers else ""
    return [Q(f'sum(sentinelle_findings_open{{{matchers}{sep}severity="{s}"}})', word)
            for s, word in SEVERITY_WORDS.items()]


def severity_colours() -> dict[str, str]:
    return {word: SEVERITY_COLOURS[s] for s, word in SEVERITY_WORDS.items()}


def build(rules: RuleSet) -> db.Dashboard:
    score = score_thresholds(rules)
    dash = new_dashboard(
        UID_FLEET, "Sentinelle — Vue de la flotte",
        "Toutes les communes suivies : note, tendance, constats ouverts par gravité, agents "
        "silencieux et expositions les plus graves.")
    dash.with_variable(datasource_variable())

    dash.with_row(db.Row("Vue d'ensemble"))
    dash.with_panel(stat_panel(
        "Communes suivies",
        "Nombre de communes enregistrées dans le collecteur (sentinelle_commune_info).",
        [Q("count(sentinelle_commune_info)")], width=3))
    dash.with_panel(stat_panel(
        "Serveurs qui remontent",
        "Serveurs enrôlés dont le collecteur a reçu un rapport récent.",
        [Q('sum(sentinelle_commune_hosts{state="reporting"})')], width=3))
    dash.with_panel(stat_panel(
        "Agents silencieux",
        "Serveurs enrôlés dont le collecteur n'a plus reçu de rapport depuis le délai de "
        "silence (6 h par défaut) : agent arrêté, serveur éteint ou réseau coupé. Doit rester à "
        "zéro.",
        [Q('sum(sentinelle_commune_hosts{state="silent"})')], width=3,
        thresholds=count_thresholds()))
    dash.with_panel(stat_panel(
        "Jamais vus",
        "Serveurs enrôlés qui n'ont encore envoyé aucun rapport : installation à terminer.",
        [Q('sum(sentinelle_commune_hosts{state="never"})')], width=3,
        thresholds=count_thresholds("orange")))
    dash.with_panel(stat_panel(
        "Score moyen des communes",
        "Moyenne des scores de posture des communes, de 0 à 100 (100 : aucun risque ouvert). "
        "Les couleurs suivent les seuils des notes A à E de rules/scoring.yaml.",
        [Q("avg(sentinelle_commune_risk_score)")], unit="none", width=4, thresholds=score,
        graph=True))
    dash.with_panel(stat_panel(
        "Constats ouverts par gravité",
        "Nombre de constats ouverts (en alerte ou en échec) sur toute la flotte, de la gravité "
        "critique à la simple information.",
        severity_queries(), width=8, colour_by_legend=severity_colours()))

    dash.with_row(db.Row("Les communes"))
    dash.with_panel(table_panel(
        "Toutes les communes : note et tendance",
        "Une ligne par commune, la plus faible en premier. La note (A à E) et le score viennent "
        "du collecteur ; la tendance est l'évolution du score sur 7 jours (positive : la "
        "posture s'améliore). Cliquez sur une commune pour ouvrir son tableau de bord.",
        [Q("max by (commune, name, departement) (sentinelle_commune_info)"),
         Q(grade_number("sentinelle_commune_grade_info", "", "commune")),
         Q("max by (commune) (sentinelle_commune_risk_score)"),
         Q("max by (commune) (delta(sentinelle_commune_risk_score[7d]))"),
         Q('sum by (commune) (sentinelle_findings_open{severity="critical"})'),
         Q('sum by (commune) (sentinelle_findings_open{severity="high"})'),
         Q('sum by (commune) (sentinelle_commune_hosts{state="reporting"})'),
         Q('sum by (commune) (sentinelle_commune_hosts{state="silent"})')],
        columns={
            "name": Column("Commune", link=commune_link()),
            "commune": Column("Code INSEE", link=commune_link(), width=110),
            "departement": Column("Département", width=110),
            "Value #B": Column("Note", mappings=grade_number_mappings(),
                               thresholds=grade_number_thresholds(), cell="color-background",
                               width=70),
            "Value #C": Column("Score", unit="none", decimals=0, thresholds=score,
                               cell="color-text", width=80),
            "Value #D": Column("Tendance 7 j", unit="none", decimals=1,
                               thresholds=steps("red", (-0.5, "text"), (0.5, "green")),
                               cell="color-text", width=110),
            "Value #E": Column("Critiques", thresholds=count_thresholds("dark-red"),
                               cell="color-text", width=90),
            "Value #F": Column("Élevés", thresholds=count_thresholds("orange"),
                               cell="color-text", width=80),
            "Value #G": Column("Serveurs", width=90),
            "Value #H": Column("Silencieux", thresholds=count_thresholds(), cell="color-text",
                               width=100),
        },
        hide=["Value #A"], sort_by=("Score", False), width=16, height=10))
    dash.with_panel(piechart_panel(
        "Communes par note",
        "Combien de communes ont chaque note, de A (bonne posture) à E (risque grave).",
        [Q("count by (grade) (sentinelle_commune_grade_info)", "{{grade}}")],
        colour_by_legend=GRADE_COLOURS, width=8, height=10))
    dash.with_panel(timeseries_panel(
        "Score des communes dans le temps",
        "Évolution du score de chaque commune (0 à 100). Les bandes de couleur sont les seuils "
        "des notes : une courbe qui descend dans l'orange ou le rouge mérite un appel.",
        [Q(f"sentinelle_commune_risk_score {WITH_NAME}", "{{name}} ({{commune}})")],
        unit="none", thresholds=score, show_thresholds=True, min_value=0, max_value=100,
        width=24, decimals=0))

    dash.with_row(db.Row("Les expositions les plus graves"))
    dash.with_panel(table_panel(
        "Constats critiques et élevés ouverts",
        "Les contrôles en échec ou en alerte dont la gravité est critique ou élevée, sur toute "
        "la flotte. Le texte de remédiation est dans le tableau de bord de la commune ; un clic "
        "sur le contrôle montre sa situation sur toutes les communes.",
        [Q('sentinelle_check_status{status=~"warn|fail",severity=~"critical|high"} '
           + WITH_NAME)],
        columns={
            "name": Column("Commune", link=commune_link()),
            "commune": Column("Code INSEE", link=commune_link(), width=100),
            "host": Column("Serveur"),
            "check": Column("Contrôle", mappings=check_title_mappings(rules), link=check_link()),
            "severity": Column("Gravité", mappings=severity_mappings(), cell="color-text",
                               width=100),
            "status": Column("Statut", mappings=status_mappings(), cell="color-background",
                             width=100),
        },
        hide=["Value"], sort_by=("Gravité", False), width=24, height=10))
    dash.with_panel(table_panel(
        "Services à risque joignables depuis le réseau",
        "Services reconnus comme risqués (Telnet, FTP, partage Windows, bureau à distance, "
        "bases de données…) qui écoutent sur une adresse réseau et non sur la seule machine. "
        "Ce tableau doit rester vide.",
        [Q('sentinelle_listening_port_info{scope="network",service!=""} ' + WITH_NAME)],
        columns={
            "name": Column("Commune", link=commune_link()),
            "commune": Column("Code INSEE", width=100),
            "host": Column("Serveur"),
            "service": Column("Service", cell="color-background",
                              thresholds=steps("red")),
            "address": Column("Adresse"),
            "port": Column("Port", width=80),
            "protocol": Column("Protocole", width=90),
            "process": Column("Processus"),
        },
        hide=["Value", "scope"], width=12, height=8))
    dash.with_panel(table_panel(
        "Serveurs les plus exposés",
        "Les dix serveurs au score le plus bas, avec leur note. Un serveur peut avoir un score "
        "correct et une note plafonnée par un seul constat critique.",
        [Q(f"max by (commune, host) ({WORST_HOSTS})"),
         Q(f'({grade_number("sentinelle_host_grade_info", "", "commune, host")})'
           f" and on (commune, host) {WORST_HOSTS}")],
        columns={
            "commune": Column("Code INSEE", link=commune_link(), width=100),
            "host": Column("Serveur"),
            "Value #A": Column("Score", unit="none", decimals=0, thresholds=score,
                               cell="color-text", width=80),
            "Value #B": Column("Note", mappings=grade_number_mappings(),
                               thresholds=grade_number_thresholds(), cell="color-background",
                               width=70),
        },
        sort_by=("Score", False), width=12, height=8))
    dash.with_panel(table_panel(
        "Agents silencieux ou en retard",
        "Les dix serveurs dont le dernier rapport est le plus ancien. Orange : plus de deux "
        "cycles de l'agent sans rapport ; rouge : silencieux pour le collecteur. Un serveur "
        "silencieux ne montre plus sa posture : appelez la mairie.",
        [Q(f"max by (commune, host) ({OLDEST_REPORTS})"),
         Q(f"max by (commune, host) (sentinelle_host_silent) and on (commune, host) "
           f"{OLDEST_REPORTS}")],
        columns={
            "commune": Column("Code INSEE", link=commune_link(), width=100),
            "host": Column("Serveur"),
            "Value #A": Column("Dernier rapport il y a", unit="s",
                               thresholds=report_age_thresholds(), cell="color-text"),
            "Value #B": Column("Silencieux", mappings=yes_no_mappings("red"),
                               thresholds=neutral_thresholds(), cell="color-text", width=100),
        },
        sort_by=("Dernier rapport il y a", True), width=24, height=8))
    return dash
