"""SQLite store: the embedded default. WAL mode, synchronous=FULL, one transaction per batch.

The schema version is the database's `PRAGMA user_version`, written in the same transaction as
the migration it records (see `migrations/`).

Writers of one database file (the collector's worker processes, a command run beside them)
queue on an advisory lock on `<database>-writer.lock` before they open a transaction. SQLite's
own answer to a taken write lock is "busy", after which a writer can only sleep and try again;
three workers doing so under load spent more CPU on retries than on storing. Waiting in the
kernel costs nothing, wakes the next writer as soon as the lock is free, and lets Reports
gather into the waiting worker's next batch meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path

import msgspec

from sentinelle.collector.records import (
    AgentRecord,
    CheckState,
    Commune,
    DailySnapshot,
    DeviceRecord,
    EnrollmentToken,
    IncomingReport,
    LatestReport,
    PolicyChange,
    PolicyRecord,
    SeenDevice,
    WaiverRecord,
)
from sentinelle.collector.store import migrations
from sentinelle.collector.store.interface import (
    Redemption,
    SchemaTooNew,
    Store,
    StoredReport,
    StoreError,
)
from sentinelle.collector.store.migrations import Migration
from sentinelle.model import Waiver

log = logging.getLogger("sentinelle.collector.store")

_encode_json = msgspec.json.Encoder().encode
# Rows per multi-row statement: 9 values each stays well below SQLite's 32,766 variables.
_ROWS_PER_STATEMENT = 256
WRITE_LOCK_TIMEOUT = 30.0  # seconds a writer waits for another process's transaction

# The columns of migration 0001, which a database made before migrations existed must have to be
# adopted as version 1 (an older development schema lacked host_latest.score, for one).
BASELINE_COLUMNS: dict[str, frozenset[str]] = {
    "communes": frozenset({"code", "name", "departement", "population", "mayor_emails"}),
    "tokens": frozenset(
        {"token_hash", "token_id", "commune", "created_at", "expires_at", "uses_left", "revoked"}
    ),
    "agents": frozenset(
        {"agent_id", "commune", "host", "key_hash", "enrolled_at", "revoked_at",
         "last_report_at"}
    ),
    "reports": frozenset(
        {"agent_id", "report_id", "received_at", "generated_at", "commune", "host", "score",
         "grade", "body"}
    ),
    "host_latest": frozenset(
        {"agent_id", "report_id", "received_at", "generated_at", "body", "checks", "score"}
    ),
    "snapshots": frozenset(
        {"commune", "day", "score", "grade", "hosts", "reporting_hosts", "open_json"}
    ),
}



class _WriterLock:
    """An exclusive `flock` on `<database>-writer.lock`, held around each write transaction
    (none for an in-memory database, or where `fcntl` does not exist). The kernel releases it
    when its holder dies, so a crashed worker never leaves it taken."""

    def __init__(self, path: str) -> None:
        self._fd: int | None = None
        self._depth = 0  # held under the store's RLock, which may be entered again
        try:
            import fcntl
        except ImportError:  # not a POSIX system: SQLite's busy retries alone
            return
        if path == ":memory:":
            return
        self._flock = fcntl.flock
        self._exclusive, self._unlock = fcntl.LOCK_EX, fcntl.LOCK_UN
        try:
            self._fd = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            log.warning("SQLite %s: no writer lock file (%s); relying on busy retries", path, exc)

    def __enter__(self) -> None:
        self._depth += 1
        if self._fd is not None and self._depth == 1:
            self._flock(self._fd, self._exclusive)

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._fd is not None and self._depth == 0:
            self._flock(self._fd, self._unlock)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@lru_cache(maxsize=64)
def _rows_cached(width: int, count: int) -> str:
    row = "(" + ",".join("?" * width) + ")"
    return ",".join([row] * count)


def _rows(width: int, count: int) -> str:
    """`(?,?),(?,?),…`: `count` rows of `width` parameters."""
    return _rows_cached(width, count)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _agent(row: sqlite3.Row) -> AgentRecord:
    enrolled = _dt(row["enrolled_at"])
    assert enrolled is not None
    return AgentRecord(
        row["agent_id"],
        row["commune"],
        row["host"],
        row["key_hash"],
        enrolled,
        _dt(row["revoked_at"]),
        _dt(row["last_report_at"]),
    )


def _statements(script: str) -> list[str]:
    """A migration file cut into single statements: `executescript` would COMMIT the open
    transaction first, and a migration must run inside the one that records its version."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending)
            pending = ""
    if any(ln.strip() and not ln.lstrip().startswith("--") for ln in pending.splitlines()):
        raise StoreError(f"unterminated SQL statement in a migration: {pending.strip()[:80]}")
    return statements


def _commune(row: sqlite3.Row) -> Commune:
    return Commune(
        row["code"],
        row["name"],
        row["departement"],
        row["population"],
        tuple(json.loads(row["mayor_emails"])),
    )


class SQLiteStore(Store):
    """One connection shared under a lock: SQLite serialises writers anyway."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.migrations: tuple[Migration, ...] = migrations.load("sqlite")
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            # The set-up below waits for the lock like any writer: worker processes starting
            # together, or a process recovering the WAL after a crash, hold it for a moment.
            self._db = sqlite3.connect(
                path, check_same_thread=False, isolation_level=None, timeout=WRITE_LOCK_TIMEOUT
            )
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk before the push is acknowledged (durable ingest).
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA busy_timeout=0")  # from here on, waits are _begin's
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite database {path}: {exc}") from exc
        self._lock = threading.RLock()
        self._writer_lock = _WriterLock(path)
        self._read_lock = threading.Lock()
        self._reader: sqlite3.Connection | None = None
        if path != ":memory:":
            self._reader = sqlite3.connect(path, check_same_thread=False, timeout=30)
            self._reader.row_factory = sqlite3.Row
            self._reader.execute("PRAGMA busy_timeout=30000")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; any failure, COMMIT's included, rolls back and the store
        stays usable (a stuck open transaction would also block the other workers)."""
        with self._lock, self._writer_lock:
            try:
                self._begin()
                yield self._db
                self._db.execute("COMMIT")
            except BaseException as exc:
                if self._db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.IntegrityError):
                    raise
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"SQLite {self.path}: {exc}") from exc
                raise

    def _begin(self) -> None:
        """Take the write lock. SQLite's own busy handler sleeps up to 100 ms between tries,
        which made the slowest pushes wait long when worker processes share the database;
        short jittered retries keep the wait close to the other writer's commit time."""
        deadline = time.monotonic() + WRITE_LOCK_TIMEOUT
        while True:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0.0005, 0.003))

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[sqlite3.Row]:
        # Reads use their own connection: in WAL mode they see the last commit without waiting
        # for the writer's fsync (an in-memory database has only the one connection).
        db, lock = (self._reader, self._read_lock) if self._reader else (self._db, self._lock)
        with lock:
            try:
                return list(db.execute(sql, args))
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite {self.path}: {exc}") from exc

    def migrate(self) -> None:
        self._migrate_to(len(self.migrations))

    def _migrate_to(self, target: int) -> None:
        """Apply the migrations up to version `target` (tests stop at older versions)."""
        latest = len(self.migrations)
        if not 0 <= target <= latest:
            raise StoreError(f"no schema version {target}: this Sentinelle knows 0 to {latest}")
        # An unlocked look first: an up-to-date database, the common case at every start, is
        # then answered without queueing for the write lock behind the workers' ingest.
        current = int(self._query("PRAGMA user_version")[0][0])
        if current > latest:
            raise SchemaTooNew(f"SQLite {self.path}", current, latest)
        while current < target:
            # BEGIN IMMEDIATE (in _tx) takes the write lock before the version is read: of
            # several processes starting at once, one applies the step, the others then see it
            # recorded and go on to the next or stop.
            with self._tx() as db:
                current = int(db.execute("PRAGMA user_version").fetchone()[0])
                if current > latest:
                    raise SchemaTooNew(f"SQLite {self.path}", current, latest)
                if current >= target:
                    break
                step = self.migrations[current]
                if step.version == 1:
                    self._check_adoptable(db)
                try:
                    for statement in _statements(step.sql):
                        db.execute(statement)
                except sqlite3.Error as exc:
                    raise StoreError(f"SQLite {self.path}: migration {step.label}: {exc}") from exc
                # PRAGMA takes no parameters; the version is an int from the file name.
                db.execute(f"PRAGMA user_version = {step.version:d}")
            log.info("SQLite %s: schema migrated to version %d (%s)", self.path, step.version,
                     step.label)
            current = step.version

    def _check_adoptable(self, db: sqlite3.Connection) -> None:
        """Before version 1: a database that today's pre-migration collectors created already
        holds 0001's tables, which IF NOT EXISTS keeps; refuse one that lacks a column (an
        older development schema) rather than record it as version 1 and fail at a push."""
        tables = {
            row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        lacking = []
        for table in sorted(tables & BASELINE_COLUMNS.keys()):
            have = {row["name"] for row in db.execute(f"PRAGMA table_info({table})")}
            lacking += [f"{table}.{col}" for col in sorted(BASELINE_COLUMNS[table] - have)]
        if lacking:
            raise StoreError(
                f"SQLite {self.path}: a database from before schema versions, but not the "
                f"schema version 1 expects: no column {', '.join(lacking)}"
            )
        if tables & BASELINE_COLUMNS.keys():
            log.info("SQLite %s: adopting a database created before schema versions", self.path)

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._writer_lock.close()
        if self._reader is not None:
            with self._read_lock:
                self._reader.close()

    def upsert_commune(self, commune: Commune) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO communes(code, name, departement, population, mayor_emails) "
                "VALUES (?,?,?,?,?) ON CONFLICT(code) DO UPDATE SET name=excluded.name, "
                "departement=excluded.departement, population=excluded.population, "
                "mayor_emails=excluded.mayor_emails",
                (
                    commune.code,
                    commune.name,
                    commune.departement,
                    commune.population,
                    json.dumps(list(commune.mayor_emails)),
                ),
            )

    def get_commune(self, code: str) -> Commune | None:
        rows = self._query("SELECT * FROM communes WHERE code=?", (code,))
        return _commune(rows[0]) if rows else None

    def list_communes(self) -> list[Commune]:
        return [_commune(r) for r in self._query("SELECT * FROM communes ORDER BY code")]

    def add_token(self, token: EnrollmentToken, token_hash: str) -> None:
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO tokens(token_hash, token_id, commune, created_at, expires_at, "
                    "uses_left, revoked) VALUES (?,?,?,?,?,?,?)",
                    (
                        token_hash,
                        token.token_id,
                        token.commune,
                        _iso(token.created_at),
                        _iso(token.expires_at),
                        token.uses_left,
                        int(token.revoked),
                    ),
                )
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"cannot add token for commune {token.commune}: {exc}") from exc

    def list_tokens(self, commune: str | None = None) -> list[EnrollmentToken]:
        sql = (
            "SELECT * FROM tokens"
            + (" WHERE commune=?" if commune else "")
            + " ORDER BY created_at, token_id"
        )
        rows = self._query(sql, (commune,) if commune else ())
        return [
            EnrollmentToken(
                r["token_id"],
                r["commune"],
                _dt(r["created_at"]) or datetime.min,
                _dt(r["expires_at"]),
                r["uses_left"],
                bool(r["revoked"]),
            )
            for r in rows
        ]

    def redeem_token(self, token_hash: str, now: datetime) -> tuple[Redemption, str | None]:
        # A guess of an unknown token is answered from the read connection: taking the write
        # lock for it would let a stream of guesses queue every writer behind it.
        if not self._query("SELECT 1 FROM tokens WHERE token_hash=?", (token_hash,)):
            return Redemption.UNKNOWN, None
        with self._tx() as db:
            row = db.execute("SELECT * FROM tokens WHERE token_hash=?", (token_hash,)).fetchone()
            if row is None:
                return Redemption.UNKNOWN, None
            if row["revoked"]:
                return Redemption.REVOKED, row["commune"]
            expires = _dt(row["expires_at"])
            if expires is not None and now >= expires:
                return Redemption.EXPIRED, row["commune"]
            if row["uses_left"] is not None:
                if row["uses_left"] <= 0:
                    return Redemption.USED_UP, row["commune"]
                db.execute(
                    "UPDATE tokens SET uses_left = uses_left - 1 WHERE token_hash=?", (token_hash,)
                )
            return Redemption.OK, row["commune"]

    def revoke_token(self, token_id: str) -> bool:
        with self._tx() as db:
            return (
                db.execute("UPDATE tokens SET revoked=1 WHERE token_id=?", (token_id,)).rowcount > 0
            )

    def add_agent(self, agent: AgentRecord) -> None:
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO agents(agent_id, commune, host, key_hash, enrolled_at) "
                    "VALUES (?,?,?,?,?)",
                    (
                        agent.agent_id,
                        agent.commune,
                        agent.host,
                        agent.key_hash,
                        _iso(agent.enrolled_at),
                    ),
                )
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"cannot add agent {agent.agent_id}: {exc}") from exc

    def get_agent(self, agent_id: str) -> AgentRecord | None:
        rows = self._query("SELECT * FROM agents WHERE agent_id=?", (agent_id,))
        return _agent(rows[0]) if rows else None

    def list_agents(self, commune: str | None = None) -> list[AgentRecord]:
        sql = (
            "SELECT * FROM agents"
            + (" WHERE commune=?" if commune else "")
            + " ORDER BY commune, host, agent_id"
        )
        return [_agent(r) for r in self._query(sql, (commune,) if commune else ())]

    def revoke_agent(self, agent_id: str, now: datetime) -> bool:
        with self._tx() as db:
            return (
                db.execute(
                    "UPDATE agents SET revoked_at=? WHERE agent_id=? AND revoked_at IS NULL",
                    (_iso(now), agent_id),
                ).rowcount
                > 0
            )

    def host_taken(self, commune: str, host: str) -> bool:
        return bool(
            self._query(
                "SELECT 1 FROM agents WHERE commune=? AND host=? AND revoked_at IS NULL",
                (commune, host),
            )
        )

    def store_reports(self, batch: Sequence[IncomingReport]) -> list[bool]:
        """Store a batch in one transaction of a few multi-row statements; True for each
        Report that is new, False for a replay (already stored, or twice in the batch).

        A handful of statements per batch, not three per Report: the writer thread lets go of
        the interpreter lock for every SQLite step, and each time it must wait to take it back
        from a busy event loop, so a commit's duration grew with its number of steps."""
        fresh: list[bool] = []
        for start in range(0, len(batch), _ROWS_PER_STATEMENT):
            fresh += self._store_chunk(batch[start : start + _ROWS_PER_STATEMENT])
        return fresh

    def _store_chunk(self, batch: Sequence[IncomingReport]) -> list[bool]:
        keys = [(r.agent_id, r.report_id) for r in batch]
        with self._tx() as db:
            stored = {
                (row[0], row[1])
                for row in db.execute(
                    "SELECT agent_id, report_id FROM reports WHERE (agent_id, report_id) IN "
                    f"(VALUES {_rows(2, len(keys))})",
                    [v for key in keys for v in key],
                )
            }
            fresh: list[bool] = []
            new: list[IncomingReport] = []
            for key, r in zip(keys, batch, strict=True):
                is_new = key not in stored
                fresh.append(is_new)
                if is_new:
                    stored.add(key)  # the same Report twice in one batch: the second replays
                    new.append(r)
            if not new:
                return fresh
            received = [r.received_at.astimezone(UTC).isoformat() for r in new]
            generated = [r.generated_at.astimezone(UTC).isoformat() for r in new]
            db.execute(
                "INSERT INTO reports(agent_id, report_id, received_at, generated_at, commune, "
                f"host, score, grade, body) VALUES {_rows(9, len(new))}",
                [
                    v
                    for r, rec, gen in zip(new, received, generated, strict=True)
                    for v in (
                        r.agent_id, r.report_id, rec, gen, r.commune, r.host, r.score, r.grade,
                        r.body,
                    )
                ],
            )
            # Rows apply in order, so a later Report of the same agent in this batch wins, and
            # a replayed older Report (from a spool) never hides a newer latest state.
            db.execute(
                "INSERT INTO host_latest(agent_id, report_id, received_at, generated_at, "
                f"body, checks, score) VALUES {_rows(7, len(new))} "
                "ON CONFLICT(agent_id) DO UPDATE SET "
                "report_id=excluded.report_id, received_at=excluded.received_at, "
                "generated_at=excluded.generated_at, body=excluded.body, "
                "checks=excluded.checks, score=excluded.score "
                "WHERE excluded.generated_at >= host_latest.generated_at",
                [
                    v
                    for r, rec, gen in zip(new, received, generated, strict=True)
                    for v in (
                        r.agent_id, r.report_id, rec, gen, r.body, r.checks_json, r.score_json
                    )
                ],
            )
            last: dict[str, str] = {}
            for r, rec in zip(new, received, strict=True):
                last[r.agent_id] = max(rec, last.get(r.agent_id, rec))
            db.execute(
                "UPDATE agents SET last_report_at = v.column2 "
                f"FROM (VALUES {_rows(2, len(last))}) AS v "
                "WHERE agents.agent_id = v.column1 "
                "AND (agents.last_report_at IS NULL OR agents.last_report_at < v.column2)",
                [v for item in last.items() for v in item],
            )
        return fresh

    def latest_reports(self, since: datetime | None = None) -> list[LatestReport]:
        rows = self._query(
            "SELECT a.*, h.received_at AS h_received, h.body AS h_body, "
            "h.generated_at AS h_generated, h.score AS h_score FROM host_latest h "
            "JOIN agents a ON a.agent_id = h.agent_id WHERE a.revoked_at IS NULL "
            "AND h.received_at > ? ORDER BY a.commune, a.host, a.agent_id",
            (_iso(since) if since is not None else "",),
        )
        return [
            LatestReport(
                _agent(r),
                _dt(r["h_received"]) or datetime.min,
                bytes(r["h_body"]),
                _dt(r["h_generated"]) or datetime.min,
                r["h_score"],
            )
            for r in rows
        ]

    def check_states(self, agent_id: str) -> list[CheckState]:
        rows = self._query("SELECT checks FROM host_latest WHERE agent_id=?", (agent_id,))
        if not rows:
            return []
        states = json.loads(rows[0]["checks"])
        return [CheckState(check, *states[check]) for check in sorted(states)]

    def count_reports(self, agent_id: str | None = None) -> int:
        sql = "SELECT count(*) FROM reports" + (" WHERE agent_id=?" if agent_id else "")
        return int(self._query(sql, (agent_id,) if agent_id else ())[0][0])

    def reports_between(self, commune: str, start: datetime, end: datetime) -> list[StoredReport]:
        # By agent: the primary key's agent_id prefix finds the rows without a new index.
        rows = self._query(
            "SELECT agent_id, report_id, host, received_at, generated_at, score, grade, body "
            "FROM reports WHERE agent_id IN (SELECT agent_id FROM agents WHERE commune=?) "
            "AND commune=? AND generated_at >= ? AND generated_at < ? "
            "ORDER BY generated_at, agent_id, report_id",
            (commune, commune, _iso(start), _iso(end)),
        )
        return [
            StoredReport(
                r["agent_id"],
                r["report_id"],
                r["host"],
                _dt(r["received_at"]) or datetime.min,
                _dt(r["generated_at"]) or datetime.min,
                float(r["score"]),
                r["grade"],
                bytes(r["body"]),
            )
            for r in rows
        ]

    def prune_reports(self, before: datetime) -> int:
        with self._tx() as db:
            return db.execute("DELETE FROM reports WHERE received_at < ?", (_iso(before),)).rowcount

    def upsert_snapshot(self, snapshot: DailySnapshot) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO snapshots(commune, day, score, grade, hosts, reporting_hosts, "
                "open_by_severity) VALUES (?,?,?,?,?,?,?) ON CONFLICT(commune, day) DO UPDATE SET "
                "score=excluded.score, grade=excluded.grade, hosts=excluded.hosts, "
                "reporting_hosts=excluded.reporting_hosts, "
                "open_by_severity=excluded.open_by_severity",
                (
                    snapshot.commune,
                    snapshot.day.isoformat(),
                    snapshot.score,
                    snapshot.grade,
                    snapshot.hosts,
                    snapshot.reporting_hosts,
                    json.dumps(dict(snapshot.open_by_severity)),
                ),
            )

    def snapshots(self, commune: str, start: date, end: date) -> list[DailySnapshot]:
        rows = self._query(
            "SELECT * FROM snapshots WHERE commune=? AND day BETWEEN ? AND ? ORDER BY day",
            (commune, start.isoformat(), end.isoformat()),
        )
        return [
            DailySnapshot(
                r["commune"],
                date.fromisoformat(r["day"]),
                r["score"],
                r["grade"],
                r["hosts"],
                r["reporting_hosts"],
                json.loads(r["open_by_severity"]),
            )
            for r in rows
        ]

    def prune_snapshots(self, before: date) -> int:
        with self._tx() as db:
            return db.execute("DELETE FROM snapshots WHERE day < ?", (before.isoformat(),)).rowcount

    # The syndicate's policy

    def _record_change(
        self, db: sqlite3.Connection, at: datetime, who: str, action: str, scope: str,
        detail: str,
    ) -> None:
        db.execute(
            "INSERT INTO policy_changes(at, who, action, scope, detail) VALUES (?, ?, ?, ?, ?)",
            (_iso(at), who, action, scope, detail),
        )

    def set_policy(self, record: PolicyRecord) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO policy_scopes(scope, document, updated_at, updated_by) "
                "VALUES (?, ?, ?, ?) ON CONFLICT(scope) DO UPDATE SET "
                "document=excluded.document, updated_at=excluded.updated_at, "
                "updated_by=excluded.updated_by",
                (record.scope, record.document, _iso(record.updated_at), record.updated_by),
            )
            self._record_change(db, record.updated_at, record.updated_by, "policy_set",
                                record.scope, record.document)

    def clear_policy(self, scope: str, who: str, now: datetime) -> bool:
        with self._tx() as db:
            gone = db.execute("DELETE FROM policy_scopes WHERE scope=?", (scope,)).rowcount > 0
            if gone:
                self._record_change(db, now, who, "policy_cleared", scope, "")
            return gone

    def list_policies(self) -> list[PolicyRecord]:
        return [
            PolicyRecord(r["scope"], r["document"], _dt(r["updated_at"]) or datetime.min,
                         r["updated_by"])
            for r in self._query("SELECT * FROM policy_scopes ORDER BY scope")
        ]

    def add_waiver(self, record: WaiverRecord) -> None:
        w = record.waiver
        with self._tx() as db:
            db.execute(
                "INSERT INTO waivers(waiver_id, check_id, finding_key, scope, reason, "
                "accepted_by, expires, created_at, created_by) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (w.id, w.check, w.key, w.scope, w.reason, w.accepted_by, w.expires,
                 _iso(record.created_at), record.created_by),
            )
            self._record_change(db, record.created_at, record.created_by, "waiver_added",
                                w.scope, json.dumps(w.to_dict(), ensure_ascii=False))

    def revoke_waiver(self, waiver_id: str, who: str, now: datetime) -> bool:
        with self._tx() as db:
            rows = db.execute(
                "UPDATE waivers SET revoked_at=?, revoked_by=? "
                "WHERE waiver_id=? AND revoked_at IS NULL RETURNING scope",
                (_iso(now), who, waiver_id),
            ).fetchall()
            for row in rows:
                self._record_change(db, now, who, "waiver_revoked", row[0], waiver_id)
            return bool(rows)

    def list_waivers(self, include_revoked: bool = False) -> list[WaiverRecord]:
        where = "" if include_revoked else " WHERE revoked_at IS NULL"
        return [
            WaiverRecord(
                Waiver(r["waiver_id"], r["check_id"], r["scope"], r["reason"],
                       r["accepted_by"], r["expires"], r["finding_key"]),
                _dt(r["created_at"]) or datetime.min, r["created_by"],
                _dt(r["revoked_at"]), r["revoked_by"],
            )
            for r in self._query(f"SELECT * FROM waivers{where} ORDER BY expires, waiver_id")
        ]

    def policy_changes(self, limit: int = 100) -> list[PolicyChange]:
        return [
            PolicyChange(_dt(r["at"]) or datetime.min, r["who"], r["action"], r["scope"],
                         r["detail"])
            for r in self._query(
                "SELECT * FROM policy_changes ORDER BY change_id DESC LIMIT ?", (limit,)
            )
        ]

    # The commune's LAN inventory

    def observe_devices(
        self, commune: str, agent_id: str, seen: Sequence[SeenDevice], at: datetime
    ) -> None:
        when = _iso(at)
        with self._tx() as db:
            for d in seen:
                db.execute(
                    "INSERT INTO lan_devices(commune, mac, ip, vendor, device_class, name, "
                    "first_seen, last_seen, last_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(commune, mac) DO UPDATE SET ip=excluded.ip, "
                    "vendor=excluded.vendor, device_class=excluded.device_class, "
                    "name=excluded.name, last_seen=excluded.last_seen, "
                    "last_agent=excluded.last_agent, missing_since=NULL, "
                    "first_seen=COALESCE(lan_devices.first_seen, excluded.first_seen)",
                    (commune, d.mac, d.ip, d.vendor, d.device_class, d.name, when, when,
                     agent_id),
                )
            # Gone from the view of the agent that saw it last: noted once, at this Report.
            macs = [d.mac for d in seen]
            rows = db.execute(
                "SELECT mac FROM lan_devices WHERE commune=? AND last_agent=? "
                "AND missing_since IS NULL",
                (commune, agent_id),
            ).fetchall()
            for row in rows:
                if row[0] not in macs:
                    db.execute(
                        "UPDATE lan_devices SET missing_since=? WHERE commune=? AND mac=?",
                        (when, commune, row[0]),
                    )

    def list_devices(self, commune: str | None = None) -> list[DeviceRecord]:
        where, args = ("WHERE commune=? ", (commune,)) if commune is not None else ("", ())
        return [
            DeviceRecord(
                r["commune"], r["mac"], r["ip"], r["vendor"], r["device_class"], r["name"],
                _dt(r["first_seen"]), _dt(r["last_seen"]), r["last_agent"],
                _dt(r["missing_since"]), r["label"], r["approved_by"], _dt(r["approved_at"]),
            )
            for r in self._query(
                "SELECT * FROM lan_devices " + where + 'ORDER BY commune, mac', args)
        ]

    def approve_device(self, commune: str, mac: str, label: str, who: str, now: datetime) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO lan_devices(commune, mac, label, approved_by, approved_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(commune, mac) DO UPDATE SET "
                "label=excluded.label, approved_by=excluded.approved_by, "
                "approved_at=excluded.approved_at",
                (commune, mac, label, who, _iso(now)),
            )
            self._record_change(db, now, who, "device_approved", f"commune:{commune}",
                                json.dumps({"mac": mac, "label": label}, ensure_ascii=False))

    def forget_device(self, commune: str, mac: str, who: str, now: datetime) -> bool:
        with self._tx() as db:
            gone = db.execute("DELETE FROM lan_devices WHERE commune=? AND mac=?",
                              (commune, mac)).rowcount > 0
            if gone:
                self._record_change(db, now, who, "device_forgotten", f"commune:{commune}",
                                    json.dumps({"mac": mac}))
            return gone
