"""The dashboards' words come from the message catalog (rules/messages/dashboards.yaml): every
message renders with the arguments the builders pass, none is unused, the committed French
dashboards hold no English catalog text, and dashboards built in English hold no French one."""

from __future__ import annotations

import dataclasses
import re
import string
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from sentinelle.dashboards.build import build_all
from sentinelle.i18n import DEFAULT_LANG, LANGS, Catalog, Message
from sentinelle.rules import RuleSet, load_rules
from tests.dashboards.jsonwalk import panels

PREFIX = "dashboards."
_FORMATTER = string.Formatter()
# Keys whose string values a person reads on a dashboard.
VISIBLE = {"title", "description", "label", "text", "legendFormat", "displayName", "name",
           "tooltip"}


class RecordingCatalog(Catalog):
    """The same messages, rendered strictly, each call recorded."""

    def __init__(self, messages: Catalog) -> None:
        super().__init__(messages)
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def render(self, msg_id: str, args: Mapping[str, Any] | None = None,
               lang: str = DEFAULT_LANG, strict: bool = False) -> str:
        self.calls.append((msg_id, lang, dict(args or {})))
        return super().render(msg_id, args, lang, strict=True)


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules()


@pytest.fixture(scope="module")
def by_lang(rules: RuleSet) -> dict[str, dict[str, dict[str, Any]]]:
    return {lang: build_all(rules, lang) for lang in LANGS}


def visible_strings(data: Any, key: str = "") -> Iterator[str]:
    """Every text of the dashboard JSON a person reads: titles, descriptions, headers (the
    organize transformation's new names), legends, mapped values, link and variable labels."""
    if isinstance(data, dict):
        for k, v in data.items():
            if k == "renameByName" and isinstance(v, dict):
                yield from (str(x) for x in v.values())
            else:
                yield from visible_strings(v, k)
    elif isinstance(data, list):
        for item in data:
            yield from visible_strings(item, key)
    elif isinstance(data, str) and key in VISIBLE:
        yield data


def _literals(message: Message, lang: str) -> list[str]:
    text = message.texts[lang]
    forms = [text] if isinstance(text, str) else list(text.values())
    return [lit.strip() for form in forms for lit, _, _, _ in _FORMATTER.parse(form)
            if lit.strip()]


def foreign_texts(rules: RuleSet, lang: str) -> set[str]:
    """Texts of the other language a dashboard in `lang` must not show: the dashboards'
    messages and the checks' titles, rationales and remediations, less those `lang` shares."""
    other = next(lo for lo in LANGS if lo != lang)
    own: set[str] = set()
    theirs: set[str] = set()
    for message in rules.catalog:
        if message.id.startswith(PREFIX) or message.id.startswith("severity."):
            own.update(_literals(message, lang))
            theirs.update(_literals(message, other))
    for meta in rules.checks.values():
        for texts in (meta.title, meta.rationale, meta.remediation):
            own.add(texts[lang])
            theirs.add(texts[other])
    return {t for t in theirs - own if re.search(r"[^\W\d_]{3,}", t)}


def test_every_dashboard_message_renders_with_what_the_builders_pass(rules: RuleSet) -> None:
    recording = RecordingCatalog(rules.catalog)
    checked = dataclasses.replace(rules, catalog=recording)
    for lang in LANGS:
        for data in build_all(checked, lang).values():
            texts = list(visible_strings(data))
            # Grafana's own ${variable} and {{label}} aside, no placeholder is left unfilled.
            unfilled = [t for t in texts if "{" in re.sub(r"\$\{\w+\}|\{\{\w+\}\}", "", t)]
            assert texts and unfilled == [] and "?" not in texts, (lang, unfilled)
    ids = {m.id for m in rules.catalog if m.id.startswith(PREFIX)}
    for lang in LANGS:
        seen = {msg_id for msg_id, used, _ in recording.calls if used == lang}
        assert ids - seen == set(), lang  # no message left unused
        assert {s for s in seen if s.startswith(PREFIX)} <= ids
    # Grafana variables reach the catalog as arguments, and come back as they were.
    assert ("dashboards.check.row.check", "fr", {"check": "${check}"}) in recording.calls


def test_the_committed_dashboards_are_the_french_build(
        by_lang: dict[str, dict[str, dict[str, Any]]]) -> None:
    assert by_lang["fr"] == build_all()


@pytest.mark.parametrize("lang", LANGS)
def test_a_dashboard_shows_no_text_of_the_other_language(
        rules: RuleSet, by_lang: dict[str, dict[str, dict[str, Any]]], lang: str) -> None:
    foreign = foreign_texts(rules, lang)
    assert len(foreign) > 150
    for name, data in by_lang[lang].items():
        found = shows_foreign(list(visible_strings(data)), foreign)
        assert found == [], (lang, name)


def shows_foreign(shown: list[str], foreign: set[str]) -> list[str]:
    """The foreign texts among what a dashboard shows: a text of a word or two (a header, a
    mapped value: the languages share some, "Agent", "Service") when it is a whole text shown;
    a longer one anywhere in a text (a sentence of a description)."""
    texts = {t.strip().casefold() for t in shown if not re.fullmatch(r"[a-z_]+", t)}
    body = " | ".join(sorted(texts))
    found = []
    for text in sorted(foreign):
        key = text.casefold()
        if key in texts or (len(re.findall(r"[^\W\d_]+", text)) >= 3
                            and re.search(rf"(?<!\w){re.escape(key)}(?!\w)", body)):
            found.append(text)
    return found


def test_the_scan_sees_the_other_language(rules: RuleSet) -> None:
    english = foreign_texts(rules, "fr")
    assert shows_foreign(["Posture score", "Open the commune's dashboard"], english) == [
        "Open the commune's dashboard", "Posture score"]
    assert shows_foreign(["Score", "Agent", "commune"], english) == []
    assert shows_foreign(["Serveurs qui remontent"], foreign_texts(rules, "en")) == [
        "Serveurs qui remontent"]


def test_english_dashboards_read_english(
        by_lang: dict[str, dict[str, dict[str, Any]]]) -> None:
    fleet = by_lang["en"]["fleet-overview.json"]
    titles = {p["title"] for p in panels(fleet)}
    assert {"Monitored communes", "Every commune: grade and trend"} <= titles
    mapped = {r["text"] for p in panels(fleet)
              for o in p.get("fieldConfig", {}).get("overrides", [])
              for prop in o["properties"] if prop["id"] == "mappings"
              for m in prop["value"] for r in m.get("options", {}).values()}
    assert {"Critical", "High", "Fail", "Pass", "Yes", "No"} <= mapped
    check = by_lang["en"]["check.json"]
    assert any(p["title"] == "The check ${check}" for p in panels(check))


def _mapped(data: Any) -> Iterator[tuple[str, str]]:
    """(value, text) of every value mapping in a dashboard: "fail" → "Non conforme"."""
    if isinstance(data, dict):
        if data.get("type") == "value" and isinstance(data.get("options"), dict):
            for value, result in data["options"].items():
                if isinstance(result, dict) and "text" in result:
                    yield str(value), str(result["text"])
        for v in data.values():
            yield from _mapped(v)
    elif isinstance(data, list):
        for item in data:
            yield from _mapped(item)


@pytest.mark.parametrize("lang", LANGS)
def test_status_and_severity_words_are_the_common_ones(
        rules: RuleSet, by_lang: dict[str, dict[str, dict[str, Any]]], lang: str) -> None:
    """A status or a severity reads on a dashboard as on the console, the reports and the
    mayors' page: the words of rules/messages/common.yaml (capitalised for a column)."""
    def common(msg_id: str) -> str:
        text = rules.catalog.render(msg_id, {}, lang)
        return text[:1].upper() + text[1:]

    statuses = {s: common(f"status.{s}") for s in ("fail", "warn", "error", "pass", "skip")}
    severities = {s: common(f"severity.{s}") for s in ("critical", "high", "medium", "low",
                                                       "info")}
    seen: dict[str, set[str]] = {}
    legends: set[str] = set()
    for data in by_lang[lang].values():
        for value, text in _mapped(data):
            seen.setdefault(value, set()).add(text)
        legends.update(t.get("legendFormat", "") for p in panels(data)
                       for t in p.get("targets", []))
    for value, word in {**statuses, **severities}.items():
        assert seen.get(value, {word}) == {word}, (value, seen.get(value))
    assert set(statuses.values()) <= {t for v in statuses for t in seen.get(v, ())}
    assert set(statuses.values()) <= legends  # the by-status series of the check dashboard
    # The dashboards keep no status words of their own.
    assert not [m.id for m in rules.catalog if m.id.startswith("dashboards.status.")]
