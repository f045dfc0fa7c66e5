"""The Store contract, run against both backends: SQLite (a file in tmp_path) and a real
PostgreSQL started for the session (tests/collector/pg.py).

Every test gets an empty, migrated store through the parametrized `store` fixture
(tests/collector/conftest.py), so each assertion here holds for SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import threading
import traceback
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sentinelle.collector.records import (
    AgentRecord,
    CheckState,
    Commune,
    DailySnapshot,
    EnrollmentToken,
    IncomingReport,
    LatestReport,
    checks_document,
)
from sentinelle.collector.store import Redemption, Store, StoreError, open_store
from tests.collector.pg import PostgresServer, free_port

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 28, 9, 30, 15, 123456, tzinfo=UTC)
ABERGEMENT = Commune(
    "01001",
    "L'Abergement-Clémenciat",
    "01",
    832,
    ("maire@abergement-clemenciat.fr", "adjointe.numérique@abergement-clemenciat.fr"),
)
EVIAN = Commune("74119", "Évian-les-Bains", "74", None, ())
AJACCIO = Commune("2A004", "Ajaccio", "2A", 71361, ("cabinet@ajaccio.fr",))


def agent(agent_id: str, commune: str = "01001", host: str | None = None) -> AgentRecord:
    return AgentRecord(agent_id, commune, host or agent_id, f"hash-{agent_id}", T0)


def report(
    agent_id: str,
    report_id: str,
    generated_at: datetime,
    received_at: datetime | None = None,
    checks: tuple[CheckState, ...] = (),
    commune: str = "01001",
) -> IncomingReport:
    body = f'{{"report_id":"{report_id}","generated_at":"{generated_at.isoformat()}"}}'
    return IncomingReport(
        report_id=report_id,
        agent_id=agent_id,
        commune=commune,
        host=agent_id,
        received_at=received_at or generated_at + timedelta(seconds=2),
        generated_at=generated_at,
        score=87.5,
        grade="B",
        body=body.encode() + b"\x00\xff",  # bytes that are not UTF-8 must round-trip too
        checks_json=checks_document(checks),
        score_json=f'{{"score": 87.5, "grade": "B", "report": "{report_id}"}}',
    )


def with_commune_and_agents(store: Store, *agent_ids: str) -> None:
    store.upsert_commune(ABERGEMENT)
    for agent_id in agent_ids:
        store.add_agent(agent(agent_id))


def latest_of(store: Store, agent_id: str) -> LatestReport:
    found = [lr for lr in store.latest_reports() if lr.agent.agent_id == agent_id]
    assert len(found) == 1, found
    return found[0]


def latest_body(store: Store, agent_id: str) -> bytes:
    return latest_of(store, agent_id).body


def assert_latest_is(store: Store, r: IncomingReport) -> None:
    """The latest state of r's agent is r: body, times and score together."""
    latest = latest_of(store, r.agent_id)
    assert latest.body == r.body
    assert latest.generated_at == r.generated_at and latest.received_at == r.received_at
    assert latest.score_json == r.score_json


# Communes


def test_communes_upsert_get_list(store: Store) -> None:
    assert store.list_communes() == []
    assert store.get_commune("01001") is None
    for commune in (EVIAN, AJACCIO, ABERGEMENT):
        store.upsert_commune(commune)
    assert store.get_commune("01001") == ABERGEMENT  # accents and several e-mails round-trip
    assert store.get_commune("74119") == EVIAN  # no population, no e-mail
    assert [c.code for c in store.list_communes()] == ["01001", "2A004", "74119"]

    renamed = Commune("01001", "L'Abergement-Clémenciat (Ain)", "01", 850, ("élu@exemple.fr",))
    store.upsert_commune(renamed)
    assert store.get_commune("01001") == renamed
    assert len(store.list_communes()) == 3


# Enrollment tokens


def test_token_uses_count_down_to_used_up(store: Store) -> None:
    store.upsert_commune(ABERGEMENT)
    store.add_token(EnrollmentToken("tok_two", "01001", T0, T0 + timedelta(days=1), 2), "h2")
    now = T0 + timedelta(hours=1)
    assert store.redeem_token("h2", now) == (Redemption.OK, "01001")
    assert store.list_tokens()[0].uses_left == 1
    assert store.redeem_token("h2", now) == (Redemption.OK, "01001")
    assert store.redeem_token("h2", now) == (Redemption.USED_UP, "01001")
    assert store.redeem_token("h2", now) == (Redemption.USED_UP, "01001")
    assert store.list_tokens()[0].uses_left == 0


def test_token_unlimited_expired_revoked_unknown(store: Store) -> None:
    store.upsert_commune(ABERGEMENT)
    store.upsert_commune(EVIAN)
    expiry = T0 + timedelta(days=7)
    store.add_token(EnrollmentToken("tok_open", "01001", T0, None, None), "h-open")
    store.add_token(EnrollmentToken("tok_week", "74119", T0, expiry, 5), "h-week")
    store.add_token(EnrollmentToken("tok_rev", "01001", T0 + timedelta(seconds=1), None, 3), "h-r")

    for _ in range(5):  # no expiry, no use limit
        assert store.redeem_token("h-open", T0 + timedelta(days=400)) == (Redemption.OK, "01001")
    assert store.list_tokens("01001")[0].uses_left is None

    # Valid just before its expiry, expired at and after it, whatever the caller's time zone.
    paris = ZoneInfo("Europe/Paris")
    just_before = (expiry - timedelta(microseconds=1)).astimezone(paris)
    assert store.redeem_token("h-week", just_before) == (Redemption.OK, "74119")
    assert store.redeem_token("h-week", expiry.astimezone(paris)) == (Redemption.EXPIRED, "74119")
    assert store.redeem_token("h-week", expiry + timedelta(days=1)) == (
        Redemption.EXPIRED,
        "74119",
    )

    assert store.revoke_token("tok_rev") is True
    assert store.revoke_token("tok_nope") is False
    assert store.redeem_token("h-r", T0) == (Redemption.REVOKED, "01001")
    assert store.redeem_token("no-such-hash", T0) == (Redemption.UNKNOWN, None)

    tokens = {t.token_id: t for t in store.list_tokens()}
    assert tokens["tok_rev"].revoked and not tokens["tok_open"].revoked
    assert tokens["tok_week"] == EnrollmentToken("tok_week", "74119", T0, expiry, 4)
    assert tokens["tok_rev"].uses_left == 3  # a refused redemption consumes nothing
    assert [t.token_id for t in store.list_tokens("01001")] == ["tok_open", "tok_rev"]
    assert [t.token_id for t in store.list_tokens("74119")] == ["tok_week"]


def test_token_refused_for_unknown_commune_or_duplicate_id(store: Store) -> None:
    store.upsert_commune(ABERGEMENT)
    with pytest.raises(StoreError, match="99999"):
        store.add_token(EnrollmentToken("tok_x", "99999", T0, None, 1), "hx")
    store.add_token(EnrollmentToken("tok_y", "01001", T0, None, 1), "hy")
    with pytest.raises(StoreError):
        store.add_token(EnrollmentToken("tok_y", "01001", T0, None, 1), "another-hash")
    assert [t.token_id for t in store.list_tokens()] == ["tok_y"]


@pytest.mark.parametrize("uses", [1, 3])
def test_concurrent_redemption_never_exceeds_uses(store_url: str, uses: int) -> None:
    """Many enrollments race on one token, through two store instances (two collectors)."""
    stores = [open_store(store_url), open_store(store_url)]
    try:
        stores[0].upsert_commune(ABERGEMENT)
        stores[0].add_token(EnrollmentToken("tok_race", "01001", T0, None, uses), "h-race")
        threads_n = 12
        barrier = threading.Barrier(threads_n, timeout=10)
        results: list[tuple[Redemption, str | None]] = []
        lock = threading.Lock()

        def enroll(i: int) -> None:
            barrier.wait()
            outcome = stores[i % 2].redeem_token("h-race", T0)
            with lock:
                results.append(outcome)

        threads = [threading.Thread(target=enroll, args=(i,)) for i in range(threads_n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert len(results) == threads_n
        assert results.count((Redemption.OK, "01001")) == uses
        assert results.count((Redemption.USED_UP, "01001")) == threads_n - uses
        assert stores[1].list_tokens()[0].uses_left == 0
    finally:
        for s in stores:
            s.close()


# Agents


def test_agents_add_get_list_revoke_host_taken(store: Store) -> None:
    store.upsert_commune(ABERGEMENT)
    store.upsert_commune(EVIAN)
    store.add_agent(agent("agt_b", "01001", "secretariat"))
    store.add_agent(agent("agt_a", "01001", "mairie-srv"))
    store.add_agent(agent("agt_c", "74119", "mairie-srv"))

    assert store.get_agent("agt_a") == agent("agt_a", "01001", "mairie-srv")
    assert store.get_agent("agt_zz") is None
    assert [a.agent_id for a in store.list_agents("01001")] == ["agt_a", "agt_b"]  # by host
    assert [a.agent_id for a in store.list_agents()] == ["agt_a", "agt_b", "agt_c"]
    assert store.list_agents("2A004") == []

    assert store.host_taken("01001", "mairie-srv")
    assert store.host_taken("74119", "mairie-srv")
    assert not store.host_taken("01001", "ecole")

    revoked_at = T0 + timedelta(days=3)
    assert store.revoke_agent("agt_a", revoked_at) is True
    assert store.revoke_agent("agt_a", revoked_at + timedelta(days=1)) is False  # already
    assert store.revoke_agent("agt_nope", revoked_at) is False
    got = store.get_agent("agt_a")
    assert got is not None and got.revoked_at == revoked_at
    assert not store.host_taken("01001", "mairie-srv")  # the label is free again
    assert store.host_taken("74119", "mairie-srv")  # other communes unaffected
    # Re-enrolling the host under a new agent id makes the label taken again.
    store.add_agent(agent("agt_d", "01001", "mairie-srv"))
    assert store.host_taken("01001", "mairie-srv")


def test_agent_refused_for_unknown_commune_or_duplicate_id(store: Store) -> None:
    store.upsert_commune(ABERGEMENT)
    with pytest.raises(StoreError, match="agt_x"):
        store.add_agent(agent("agt_x", "99999"))
    store.add_agent(agent("agt_y"))
    with pytest.raises(StoreError, match="agt_y"):
        store.add_agent(agent("agt_y", host="autre"))
    assert [a.host for a in store.list_agents()] == ["agt_y"]


# Reports


def test_store_reports_new_and_duplicate(store: Store) -> None:
    with_commune_and_agents(store, "agt_1", "agt_2")
    a = report("agt_1", "r-a", T0)
    b = report("agt_1", "r-b", T0 + timedelta(minutes=5))
    c = report("agt_2", "r-a", T0)  # same report id, other agent: a different Report
    assert store.store_reports([]) == []
    assert store.store_reports([a, a, c]) == [True, False, True]
    assert store.store_reports([a, b, c]) == [False, True, False]
    assert store.count_reports() == 3
    assert store.count_reports("agt_1") == 2
    assert store.count_reports("agt_2") == 1
    assert store.count_reports("agt_nope") == 0


def test_latest_state_follows_newest_generated_at(store: Store) -> None:
    with_commune_and_agents(store, "agt_1")
    old_checks = (
        CheckState("ports.risky", "fail", "high", "Telnet ouvert sur 23/tcp"),
        CheckState("patching.pending", "pass", "medium", "À jour"),
    )
    new_checks = (
        CheckState("patching.pending", "warn", "medium", "3 mises à jour de sécurité"),
        CheckState("backups.age", "pass", "high", "Sauvegarde de moins de 24 h"),
    )
    newer = report("agt_1", "r-new", T0 + timedelta(hours=1), checks=new_checks)
    older = report("agt_1", "r-old", T0, received_at=T0 + timedelta(hours=2), checks=old_checks)

    assert store.store_reports([newer]) == [True]
    # An older Report replayed from a spool arrives later: stored, but not the latest state.
    assert store.store_reports([older]) == [True]
    assert_latest_is(store, newer)
    states = store.check_states("agt_1")
    assert states == sorted(new_checks, key=lambda s: s.check)
    assert store.count_reports("agt_1") == 2

    # Within one batch too, whatever the order.
    store.add_agent(agent("agt_2"))
    n2 = report("agt_2", "n2", T0 + timedelta(hours=1), checks=new_checks)
    o2 = report("agt_2", "o2", T0, checks=old_checks)
    assert store.store_reports([n2, o2]) == [True, True]
    assert_latest_is(store, n2)

    # A newer Report replaces the whole check set: checks it no longer has disappear.
    newest = report(
        "agt_1",
        "r-newest",
        T0 + timedelta(hours=3),
        checks=(CheckState("ports.risky", "pass", "high", "Aucun port à risque"),),
    )
    assert store.store_reports([newest]) == [True]
    assert_latest_is(store, newest)
    assert store.check_states("agt_1") == [
        CheckState("ports.risky", "pass", "high", "Aucun port à risque")
    ]
    assert store.check_states("agt_nope") == []


def test_concurrent_batches_from_several_collectors(store_url: str) -> None:
    """Worker processes group-commit overlapping batches at once: no deadlock, no lost
    latest state, every replay counted once."""
    stores = [open_store(store_url) for _ in range(3)]
    agents = [f"agt_{i:02d}" for i in range(40)]
    try:
        with_commune_and_agents(stores[0], *agents)
        writers, rounds = 8, 60
        barrier = threading.Barrier(writers, timeout=10)
        errors: list[BaseException] = []
        fresh_total = [0]
        lock = threading.Lock()

        def writer(w: int) -> None:
            rng = random.Random(w)
            try:
                barrier.wait()
                for n in range(rounds):
                    # Each round every writer sends one Report per agent, in its own order;
                    # round n of every writer shares report ids, so most are replays.
                    batch = [
                        report(a, f"round-{n}", T0 + timedelta(minutes=n, seconds=w))
                        for a in rng.sample(agents, len(agents))
                    ]
                    fresh = stores[w % len(stores)].store_reports(batch)
                    with lock:
                        fresh_total[0] += sum(fresh)
            except BaseException as exc:
                with lock:
                    errors.append(exc)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        assert fresh_total[0] == len(agents) * rounds  # each (agent, report id) new once
        assert stores[1].count_reports() == len(agents) * rounds
        for lr in stores[1].latest_reports():
            # The last round's Report, whichever writer's copy was stored first.
            assert lr.body.startswith(f'{{"report_id":"round-{rounds - 1}"'.encode())
    finally:
        for s in stores:
            s.close()


def test_last_report_at_is_newest_reception(store: Store) -> None:
    with_commune_and_agents(store, "agt_1")
    stored = store.get_agent("agt_1")
    assert stored is not None and stored.last_report_at is None
    first = report("agt_1", "r1", T0, received_at=T0 + timedelta(minutes=10))
    early = report("agt_1", "r0", T0 - timedelta(days=1), received_at=T0 + timedelta(minutes=5))
    store.store_reports([first, early])
    stored = store.get_agent("agt_1")
    assert stored is not None and stored.last_report_at == T0 + timedelta(minutes=10)

    # A replay of an already stored Report does not move it, a new one does.
    replay = report("agt_1", "r1", T0, received_at=T0 + timedelta(hours=5))
    assert store.store_reports([replay]) == [False]
    stored = store.get_agent("agt_1")
    assert stored is not None and stored.last_report_at == T0 + timedelta(minutes=10)
    r2 = report("agt_1", "r2", T0 + timedelta(hours=5), received_at=T0 + timedelta(hours=6))
    assert store.store_reports([r2]) == [True]
    latest = store.latest_reports()[0]
    assert latest.agent.last_report_at == T0 + timedelta(hours=6)
    assert latest.body == r2.body and latest.received_at == T0 + timedelta(hours=6)


def test_latest_reports_excludes_revoked_agents(store: Store) -> None:
    with_commune_and_agents(store, "agt_1", "agt_2", "agt_3")
    store.store_reports([report("agt_1", "r1", T0), report("agt_2", "r2", T0)])
    assert sorted(lr.agent.agent_id for lr in store.latest_reports()) == ["agt_1", "agt_2"]
    store.revoke_agent("agt_2", T0 + timedelta(days=1))
    latest = store.latest_reports()
    assert [lr.agent.agent_id for lr in latest] == ["agt_1"]  # agt_3 never reported
    assert latest[0].agent.commune == "01001" and latest[0].agent.host == "agt_1"
    assert latest[0].received_at == T0 + timedelta(seconds=2)


def test_latest_reports_since(store: Store) -> None:
    """How a collector worker catches up on what the others stored: strictly after `since`."""
    with_commune_and_agents(store, "agt_1", "agt_2", "agt_3")
    at = [T0 + timedelta(minutes=m) for m in (1, 5, 10)]
    store.store_reports(
        [
            report("agt_1", "a1", T0, received_at=at[0]),
            report("agt_2", "b1", T0, received_at=at[1]),
            report("agt_3", "c1", T0, received_at=at[1]),
        ]
    )

    def since(t: datetime) -> list[str]:
        return sorted(lr.agent.agent_id for lr in store.latest_reports(since=t))

    assert since(T0) == ["agt_1", "agt_2", "agt_3"]
    assert since(at[0]) == ["agt_2", "agt_3"]
    assert since(at[1]) == []
    assert since(at[1].astimezone(ZoneInfo("Europe/Paris"))) == []  # an instant, not a text
    store.store_reports([report("agt_1", "a2", T0 + timedelta(minutes=9), received_at=at[2])])
    store.revoke_agent("agt_3", at[2])
    assert since(at[0]) == ["agt_1", "agt_2"]
    assert since(at[1]) == ["agt_1"]
    assert [lr.body for lr in store.latest_reports(since=at[1])] == [
        report("agt_1", "a2", T0 + timedelta(minutes=9)).body
    ]


def test_prune_reports_keeps_latest_state(store: Store) -> None:
    with_commune_and_agents(store, "agt_1", "agt_2")
    days = [T0 - timedelta(days=d) for d in (400, 100, 1)]
    store.store_reports([report("agt_1", f"r{i}", day) for i, day in enumerate(days)])
    store.store_reports([report("agt_2", "only", days[0])])
    assert store.count_reports() == 4

    assert store.prune_reports(T0 - timedelta(days=365)) == 2
    assert store.count_reports() == 2 and store.count_reports("agt_2") == 0
    assert store.prune_reports(T0 - timedelta(days=365)) == 0
    assert store.prune_reports(T0 + timedelta(days=1)) == 2
    assert store.count_reports() == 0
    # The fleet view is rebuilt from the latest state, which pruning keeps.
    assert latest_body(store, "agt_1") == report("agt_1", "r2", days[2]).body
    assert latest_body(store, "agt_2") == report("agt_2", "only", days[0]).body


# Orderings


def fill_for_ordering(store: Store) -> None:
    """Ties (one creation time, one host label twice) and text that sorts differently by code
    point and by any locale (capitals, accents)."""
    store.upsert_commune(EVIAN)
    store.upsert_commune(ABERGEMENT)
    for token_id in ("tok_b", "tok_c", "tok_a"):
        store.add_token(EnrollmentToken(token_id, "01001", T0, None, 1), f"h-{token_id}")
    store.add_token(EnrollmentToken("tok_0", "01001", T0 + timedelta(seconds=1), None, 1), "h-0")
    # A host re-enrolled under a new agent id: two rows with the same label.
    store.add_agent(agent("agt_9", "01001", "mairie-srv"))
    store.revoke_agent("agt_9", T0)
    store.add_agent(agent("agt_1", "01001", "mairie-srv"))
    for agent_id, host in (("agt_5", "ecole"), ("agt_6", "Zoo"), ("agt_7", "École"),
                           ("agt_8", "Mairie")):
        store.add_agent(agent(agent_id, "01001", host))
    store.add_agent(agent("agt_2", "74119", "accueil"))
    store.store_reports([
        report(a.agent_id, "r", T0, commune=a.commune) for a in store.list_agents()
    ])  # fmt: skip


def assert_code_point_order(store: Store) -> None:
    assert [t.token_id for t in store.list_tokens()] == ["tok_a", "tok_b", "tok_c", "tok_0"]
    # By commune, host (code points: capitals, then small letters, then accented), agent id.
    in_abergement = ["agt_8", "agt_6", "agt_5", "agt_1", "agt_9", "agt_7"]
    assert [a.agent_id for a in store.list_agents()] == [*in_abergement, "agt_2"]
    assert [a.agent_id for a in store.list_agents("01001")] == in_abergement
    assert [lr.agent.agent_id for lr in store.latest_reports()] == [
        a for a in [*in_abergement, "agt_2"] if a != "agt_9"  # revoked
    ]
    assert [c.code for c in store.list_communes()] == ["01001", "74119"]


def test_listings_are_in_one_total_order_on_both_backends(store: Store) -> None:
    """Ties broken alike and text sorted by code point: the CLI's listings and the workers'
    fleet sync read the same sequence whichever backend the syndicate runs."""
    fill_for_ordering(store)
    assert_code_point_order(store)


# Daily snapshots


def snapshot(day: date, score: float, commune: str = "01001", **open_: int) -> DailySnapshot:
    return DailySnapshot(commune, day, score, "B" if score >= 70 else "D", 3, 2, open_)


def test_snapshot_upsert_same_day(store: Store) -> None:
    store.upsert_commune(ABERGEMENT)
    day = date(2026, 11, 28)
    store.upsert_snapshot(snapshot(day, 62.0, high=3, medium=1))
    store.upsert_snapshot(snapshot(day, 81.5, medium=1))
    got = store.snapshots("01001", day, day)
    assert got == [snapshot(day, 81.5, medium=1)]
    assert dict(got[0].open_by_severity) == {"medium": 1}


def test_snapshots_range_over_thirteen_months_and_prune(store: Store) -> None:
    store.upsert_commune(ABERGEMENT)
    store.upsert_commune(EVIAN)
    start, end = date(2025, 11, 1), date(2026, 11, 30)
    days = [date(2025 + (10 + m) // 12, (10 + m) % 12 + 1, d) for m in range(13) for d in (1, 15)]
    days += [start - timedelta(days=1), end, end + timedelta(days=1)]
    for i, day in enumerate(days):
        store.upsert_snapshot(snapshot(day, 50 + i, critical=i % 3))
    store.upsert_snapshot(snapshot(date(2026, 6, 15), 99, "74119"))

    got = store.snapshots("01001", start, end)
    expected = sorted(d for d in days if start <= d <= end)
    assert [s.day for s in got] == expected  # inclusive bounds, in day order, one commune
    assert len(got) == 27
    assert got[0] == snapshot(start, 50, critical=0)
    assert got[-1] == snapshot(end, 50 + days.index(end), critical=days.index(end) % 3)
    assert [s.score for s in store.snapshots("74119", start, end)] == [99]
    assert store.snapshots("01001", date(2020, 1, 1), date(2020, 12, 31)) == []

    assert store.prune_snapshots(start) == 1  # 2025-10-31; Évian's June day is kept
    remaining = store.snapshots("01001", date(2000, 1, 1), date(2100, 1, 1))
    assert remaining[0].day == start and len(remaining) == 28
    assert store.prune_snapshots(start) == 0


# Durability


def fill(store: Store) -> None:
    with_commune_and_agents(store, "agt_1")
    store.add_token(EnrollmentToken("tok_1", "01001", T0, None, 2), "h1")
    assert store.redeem_token("h1", T0) == (Redemption.OK, "01001")
    store.store_reports([report("agt_1", "r1", T0, checks=(CheckState("c", "fail", "high", "é"),))])
    store.upsert_snapshot(snapshot(date(2026, 11, 28), 77.0, high=1))


def assert_filled(store: Store) -> None:
    assert store.get_commune("01001") == ABERGEMENT
    assert store.list_tokens()[0].uses_left == 1
    assert store.count_reports() == 1
    assert_latest_is(store, report("agt_1", "r1", T0))
    assert store.check_states("agt_1") == [CheckState("c", "fail", "high", "é")]
    got = store.get_agent("agt_1")
    assert got is not None and got.last_report_at == T0 + timedelta(seconds=2)
    assert store.snapshots("01001", date(2026, 1, 1), date(2026, 12, 31)) == [
        snapshot(date(2026, 11, 28), 77.0, high=1)
    ]


def test_data_survives_close_and_reopen(store_url: str) -> None:
    first = open_store(store_url)
    first.migrate()
    fill(first)
    first.close()
    again = open_store(store_url)
    try:
        again.migrate()  # a restart migrates again: it must keep every row
        assert_filled(again)
    finally:
        again.close()


CHILD = """
import os, sys
sys.path.insert(0, sys.argv[2])
from tests.collector.test_store import fill
from sentinelle.collector.store import open_store
store = open_store(sys.argv[1])
store.migrate()
fill(store)
os._exit(0)  # no close(), no flush at exit: only what was committed remains
"""


def test_committed_data_survives_writer_killed(store_url: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, store_url, str(REPO)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    store = open_store(store_url)
    try:
        assert_filled(store)
    finally:
        store.close()


# PostgreSQL specifics: server crash, reconnection, errors.


def test_postgres_data_survives_server_crash(pg_server: PostgresServer, pg_url: str) -> None:
    url = pg_server.create_database("crash_test")
    store = open_store(url)
    store.migrate()
    fill(store)
    # Immediate stop: no checkpoint, no clean shutdown; recovery replays the WAL at start.
    pg_server.restart(mode="immediate")
    # The pooled connection died with the server; the store reconnects on its own.
    assert_filled(store)
    store.store_reports([report("agt_1", "r2", T0 + timedelta(hours=1))])
    assert store.count_reports() == 2
    store.close()


def test_postgres_forces_synchronous_commit(pg_server: PostgresServer) -> None:
    from sentinelle.collector.store.postgres import PostgresStore

    url = pg_server.create_database("async_default")
    pg_server.execute("ALTER DATABASE async_default SET synchronous_commit = off")
    store = PostgresStore(url)
    try:
        conn, _ = store._pool.get()
        try:
            assert conn.execute("SHOW synchronous_commit").fetchone() == {
                "synchronous_commit": "on"
            }
        finally:
            store._pool.put(conn)
    finally:
        store.close()


def test_postgres_unreachable_server_error_names_server_not_password() -> None:
    from sentinelle.collector.store.postgres import PostgresStore

    port = free_port()  # nothing listens there
    with pytest.raises(StoreError) as err:
        PostgresStore(f"postgresql://collector:S3cret-pw@127.0.0.1:{port}/sentinelle")
    message = str(err.value)
    assert f"127.0.0.1:{port}" in message and "collector@" in message
    assert "S3cret-pw" not in message
    assert "S3cret-pw" not in "".join(traceback.format_exception(err.value, limit=0))  # no source


def test_postgres_wrong_password_error(pg_server: PostgresServer, pg_url: str) -> None:
    from sentinelle.collector.store.postgres import PostgresStore

    bad = pg_server.url(pg_url.rsplit("/", 1)[1], password="Wr0ng-pw")
    with pytest.raises(StoreError) as err:
        PostgresStore(bad)
    assert "password authentication failed" in str(err.value)
    assert "Wr0ng-pw" not in str(err.value)


def test_postgres_closed_store_refuses(pg_url: str) -> None:
    store = open_store(pg_url)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.list_communes()


def test_postgres_store_url_dispatch(pg_url: str) -> None:
    from sentinelle.collector.store.postgres import PostgresStore

    store = open_store(pg_url.replace("postgresql://", "postgres://", 1))
    try:
        assert isinstance(store, PostgresStore)
        assert "sentinelle@127.0.0.1:" in store.where and store.where.endswith("/sentinelle_test")
    finally:
        store.close()


def test_postgres_orders_text_by_code_point_whatever_the_locale(
    pg_server: PostgresServer,
) -> None:
    """A database created with a French collation (ICU) sorts "École" before "Zoo"; the store
    still answers SQLite's order."""
    import psycopg

    try:
        pg_server.execute(
            "CREATE DATABASE collation_fr TEMPLATE template0 "
            "LOCALE_PROVIDER icu ICU_LOCALE 'fr-FR'"
        )
    except psycopg.Error as exc:
        pytest.skip(f"this PostgreSQL has no ICU collations: {exc}")
    store = open_store(pg_server.url("collation_fr"))
    try:
        store.migrate()
        fill_for_ordering(store)
        assert_code_point_order(store)
    finally:
        store.close()
        pg_server.execute('DROP DATABASE "collation_fr" WITH (FORCE)')


def test_unknown_tokens_are_refused_without_a_write_transaction(store: Store) -> None:
    """Guesses are answered by a read: on SQLite a held write lock does not delay them, and
    neither backend opens a transaction for them."""
    from sentinelle.collector.store.postgres import PostgresStore
    from sentinelle.collector.store.sqlite import SQLiteStore

    store.upsert_commune(ABERGEMENT)
    store.add_token(EnrollmentToken("tok_1", "01001", T0, None, 1), "h1")
    if isinstance(store, SQLiteStore):
        blocker = sqlite3.connect(store.path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another process mid-write
        try:
            assert store.redeem_token("no-such-hash", T0) == (Redemption.UNKNOWN, None)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
    else:
        assert isinstance(store, PostgresStore)
        began: list[str] = []
        real_begin = store._begin

        def counting_begin() -> object:
            began.append("BEGIN")
            return real_begin()

        store._begin = counting_begin  # type: ignore[method-assign]
        assert store.redeem_token("no-such-hash", T0) == (Redemption.UNKNOWN, None)
        assert began == []
        assert store.redeem_token("h1", T0) == (Redemption.OK, "01001")
        assert began == ["BEGIN"]


def test_sqlite_url_dispatch(tmp_path: Path) -> None:
    from sentinelle.collector.store.sqlite import SQLiteStore

    store = open_store(f"sqlite://{tmp_path}/sub/c.db")
    try:
        assert isinstance(store, SQLiteStore)
        store.migrate()
        assert os.path.exists(tmp_path / "sub" / "c.db")
    finally:
        store.close()
    with pytest.raises(StoreError, match="unsupported"):
        open_store("mysql://x@y/z")


def test_sqlite_writers_queue_on_the_writer_lock(tmp_path: Path) -> None:
    """Worker processes sharing one SQLite file take turns on `<database>-writer.lock` (a flock)
    rather than spinning on SQLite's "database is locked": while another holder has it, a batch
    waits — without failing — and is stored as soon as it is released."""
    import fcntl

    from sentinelle.collector.store.sqlite import SQLiteStore

    path = tmp_path / "collector.db"
    store = SQLiteStore(str(path))
    store.migrate()
    with_commune_and_agents(store, "agt_1")
    holder = os.open(f"{path}-writer.lock", os.O_RDWR)
    fcntl.flock(holder, fcntl.LOCK_EX)  # as another worker does during its commit
    outcome: list[object] = []

    def write() -> None:
        try:
            outcome.append(store.store_reports([report("agt_1", "r1", T0)]))
        except Exception as exc:  # a busy error would land here
            outcome.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    writer.join(1.0)
    try:
        assert writer.is_alive() and outcome == [], outcome  # waiting for its turn
        assert store.count_reports() == 0
    finally:
        fcntl.flock(holder, fcntl.LOCK_UN)
        os.close(holder)
    writer.join(30)
    assert outcome == [[True]]
    assert store.count_reports() == 1
    store.close()
