"""Numbered schema migrations, one folder of SQL files per backend.

`sqlite/NNNN_name.sql` and `postgres/NNNN_name.sql` are applied in number order by the backend's
`migrate()`, each in its own transaction with the version recorded in that same transaction
(SQLite: `PRAGMA user_version`; PostgreSQL: a `schema_version` row), so a step is either wholly
applied and recorded or not at all. Both folders hold the same numbers and names: version N
means the same schema on either backend.

A migration, once released, is never edited: deployed databases have already run it. Changes go
in a new file with the next number, on both backends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from sentinelle.collector.store.interface import StoreError

BACKENDS = ("sqlite", "postgres")
FILE_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


@dataclass(frozen=True)
class Migration:
    """One numbered step of a backend's schema: version N takes the schema from N-1 to N."""

    version: int
    name: str
    sql: str

    @property
    def label(self) -> str:
        """The file's stem, e.g. 0002_align_backends, for messages and logs."""
        return f"{self.version:04d}_{self.name}"


@cache
def load(backend: str) -> tuple[Migration, ...]:
    """The migrations of one backend, oldest first; numbered 1, 2, 3… without gaps."""
    if backend not in BACKENDS:
        raise StoreError(f"no migrations for backend {backend!r}")
    found: list[Migration] = []
    for entry in (resources.files(__name__) / backend).iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = FILE_NAME.fullmatch(entry.name)
        if match is None:
            raise StoreError(f"migration file {backend}/{entry.name}: expected NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    # A gap or a duplicate would leave a database at a version no file describes.
    if versions != list(range(1, len(found) + 1)):
        raise StoreError(f"{backend} migrations must be numbered 1, 2, 3… once each: {versions}")
    return tuple(found)
