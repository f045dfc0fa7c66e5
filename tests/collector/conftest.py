"""Fixtures for the collector's tests: a real PostgreSQL server and a store of each backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinelle.collector.store import Store, open_store
from tests.collector.pg import PostgresServer, missing_prerequisite, running_postgres
from tests.conftest import need

BACKENDS = ["sqlite", "postgres"]
TEST_DB = "sentinelle_test"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the whole session (started on first use only)."""
    why = missing_prerequisite()
    need(why is None, why or "")
    with running_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def pg_url(pg_server: PostgresServer) -> str:
    """URL of a database on the session's server, shared by the tests that ask for it."""
    return pg_server.create_database(TEST_DB)


def _empty_postgres(pg_url: str) -> None:
    """Delete every row of the collector's tables, whatever tables a newer schema adds."""
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                # The schema's version stays: the store is empty, not unmigrated.
                "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'schema_version'"
            )
        ]
        if tables:
            conn.execute(f"TRUNCATE {', '.join(tables)} CASCADE".encode())


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty, migrated store of each backend (Postgres is started only if asked)."""
    if request.param == "sqlite":
        url = f"sqlite://{tmp_path / 'collector.db'}"  # sqlite:// + absolute path
    else:
        url = request.getfixturevalue("pg_url")
    store = open_store(url)
    try:
        store.migrate()
        if request.param == "postgres":
            _empty_postgres(url)
    finally:
        store.close()
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated, empty store of each backend, closed after the test."""
    s = open_store(store_url)
    s.migrate()
    try:
        yield s
    finally:
        s.close()
