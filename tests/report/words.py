"""Helpers of the monthly report's language tests: a catalog that renders strictly and records
what the page asked of it, the catalog's literal words per language, a scan for the other
language's words, and summaries that walk every branch of `wording.build_page`."""

from __future__ import annotations

import dataclasses
import re
import string
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from sentinelle.i18n import DEFAULT_LANG, LANGS, Catalog, Message
from sentinelle.report.catalog import Catalog as ActionCatalog
from sentinelle.report.content import (
    AcceptedRisk,
    Action,
    BackupState,
    Comparison,
    LanCount,
    MonthlySummary,
    MonthScore,
    NoData,
    Silences,
    TopicEvent,
)

PREFIX = "report."
_FORMATTER = string.Formatter()


class StrictCatalog(Catalog):
    """The same messages, rendered strictly (a missing argument raises), each call recorded."""

    def __init__(self, messages: Iterable[Message]) -> None:
        super().__init__(messages)
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def render(self, msg_id: str, args: Mapping[str, Any] | None = None,
               lang: str = DEFAULT_LANG, strict: bool = False) -> str:
        self.calls.append((msg_id, lang, dict(args or {})))
        return super().render(msg_id, args, lang, strict=True)

    def seen(self, lang: str) -> set[str]:
        return {msg_id for msg_id, used, _ in self.calls if used == lang}


def strict(catalog: ActionCatalog) -> tuple[ActionCatalog, StrictCatalog]:
    """`catalog` with its messages behind a StrictCatalog."""
    messages = StrictCatalog(catalog.messages)
    return dataclasses.replace(catalog, messages=messages), messages


def plain(text: str) -> str:
    """Whitespace of every kind (Babel's no-break spaces too) as one space, case folded."""
    return " ".join(text.split()).casefold()


def _literals(message: Message, lang: str) -> list[str]:
    text = message.texts[lang]
    forms = [text] if isinstance(text, str) else list(text.values())
    return [literal for form in forms for literal, _, _, _ in _FORMATTER.parse(form)]


def report_fragments(messages: Catalog, lang: str) -> list[tuple[str, str]]:
    """(message id, literal text between placeholders) of every report.* message in `lang`."""
    return [(m.id, literal) for m in messages if m.id.startswith(PREFIX)
            for literal in _literals(m, lang) if literal.strip()]


def foreign_fragments(messages: Catalog, lang: str) -> list[tuple[str, str]]:
    """The other language's words that a page in `lang` must not contain: each literal of a
    report.* message that has a word of three letters or more and is no text of `lang`."""
    other = next(lo for lo in LANGS if lo != lang)
    own = " | ".join(plain(f) for _, f in report_fragments(messages, lang))
    found = []
    for msg_id, fragment in report_fragments(messages, other):
        words = re.findall(r"[^\W\d_]{3,}", fragment)
        key = plain(fragment)
        if words and key not in own:
            found.append((msg_id, key))
    return found


def foreign_words_in(text: str, messages: Catalog, lang: str) -> list[tuple[str, str]]:
    """The other language's catalog texts found in a page written in `lang`."""
    body = plain(text)
    return [(msg_id, f) for msg_id, f in foreign_fragments(messages, lang)
            if re.search(rf"(?<!\w){re.escape(f)}(?!\w)", body)]


def variants(s: MonthlySummary, catalog: ActionCatalog) -> list[MonthlySummary]:
    """Summaries built from a real one that take every branch of the page: each trend, each
    reason for no data, backup answer and comparison, silences, long lists, partial months."""
    replace = dataclasses.replace
    assert s.current.score is not None and s.previous.score is not None
    out: list[MonthlySummary] = []
    # Trends: up/down/stable with and without a change of grade, a first month and a gap.
    for trend in ("up", "down", "stable"):
        out.append(replace(s, trend=trend))
        out.append(replace(s, trend=trend, previous=replace(s.previous, grade=s.current.grade,
                                                            score=s.current.score - 1)))
    out.append(replace(s, trend="first"))
    empty = tuple(MonthScore(h.month) for h in s.history[:-1])
    out.append(replace(s, trend="first", history=(*empty, s.current)))
    # Every grade; a cap and a partial month of one day and of several.
    for grade in ("A", "B", "C", "D", "E"):
        out.append(replace(s, current=replace(s.current, grade=grade)))
    entry = catalog.entry_for("backups.freshness", "critical")
    for days in (1, 7):
        out.append(replace(s, cap_topic=entry,
                           current=replace(s.current, cap="D", grade="D", days=days)))
    # Risks the syndicate accepted, on one host and on several.
    rdp = catalog.entry_for("ports.risky_services", "high")
    out.append(replace(s, accepted=(AcceptedRisk(rdp, date(2027, 3, 1), 1),
                                    AcceptedRisk(entry, date(2027, 6, 30), 2))))
    # The town hall's network: unknown devices (one, several), every device known (one, several).
    for devices, unknown in ((3, 1), (5, 2), (1, 0), (4, 0)):
        out.append(replace(s, lan=LanCount(devices, unknown)))
    # No data, for each reason.
    no_grade = replace(s.current, score=None, grade=None, band_grade=None, days=0)
    for reason, since in (("never_enrolled", None), ("never_reported", date(2026, 3, 15)),
                          ("silent", date(2026, 2, 20)), ("no_snapshots", None)):
        out.append(replace(s, current=no_grade, no_data=NoData(reason, since), trend="first"))
    # Backups: every reason, with and without a restore test, an offline copy or not.
    answers = {"ok": "yes", "no_backup": "no", "stale": "no"}
    for reason in ("ok", "no_backup", "stale", "shrunk", "unreadable", "no_restore_test",
                   "restore_test_old", "no_data", "not_checked"):
        for tested, offline in ((date(2026, 2, 3), True), (None, False), (None, None)):
            backup = BackupState(answers.get(reason, "unknown"), reason, tested, offline)
            out.append(replace(s, backup=backup))
    # Comparisons: each status and each population band.
    for band in ((0, 500), (500, 2000), (20000, None)):
        out.append(replace(s, comparison=Comparison("ok", band, 5, 1, 1234, "C")))
        out.append(replace(s, comparison=Comparison("too_few", band, 1)))
    out.append(replace(s, comparison=Comparison("no_population")))
    out.append(replace(s, comparison=Comparison("no_data", (500, 2000))))
    # Silences: one still going, one over, several (over, or one still going).
    day, later = date(2026, 3, 2), date(2026, 3, 9)
    for silences in (Silences(1, 1, 30.0, day, None, True), Silences(1, 1, 7.5, day, later),
                     Silences(3, 2, 200.0, day, later), Silences(2, 2, 1500.0, day, None, True),
                     Silences(2, 1, 60.0, day, later, True)):
        out.append(replace(s, silences=silences))
    # Long lists: one host or several, once or again, resolved or not; "and N more".
    topics = [catalog.entries[k] for k in ("backups.freshness", "patching.pending_updates",
                                            "ports.risky_services", "backups.offline_copy",
                                            "patching.reboot_required", "default")]
    events = tuple(TopicEvent(e, date(2026, 3, i + 1), hosts=i % 3 + 1, episodes=i % 2 + 1,
                              resolved_on=date(2026, 3, 20) if i % 2 else None)
                   for i, e in enumerate(topics))
    out.append(replace(s, fixed=events, incidents=events))
    out.append(replace(s, fixed=events[:2], incidents=events[:2]))
    out.append(replace(s, fixed=(), incidents=(), silences=Silences()))
    # Every entry's words: as actions (one host and several) and, for checks, as topics.
    every = catalog.all_entries()
    for i in range(0, len(every), 3):
        chunk = every[i:i + 3]
        actions = tuple(Action(e, hosts=j + 1) for j, e in enumerate(chunk))
        fixed = tuple(TopicEvent(e, date(2026, 3, 5), 1) for e in chunk if e.kind == "entry")
        out.append(replace(s, actions=actions, fixed=fixed))
    # One host, and a thousand (grouped digits).
    out.append(replace(s, hosts=1))
    out.append(replace(s, hosts=1234))
    return out
