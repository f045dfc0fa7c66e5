"""Sentences for people: a `MonthlySummary` becomes a `Page` of plain French (or English) text.

Every string comes from the message catalog (rules/messages/report.yaml, rendered by
`sentinelle.i18n` with Babel's plural forms, dates, durations and numbers) or from the report
settings (contacts): formal "vous", calm and factual, no technical detail. Both the HTML and
the text renderers draw from the same `Page`, so the two versions say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sentinelle.i18n import Catalog as Messages
from sentinelle.report.catalog import ActionText, Catalog
from sentinelle.report.config import ReportSettings
from sentinelle.report.content import Month, MonthlySummary, TopicEvent
from sentinelle.scoring import GRADES

NBSP = "\u00a0"
NO_GRADE = "–"  # what stands for the letter of a month without a measure

# The everyday energy-label colours: dark green (A) to red (E), and a readable text colour.
GRADE_COLOURS = {
    "A": ("#00843d", "#ffffff"),
    "B": ("#7cb342", "#1d1d1b"),
    "C": ("#fdd835", "#1d1d1b"),
    "D": ("#fb8c00", "#1d1d1b"),
    "E": ("#e53935", "#ffffff"),
}
NO_DATA_COLOUR = ("#9e9e9e", "#ffffff")

MAX_LINES = 4  # fixed and incident lines shown before "and N more"


@dataclass(frozen=True)
class ActionLine:
    """One priority action, ready to print."""

    text: str
    who: str  # "Qui : le prestataire informatique"
    effort: str  # "Effort : une demi-journée"
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
    grade_line: str  # "Niveau de protection : B (bien protégée)", for the text version
    scale: tuple[ScaleRow, ...]
    your_commune: str
    score: str
    trend: str
    trend_key: str  # up, down, stable, first
    verdict: str
    notes: tuple[str, ...]
    actions_title: str
    actions: tuple[ActionLine, ...]
    fixed_title: str
    fixed: tuple[str, ...]
    incidents_title: str
    incidents: tuple[str, ...]
    backup_title: str
    backup_prompt: str  # the question as a label, before the answer's badge
    backup_answer: str
    backup_answer_key: str
    backup_line: str  # the question and its answer, for the text version
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


class _Words:
    """The page's catalog messages (report.*) in one language."""

    def __init__(self, messages: Messages, lang: str) -> None:
        self.messages = messages
        self.lang = lang

    def __call__(self, key: str, **args: Any) -> str:
        return self.messages.render(f"report.{key}", args, self.lang)

    def labelled(self, label: str, value: str) -> str:
        """"Qui : …" in French, "Who: …" in English."""
        return self("labelled", label=label, value=value)


def format_month(month: Month, lang: str) -> str:
    """"mars 2026", "March 2026": Babel's stand-alone month name and the year."""
    from babel.dates import format_date

    return str(format_date(month.first_day, "LLLL y", locale=lang))


def short_month(month: Month, lang: str) -> str:
    """"mars", "juil.", "Jul": the chart's labels."""
    from babel.dates import format_date

    return str(format_date(month.first_day, "LLL", locale=lang))


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _band(band: tuple[int, int | None], say: _Words) -> str:
    low, high = band
    if low == 0 and high is not None:
        return say("band_low", high=high)
    if high is None:
        return say("band_high", low=low)
    return say("band_mid", low=low, high=high - 1)


def _trend(s: MonthlySummary, say: _Words) -> str:
    pmonth = format_month(s.previous.month, say.lang)
    cur, prev = s.current, s.previous
    if s.trend == "first":
        gap = cur.has_data and any(h.has_data for h in s.history[:-2])
        return say("trend_gap" if gap else "trend_first", pmonth=pmonth)
    assert cur.score is not None and prev.score is not None
    changed = cur.grade != prev.grade
    if s.trend == "stable":
        key = "trend_stable_grade" if changed else "trend_stable"
    else:
        key = f"trend_{s.trend}{'_grade' if changed else ''}"
    return say(key, pmonth=pmonth, prev=prev.grade, grade=cur.grade,
               delta=round(abs(cur.score - prev.score)))


def _topic_line(event: TopicEvent, catalog: Catalog, say: _Words, incident: bool) -> str:
    hosts = say("on_hosts", n=event.hosts) if event.hosts > 1 else ""
    topic = catalog.text(event.entry, "topic", say.lang)
    if not incident:
        return say("fixed_line", date=event.day, topic=topic, hosts=hosts)
    times = say("incident_times", n=event.episodes) if event.episodes > 1 else ""
    end = (say("incident_resolved", date=event.resolved_on) if event.resolved_on
           else say("incident_open"))
    return say("incident_line", date=event.day, topic=topic, hosts=hosts, times=times, end=end)


def _limited(lines: list[str], say: _Words) -> tuple[str, ...]:
    if len(lines) <= MAX_LINES:
        return tuple(lines)
    rest = len(lines) - (MAX_LINES - 1)
    return (*lines[: MAX_LINES - 1], say("more", n=rest))


def _silence_line(s: MonthlySummary, say: _Words) -> str | None:
    sil = s.silences
    if not sil.episodes or sil.longest_start is None:
        return None
    total = sil.total_hours * 3600
    if sil.episodes == 1:
        if sil.longest_end is None:
            return say("silence_line_open", date=sil.longest_start)
        return say("silence_line_one", date=sil.longest_start, end=sil.longest_end, total=total)
    end = say("silence_end", date=sil.longest_end) if sil.longest_end else ""
    ongoing = say("silence_ongoing") if sil.ongoing else ""
    return say("silence_line", n=sil.episodes, total=total, date=sil.longest_start, end=end,
               ongoing=ongoing)


def _action_line(entry: ActionText, hosts: int, catalog: Catalog, say: _Words) -> ActionLine:
    lang = say.lang
    return ActionLine(
        text=catalog.text(entry, "action", lang),
        who=say.labelled(say("who"), catalog.who(entry, lang)),
        effort=say.labelled(say("effort"), catalog.effort(entry, lang)),
        why=catalog.text(entry, "why", lang),
        detail=say("hosts_concerned", n=hosts) if hosts > 1 else "",
    )


def build_page(
    s: MonthlySummary, catalog: Catalog, settings: ReportSettings, lang: str
) -> Page:
    """All the texts of the page of `s` in `lang`."""
    say = _Words(catalog.messages, lang)
    month = format_month(s.month, lang)
    grade = s.current.grade if s.no_data is None else None
    name = s.commune.name
    notes: list[str] = []
    if s.no_data is not None:
        notes.append(say(f"nodata_{s.no_data.reason}", date=s.no_data.since)
                     if s.no_data.since else say(f"nodata_{s.no_data.reason}"))
    else:
        if s.cap_topic is not None and s.current.cap is not None:
            notes.append(say("cap", cap=s.current.cap,
                             topic=catalog.text(s.cap_topic, "topic", lang)))
        if s.current.days < settings.partial_days:
            notes.append(say("partial", days=s.current.days))
    for risk in s.accepted:
        hosts = say("on_hosts", n=risk.hosts) if risk.hosts > 1 else ""
        notes.append(say("accepted", until=risk.until,
                         topic=catalog.text(risk.entry, "topic", lang), hosts=hosts))
    if s.lan is not None and s.lan.unknown:
        notes.append(say("lan_unknown", n=s.lan.unknown))
    elif s.lan is not None and s.lan.devices:
        notes.append(say("lan_known", n=s.lan.devices))
    incidents = [_topic_line(e, catalog, say, incident=True) for e in s.incidents]
    silence = _silence_line(s, say)
    if silence:
        incidents.insert(0, silence)
    backup_lines = [say(f"backup_{s.backup.reason}")]
    backup_lines.append(
        say("restore_date", date=s.backup.last_restore_test)
        if s.backup.last_restore_test
        else say("restore_never")
    )
    if s.backup.offline_copy is False:
        backup_lines.append(say("offline_missing"))
    elif s.backup.offline_copy is True and s.backup.answer == "yes":
        backup_lines.append(say("offline_ok"))
    c = s.comparison
    band = _band(c.band, say) if c.band else ""
    comparison = (
        say("comparison_ok", n=c.peers, band=band, better=c.better_than, worse=c.worse_than,
            grade=c.peer_median_grade)
        if c.status == "ok"
        else say(f"comparison_{c.status}", band=band)
    )
    chart = tuple(ChartPoint(short_month(h.month, lang), h.grade, h.score) for h in s.history)
    chart_items = [say("chart_item", month=format_month(h.month, lang), grade=h.grade or NO_GRADE)
                   for h in s.history]
    contacts = settings.contacts
    grade_text = say(f"grade_{grade}") if grade else say("no_grade")
    question = say("backup_question")
    answer = say(f"answer_{s.backup.answer}")
    return Page(
        lang=lang,
        subject=say("subject", name=name, month=month, grade=grade) if grade
        else say("subject_nodata", name=name, month=month),
        title=say("title"),
        commune=name,
        period=_cap(month),
        hosts=say("hosts", n=s.hosts),
        syndicate=contacts.syndicate,
        grade=grade,
        grade_text=grade_text,
        grade_colours=GRADE_COLOURS[grade] if grade else NO_DATA_COLOUR,
        grade_label=say("grade_label"),
        grade_line=say.labelled(say("grade_label"),
                                say("grade_value", grade=grade or NO_GRADE, text=grade_text)),
        scale=tuple(
            ScaleRow(g, say(f"grade_{g}"), *GRADE_COLOURS[g], current=g == grade) for g in GRADES
        ),
        your_commune=say("your_commune"),
        score=say("score", score=round(s.current.score))
        if grade and s.current.score is not None
        else "",
        trend=_trend(s, say) if grade else "",
        trend_key=s.trend if grade else "first",
        verdict=say(f"verdict_{grade}") if grade else say("verdict_nodata", month=month),
        notes=tuple(notes),
        actions_title=say("actions_title"),
        actions=tuple(_action_line(a.entry, a.hosts, catalog, say) for a in s.actions),
        fixed_title=say("fixed_title"),
        fixed=_limited([_topic_line(e, catalog, say, incident=False) for e in s.fixed], say)
        or (say("fixed_none"),),
        incidents_title=say("incidents_title"),
        incidents=_limited(incidents, say) or (say("incidents_none"),),
        backup_title=say("backup_title"),
        backup_prompt=say.labelled(question, "").rstrip(),
        backup_answer=answer,
        backup_answer_key=s.backup.answer,
        backup_line=say.labelled(question, answer.upper()),
        backup_lines=tuple(backup_lines),
        comparison_title=say("comparison_title"),
        comparison=comparison,
        chart_title=say("chart_title"),
        chart_alt=say("chart_alt", items=chart_items),
        chart=chart,
        contacts_title=say("contacts_title"),
        soc=say("soc", name=contacts.soc_name, phone=contacts.phone, email=contacts.email,
                hours=contacts.hours[lang]),
        emergency_intro=say("emergency_intro"),
        emergency=contacts.emergency[lang],
        method=say("method"),
        footer=say("footer", date=s.generated_at.astimezone(settings.zone).date(),
                   syndicate=contacts.syndicate, email=contacts.email),
        pdf_name=say("pdf_name", code=s.commune.code, month=str(s.month)),
    )
