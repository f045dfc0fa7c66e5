"""The collector's storage, behind one interface: SQLite (embedded default) or PostgreSQL.

- `interface`: the `Store` ABC, its records and errors (what the collector depends on);
- `sqlite`, `postgres`: the two backends, imported only by `open_store` when a URL asks for them
  (psycopg is an optional dependency);
- `migrations`: the numbered schema migrations of each backend, applied by `Store.migrate()`.

The backends import `interface`, never this package's names, so nothing here imports in a circle.
"""

from __future__ import annotations

from sentinelle.collector.store.interface import (
    Redemption,
    SchemaTooNew,
    Store,
    StoredReport,
    StoreError,
)

__all__ = ["Redemption", "SchemaTooNew", "Store", "StoreError", "StoredReport", "open_store"]


def open_store(url: str) -> Store:
    """`sqlite:///path/to/file.db` or `postgresql://user@host/db`."""
    if url.startswith("sqlite:///"):
        from sentinelle.collector.store.sqlite import SQLiteStore

        return SQLiteStore(url.removeprefix("sqlite://"))
    if url.startswith(("postgresql://", "postgres://")):
        from sentinelle.collector.store.postgres import PostgresStore

        return PostgresStore(url)
    raise StoreError(f"unsupported store URL {url!r}: use sqlite:///PATH or postgresql://…")
