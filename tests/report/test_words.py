"""The monthly page's words come from the message catalog (rules/messages/report.yaml), through
Babel: every message renders in both languages with the arguments the page really passes, none
is left unused, and a page in one language holds no catalog text of the other."""

from __future__ import annotations

import re

import pytest

from sentinelle.collector.store import open_store
from sentinelle.i18n import LANGS
from sentinelle.report.catalog import Catalog
from sentinelle.report.config import ReportSettings
from sentinelle.report.content import MonthlySummary, SummaryBuilder
from sentinelle.report.render_html import render_html
from sentinelle.report.render_text import render_text
from sentinelle.report.wording import build_page
from sentinelle.scoring import ScoringPolicy
from tests.report.conftest import SILENT_AFTER
from tests.report.scenario import MONTH, NOW, Scenario
from tests.report.words import PREFIX, foreign_words_in, strict, variants

CODES = ("01001", "01003", "01007", "01008", "01010")


@pytest.fixture(scope="module")
def summaries(scenario: Scenario, policy: ScoringPolicy, catalog: Catalog) -> list[MonthlySummary]:
    """The scenario's real pages, then variants of the first that take every branch."""
    store = open_store(scenario.store_url)
    try:
        builder = SummaryBuilder(store, policy, catalog, ReportSettings(), SILENT_AFTER, NOW)
        real = [builder.build(code, MONTH) for code in CODES]
    finally:
        store.close()
    return real + variants(real[0], catalog)


def test_every_report_message_renders_with_what_the_page_passes(
    summaries: list[MonthlySummary], catalog: Catalog
) -> None:
    checked, messages = strict(catalog)
    for lang in LANGS:
        for s in summaries:
            page = build_page(s, checked, ReportSettings(), lang)
            for text in (render_text(page), render_html(page, "cid:chart")):
                assert "{" not in text and "}" not in text, (s.commune.code, lang)
    ids = {m.id for m in catalog.messages if m.id.startswith(PREFIX)}
    for lang in LANGS:
        # Every message was asked for (none is dead), and only catalog messages were.
        assert ids - messages.seen(lang) == set(), lang
        assert messages.seen(lang) <= ids | {m.id for m in catalog.messages}
    # Dates, durations and numbers went to the catalog as values, formatted by Babel there.
    kinds = {name: type(value).__name__ for msg_id, _, args in messages.calls
             for name, value in args.items() if msg_id.startswith(PREFIX)}
    assert kinds["date"] == "date" and kinds["total"] == "float" and kinds["n"] == "int"


def test_babel_formats_the_dates_durations_numbers_and_plurals(
    summaries: list[MonthlySummary], catalog: Catalog
) -> None:
    text = {lang: " ".join(render_text(build_page(summaries[0], catalog, ReportSettings(),
                                                  lang)).split()) for lang in LANGS}
    assert "Surveillance interrompue du 25 mars 2026 au 27 mars 2026 (2 jours)." in text["fr"]
    assert "Monitoring interrupted from March 25, 2026 to March 27, 2026 (2 days)." in text["en"]
    assert "Saint-Exemple — Mars 2026 · 2 serveurs suivis" in text["fr"]
    one = next(s for s in summaries if s.hosts == 1 and s.commune.code == "01001")
    assert "1 serveur suivi" in render_text(build_page(one, catalog, ReportSettings(), "fr"))
    assert "1 server monitored" in render_text(build_page(one, catalog, ReportSettings(), "en"))
    many = next(s for s in summaries if s.hosts == 1234)
    assert "1\u202f234 serveurs suivis" in build_page(many, catalog, ReportSettings(), "fr").hosts
    assert "1,234 servers" in build_page(many, catalog, ReportSettings(), "en").hosts
    # The chart's months are Babel's abbreviations, the alt text a list in the language.
    page = build_page(summaries[0], catalog, ReportSettings(), "fr")
    assert [p.label for p in page.chart][:4] == ["avr.", "mai", "juin", "juil."]
    assert page.chart_alt.endswith("février 2026 C et mars 2026 B.")
    page = build_page(summaries[0], catalog, ReportSettings(), "en")
    assert page.chart_alt.endswith("February 2026 C, and March 2026 B.")
    partial = next(s for s in summaries if s.current.days == 1)
    assert "sur 1 jour seulement" in " ".join(
        build_page(partial, catalog, ReportSettings(), "fr").notes)


@pytest.mark.parametrize("lang", LANGS)
def test_a_page_holds_no_catalog_text_of_the_other_language(
    summaries: list[MonthlySummary], catalog: Catalog, lang: str
) -> None:
    for s in summaries:
        page = build_page(s, catalog, ReportSettings(), lang)
        for text in (render_text(page), re.sub(r"<[^>]+>", " ", render_html(page, "cid:c"))):
            assert foreign_words_in(text, catalog.messages, lang) == [], (s.commune.code, lang)


def test_the_scan_sees_the_other_language() -> None:
    from sentinelle.report.catalog import load_catalog

    catalog = load_catalog()
    english = "Who: the IT contractor · Workload: half a day"
    found = {msg_id for msg_id, _ in foreign_words_in(english, catalog.messages, "fr")}
    assert {"report.who.prestataire", "report.effort.half_day", "report.effort"} <= found
    assert foreign_words_in("Qui : le syndicat", catalog.messages, "en") != []
    assert foreign_words_in("Qui : le syndicat", catalog.messages, "fr") == []


def test_both_languages_fill_the_same_blanks(catalog: Catalog) -> None:
    """The same arguments in both languages, or a sentence would lose a fact."""
    for message in catalog.messages:
        if message.id.startswith(PREFIX):
            names = [{name for name, _ in message.placeholders(lang)} for lang in LANGS]
            assert names[0] == names[1], message.id


def test_the_page_says_which_risk_is_accepted_until_when(
    summaries: list[MonthlySummary], catalog: Catalog
) -> None:
    summary = next(s for s in summaries if s.accepted)
    text = {lang: " ".join(render_text(build_page(summary, catalog, ReportSettings(),
                                                  lang)).split()) for lang in LANGS}
    assert "Risque accepté avec le syndicat, jusqu'au 1 mars 2027" in text["fr"]
    assert "Risk accepted with the syndicate, until March 1, 2027" in text["en"]
    assert "2 serveurs" in text["fr"]
