"""The plain-language actions of the mayors' summary: which entry speaks for each check, who
acts on it and the effort (rules/report.yaml), with their words in the message catalog
(rules/messages/report.yaml, rendered by `sentinelle.i18n`).

Every sentence a mayor reads about a finding comes from these entries, never from the finding's
own text, which names packages, paths and ports that have no place in a mayor's mailbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentinelle import i18n
from sentinelle.errors import ConfigError, expect, problem
from sentinelle.rules import default_rules_dir, load_rules
from sentinelle.validation import Section, load_yaml_file

SPECIAL_KEYS = ("silent", "check_errors", "not_enrolled")
# The words each kind of entry has in the catalog: report.KIND.KEY.FIELD.
FIELDS = {"entry": ("topic", "action", "why"), "special": ("action", "why"),
          "routine": ("action", "why")}
WHO, EFFORT = "report.who.", "report.effort."


@dataclass(frozen=True)
class ActionText:
    """One entry: its key, who does it and how much effort; its words are catalog messages."""

    key: str
    who: str  # report.who.<who>
    effort: str  # report.effort.<effort>
    kind: str = "entry"  # entry, special or routine

    def message(self, field: str) -> str:
        """The catalog id of one of its words: 'topic', 'action' or 'why'."""
        return f"report.{self.kind}.{self.key}.{field}"


@dataclass(frozen=True)
class Catalog:
    """rules/report.yaml, validated against the message catalog that holds its words."""

    messages: i18n.Catalog
    entries: dict[str, ActionText]
    special: dict[str, ActionText]
    routine: tuple[ActionText, ...]

    def entry_for(self, check: str, severity: str | None = None) -> ActionText:
        """The most specific entry: CHECK@SEVERITY, CHECK, its family, then the default."""
        family = check.split(".", 1)[0]
        for key in (f"{check}@{severity}" if severity else None, check, family):
            if key is not None and key in self.entries:
                return self.entries[key]
        return self.entries["default"]

    def text(self, entry: ActionText, field: str, lang: str) -> str:
        """The entry's topic, action or why in `lang`."""
        return self.messages.render(entry.message(field), {}, lang)

    def who(self, entry: ActionText, lang: str) -> str:
        return self.messages.render(WHO + entry.who, {}, lang)

    def effort(self, entry: ActionText, lang: str) -> str:
        return self.messages.render(EFFORT + entry.effort, {}, lang)

    def all_entries(self) -> list[ActionText]:
        return [*self.entries.values(), *self.special.values(), *self.routine]


def _suffixes(messages: i18n.Catalog, prefix: str) -> tuple[str, ...]:
    return tuple(sorted(m.id[len(prefix):] for m in messages if m.id.startswith(prefix)))


def _entry(sec: Section, key: str, kind: str, messages: i18n.Catalog) -> ActionText:
    entry = ActionText(
        key=key,
        who=sec.choice("who", _suffixes(messages, WHO)),
        effort=sec.choice("effort", _suffixes(messages, EFFORT)),
        kind=kind,
    )
    missing = [entry.message(f) for f in FIELDS[kind] if entry.message(f) not in messages]
    if missing:
        raise ConfigError(sec.source, sec.prefix, problem("report_words_missing", ids=missing),
                          line=sec.line)
    return entry


def parse_catalog(data: Any, source: str, messages: i18n.Catalog) -> Catalog:
    """The entries of rules/report.yaml as read from `data`; their words must be in `messages`
    and every report.entry/special/routine message must belong to an entry."""
    top = Section(source, "", data)
    entries_sec = top.section("entries")
    entries: dict[str, ActionText] = {}
    for key in list(entries_sec.data):
        sec = entries_sec.section(str(key))
        entries[str(key)] = _entry(sec, str(key), "entry", messages)
        sec.done()
    entries_sec.done()
    if "default" not in entries:
        raise entries_sec.error("default", expect("default_entry"))
    special_sec = top.section("special")
    special: dict[str, ActionText] = {}
    for key in SPECIAL_KEYS:
        sec = special_sec.section(key)
        if not sec.data:
            raise special_sec.error(key, expect("required"))
        special[key] = _entry(sec, key, "special", messages)
        sec.done()
    special_sec.done()
    routine: list[ActionText] = []
    ids: set[str] = set()
    for sec in top.sections("routine"):
        key = sec.str("id")
        if key in ids:
            raise sec.error("id", expect("id_once"), key)
        ids.add(key)
        routine.append(_entry(sec, key, "routine", messages))
        sec.done()
    if len(routine) < 3:
        raise top.error("routine", expect("routine_actions"))
    top.done()
    catalog = Catalog(messages, entries, special, tuple(routine))
    used = {e.message(f) for e in catalog.all_entries() for f in FIELDS[e.kind]}
    orphans = sorted(
        m.id for m in messages
        if m.id.startswith(tuple(f"report.{kind}." for kind in FIELDS)) and m.id not in used
    )
    if orphans:
        raise entries_sec.error("", expect("entry_for_every_message"), orphans)
    return catalog


def load_catalog(path: Path | None = None, messages: i18n.Catalog | None = None) -> Catalog:
    """rules/report.yaml of the rules directory in use (or `path`), its words from `messages`
    (by default the catalog of the same rules directory)."""
    path = path or default_rules_dir() / "report.yaml"
    if not path.is_file():
        raise ConfigError(str(path), "", problem("not_found"))
    if messages is None:
        messages = load_rules(path.parent).catalog
    return parse_catalog(load_yaml_file(path), str(path), messages)
