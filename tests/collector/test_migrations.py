"""Numbered schema migrations of both store backends, on real SQLite files and a real PostgreSQL
(tests/collector/pg.py starts one for the session).

What an upgrade of a deployed collector must survive: a fresh install, a database made by the
schema of before migrations (legacy_schema/, taken from commit 35c9928, with rows in it), several
worker processes migrating at once, a database migrated by a newer Sentinelle, a migration that
fails half-way, and a pre-migration database of an older shape than 0001.
"""

from __future__ import annotations

import secrets
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sentinelle.collector.records import (
    AgentRecord,
    CheckState,
    Commune,
    DailySnapshot,
    EnrollmentToken,
    IncomingReport,
)
from sentinelle.collector.store import (
    Redemption,
    SchemaTooNew,
    Store,
    StoredReport,
    StoreError,
    open_store,
)
from sentinelle.collector.store import migrations as store_migrations
from sentinelle.collector.store import postgres as postgres_backend
from sentinelle.collector.store import sqlite as sqlite_backend
from sentinelle.collector.store.migrations import Migration
from sentinelle.collector.store.postgres import PostgresStore
from sentinelle.collector.store.sqlite import SQLiteStore
from tests.collector.pg import PostgresServer

REPO = Path(__file__).resolve().parents[2]
LEGACY = Path(__file__).parent / "legacy_schema"
LATEST = {b: len(store_migrations.load(b)) for b in store_migrations.BACKENDS}

MakeUrl = Callable[[], str]


def _backend(url: str) -> str:
    return "sqlite" if url.startswith("sqlite:") else "postgres"


@pytest.fixture(params=["sqlite", "postgres"])
def make_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeUrl]:
    """A factory of URLs of new, empty databases of one backend (dropped after the test)."""
    made: list[str] = []
    server: PostgresServer | None = None
    if request.param == "postgres":
        server = request.getfixturevalue("pg_server")

    def new() -> str:
        if server is None:
            return f"sqlite://{tmp_path / f'collector-{len(made)}.db'}"
        name = f"migration_{secrets.token_hex(4)}"
        made.append(name)
        return server.create_database(name)

    yield new
    for name in made:
        assert server is not None
        server.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


# Raw access, under the store: what is really in the database.


def run_sql(url: str, script: str) -> None:
    if _backend(url) == "sqlite":
        db = sqlite3.connect(url.removeprefix("sqlite://"))
        try:
            db.executescript(script)
        finally:
            db.close()
    else:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(script.encode())


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    if _backend(url) == "sqlite":
        db = sqlite3.connect(url.removeprefix("sqlite://"))
        try:
            return [tuple(r) for r in db.execute(sql)]
        finally:
            db.close()
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return [tuple(r) for r in conn.execute(sql.encode())]


def version_of(url: str) -> int:
    if _backend(url) == "sqlite":
        return int(rows(url, "PRAGMA user_version")[0][0])
    if rows(url, "SELECT to_regclass('schema_version')")[0][0] is None:
        return 0
    return int(rows(url, "SELECT coalesce(max(version), 0) FROM schema_version")[0][0])


def tables_of(url: str) -> set[str]:
    if _backend(url) == "sqlite":
        return {r[0] for r in rows(url, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {r[0] for r in rows(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def schema_of(url: str) -> dict[str, Any]:
    """Every table's columns (type, nullability, default, position), keys, foreign keys and
    indexes (partial ones with their condition): two databases with equal descriptions answer
    every query alike."""
    if _backend(url) == "sqlite":
        out: dict[str, Any] = {}
        for table in sorted(tables_of(url)):
            out[table] = {
                "columns": rows(url, f"PRAGMA table_xinfo({table})"),
                "foreign keys": rows(url, f"PRAGMA foreign_key_list({table})"),
                "indexes": sorted(
                    (name, unique, origin, partial, rows(url, f"PRAGMA index_xinfo({name})"))
                    for _, name, unique, origin, partial in rows(
                        url, f"PRAGMA index_list({table})"
                    )
                ),
            }
        out["index definitions"] = rows(
            url, "SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name"
        )
        return out
    return {
        "columns": rows(
            url,
            "SELECT table_name, ordinal_position, column_name, data_type, is_nullable, "
            "column_default, collation_name FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY 1, 2",
        ),
        "indexes": rows(
            url,
            "SELECT tablename, indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = 'public' ORDER BY 2",
        ),
        "constraints": rows(
            url,
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 2",
        ),
    }


def columns_of(url: str) -> dict[str, set[str]]:
    if _backend(url) == "sqlite":
        return {t: {r[1] for r in rows(url, f"PRAGMA table_info({t})")} for t in tables_of(url)}
    out: dict[str, set[str]] = {}
    for table, column in rows(
        url,
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public'",
    ):
        out.setdefault(table, set()).add(column)
    return out


def index_names(url: str) -> set[str]:
    if _backend(url) == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
    else:
        # Named by hand in the migrations; the others back a primary key or a UNIQUE.
        sql = "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' " \
              "AND indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE '%\\_key'"
    return {r[0] for r in rows(url, sql)}


def concrete(store: Store) -> SQLiteStore | PostgresStore:
    assert isinstance(store, SQLiteStore | PostgresStore)
    return store


def load_legacy(url: str) -> None:
    """The database a collector of commit 35c9928 left behind, rows included."""
    run_sql(url, (LEGACY / f"{_backend(url)}_35c9928.sql").read_text(encoding="utf-8"))


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
       ) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def assert_legacy_rows(store: Store) -> None:
    """Every fact of legacy_schema/*_35c9928.sql, read back through the Store API."""
    abergement = Commune(
        "01001",
        "L'Abergement-Clémenciat",
        "01",
        832,
        ("maire@abergement-clemenciat.fr", "adjointe.numérique@abergement-clemenciat.fr"),
    )
    assert store.list_communes() == [abergement, Commune("74119", "Évian-les-Bains", "74")]
    half = timedelta(microseconds=500000)
    assert store.list_tokens() == [
        EnrollmentToken("tok_open", "01001", at(2026, 11, 1, 8), None, None),
        EnrollmentToken("tok_rev", "01001", at(2026, 11, 2, 8), None, 3, True),
        EnrollmentToken("tok_week", "74119", at(2026, 11, 20, 10) + half,
                        at(2026, 11, 27, 10) + half, 4),
    ]  # fmt: skip
    received = at(2026, 11, 28, 9, 30, 17) + timedelta(microseconds=123456)
    agents = [
        AgentRecord("agt_1", "01001", "mairie-srv", "hash-key-1", at(2026, 11, 1, 9), None,
                    received),
        AgentRecord("agt_2", "01001", "secretariat", "hash-key-2", at(2026, 11, 1, 9, 5),
                    at(2026, 11, 15, 12), at(2026, 11, 14, 8, 0, 2)),
        AgentRecord("agt_3", "74119", "mairie", "hash-key-3", at(2026, 11, 21, 10)),
    ]  # fmt: skip
    assert store.list_agents() == agents
    (latest,) = store.latest_reports()  # agt_2 is revoked, agt_3 never reported
    assert latest.agent == agents[0]
    assert latest.body == bytes.fromhex("1f8b0800ff02")
    assert (latest.received_at, latest.generated_at) == (received, received - timedelta(seconds=2))
    assert latest.score_json == '{"score": 87.5, "grade": "B"}'
    assert store.check_states("agt_1") == [
        CheckState("patching.pending", "pass", "medium", "À jour"),
        CheckState("ports.risky", "fail", "high", "Telnet ouvert sur 23/tcp"),
    ]
    assert store.count_reports() == 3
    november = store.reports_between("01001", at(2026, 11, 1), at(2026, 12, 1))
    assert [(r.agent_id, r.report_id) for r in november] == [
        ("agt_2", "r-old"),
        ("agt_1", "r-1"),
        ("agt_1", "r-2"),
    ]
    assert november[0] == StoredReport(
        "agt_2", "r-old", "secretariat", at(2026, 11, 14, 8, 0, 2), at(2026, 11, 14, 8), 40.0,
        "D", bytes.fromhex("1f8b0800ff03"),
    )  # fmt: skip
    # The column renamed by 0002 on SQLite keeps its values.
    assert store.snapshots("01001", date(2026, 11, 1), date(2026, 11, 30)) == [
        DailySnapshot("01001", date(2026, 11, 27), 62.5, "C", 2, 2, {"high": 1, "medium": 2}),
        DailySnapshot("01001", date(2026, 11, 28), 87.5, "B", 2, 1, {"high": 1}),
    ]
    assert store.snapshots("74119", date(2026, 11, 28), date(2026, 11, 28)) == [
        DailySnapshot("74119", date(2026, 11, 28), 100.0, "A", 1, 0, {})
    ]


# The migration files


def test_both_backends_number_and_name_their_migrations_alike() -> None:
    sqlite = [(m.version, m.name) for m in store_migrations.load("sqlite")]
    postgres = [(m.version, m.name) for m in store_migrations.load("postgres")]
    assert sqlite == postgres
    assert sqlite[:2] == [(1, "initial"), (2, "align_backends")]


def test_migration_files_must_be_numbered_without_gaps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sqlite").mkdir()
    for name in ("0001_initial.sql", "0003_skipped_one.sql"):
        (tmp_path / "sqlite" / name).write_text("SELECT 1;\n")
    monkeypatch.setattr(store_migrations.resources, "files", lambda _: tmp_path)
    store_migrations.load.cache_clear()
    try:
        with pytest.raises(StoreError, match=r"numbered 1, 2, 3… once each: \[1, 3\]"):
            store_migrations.load("sqlite")
        (tmp_path / "sqlite" / "3_bad.sql").write_text("SELECT 1;\n")
        with pytest.raises(StoreError, match=r"3_bad\.sql: expected NNNN_name\.sql"):
            store_migrations.load("sqlite")
    finally:
        store_migrations.load.cache_clear()


# Fresh install, adoption of a pre-migration database, idempotence


def test_fresh_install_reaches_the_latest_version(make_url: MakeUrl) -> None:
    url = make_url()
    store = open_store(url)
    try:
        store.migrate()
        latest = LATEST[_backend(url)]
        assert version_of(url) == latest
        if _backend(url) == "postgres":
            assert rows(url, "SELECT version, name FROM schema_version ORDER BY 1") == [
                (m.version, m.name) for m in store_migrations.load("postgres")
            ]
        assert store.list_communes() == [] and store.count_reports() == 0
    finally:
        store.close()


def test_version_1_is_the_schema_adopted_from_before_migrations(make_url: MakeUrl) -> None:
    """The columns the adoption check requires are exactly those 0001 creates."""
    url = make_url()
    store = concrete(open_store(url))
    try:
        store._migrate_to(1)
        assert version_of(url) == 1
        expected = (
            sqlite_backend.BASELINE_COLUMNS
            if isinstance(store, SQLiteStore)
            else postgres_backend.BASELINE_COLUMNS
        )
        found = {t: c for t, c in columns_of(url).items() if t != "schema_version"}
        assert found == expected
    finally:
        store.close()


def test_upgrade_from_the_35c9928_schema_keeps_every_row(make_url: MakeUrl) -> None:
    legacy, fresh = make_url(), make_url()
    load_legacy(legacy)
    assert version_of(legacy) == 0
    store = open_store(legacy)
    try:
        store.migrate()
        assert version_of(legacy) == LATEST[_backend(legacy)]
        assert_legacy_rows(store)

        # The upgraded database is the one a fresh install makes, to the column and index.
        new = open_store(fresh)
        new.migrate()
        new.close()
        assert schema_of(legacy) == schema_of(fresh)

        # And it takes writes as a fresh one does.
        agent_1 = store.list_agents()[0]
        generated = at(2026, 11, 29, 9)
        assert store.store_reports([
            IncomingReport("r-3", "agt_1", "01001", "mairie-srv", generated + timedelta(seconds=2),
                           generated, 91.0, "A", b"\x1f\x8b new", "{}", '{"score": 91.0}'),
        ]) == [True]  # fmt: skip
        (latest,) = store.latest_reports()
        assert latest.body == b"\x1f\x8b new" and latest.agent.agent_id == agent_1.agent_id
        assert store.redeem_token("hash-open", generated) == (Redemption.OK, "01001")
        assert store.redeem_token("hash-week", generated) == (Redemption.EXPIRED, "74119")
        snapshot = DailySnapshot("01001", date(2026, 11, 29), 91.0, "A", 2, 1, {"medium": 1})
        store.upsert_snapshot(snapshot)
        assert store.snapshots("01001", date(2026, 11, 29), date(2026, 11, 29)) == [snapshot]
    finally:
        store.close()


def test_migrate_again_changes_nothing(make_url: MakeUrl) -> None:
    url = make_url()
    load_legacy(url)
    first = open_store(url)
    first.migrate()
    schema = schema_of(url)
    first.migrate()
    first.close()
    again = open_store(url)  # a restart
    try:
        again.migrate()
        assert schema_of(url) == schema
        assert version_of(url) == LATEST[_backend(url)]
        if _backend(url) == "postgres":  # each step recorded once
            assert [r[0] for r in rows(url, "SELECT version FROM schema_version ORDER BY 1")] == [
                m.version for m in store_migrations.load("postgres")
            ]
        assert_legacy_rows(again)
    finally:
        again.close()


def test_both_backends_end_with_the_same_tables_columns_and_indexes(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    """The drift of before migrations (a column named otherwise, an index on one side) is gone."""
    name = f"migration_{secrets.token_hex(4)}"
    urls = [f"sqlite://{tmp_path / 'collector.db'}", pg_server.create_database(name)]
    try:
        for url in urls:
            load_legacy(url)
            store = open_store(url)
            store.migrate()
            store.close()
        sqlite, postgres = urls
        assert columns_of(sqlite) == {
            t: c for t, c in columns_of(postgres).items() if t != "schema_version"
        }
        assert index_names(sqlite) == index_names(postgres)
        assert "agents_active_host" in index_names(sqlite)
        assert "open_by_severity" in columns_of(sqlite)["snapshots"]
        # Neither side fills the open findings in by itself (PostgreSQL's default is gone).
        assert rows(postgres, "SELECT column_default FROM information_schema.columns WHERE "
                    "table_name = 'snapshots' AND column_name = 'open_by_severity'") == [(None,)]
    finally:
        pg_server.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


# Several workers at once


CHILD = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from sentinelle.collector.store import open_store
go = Path(sys.argv[2])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.001)
store = open_store(sys.argv[1])
store.migrate()
store.close()
print("migrated", flush=True)
"""


@pytest.mark.parametrize("start", ["empty", "legacy"])
def test_worker_processes_migrating_at_once(
    make_url: MakeUrl, tmp_path: Path, start: str
) -> None:
    """Collector workers all call migrate() at start. Without the lock two of them would apply
    the same step: the second RENAME COLUMN of SQLite's 0002 fails, PostgreSQL records a
    version twice. With it, every worker starts and each step is applied once."""
    url = make_url()
    if start == "legacy":
        load_legacy(url)
    go = tmp_path / f"go-{start}"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, url, str(go), str(REPO)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        for w in workers:  # all imported and waiting: the start below is as close as it gets
            assert w.stdout is not None and w.stdout.readline().strip() == "ready"
        go.touch()
        outputs = [w.communicate(timeout=120) for w in workers]
    finally:
        for w in workers:
            w.kill()
    for w, (out, err) in zip(workers, outputs, strict=True):
        assert w.returncode == 0 and out.strip() == "migrated", err
    assert version_of(url) == LATEST[_backend(url)]
    if _backend(url) == "postgres":
        assert [r[0] for r in rows(url, "SELECT version FROM schema_version ORDER BY 1")] == [
            m.version for m in store_migrations.load("postgres")
        ]
    store = open_store(url)
    try:
        if start == "legacy":
            assert_legacy_rows(store)
        else:
            assert store.list_communes() == []
    finally:
        store.close()


# Refusals and failures


def test_a_database_newer_than_the_code_is_refused(make_url: MakeUrl) -> None:
    url = make_url()
    load_legacy(url)
    store = open_store(url)
    store.migrate()
    store.close()
    latest = LATEST[_backend(url)]
    future = latest + 3
    if _backend(url) == "sqlite":
        run_sql(url, f"PRAGMA user_version = {future}")
    else:
        run_sql(url, f"INSERT INTO schema_version(version, name) VALUES ({future}, 'future')")
    schema = schema_of(url)

    again = open_store(url)
    try:
        with pytest.raises(SchemaTooNew) as err:
            again.migrate()
        message = str(err.value)
        assert f"schema version {future}" in message and f"up to {latest}" in message
        assert (err.value.found, err.value.known) == (future, latest)
        assert isinstance(err.value, StoreError)  # the CLI's usual error path
    finally:
        again.close()
    assert version_of(url) == future and schema_of(url) == schema  # untouched


def test_a_failing_migration_is_rolled_back_whole(make_url: MakeUrl) -> None:
    """Each step runs in the transaction that records it: a failure half-way leaves the
    previous version, its schema and the store usable."""
    url = make_url()
    store = concrete(open_store(url))
    try:
        store.migrate()
        latest = len(store.migrations)
        schema = schema_of(url)
        broken = Migration(
            latest + 1,
            "broken",
            "CREATE TABLE half_done (x integer);\nINSERT INTO no_such_table VALUES (1);\n",
        )
        store.migrations = (*store.migrations, broken)
        with pytest.raises(StoreError, match=f"migration {latest + 1:04d}_broken") as err:
            store.migrate()
        assert "no_such_table" in str(err.value)
        assert version_of(url) == latest
        assert "half_done" not in tables_of(url) and schema_of(url) == schema
        store.upsert_commune(Commune("01001", "L'Abergement-Clémenciat", "01"))
        assert [c.code for c in store.list_communes()] == ["01001"]
    finally:
        store.close()


def test_a_pre_migration_database_of_an_older_shape_is_refused(make_url: MakeUrl) -> None:
    """A database of the development versions before host_latest.score would pass 0001's
    IF NOT EXISTS untouched and fail at the first push: refused at start instead."""
    url = make_url()
    load_legacy(url)
    run_sql(url, "ALTER TABLE host_latest DROP COLUMN score")
    store = open_store(url)
    try:
        with pytest.raises(StoreError, match=r"no column host_latest\.score"):
            store.migrate()
    finally:
        store.close()
    assert version_of(url) == 0


def test_an_unknown_target_version_is_refused(make_url: MakeUrl) -> None:
    store = concrete(open_store(make_url()))
    try:
        with pytest.raises(StoreError, match="no schema version 99"):
            store._migrate_to(99)
    finally:
        store.close()


def test_a_slow_migration_makes_the_other_workers_wait(make_url: MakeUrl) -> None:
    """A second process arriving while a step is being applied waits for it and then finds
    nothing to do (it neither fails on the lock nor applies the step again)."""
    url = make_url()
    store = concrete(open_store(url))
    if isinstance(store, PostgresStore):
        slow = "SELECT pg_sleep(1.5);\nCREATE TABLE slow_step (x integer);\n"
    else:
        # SQLite has no sleep: a recursive CTE long enough to hold the lock for a while.
        slow = (
            "CREATE TABLE slow_step AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL "
            "SELECT i + 1 FROM n WHERE i < 3000000) SELECT count(*) AS x FROM n;\n"
        )
    store.migrations = (*store.migrations, Migration(len(store.migrations) + 1, "slow", slow))
    other = concrete(open_store(url))
    other.migrations = store.migrations
    try:
        errors: list[BaseException] = []

        def migrate(s: SQLiteStore | PostgresStore) -> None:
            try:
                s.migrate()
            except BaseException as exc:
                errors.append(exc)

        first = threading.Thread(target=migrate, args=(store,))
        first.start()
        time.sleep(0.3)
        second = threading.Thread(target=migrate, args=(other,))
        second.start()
        first.join(timeout=60)
        second.join(timeout=60)
        assert errors == []
        assert version_of(url) == len(store.migrations)
        assert "slow_step" in tables_of(url)
    finally:
        store.close()
        other.close()
