"""Sentences for people: a `MonthlySummary` becomes a `Page` of plain French (or English) text.

Every string here comes from this module's tables, the catalog (rules/report.yaml) or the
report settings (contacts): formal "vous", calm and factual, no technical detail. Both the HTML
and the text renderers draw from the same `Page`, so the two versions say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sentinelle.report.catalog import ActionText, Catalog
from sentinelle.report.config import ReportSettings
from sentinelle.report.content import Month, MonthlySummary, TopicEvent
from sentinelle.scoring import GRADES

NBSP = "\u00a0"

# The everyday energy-label colours: dark green (A) to red (E), and a readable text colour.
GRADE_COLOURS = {
    "A": ("#00843d", "#ffffff"),
    "B": ("#7cb342", "#1d1d1b"),
    "C": ("#fdd835", "#1d1d1b"),
    "D": ("#fb8c00", "#1d1d1b"),
    "E": ("#e53935", "#ffffff"),
}
NO_DATA_COLOUR = ("#9e9e9e", "#ffffff")

MONTHS = {
    "fr": (
        "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
        "octobre", "novembre", "décembre",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June", "July", "August", "September",
        "October", "November", "December",
    ),
}
SHORT_MONTHS = {
    "fr": (
        "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.",
        "nov.", "déc.",
    ),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}

T: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Point mensuel de sécurité informatique",
        "subject": "Sécurité informatique — {name} : point de {month}, niveau {grade}",
        "subject_nodata": "Sécurité informatique — {name} : point de {month}, pas de mesure",
        "hosts": "{n} serveur suivi",
        "hosts_plural": "{n} serveurs suivis",
        "grade_label": "Niveau de protection",
        "grade_A": "très bien protégée",
        "grade_B": "bien protégée",
        "grade_C": "moyennement exposée",
        "grade_D": "exposée",
        "grade_E": "très exposée",
        "your_commune": "votre commune",
        "score": "Note du mois : {score} sur 100",
        "no_grade": "Pas de mesure",
        "verdict_A": "Votre commune est très bien protégée : il s'agit de maintenir ce niveau.",
        "verdict_B": "Votre commune est bien protégée, avec quelques points à corriger.",
        "verdict_C": "Votre commune est moyennement exposée : plusieurs protections importantes "
        "restent à renforcer.",
        "verdict_D": "Votre commune est exposée : au moins une faiblesse sérieuse demande une "
        "action rapide.",
        "verdict_E": "Votre commune est très exposée : une attaque informatique pourrait "
        "paralyser les services de la mairie, des mesures sont à prendre sans attendre.",
        "verdict_nodata": "Aucune mesure n'a pu être faite pour votre commune en {month}.",
        "trend_up_grade": "En progrès : le niveau passe de {prev} à {grade} depuis {pmonth}.",
        "trend_up": "En progrès : +{delta} points depuis {pmonth}, niveau inchangé.",
        "trend_down_grade": "En recul : le niveau passe de {prev} à {grade} depuis {pmonth}.",
        "trend_down": "En recul : −{delta} points depuis {pmonth}, niveau inchangé.",
        "trend_stable": "Stable par rapport à {pmonth} (niveau {prev}).",
        "trend_stable_grade": "Note stable par rapport à {pmonth}, niveau {prev} auparavant.",
        "trend_first": "Premier mois mesuré : pas encore de comparaison avec le mois précédent.",
        "trend_gap": "Pas de mesure en {pmonth} : pas de comparaison avec le mois précédent.",
        "cap": "Le niveau ne peut pas dépasser {cap} tant que ce point n'est pas réglé : {topic}.",
        "partial": "Mesure établie sur {days} jours seulement ce mois-ci : à lire avec prudence.",
        "nodata_never_enrolled": "Aucun serveur de la mairie n'est inscrit à la surveillance "
        "du syndicat : aucun niveau ne peut être donné.",
        "nodata_never_reported": "La surveillance a été installée le {date} mais n'a encore "
        "envoyé aucun résultat au syndicat.",
        "nodata_silent": "Le syndicat ne reçoit plus de nouvelles des serveurs de la mairie "
        "depuis le {date}.",
        "nodata_no_snapshots": "Des résultats ont été reçus, mais le syndicat n'a pas pu "
        "établir de mesure pour ce mois ; contactez-le si cela se reproduit.",
        "actions_title": "Les trois actions prioritaires",
        "who": "Qui",
        "effort": "Effort",
        "hosts_concerned": "{n} serveurs concernés",
        "fixed_title": "Réglé ce mois-ci",
        "fixed_line": "Le {date} : {topic}{hosts}.",
        "fixed_none": "Aucun point n'a été réglé ce mois-ci.",
        "on_hosts": " (sur {n} serveurs)",
        "more": "Et {n} autres points.",
        "incidents_title": "Alertes du mois",
        "incident_line": "Le {date} : {topic} en défaut{hosts}{times}, {end}.",
        "incident_times": ", à {n} reprises",
        "incident_resolved": "rétabli le {date}",
        "incident_open": "toujours en cours",
        "silence_line": "Surveillance interrompue {n} fois ({total} au total ce mois-ci) ; la "
        "plus longue interruption a commencé le {date}{end}.",
        "silence_line_one": "Surveillance interrompue du {date} au {end} ({total}).",
        "silence_line_open": "Un serveur ne donne pas de nouvelles depuis le {date}.",
        "silence_end": " et a duré jusqu'au {date}",
        "silence_ongoing": " ; un serveur ne donne toujours pas de nouvelles",
        "incidents_none": "Aucune alerte ce mois-ci.",
        "hours": "{n} heures",
        "days": "{n} jours",
        "backup_title": "Sauvegardes",
        "backup_question": "Les données de la semaine dernière sont-elles récupérables ?",
        "answer_yes": "Oui",
        "answer_no": "Non",
        "answer_unknown": "Inconnu",
        "backup_ok": "Chaque serveur a une sauvegarde de moins d'une semaine, et un test de "
        "restauration récent a réussi.",
        "backup_no_backup": "Au moins un serveur n'a aucune sauvegarde.",
        "backup_stale": "La sauvegarde la plus récente d'au moins un serveur a plus d'une "
        "semaine.",
        "backup_shrunk": "La dernière sauvegarde d'un serveur est anormalement petite : elle "
        "doit être vérifiée avant de compter dessus.",
        "backup_unreadable": "Les sauvegardes d'un serveur n'ont pas pu être lues lors du "
        "dernier contrôle.",
        "backup_no_restore_test": "Des sauvegardes récentes existent, mais aucun test de "
        "restauration n'a été enregistré : rien ne prouve qu'elles sont utilisables.",
        "backup_restore_test_old": "Des sauvegardes récentes existent, mais le dernier test de "
        "restauration est trop ancien pour prouver qu'elles sont utilisables.",
        "backup_no_data": "Le syndicat n'a pas reçu de résultat récent de tous les serveurs.",
        "backup_not_checked": "Les sauvegardes ne sont pas contrôlées sur au moins un serveur.",
        "restore_date": "Dernier test de restauration : {date}.",
        "restore_never": "Aucun test de restauration enregistré.",
        "offline_missing": "Attention : aucune copie récente n'est conservée hors ligne ; un "
        "rançongiciel pourrait détruire aussi les sauvegardes.",
        "offline_ok": "Une copie récente est conservée hors ligne, à l'abri d'un rançongiciel.",
        "comparison_title": "Comparaison avec des communes de taille comparable",
        "comparison_ok": "Parmi les {n} autres communes de {band} du département suivies par "
        "le syndicat, votre commune fait mieux que {better} et moins bien que {worse}. Leur "
        "niveau médian est {grade}.",
        "comparison_too_few": "Trop peu de communes de {band} sont suivies dans le département "
        "pour une comparaison qui reste anonyme.",
        "comparison_no_population": "La population de la commune n'est pas renseignée : pas de "
        "comparaison possible.",
        "comparison_no_data": "Pas de comparaison possible sans mesure ce mois-ci.",
        "band_low": "moins de {high} habitants",
        "band_mid": "{low} à {high} habitants",
        "band_high": "{low} habitants et plus",
        "chart_title": "Évolution sur 12 mois",
        "chart_alt": "Niveau de protection mois par mois : {items}.",
        "contacts_title": "En cas d'urgence",
        "soc": "{name} : {phone} — {email} ({hours})",
        "emergency_intro": "Si vous soupçonnez une attaque (fichiers illisibles, message de "
        "rançon, ordinateur qui se comporte étrangement) :",
        "method": "Le niveau va de A (vert foncé) à E (rouge), comme l'étiquette énergie. Il "
        "résume les contrôles automatiques faits chaque jour sur les serveurs de la mairie : "
        "mises à jour, accès ouverts sur le réseau, sauvegardes. La note du mois est la médiane "
        "des notes quotidiennes ; le niveau ne change que si la note sort nettement de sa "
        "tranche.",
        "footer": "Message envoyé automatiquement le {date} par {syndicate}. Pour toute "
        "question, répondez à ce courriel ou écrivez à {email}.",
        "pdf_name": "point-securite-{code}-{month}.pdf",
    },
    "en": {
        "title": "Monthly IT security summary",
        "subject": "IT security — {name}: {month} summary, grade {grade}",
        "subject_nodata": "IT security — {name}: {month} summary, no measure",
        "hosts": "{n} server monitored",
        "hosts_plural": "{n} servers monitored",
        "grade_label": "Protection level",
        "grade_A": "very well protected",
        "grade_B": "well protected",
        "grade_C": "moderately exposed",
        "grade_D": "exposed",
        "grade_E": "highly exposed",
        "your_commune": "your commune",
        "score": "Score of the month: {score} out of 100",
        "no_grade": "No measure",
        "verdict_A": "Your commune is very well protected: the task is to keep it that way.",
        "verdict_B": "Your commune is well protected, with a few points to fix.",
        "verdict_C": "Your commune is moderately exposed: several important protections still "
        "need strengthening.",
        "verdict_D": "Your commune is exposed: at least one serious weakness calls for quick "
        "action.",
        "verdict_E": "Your commune is highly exposed: a cyber attack could bring the town "
        "hall's services to a halt, and measures are needed without delay.",
        "verdict_nodata": "No measure could be made for your commune in {month}.",
        "trend_up_grade": "Improving: the grade went from {prev} to {grade} since {pmonth}.",
        "trend_up": "Improving: +{delta} points since {pmonth}, same grade.",
        "trend_down_grade": "Slipping: the grade went from {prev} to {grade} since {pmonth}.",
        "trend_down": "Slipping: −{delta} points since {pmonth}, same grade.",
        "trend_stable": "Stable compared with {pmonth} (grade {prev}).",
        "trend_stable_grade": "Score stable compared with {pmonth}, grade {prev} before.",
        "trend_first": "First month measured: no comparison with the previous month yet.",
        "trend_gap": "No measure in {pmonth}: no comparison with the previous month.",
        "cap": "The grade cannot be better than {cap} until this is fixed: {topic}.",
        "partial": "Measured on {days} days only this month: read with care.",
        "nodata_never_enrolled": "No town-hall server is enrolled in the syndicate's "
        "monitoring: no grade can be given.",
        "nodata_never_reported": "Monitoring was installed on {date} but has not sent any "
        "result to the syndicate yet.",
        "nodata_silent": "The syndicate has had no news from the town hall's servers since "
        "{date}.",
        "nodata_no_snapshots": "Results were received, but the syndicate could not establish a "
        "measure for this month; contact it if this happens again.",
        "actions_title": "The three priority actions",
        "who": "Who",
        "effort": "Effort",
        "hosts_concerned": "{n} servers concerned",
        "fixed_title": "Fixed this month",
        "fixed_line": "On {date}: {topic}{hosts}.",
        "fixed_none": "Nothing was fixed this month.",
        "on_hosts": " (on {n} servers)",
        "more": "And {n} more points.",
        "incidents_title": "Alerts of the month",
        "incident_line": "On {date}: {topic} failing{hosts}{times}, {end}.",
        "incident_times": ", {n} times",
        "incident_resolved": "back to normal on {date}",
        "incident_open": "still ongoing",
        "silence_line": "Monitoring interrupted {n} times ({total} in all this month); the "
        "longest interruption began on {date}{end}.",
        "silence_line_one": "Monitoring interrupted from {date} to {end} ({total}).",
        "silence_line_open": "A server has not reported since {date}.",
        "silence_end": " and lasted until {date}",
        "silence_ongoing": "; a server is still not reporting",
        "incidents_none": "No alert this month.",
        "hours": "{n} hours",
        "days": "{n} days",
        "backup_title": "Backups",
        "backup_question": "Can last week's data be recovered?",
        "answer_yes": "Yes",
        "answer_no": "No",
        "answer_unknown": "Unknown",
        "backup_ok": "Every server has a backup less than a week old, and a recent restore "
        "test succeeded.",
        "backup_no_backup": "At least one server has no backup at all.",
        "backup_stale": "The newest backup of at least one server is more than a week old.",
        "backup_shrunk": "The latest backup of a server is abnormally small: it must be "
        "checked before relying on it.",
        "backup_unreadable": "The backups of a server could not be read at the last check.",
        "backup_no_restore_test": "Recent backups exist, but no restore test was recorded: "
        "nothing proves they can be used.",
        "backup_restore_test_old": "Recent backups exist, but the last restore test is too old "
        "to prove they can be used.",
        "backup_no_data": "The syndicate has not received recent results from every server.",
        "backup_not_checked": "Backups are not checked on at least one server.",
        "restore_date": "Last restore test: {date}.",
        "restore_never": "No restore test recorded.",
        "offline_missing": "Warning: no recent copy is kept offline; ransomware could destroy "
        "the backups too.",
        "offline_ok": "A recent copy is kept offline, out of ransomware's reach.",
        "comparison_title": "Compared with communes of similar size",
        "comparison_ok": "Among the {n} other communes of {band} in the département monitored "
        "by the syndicate, your commune does better than {better} and worse than {worse}. "
        "Their median grade is {grade}.",
        "comparison_too_few": "Too few communes of {band} are monitored in the département for "
        "a comparison that stays anonymous.",
        "comparison_no_population": "The commune's population is not recorded: no comparison "
        "possible.",
        "comparison_no_data": "No comparison without a measure this month.",
        "band_low": "fewer than {high} inhabitants",
        "band_mid": "{low} to {high} inhabitants",
        "band_high": "{low} inhabitants or more",
        "chart_title": "The last 12 months",
        "chart_alt": "Protection level month by month: {items}.",
        "contacts_title": "In an emergency",
        "soc": "{name}: {phone} — {email} ({hours})",
        "emergency_intro": "If you suspect an attack (unreadable files, a ransom message, a "
        "computer behaving oddly):",
        "method": "The grade runs from A (dark green) to E (red), like the energy label. It "
        "sums up the automatic checks made every day on the town hall's servers: updates, "
        "access open on the network, backups. The month's score is the median of the daily "
        "scores; the grade changes only when the score clearly leaves its band.",
        "footer": "Sent automatically on {date} by {syndicate}. For any question, reply to "
        "this email or write to {email}.",
        "pdf_name": "security-summary-{code}-{month}.pdf",
    },
}
MAX_LINES = 4  # fixed and incident lines shown before "and N more"


@dataclass(frozen=True)
class ActionLine:
    """One priority action, ready to print."""

    text: str
    who: str
    effort: str
    why: str
    detail: str  # e.g. "2 serveurs concernés", or ""


@dataclass(frozen=True)
class ScaleRow:
    """One row of the A-E scale."""

    grade: str
    label: str
    background: str
    foreground: str
    current: bool


@dataclass(frozen=True)
class ChartPoint:
    """One month of the 12-month chart."""

    label: str
    grade: str | None
    score: float | None


@dataclass(frozen=True)
class Page:
    """Every text of one commune's page, in one language."""

    lang: str
    subject: str
    title: str
    commune: str
    period: str
    hosts: str
    syndicate: str
    grade: str | None
    grade_text: str
    grade_colours: tuple[str, str]
    grade_label: str
    scale: tuple[ScaleRow, ...]
    your_commune: str
    score: str
    trend: str
    trend_key: str  # up, down, stable, first
    verdict: str
    notes: tuple[str, ...]
    actions_title: str
    actions: tuple[ActionLine, ...]
    who_label: str
    effort_label: str
    fixed_title: str
    fixed: tuple[str, ...]
    incidents_title: str
    incidents: tuple[str, ...]
    backup_title: str
    backup_question: str
    backup_answer: str
    backup_answer_key: str
    backup_lines: tuple[str, ...]
    comparison_title: str
    comparison: str
    chart_title: str
    chart_alt: str
    chart: tuple[ChartPoint, ...]
    contacts_title: str
    soc: str
    emergency_intro: str
    emergency: tuple[str, ...]
    method: str
    footer: str
    pdf_name: str


def format_date(day: date, lang: str) -> str:
    """3 mars 2026, 1er mars 2026; 3 March 2026."""
    name = MONTHS[lang][day.month - 1]
    if lang == "fr":
        return f"{'1er' if day.day == 1 else day.day}{NBSP}{name}{NBSP}{day.year}"
    return f"{day.day}{NBSP}{name}{NBSP}{day.year}"


def format_month(month: Month, lang: str) -> str:
    return f"{MONTHS[lang][month.month - 1]} {month.year}"


def _number(value: int, lang: str) -> str:
    text = f"{value:,}"
    return text.replace(",", NBSP) if lang == "fr" else text


def _duration(hours: float, lang: str) -> str:
    t = T[lang]
    if hours < 48:
        return t["hours"].format(n=max(1, round(hours)))
    return t["days"].format(n=round(hours / 24))


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _band(band: tuple[int, int | None], lang: str) -> str:
    t = T[lang]
    low, high = band
    if low == 0 and high is not None:
        return t["band_low"].format(high=_number(high, lang))
    if high is None:
        return t["band_high"].format(low=_number(low, lang))
    return t["band_mid"].format(low=_number(low, lang), high=_number(high - 1, lang))


def _trend(s: MonthlySummary, lang: str) -> str:
    t = T[lang]
    pmonth = format_month(s.previous.month, lang)
    cur, prev = s.current, s.previous
    if s.trend == "first":
        return t["trend_gap" if cur.has_data and any(
            h.has_data for h in s.history[:-2]) else "trend_first"].format(pmonth=pmonth)
    assert cur.score is not None and prev.score is not None
    delta = round(abs(cur.score - prev.score))
    changed = cur.grade != prev.grade
    if s.trend == "stable":
        key = "trend_stable_grade" if changed else "trend_stable"
    else:
        key = f"trend_{s.trend}{'_grade' if changed else ''}"
    return t[key].format(pmonth=pmonth, prev=prev.grade, grade=cur.grade, delta=delta)


def _topic_line(event: TopicEvent, lang: str, incident: bool) -> str:
    t = T[lang]
    hosts = t["on_hosts"].format(n=event.hosts) if event.hosts > 1 else ""
    topic = event.entry.topic[lang]
    if not incident:
        return t["fixed_line"].format(date=format_date(event.day, lang), topic=topic, hosts=hosts)
    times = t["incident_times"].format(n=event.episodes) if event.episodes > 1 else ""
    end = (
        t["incident_resolved"].format(date=format_date(event.resolved_on, lang))
        if event.resolved_on
        else t["incident_open"]
    )
    return t["incident_line"].format(
        date=format_date(event.day, lang), topic=topic, hosts=hosts, times=times, end=end
    )


def _limited(lines: list[str], lang: str) -> tuple[str, ...]:
    if len(lines) <= MAX_LINES:
        return tuple(lines)
    rest = len(lines) - (MAX_LINES - 1)
    return (*lines[: MAX_LINES - 1], T[lang]["more"].format(n=rest))


def _silence_line(s: MonthlySummary, lang: str) -> str | None:
    t, sil = T[lang], s.silences
    if not sil.episodes or sil.longest_start is None:
        return None
    total = _duration(sil.total_hours, lang)
    start = format_date(sil.longest_start, lang)
    if sil.episodes == 1:
        if sil.longest_end is None:
            return t["silence_line_open"].format(date=start)
        end = format_date(sil.longest_end, lang)
        return t["silence_line_one"].format(date=start, end=end, total=total)
    end = ""
    if sil.longest_end:
        end = t["silence_end"].format(date=format_date(sil.longest_end, lang))
    line = t["silence_line"].format(n=sil.episodes, total=total, date=start, end=end)
    if sil.ongoing:
        line = line[:-1] + t["silence_ongoing"] + "."
    return line


def _action_line(entry: ActionText, hosts: int, catalog: Catalog, lang: str) -> ActionLine:
    return ActionLine(
        text=entry.action[lang],
        who=catalog.who[entry.who][lang],
        effort=catalog.effort[entry.effort][lang],
        why=entry.why[lang],
        detail=T[lang]["hosts_concerned"].format(n=hosts) if hosts > 1 else "",
    )


def build_page(
    s: MonthlySummary, catalog: Catalog, settings: ReportSettings, lang: str
) -> Page:
    """All the texts of the page of `s` in `lang`."""
    t = T[lang]
    month = format_month(s.month, lang)
    grade = s.current.grade if s.no_data is None else None
    name = s.commune.name
    notes: list[str] = []
    if s.no_data is not None:
        since = format_date(s.no_data.since, lang) if s.no_data.since else ""
        notes.append(t[f"nodata_{s.no_data.reason}"].format(date=since))
    else:
        if s.cap_topic is not None and s.current.cap is not None:
            notes.append(t["cap"].format(cap=s.current.cap, topic=s.cap_topic.topic[lang]))
        if s.current.days < settings.partial_days:
            notes.append(t["partial"].format(days=s.current.days))
    incidents = [_topic_line(e, lang, incident=True) for e in s.incidents]
    silence = _silence_line(s, lang)
    if silence:
        incidents.insert(0, silence)
    backup_lines = [t[f"backup_{s.backup.reason}"]]
    backup_lines.append(
        t["restore_date"].format(date=format_date(s.backup.last_restore_test, lang))
        if s.backup.last_restore_test
        else t["restore_never"]
    )
    if s.backup.offline_copy is False:
        backup_lines.append(t["offline_missing"])
    elif s.backup.offline_copy is True and s.backup.answer == "yes":
        backup_lines.append(t["offline_ok"])
    c = s.comparison
    band = _band(c.band, lang) if c.band else ""
    comparison = t[f"comparison_{c.status}"].format(
        n=c.peers, band=band, better=c.better_than, worse=c.worse_than, grade=c.peer_median_grade
    )
    chart = tuple(
        ChartPoint(
            f"{SHORT_MONTHS[lang][h.month.month - 1]}",
            h.grade,
            h.score,
        )
        for h in s.history
    )
    chart_items = ", ".join(
        f"{format_month(h.month, lang)} {h.grade or '–'}" for h in s.history
    )
    contacts = settings.contacts
    hosts_key = "hosts" if s.hosts == 1 else "hosts_plural"
    return Page(
        lang=lang,
        subject=(t["subject"] if grade else t["subject_nodata"]).format(
            name=name, month=month, grade=grade
        ),
        title=t["title"],
        commune=name,
        period=_cap(month),
        hosts=t[hosts_key].format(n=s.hosts),
        syndicate=contacts.syndicate,
        grade=grade,
        grade_text=t[f"grade_{grade}"] if grade else t["no_grade"],
        grade_colours=GRADE_COLOURS[grade] if grade else NO_DATA_COLOUR,
        grade_label=t["grade_label"],
        scale=tuple(
            ScaleRow(g, t[f"grade_{g}"], *GRADE_COLOURS[g], current=g == grade) for g in GRADES
        ),
        your_commune=t["your_commune"],
        score=t["score"].format(score=round(s.current.score))
        if grade and s.current.score is not None
        else "",
        trend=_trend(s, lang) if grade else "",
        trend_key=s.trend if grade else "first",
        verdict=t[f"verdict_{grade}"] if grade else t["verdict_nodata"].format(month=month),
        notes=tuple(notes),
        actions_title=t["actions_title"],
        actions=tuple(_action_line(a.entry, a.hosts, catalog, lang) for a in s.actions),
        who_label=t["who"],
        effort_label=t["effort"],
        fixed_title=t["fixed_title"],
        fixed=_limited([_topic_line(e, lang, incident=False) for e in s.fixed], lang)
        or (t["fixed_none"],),
        incidents_title=t["incidents_title"],
        incidents=_limited(incidents, lang) or (t["incidents_none"],),
        backup_title=t["backup_title"],
        backup_question=t["backup_question"],
        backup_answer=t[f"answer_{s.backup.answer}"],
        backup_answer_key=s.backup.answer,
        backup_lines=tuple(backup_lines),
        comparison_title=t["comparison_title"],
        comparison=comparison,
        chart_title=t["chart_title"],
        chart_alt=t["chart_alt"].format(items=chart_items),
        chart=chart,
        contacts_title=t["contacts_title"],
        soc=t["soc"].format(
            name=contacts.soc_name,
            phone=contacts.phone,
            email=contacts.email,
            hours=contacts.hours[lang],
        ),
        emergency_intro=t["emergency_intro"],
        emergency=contacts.emergency[lang],
        method=t["method"],
        footer=t["footer"].format(
            date=format_date(s.generated_at.astimezone(settings.zone).date(), lang),
            syndicate=contacts.syndicate,
            email=contacts.email,
        ),
        pdf_name=t["pdf_name"].format(code=s.commune.code, month=s.month),
    )
