"""Store contract of `reports_between`, on SQLite and a real PostgreSQL (the `store` fixture).

The monthly report reads a commune's raw Reports of one month to tell what was fixed and what
broke; these tests pin the window bounds, the commune filter, the order and the round trip.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sentinelle.collector.records import AgentRecord, Commune, IncomingReport
from sentinelle.collector.store import Store

T0 = datetime(2026, 3, 1, tzinfo=UTC)
BODY_TAIL = b"\x1f\x8b\x00\xff"  # bytes that are not UTF-8 must come back unchanged


def _setup(store: Store) -> None:
    store.upsert_commune(Commune("01001", "L'Abergement-Clémenciat", "01", 832, ()))
    store.upsert_commune(Commune("01002", "L'Abergement-de-Varey", "01", 267, ()))
    for agent_id, commune in (("a1", "01001"), ("a2", "01001"), ("b1", "01002")):
        store.add_agent(AgentRecord(agent_id, commune, f"srv-{agent_id}", "h", T0))


def _report(agent_id: str, report_id: str, generated: datetime, commune: str,
            received: datetime | None = None) -> IncomingReport:
    return IncomingReport(
        report_id=report_id,
        agent_id=agent_id,
        commune=commune,
        host=f"srv-{agent_id}",
        received_at=received or generated + timedelta(seconds=3),
        generated_at=generated,
        score=72.5,
        grade="C",
        body=report_id.encode() + BODY_TAIL,
    )


def test_window_is_half_open_on_generated_at_and_limited_to_the_commune(store: Store) -> None:
    _setup(store)
    store.store_reports(
        [
            _report("a1", "before", T0 - timedelta(microseconds=1), "01001"),
            _report("a1", "start", T0, "01001"),
            _report("a2", "mid", T0 + timedelta(days=10, hours=3), "01001"),
            _report("b1", "other-commune", T0 + timedelta(days=10), "01002"),
            _report("a1", "last", T0 + timedelta(days=31) - timedelta(seconds=1), "01001"),
            _report("a1", "end", T0 + timedelta(days=31), "01001"),
        ]
    )
    got = store.reports_between("01001", T0, T0 + timedelta(days=31))
    assert [r.report_id for r in got] == ["start", "mid", "last"]
    mid = got[1]
    assert (mid.agent_id, mid.host, mid.grade) == ("a2", "srv-a2", "C")
    assert mid.score == 72.5
    assert mid.generated_at == T0 + timedelta(days=10, hours=3)
    assert mid.received_at == T0 + timedelta(days=10, hours=3, seconds=3)
    assert mid.body == b"mid" + BODY_TAIL
    assert [r.report_id for r in store.reports_between("01002", T0, T0 + timedelta(days=31))] == [
        "other-commune"
    ]
    assert store.reports_between("99999", T0, T0 + timedelta(days=31)) == []


def test_ordered_by_generation_even_when_replayed_late(store: Store) -> None:
    _setup(store)
    # A spool replay arrives after newer Reports: the order is the order of observation.
    store.store_reports([_report("a1", "new", T0 + timedelta(hours=5), "01001")])
    store.store_reports(
        [_report("a1", "old", T0 + timedelta(hours=1), "01001", received=T0 + timedelta(hours=6))]
    )
    store.store_reports([_report("a2", "other", T0 + timedelta(hours=3), "01001")])
    got = store.reports_between("01001", T0, T0 + timedelta(days=1))
    assert [r.report_id for r in got] == ["old", "other", "new"]


def test_revoked_agents_history_is_kept_and_pruned_reports_are_gone(store: Store) -> None:
    _setup(store)
    store.store_reports(
        [
            _report("a1", "r1", T0 + timedelta(days=1), "01001", received=T0 + timedelta(days=1)),
            _report("a2", "r2", T0 + timedelta(days=5), "01001", received=T0 + timedelta(days=5)),
        ]
    )
    # A server replaced during the month still counts for what happened that month.
    store.revoke_agent("a1", T0 + timedelta(days=2))
    window = (T0, T0 + timedelta(days=31))
    assert [r.report_id for r in store.reports_between("01001", *window)] == ["r1", "r2"]
    store.prune_reports(T0 + timedelta(days=3))
    assert [r.report_id for r in store.reports_between("01001", *window)] == ["r2"]
