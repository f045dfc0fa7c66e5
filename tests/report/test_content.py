"""The facts of the monthly summary, from a month pushed through a real collector
(tests/report/scenario.py explains what happened that month)."""

from __future__ import annotations

import statistics
from datetime import date

import pytest

from sentinelle.report.catalog import Catalog
from sentinelle.report.config import ReportSettings
from sentinelle.report.content import SummaryBuilder
from sentinelle.report.render_text import render_text
from sentinelle.report.wording import build_page
from tests.report.scenario import MONTH, PEERS


def _text(builder: SummaryBuilder, catalog: Catalog, code: str, lang: str = "fr") -> str:
    return render_text(build_page(builder.build(code, MONTH), catalog, ReportSettings(), lang))


def test_month_score_is_the_median_of_the_collectors_daily_snapshots(
    builder: SummaryBuilder,
) -> None:
    days = builder.store.snapshots("01001", MONTH.first_day, MONTH.last_day)
    # The collector itself took one snapshot per day of March.
    assert [d.day.day for d in days] == list(range(1, 32))
    s = builder.build("01001", MONTH)
    assert s.current.days == 31
    # srv-mairie 66.7 (RDP open: its exposure category at 0 %), nas-compta 100 (docs/scoring.md).
    median = statistics.median(d.score for d in days)
    assert s.current.score == median == pytest.approx(83.3333335)
    assert (s.current.grade, s.previous.grade, s.previous.score) == ("B", "C", 70.0)
    assert s.trend == "up"
    # Twelve months on the chart, the oldest first, ending with the reported month.
    assert [str(h.month) for h in s.history][::11] == ["2025-04", "2026-03"]
    assert [h.grade for h in s.history] == ["C"] * 11 + ["B"]
    assert (s.hosts, s.reporting_hosts) == (2, 2)


def test_what_was_fixed_and_what_broke_this_month(builder: SummaryBuilder) -> None:
    s = builder.build("01001", MONTH)
    assert [(e.entry.key, e.day, e.hosts) for e in s.fixed] == [
        ("patching.pending_updates", date(2026, 3, 12), 2)
    ]
    assert [(e.entry.key, e.day, e.hosts, e.resolved_on) for e in s.incidents] == [
        ("backups.freshness", date(2026, 3, 20), 1, date(2026, 3, 21))
    ]
    # nas-compta sent nothing from the 25th to the 27th: one silence, over since.
    sil = s.silences
    assert (sil.episodes, sil.hosts, sil.ongoing) == (1, 1, False)
    assert (sil.longest_start, sil.longest_end) == (date(2026, 3, 25), date(2026, 3, 27))
    assert 50 <= sil.total_hours <= 60


def test_page_says_it_in_plain_words(builder: SummaryBuilder, catalog: Catalog) -> None:
    text = " ".join(_text(builder, catalog, "01001").split())
    assert "Le 12 mars 2026 : les mises à jour de sécurité (sur 2 serveurs)." in text
    assert ("Le 20 mars 2026 : les sauvegardes quotidiennes en défaut, rétabli le "
            "21 mars 2026.") in text
    assert "Surveillance interrompue du 25 mars 2026 au 27 mars 2026 (2 jours)." in text
    assert "En progrès : le niveau passe de C à B depuis février 2026." in text
    assert "Note du mois : 83 sur 100" in text


def test_priority_actions_come_from_the_open_findings(
    builder: SummaryBuilder, catalog: Catalog
) -> None:
    s = builder.build("01001", MONTH)
    # Remote desktop open on one server is the one open problem; routine actions follow.
    assert [a.entry.key for a in s.actions] == [
        "ports.risky_services",
        "monaidecyber",
        "restore_drill",
    ]
    assert [a.routine for a in s.actions] == [False, True, True]
    bourg = builder.build("01003", MONTH)
    # No backup at all (critical) first, then no offline copy (high), then a routine action.
    assert [a.entry.key for a in bourg.actions] == [
        "backups.freshness@critical",
        "backups.offline_copy",
        "monaidecyber",
    ]
    text = _text(builder, catalog, "01003")
    assert "1. Faites mettre en place une sauvegarde automatique" in text
    assert "Qui : le prestataire informatique · Effort : une à deux journées" in text


def test_backup_statement(builder: SummaryBuilder, catalog: Catalog) -> None:
    s = builder.build("01001", MONTH)
    assert (s.backup.answer, s.backup.reason) == ("yes", "ok")
    assert s.backup.last_restore_test == date(2026, 2, 3)
    assert s.backup.offline_copy is True
    text = _text(builder, catalog, "01001")
    assert "Données de la semaine dernière récupérables : OUI" in text
    assert "Dernier test de restauration : 3 février 2026." in " ".join(text.split())
    bourg = builder.build("01003", MONTH)
    assert (bourg.backup.answer, bourg.backup.reason) == ("no", "no_backup")
    assert bourg.backup.last_restore_test is None
    assert "récupérables : NON" in _text(builder, catalog, "01003")


def test_comparison_counts_only_same_size_peers_of_the_departement_and_names_none(
    builder: SummaryBuilder, catalog: Catalog
) -> None:
    s = builder.build("01001", MONTH)
    c = s.comparison
    # Peers: 01002 (95), 01003 (66.7), 01004 (85), 01005 (55), 01006 (30); 74010 is elsewhere.
    assert (c.status, c.band, c.peers, c.better_than, c.worse_than) == (
        "ok", (500, 2000), 5, 3, 2
    )
    assert c.peer_median_grade == "D"
    text = " ".join(_text(builder, catalog, "01001").split())
    assert ("Parmi les 5 autres communes de 500 à 1 999 habitants du département suivies par "
            "le syndicat, votre commune fait mieux que 3 et moins bien que 2.") in text
    for lang in ("fr", "en"):
        for code in ("01001", "01003", "01002"):
            page = _text(builder, catalog, code, lang)
            for other in [p.name for p in PEERS] + ["Saint-Exemple", "Bourg-Témoin"]:
                if other != builder.communes[code].name:
                    assert other not in page, (code, lang, other)


def test_no_data_is_said_honestly_never_as_a_grade(
    builder: SummaryBuilder, catalog: Catalog
) -> None:
    silent = builder.build("01007", MONTH)
    assert silent.current.grade is None and silent.no_data is not None
    assert (silent.no_data.reason, silent.no_data.since) == ("silent", date(2026, 2, 20))
    text = " ".join(_text(builder, catalog, "01007").split())
    assert "Niveau de protection : – (Pas de mesure)" in text
    assert not any(row.current for row in build_page(silent, catalog, ReportSettings(), "fr").scale)
    assert ("Le syndicat ne reçoit plus de nouvelles des serveurs de la mairie depuis le "
            "20 février 2026.") in text
    assert "Un serveur ne donne pas de nouvelles depuis le 20 février 2026." in text
    # Its last Report, before the silence, still dates the restore test; the answer is unknown.
    assert (silent.backup.answer, silent.backup.last_restore_test) == (
        "unknown", date(2026, 2, 3)
    )
    assert silent.actions[0].entry.key == "silent"

    never = builder.build("01008", MONTH)
    assert never.no_data is not None and never.no_data.reason == "never_enrolled"
    assert never.actions[0].entry.key == "not_enrolled"
    assert "Aucun serveur de la mairie n'est inscrit" in _text(builder, catalog, "01008")

    waiting = builder.build("01010", MONTH)
    assert waiting.no_data is not None
    assert (waiting.no_data.reason, waiting.no_data.since) == (
        "never_reported", date(2026, 3, 15)
    )
    page = build_page(waiting, catalog, ReportSettings(), "fr")
    assert page.grade is None and "pas de mesure" in page.subject


def test_english_version(builder: SummaryBuilder, catalog: Catalog) -> None:
    text = " ".join(_text(builder, catalog, "01001", "en").split())
    assert "Last week's data recoverable: YES" in text
    assert "On March 12, 2026: security updates (on 2 servers)." in text
    assert "Improving: the grade went from C to B since February 2026." in text
    assert "Qui" not in text and "serveur" not in text
