"""Message catalogs: plural forms and locale formatting from Babel, strict parsing, and every
catalog entry of rules/messages rendering in both languages."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinelle.i18n import (
    LANGS,
    Catalog,
    MessageError,
    format_ago,
    format_duration,
    format_size,
    format_value,
    format_when,
    parse_message,
)
from sentinelle.rules import load_rules

NBSP = "\u202f"  # CLDR groups French thousands with a narrow no-break space


def plain(text: str) -> str:
    """French sets no-break spaces before units and inside numbers: compare the words."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def updates() -> Catalog:
    return Catalog([parse_message("t.updates", {
        "plural": "count",
        "fr": {"one": "{count} mise à jour depuis {age:duration}",
               "other": "{count} mises à jour depuis {age:duration}"},
        "en": {"one": "{count} update for {age:duration}",
               "other": "{count} updates for {age:duration}"},
    }, "test")])


@pytest.mark.parametrize("lang,count,expected", [
    ("fr", 0, "0 mise à jour depuis 143 jours"),  # French: 0 is singular
    ("fr", 1, "1 mise à jour depuis 143 jours"),
    ("fr", 2, "2 mises à jour depuis 143 jours"),
    ("fr", 1500, f"1{NBSP}500 mises à jour depuis 143 jours"),
    ("en", 0, "0 updates for 143 days"),  # English: 0 is plural
    ("en", 1, "1 update for 143 days"),
    ("en", 1500, "1,500 updates for 143 days"),
])
def test_plural_forms_and_grouping_follow_the_language(lang: str, count: int,
                                                       expected: str) -> None:
    rendered = updates().render("t.updates", {"count": count, "age": 143 * 86400}, lang)
    assert plain(rendered) == plain(expected)


def test_kinds_are_formatted_per_locale() -> None:
    assert plain(format_duration(143 * 86400, "fr")) == "143 jours"
    assert plain(format_duration(5 * 3600 + 100, "en")) == "5 hours"
    assert plain(format_duration(30, "fr")) == "30 secondes"
    assert plain(format_ago(3 * 86400, "fr")) == "il y a 3 jours"
    assert plain(format_ago(3 * 86400, "en")) == "3 days ago"
    assert plain(format_size(1.9 * 2**20, "fr")) == "1,9 Mio"
    assert plain(format_size(1.9 * 2**20, "en")) == "1.9 MiB"
    assert plain(format_when("2026-07-11T08:00:00Z", "fr")) == "11 juillet 2026"
    assert plain(format_when(1783728000, "en")) == "July 11, 2026"
    assert plain(format_value(0.45, "percent", "fr")) == "45 %"
    assert plain(format_value(["a", "b", "c"], "list", "fr")) == "a, b et c"
    assert plain(format_value(["a", "b", "c"], "list", "en")) == "a, b, and c"
    assert plain(format_value(1234.5, "", "fr")) == "1 234,5"


def test_french_keeps_its_no_break_spaces() -> None:
    assert format_size(1.9 * 2**20, "fr") == "1,9\u00a0Mio"
    assert format_value(1234, "", "fr") == f"1{NBSP}234"


def test_missing_arguments_show_or_raise() -> None:
    catalog = updates()
    assert catalog.render("t.updates", {"count": 2}, "fr") == "2 mises à jour depuis ?"
    with pytest.raises(MessageError, match="age"):
        catalog.render("t.updates", {"count": 2}, "fr", strict=True)
    with pytest.raises(MessageError, match="no message"):
        catalog.render("t.nope", {}, "fr")


@pytest.mark.parametrize("entry,error", [
    ({"fr": "x"}, "en: expected"),
    ({"fr": "x", "en": "y", "de": "z"}, "unknown key"),
    ({"fr": "{n:weird}", "en": "{n}"}, "kind one of"),
    ({"fr": "{n!r}", "en": "{n}"}, "placeholder"),
    ({"fr": "{", "en": "x"}, "fr:"),
    ({"plural": "n", "fr": {"one": "a"}, "en": {"other": "b"}}, "plural forms"),
    ("just text", "a mapping"),
])
def test_malformed_entries_are_refused_with_where(entry: object, error: str) -> None:
    with pytest.raises(MessageError, match=error) as err:
        parse_message("t.bad", entry, "rules/messages/x.yaml")
    assert "rules/messages/x.yaml: message t.bad" in str(err.value)


def test_duplicate_ids_are_refused() -> None:
    one = parse_message("t.a", {"fr": "a", "en": "a"}, "one.yaml")
    two = parse_message("t.a", {"fr": "b", "en": "b"}, "two.yaml")
    with pytest.raises(MessageError, match=r"already in one\.yaml"):
        Catalog([one, two])


def test_every_catalog_entry_renders_in_both_languages() -> None:
    catalog = load_rules().catalog
    entries = list(catalog)
    assert entries, "rules/messages holds no catalog"
    for message in entries:
        rendered = {}
        for lang in LANGS:
            args = {name: 2 for name, _ in message.placeholders(lang)}
            rendered[lang] = catalog.render(message.id, args, lang, strict=True)
            assert "{" not in rendered[lang] and "?" not in rendered[lang], message.id
        # A French text that is the English one was not translated (names aside).
        if any(c.isalpha() for c in rendered["en"]) and len(rendered["en"]) > 3:
            assert rendered["fr"] != rendered["en"], message.id


def test_the_agent_daemon_does_not_import_babel() -> None:
    """Babel costs about 9 MB once imported: the daemon builds Reports and renders nothing."""
    import subprocess
    import sys

    code = ("import sys; import sentinelle.agent.daemon, sentinelle.agent.push, sentinelle.runner;"
            " from sentinelle.rules import load_rules; load_rules();"
            " assert 'babel' not in sys.modules, sorted(m for m in sys.modules if 'babel' in m)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_every_exposed_family_has_its_help_text_in_both_languages(tmp_path: Path) -> None:
    """The HELP texts of the collector's page (and so of `check --format prometheus`, made by
    the same function) come from the catalog in the collector's language: none falls back to
    the bare name, and a French page carries no English one."""
    from prometheus_client.parser import text_string_to_metric_families

    from sentinelle.metrics import AGENT_HEALTH, MEASUREMENTS, metric_help
    from tests.collector.harness import auth, request, running_collector
    from tests.collector.sample_reports import make_report

    names = {*MEASUREMENTS, *(n for n, _, _ in AGENT_HEALTH), "check_status", "host_grade"}
    for name in names:
        assert metric_help(name, "fr") != name and metric_help(name, "en") != name, name
        assert metric_help(name, "fr") != metric_help(name, "en"), name
    english = {metric_help(n, "en") for n in names}
    for lang in LANGS:
        with running_collector(tmp_path / lang, lang=lang) as c:
            c.commune("01001", "Abergement")
            creds = c.enroll("01001", "srv")
            status, _, _ = request(c.url + "/api/v1/reports", "POST",
                                   make_report(10).to_dict(), headers=auth(creds))
            assert status == 201
            _, text, _ = request(c.url + "/metrics")
        helps = {f.name: f.documentation for f in text_string_to_metric_families(text)}
        assert len(helps) > 20
        for family, documentation in helps.items():
            assert documentation and "sentinelle_" not in documentation, family
        expected = "Une commune du syndicat." if lang == "fr" else "A commune of the syndicate."
        assert helps["sentinelle_commune_info"] == expected
        if lang == "fr":
            assert not set(helps.values()) & english


def test_the_agent_metrics_page_speaks_one_language() -> None:
    """The agent's own families and the Report's, on its local /metrics, in one language."""
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from sentinelle.agent.exporter import AgentCollector, AgentState
    from sentinelle.metrics import metric_help
    from tests.collector.sample_reports import make_report

    state = AgentState()
    state.record_cycle(make_report(5), 0.5)
    pages = {}
    for lang in LANGS:
        from prometheus_client.registry import CollectorRegistry

        registry = CollectorRegistry(auto_describe=False)
        registry.register(AgentCollector(state, lang))
        text = generate_latest(registry).decode()
        pages[lang] = {f.name: f.documentation for f in text_string_to_metric_families(text)}
    assert pages["fr"]["sentinelle_agent_cycles"] == metric_help("agent_cycles", "fr")
    assert "sentinelle_host_risk_score" in pages["fr"]
    for name, documentation in pages["fr"].items():
        assert documentation != pages["en"][name], name


@pytest.mark.parametrize(("seconds", "fr", "en"), [
    (0.3, "0,3 seconde", "0.3 seconds"),
    (45, "45 secondes", "45 seconds"),
    (59.6, "1 minute", "1 minute"),  # cut as it rounds, never "60 secondes"
    (90, "1 min 30 s", "1 min 30 sec"),
    (119.6, "2 minutes", "2 minutes"),
    (50 * 60, "50 minutes", "50 minutes"),
    (3600, "1 heure", "1 hour"),
    (116 * 60, "1 h 56 min", "1 hr 56 min"),  # not "116 minutes"
    (7170, "2 heures", "2 hours"),
    (5 * 3600 + 100, "5 heures", "5 hours"),
    (26 * 3600, "26 heures", "26 hours"),  # below two days, hours: as the rules' limits read
    (2 * 86400, "2 jours", "2 days"),
    (14 * 86400, "14 jours", "14 days"),  # no weeks: a person compares days with days
    (143 * 86400, "143 jours", "143 days"),
])
def test_durations_read_naturally_at_every_scale(seconds: float, fr: str, en: str) -> None:
    assert plain(format_duration(seconds, "fr")) == fr
    assert plain(format_duration(seconds, "en")) == en
    assert plain(format_duration(-seconds, "fr")) == fr


@pytest.mark.parametrize(("seconds", "fr", "en"), [
    (116 * 60, "il y a 1 h 56 min", "1 hr 56 min ago"),
    (3 * 86400, "il y a 3 jours", "3 days ago"),
    (90, "il y a 1 min 30 s", "1 min 30 sec ago"),
    (26 * 3600, "il y a 26 heures", "26 hours ago"),
])
def test_ago_is_cut_as_durations_are(seconds: float, fr: str, en: str) -> None:
    assert plain(format_ago(seconds, "fr")) == fr
    assert plain(format_ago(seconds, "en")) == en


def test_a_catalog_duration_reads_in_one_language() -> None:
    catalog = Catalog([parse_message("t.age", {
        "fr": "La liste des paquets date de {age:duration}.",
        "en": "The package lists are {age:duration} old.",
    }, "test")])
    assert plain(catalog.render("t.age", {"age": 6960}, "fr")) == (
        "La liste des paquets date de 1 h 56 min.")
    assert plain(catalog.render("t.age", {"age": 6960}, "en")) == (
        "The package lists are 1 hr 56 min old.")
