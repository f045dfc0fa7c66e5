"""The plain-language catalog of rules/report.yaml: topics, actions, who does them, effort.

Every sentence a mayor reads about a finding comes from this catalog, never from the finding's
own text, which names packages, paths and ports that have no place in a mayor's mailbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentinelle.errors import ConfigError
from sentinelle.rules import LANGS, default_rules_dir
from sentinelle.validation import Section, load_yaml_file

SPECIAL_KEYS = ("silent", "check_errors", "not_enrolled")


@dataclass(frozen=True)
class ActionText:
    """One catalog entry: what it is about, what to do, why, who and how much effort."""

    key: str
    topic: dict[str, str]
    action: dict[str, str]
    why: dict[str, str]
    who: str
    effort: str


@dataclass(frozen=True)
class Catalog:
    """rules/report.yaml, validated."""

    who: dict[str, dict[str, str]]
    effort: dict[str, dict[str, str]]
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


def _texts(section: Section, name: str) -> dict[str, str]:
    sub = section.section(name)
    texts = {lang: sub.str(lang) for lang in LANGS}
    sub.done()
    return texts


def _labels(top: Section, name: str) -> dict[str, dict[str, str]]:
    sec = top.section(name)
    labels = {str(key): _texts(sec, str(key)) for key in list(sec.data)}
    sec.done()
    if not labels:
        raise top.error(name, "at least one entry")
    return labels


def _entry(
    sec: Section, key: str, who: dict[str, Any], effort: dict[str, Any], topic: bool = True
) -> ActionText:
    entry = ActionText(
        key=key,
        topic=_texts(sec, "topic") if topic else {lang: "" for lang in LANGS},
        action=_texts(sec, "action"),
        why=_texts(sec, "why"),
        who=sec.choice("who", tuple(who)),
        effort=sec.choice("effort", tuple(effort)),
    )
    return entry


def parse_catalog(data: Any, source: str) -> Catalog:
    top = Section(source, "", data)
    who = _labels(top, "who")
    effort = _labels(top, "effort")
    entries_sec = top.section("entries")
    entries: dict[str, ActionText] = {}
    for key in list(entries_sec.data):
        sec = entries_sec.section(str(key))
        entries[str(key)] = _entry(sec, str(key), who, effort)
        sec.done()
    entries_sec.done()
    if "default" not in entries:
        raise entries_sec.error("default", "a default entry")
    special_sec = top.section("special")
    special: dict[str, ActionText] = {}
    for key in SPECIAL_KEYS:
        sec = special_sec.section(key)
        if not sec.data:
            raise special_sec.error(key, "an entry (this key is required)")
        special[key] = _entry(sec, key, who, effort)
        sec.done()
    special_sec.done()
    routine: list[ActionText] = []
    ids: set[str] = set()
    for sec in top.sections("routine"):
        key = sec.str("id")
        if key in ids:
            raise sec.error("id", "an id used once", key)
        ids.add(key)
        routine.append(_entry(sec, key, who, effort, topic=False))
        sec.done()
    if len(routine) < 3:
        raise top.error("routine", "at least three routine actions (to always show three)")
    top.done()
    return Catalog(who, effort, entries, special, tuple(routine))


def load_catalog(path: Path | None = None) -> Catalog:
    """rules/report.yaml of the rules directory in use (or `path`)."""
    path = path or default_rules_dir() / "report.yaml"
    if not path.is_file():
        raise ConfigError(str(path), "(file)", "the report catalog rules/report.yaml")
    return parse_catalog(load_yaml_file(path), str(path))
