"""PostgreSQL store, for syndicates that already run PostgreSQL or want replicas and backups.

Same semantics as the SQLite store: one transaction per ingest batch, idempotent on
(agent_id, report_id), the latest state of a host never replaced by an older replayed Report,
atomic token redemption. synchronous_commit is forced on for every session, so a push is
acknowledged only once its commit is flushed to the server's WAL.

The schema version is the highest row of the `schema_version` table, inserted in the same
transaction as the migration it records (see `migrations/`). Text is sorted with the "C"
collation, so orderings do not depend on the database's locale and match SQLite's.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime
from typing import Any

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

try:
    import psycopg
    from psycopg import conninfo as pg_conninfo
    from psycopg.rows import DictRow, dict_row
    from psycopg.types.json import Jsonb
except ImportError as _exc:  # pragma: no cover - depends on the installation
    raise StoreError("the PostgreSQL store needs psycopg: install sentinelle[postgres]") from _exc

Conn = psycopg.Connection[DictRow]

log = logging.getLogger("sentinelle.collector.store")


# Serialises concurrent migrate() calls of several collectors (advisory locks are per database):
# two sessions applying one step at once would collide on the catalog or record it twice.
MIGRATION_LOCK = 0x53454E54  # "SENT"

# Bookkeeping, not a migration: migrate() must read a version before it can apply 0001.
VERSION_TABLE = (
    "CREATE TABLE schema_version (version integer PRIMARY KEY, name text NOT NULL, "
    "applied_at timestamptz NOT NULL DEFAULT now())"
)

# Read from the catalog tables, not with to_regclass(): that answers from the session's catalog
# cache, which waiting on an advisory lock does not refresh, so a worker that waited while
# another created the table would still find it missing (and fail creating it again). A scan of
# pg_class takes a lock on it, which brings the cache up to date, and reads a fresh snapshot.
VERSION_TABLE_PRESENT = (
    "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() "
    "AND tablename = 'schema_version') AS present"
)

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
        {"commune", "day", "score", "grade", "hosts", "reporting_hosts", "open_by_severity"}
    ),
}

POOL_SIZE = 4
CONNECT_TIMEOUT = 10  # seconds
CHECKOUT_TIMEOUT = 30.0  # seconds a caller waits for a free connection


def _utc(value: datetime | None) -> datetime | None:
    # Same rule as the SQLite store: a naive datetime is local time.
    return value.astimezone(UTC) if value is not None else None


def _agent(row: DictRow) -> AgentRecord:
    return AgentRecord(
        row["agent_id"],
        row["commune"],
        row["host"],
        row["key_hash"],
        row["enrolled_at"],
        row["revoked_at"],
        row["last_report_at"],
    )


def _commune(row: DictRow) -> Commune:
    return Commune(
        row["code"],
        row["name"],
        row["departement"],
        row["population"],
        tuple(row["mayor_emails"]),
    )


def _where(url: str) -> str:
    """The server a URL points to, for messages: user@host:port/db, never the password."""
    try:
        params = pg_conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "an invalid PostgreSQL URL"
    host = str(params.get("host") or params.get("hostaddr") or "localhost")
    port = str(params.get("port") or "5432")
    user = str(params.get("user") or "")
    db = str(params.get("dbname") or user)
    return f"{user + '@' if user else ''}{host}:{port}/{db}"


def _scrub(message: str, url: str) -> str:
    """An error text with the URL's password blanked, should the driver ever echo it."""
    try:
        password = pg_conninfo.conninfo_to_dict(url).get("password")
    except psycopg.Error:
        password = None
    text = message.strip().replace("\n", " ")
    return text.replace(str(password), "***") if password else text


class _Pool:
    """A few connections shared by the server's worker threads; broken ones are replaced."""

    def __init__(self, url: str, size: int) -> None:
        self._url = url
        self._size = size
        self._idle: list[Conn] = []
        self._open = 0  # idle + checked out
        self._closed = False
        self._cond = threading.Condition()

    def _connect(self) -> Conn:
        try:
            conn = psycopg.connect(
                self._url,
                autocommit=True,
                row_factory=dict_row,
                connect_timeout=CONNECT_TIMEOUT,
                application_name="sentinelle-collector",
            )
        except psycopg.Error as exc:
            reason = _scrub(str(exc), self._url)
            # from None: the driver's exception may carry the full connection string.
            raise StoreError(
                f"cannot connect to PostgreSQL at {_where(self._url)}: {reason}"
            ) from None
        try:
            # Durability is part of the push contract: a role or database default of
            # synchronous_commit=off must not turn acknowledged Reports into losable ones.
            conn.execute(
                "SELECT set_config('synchronous_commit', 'on', false), "
                "set_config('TimeZone', 'UTC', false)"
            )
        except psycopg.Error as exc:
            conn.close()
            raise StoreError(f"cannot set up PostgreSQL session: {exc}") from exc
        return conn

    def get(self) -> tuple[Conn, bool]:
        """A connection and whether it was reused (it may then have died while idle)."""
        deadline = time.monotonic() + CHECKOUT_TIMEOUT
        with self._cond:
            while True:
                if self._closed:
                    raise StoreError("the PostgreSQL store is closed")
                if self._idle:
                    return self._idle.pop(), True
                if self._open < self._size:
                    self._open += 1
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise StoreError(
                        f"no free PostgreSQL connection after {CHECKOUT_TIMEOUT:.0f} s "
                        f"({self._size} in use)"
                    )
                self._cond.wait(remaining)
        try:
            return self._connect(), False
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise

    def put(self, conn: Conn) -> None:
        healthy = (
            not conn.closed
            and not conn.broken
            and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        )
        with self._cond:
            if healthy and not self._closed:
                self._idle.append(conn)
                self._cond.notify()
                return
        self.discard(conn)

    def discard(self, conn: Conn) -> None:
        conn.close()
        with self._cond:
            self._open -= 1
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self._cond.notify_all()
        for conn in idle:
            conn.close()


class PostgresStore(Store):
    """The collector's state in PostgreSQL (psycopg 3), through a small connection pool.

    `url` is a libpq URL, e.g. postgresql://sentinelle:secret@db.example/sentinelle. The
    constructor connects once, so an unreachable server fails at start, not at the first push.
    """

    def __init__(self, url: str, pool_size: int = POOL_SIZE) -> None:
        self._url = url  # private: it may hold the password
        self.where = _where(url)
        self.migrations: tuple[Migration, ...] = migrations.load("postgres")
        self._pool = _Pool(url, max(1, pool_size))
        conn, _ = self._pool.get()
        self._pool.put(conn)

    def _fail(self, exc: psycopg.Error, what: str) -> StoreError:
        return StoreError(f"PostgreSQL {self.where}: {what}: {_scrub(str(exc), self._url)}")

    def _begin(self) -> Conn:
        """A live connection inside a new transaction.

        A pooled connection can have died while idle (server restart, failover): the first
        statement on it then fails before anything was done, so one retry on a fresh
        connection is safe even for writes.
        """
        for attempt in range(2):
            conn, reused = self._pool.get()
            try:
                conn.execute("BEGIN")
                return conn
            except psycopg.OperationalError as exc:
                self._pool.discard(conn)
                if not reused or attempt:
                    raise self._fail(exc, "connection lost") from exc
            except BaseException:
                self._pool.discard(conn)
                raise
        raise AssertionError("unreachable")

    @contextmanager
    def _tx(self, what: str) -> Iterator[Conn]:
        """One transaction, committed when the block ends, rolled back on any error."""
        conn = self._begin()
        try:
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if not conn.broken and not conn.closed:
                    with suppress(psycopg.Error):
                        conn.execute("ROLLBACK")
                raise
        except psycopg.Error as exc:
            self._pool.put(conn)
            raise self._fail(exc, what) from exc
        except BaseException:
            self._pool.put(conn)
            raise
        self._pool.put(conn)

    def _query(
        self, sql: str, args: Sequence[Any] = (), what: str = "query failed"
    ) -> list[DictRow]:
        """One autocommit read; retried once on a fresh connection if the pooled one died."""
        for attempt in range(2):
            conn, reused = self._pool.get()
            try:
                rows = conn.execute(sql, args).fetchall()
            except psycopg.OperationalError as exc:
                self._pool.discard(conn)
                if not reused or attempt:
                    raise self._fail(exc, what) from exc
                continue
            except psycopg.Error as exc:
                self._pool.put(conn)
                raise self._fail(exc, what) from exc
            except BaseException:
                self._pool.discard(conn)
                raise
            self._pool.put(conn)
            return rows
        raise AssertionError("unreachable")

    def migrate(self) -> None:
        self._migrate_to(len(self.migrations))

    def _migrate_to(self, target: int) -> None:
        """Apply the migrations up to version `target` (tests stop at older versions)."""
        latest = len(self.migrations)
        if not 0 <= target <= latest:
            raise StoreError(f"no schema version {target}: this Sentinelle knows 0 to {latest}")
        # An unlocked look first: an up-to-date database, the common case at every start, is
        # answered without waiting for a migration lock another collector may hold.
        current = 0
        if self._query(VERSION_TABLE_PRESENT)[0]["present"]:
            current = self._query(
                "SELECT coalesce(max(version), 0) AS v FROM schema_version"
            )[0]["v"]
        if current > latest:
            raise SchemaTooNew(f"PostgreSQL {self.where}", current, latest)
        while current < target:
            with self._tx("cannot migrate the schema") as conn:
                # Held until this transaction ends: the version is read, the step applied and
                # recorded by one collector at a time; the others then find it done.
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                row = conn.execute(VERSION_TABLE_PRESENT).fetchone()
                if row is None or not row["present"]:
                    conn.execute(VERSION_TABLE)
                row = conn.execute(
                    "SELECT coalesce(max(version), 0) AS v FROM schema_version"
                ).fetchone()
                current = int(row["v"]) if row is not None else 0
                if current > latest:
                    raise SchemaTooNew(f"PostgreSQL {self.where}", current, latest)
                if current >= target:
                    break
                step = self.migrations[current]
                if step.version == 1:
                    self._check_adoptable(conn)
                try:
                    conn.execute(step.sql.encode())  # several statements: no parameters allowed
                except psycopg.Error as exc:
                    raise self._fail(exc, f"migration {step.label}") from exc
                conn.execute(
                    "INSERT INTO schema_version(version, name) VALUES (%s, %s)",
                    (step.version, step.name),
                )
            log.info("PostgreSQL %s: schema migrated to version %d (%s)", self.where,
                     step.version, step.label)
            current = step.version

    def _check_adoptable(self, conn: Conn) -> None:
        """Before version 1: a database that today's pre-migration collectors created already
        holds 0001's tables, which IF NOT EXISTS keeps; refuse one that lacks a column (an
        older development schema) rather than record it as version 1 and fail at a push."""
        have: dict[str, set[str]] = {}
        for row in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ANY(%s)",
            (sorted(BASELINE_COLUMNS),),
        ):
            have.setdefault(row["table_name"], set()).add(row["column_name"])
        lacking = [
            f"{table}.{col}"
            for table in sorted(have)
            for col in sorted(BASELINE_COLUMNS[table] - have[table])
        ]
        if lacking:
            raise StoreError(
                f"PostgreSQL {self.where}: a database from before schema versions, but not "
                f"the schema version 1 expects: no column {', '.join(lacking)}"
            )
        if have:
            log.info("PostgreSQL %s: adopting a database created before schema versions",
                     self.where)

    def close(self) -> None:
        self._pool.close()

    def upsert_commune(self, commune: Commune) -> None:
        with self._tx(f"cannot save commune {commune.code}") as conn:
            conn.execute(
                "INSERT INTO communes(code, name, departement, population, mayor_emails) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (code) DO UPDATE SET "
                "name = excluded.name, departement = excluded.departement, "
                "population = excluded.population, mayor_emails = excluded.mayor_emails",
                (
                    commune.code,
                    commune.name,
                    commune.departement,
                    commune.population,
                    list(commune.mayor_emails),
                ),
            )

    def get_commune(self, code: str) -> Commune | None:
        rows = self._query("SELECT * FROM communes WHERE code = %s", (code,))
        return _commune(rows[0]) if rows else None

    def list_communes(self) -> list[Commune]:
        return [
            _commune(r) for r in self._query('SELECT * FROM communes ORDER BY code COLLATE "C"')
        ]

    def add_token(self, token: EnrollmentToken, token_hash: str) -> None:
        with self._tx(f"cannot add token for commune {token.commune}") as conn:
            conn.execute(
                "INSERT INTO tokens(token_hash, token_id, commune, created_at, expires_at, "
                "uses_left, revoked) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    token_hash,
                    token.token_id,
                    token.commune,
                    _utc(token.created_at),
                    _utc(token.expires_at),
                    token.uses_left,
                    token.revoked,
                ),
            )

    def list_tokens(self, commune: str | None = None) -> list[EnrollmentToken]:
        sql = (
            "SELECT * FROM tokens"
            + (" WHERE commune = %s" if commune else "")
            + ' ORDER BY created_at, token_id COLLATE "C"'
        )
        rows = self._query(sql, (commune,) if commune else ())
        return [
            EnrollmentToken(
                r["token_id"],
                r["commune"],
                r["created_at"],
                r["expires_at"],
                r["uses_left"],
                r["revoked"],
            )
            for r in rows
        ]

    def redeem_token(self, token_hash: str, now: datetime) -> tuple[Redemption, str | None]:
        # A guess of an unknown token is answered by one autocommit read: a transaction
        # (three round trips and a pooled connection held across them) only for real tokens.
        if not self._query("SELECT 1 FROM tokens WHERE token_hash = %s", (token_hash,)):
            return Redemption.UNKNOWN, None
        with self._tx("cannot redeem token") as conn:
            # FOR UPDATE: concurrent enrollments with the same token queue here, and each
            # sees the uses left by the previous one once it commits.
            row = conn.execute(
                "SELECT commune, revoked, expires_at, uses_left FROM tokens "
                "WHERE token_hash = %s FOR UPDATE",
                (token_hash,),
            ).fetchone()
            if row is None:
                return Redemption.UNKNOWN, None
            commune: str = row["commune"]
            if row["revoked"]:
                return Redemption.REVOKED, commune
            expires: datetime | None = row["expires_at"]
            if expires is not None and now >= expires:
                return Redemption.EXPIRED, commune
            if row["uses_left"] is not None:
                if row["uses_left"] <= 0:
                    return Redemption.USED_UP, commune
                conn.execute(
                    "UPDATE tokens SET uses_left = uses_left - 1 WHERE token_hash = %s",
                    (token_hash,),
                )
            return Redemption.OK, commune

    def revoke_token(self, token_id: str) -> bool:
        with self._tx(f"cannot revoke token {token_id}") as conn:
            cur = conn.execute("UPDATE tokens SET revoked = true WHERE token_id = %s", (token_id,))
            return cur.rowcount > 0

    def add_agent(self, agent: AgentRecord) -> None:
        with self._tx(f"cannot add agent {agent.agent_id}") as conn:
            conn.execute(
                "INSERT INTO agents(agent_id, commune, host, key_hash, enrolled_at) "
                "VALUES (%s, %s, %s, %s, %s)",
                (
                    agent.agent_id,
                    agent.commune,
                    agent.host,
                    agent.key_hash,
                    _utc(agent.enrolled_at),
                ),
            )

    def get_agent(self, agent_id: str) -> AgentRecord | None:
        rows = self._query("SELECT * FROM agents WHERE agent_id = %s", (agent_id,))
        return _agent(rows[0]) if rows else None

    def list_agents(self, commune: str | None = None) -> list[AgentRecord]:
        sql = (
            "SELECT * FROM agents"
            + (" WHERE commune = %s" if commune else "")
            + ' ORDER BY commune COLLATE "C", host COLLATE "C", agent_id COLLATE "C"'
        )
        return [_agent(r) for r in self._query(sql, (commune,) if commune else ())]

    def revoke_agent(self, agent_id: str, now: datetime) -> bool:
        with self._tx(f"cannot revoke agent {agent_id}") as conn:
            cur = conn.execute(
                "UPDATE agents SET revoked_at = %s WHERE agent_id = %s AND revoked_at IS NULL",
                (_utc(now), agent_id),
            )
            return cur.rowcount > 0

    def host_taken(self, commune: str, host: str) -> bool:
        return bool(
            self._query(
                "SELECT 1 FROM agents WHERE commune = %s AND host = %s AND revoked_at IS NULL",
                (commune, host),
            )
        )

    def store_reports(self, batch: Sequence[IncomingReport]) -> list[bool]:
        if not batch:
            return []
        # Set-based: three statements whatever the batch size, so a group commit of many
        # pushes costs a few round trips, not three per Report. %b: binary parameters, as
        # arrays of bodies and JSON are several times slower to quote and parse as text.
        # Rows go in (agent, report id) order: batches of several workers then lock shared
        # rows in the same order and cannot deadlock (in arrival order, they did under load).
        with self._tx("cannot store reports") as conn:
            inserted = conn.execute(
                "INSERT INTO reports(agent_id, report_id, received_at, generated_at, commune, "
                "host, score, grade, body) "
                "SELECT * FROM unnest(%b::text[], %b::text[], %b::timestamptz[], "
                "%b::timestamptz[], %b::text[], %b::text[], %b::float8[], %b::text[], "
                "%b::bytea[]) ORDER BY 1, 2 "
                "ON CONFLICT (agent_id, report_id) DO NOTHING RETURNING agent_id, report_id",
                (
                    [r.agent_id for r in batch],
                    [r.report_id for r in batch],
                    [_utc(r.received_at) for r in batch],
                    [_utc(r.generated_at) for r in batch],
                    [r.commune for r in batch],
                    [r.host for r in batch],
                    [float(r.score) for r in batch],
                    [r.grade for r in batch],
                    [r.body for r in batch],
                ),
            ).fetchall()
            pending = {(row["agent_id"], row["report_id"]) for row in inserted}
            fresh: list[bool] = []
            newest: dict[str, IncomingReport] = {}
            last_seen: dict[str, datetime] = {}
            for r in batch:
                key = (r.agent_id, r.report_id)
                # The same id twice in one batch: only its first occurrence is new.
                is_new = key in pending
                pending.discard(key)
                fresh.append(is_new)
                if not is_new:
                    continue
                # Ties go to the later Report, as when the batch is applied one by one.
                best = newest.get(r.agent_id)
                if best is None or r.generated_at >= best.generated_at:
                    newest[r.agent_id] = r
                seen = last_seen.get(r.agent_id)
                if seen is None or r.received_at > seen:
                    last_seen[r.agent_id] = r.received_at
            if not newest:
                return fresh
            latest = [newest[a] for a in sorted(newest)]
            # A replayed older Report (from a spool) must not hide a newer latest state.
            conn.execute(
                "INSERT INTO host_latest(agent_id, report_id, received_at, generated_at, body, "
                "checks, score) SELECT * FROM unnest(%b::text[], %b::text[], %b::timestamptz[], "
                "%b::timestamptz[], %b::bytea[], %b::text[]::jsonb[], %b::text[]) ORDER BY 1 "
                "ON CONFLICT (agent_id) DO UPDATE SET report_id = excluded.report_id, "
                "received_at = excluded.received_at, generated_at = excluded.generated_at, "
                "body = excluded.body, checks = excluded.checks, score = excluded.score "
                "WHERE excluded.generated_at >= host_latest.generated_at",
                (
                    [r.agent_id for r in latest],
                    [r.report_id for r in latest],
                    [_utc(r.received_at) for r in latest],
                    [_utc(r.generated_at) for r in latest],
                    [r.body for r in latest],
                    [r.checks_json for r in latest],
                    [r.score_json for r in latest],
                ),
            )
            conn.execute(
                "UPDATE agents a SET last_report_at = s.at FROM unnest(%b::text[], "
                "%b::timestamptz[]) AS s(agent_id, at) WHERE a.agent_id = s.agent_id "
                "AND (a.last_report_at IS NULL OR a.last_report_at < s.at)",
                (sorted(last_seen), [_utc(last_seen[a]) for a in sorted(last_seen)]),
            )
        return fresh

    def latest_reports(self, since: datetime | None = None) -> list[LatestReport]:
        rows = self._query(
            "SELECT a.*, h.received_at AS h_received, h.body AS h_body, "
            "h.generated_at AS h_generated, h.score AS h_score FROM host_latest h "
            "JOIN agents a ON a.agent_id = h.agent_id WHERE a.revoked_at IS NULL "
            + ("AND h.received_at > %s " if since is not None else "")
            + 'ORDER BY a.commune COLLATE "C", a.host COLLATE "C", a.agent_id COLLATE "C"',
            (_utc(since),) if since is not None else (),
        )
        return [
            LatestReport(
                _agent(r), r["h_received"], bytes(r["h_body"]), r["h_generated"], r["h_score"]
            )
            for r in rows
        ]

    def check_states(self, agent_id: str) -> list[CheckState]:
        rows = self._query("SELECT checks FROM host_latest WHERE agent_id = %s", (agent_id,))
        if not rows:
            return []
        states: dict[str, list[str]] = rows[0]["checks"]
        return [CheckState(check, *states[check]) for check in sorted(states)]

    def count_reports(self, agent_id: str | None = None) -> int:
        sql = "SELECT count(*) AS n FROM reports" + (" WHERE agent_id = %s" if agent_id else "")
        return int(self._query(sql, (agent_id,) if agent_id else ())[0]["n"])

    def reports_between(self, commune: str, start: datetime, end: datetime) -> list[StoredReport]:
        # By agent: the primary key's agent_id prefix finds the rows without a new index.
        rows = self._query(
            "SELECT agent_id, report_id, host, received_at, generated_at, score, grade, body "
            "FROM reports WHERE agent_id IN (SELECT agent_id FROM agents WHERE commune = %s) "
            "AND commune = %s AND generated_at >= %s AND generated_at < %s "
            'ORDER BY generated_at, agent_id COLLATE "C", report_id COLLATE "C"',
            (commune, commune, _utc(start), _utc(end)),
            what=f"cannot read the reports of {commune}",
        )
        return [
            StoredReport(
                r["agent_id"],
                r["report_id"],
                r["host"],
                r["received_at"],
                r["generated_at"],
                float(r["score"]),
                r["grade"],
                bytes(r["body"]),
            )
            for r in rows
        ]

    def prune_reports(self, before: datetime) -> int:
        with self._tx("cannot prune reports") as conn:
            return conn.execute(
                "DELETE FROM reports WHERE received_at < %s", (_utc(before),)
            ).rowcount

    def upsert_snapshot(self, snapshot: DailySnapshot) -> None:
        with self._tx(f"cannot save snapshot of {snapshot.commune}") as conn:
            conn.execute(
                "INSERT INTO snapshots(commune, day, score, grade, hosts, reporting_hosts, "
                "open_by_severity) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (commune, day) DO UPDATE SET score = excluded.score, "
                "grade = excluded.grade, hosts = excluded.hosts, "
                "reporting_hosts = excluded.reporting_hosts, "
                "open_by_severity = excluded.open_by_severity",
                (
                    snapshot.commune,
                    snapshot.day,
                    snapshot.score,
                    snapshot.grade,
                    snapshot.hosts,
                    snapshot.reporting_hosts,
                    Jsonb(dict(snapshot.open_by_severity)),
                ),
            )

    def snapshots(self, commune: str, start: date, end: date) -> list[DailySnapshot]:
        rows = self._query(
            "SELECT * FROM snapshots WHERE commune = %s AND day BETWEEN %s AND %s ORDER BY day",
            (commune, start, end),
        )
        return [
            DailySnapshot(
                r["commune"],
                r["day"],
                r["score"],
                r["grade"],
                r["hosts"],
                r["reporting_hosts"],
                dict(r["open_by_severity"]),
            )
            for r in rows
        ]

    def prune_snapshots(self, before: date) -> int:
        with self._tx("cannot prune snapshots") as conn:
            return conn.execute("DELETE FROM snapshots WHERE day < %s", (before,)).rowcount

    # The syndicate's policy

    def _record_change(
        self, db: Conn, at: datetime, who: str, action: str, scope: str,
        detail: str,
    ) -> None:
        db.execute(
            "INSERT INTO policy_changes(at, who, action, scope, detail) "
            "VALUES (%s, %s, %s, %s, %s)",
            (_utc(at), who, action, scope, detail),
        )

    def set_policy(self, record: PolicyRecord) -> None:
        with self._tx("cannot change the policy") as db:
            db.execute(
                "INSERT INTO policy_scopes(scope, document, updated_at, updated_by) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT(scope) DO UPDATE SET "
                "document=excluded.document, updated_at=excluded.updated_at, "
                "updated_by=excluded.updated_by",
                (record.scope, record.document, _utc(record.updated_at), record.updated_by),
            )
            self._record_change(db, record.updated_at, record.updated_by, "policy_set",
                                record.scope, record.document)

    def clear_policy(self, scope: str, who: str, now: datetime) -> bool:
        with self._tx("cannot change the policy") as db:
            gone = db.execute("DELETE FROM policy_scopes WHERE scope=%s", (scope,)).rowcount > 0
            if gone:
                self._record_change(db, now, who, "policy_cleared", scope, "")
            return gone

    def list_policies(self) -> list[PolicyRecord]:
        return [
            PolicyRecord(r["scope"], r["document"], r["updated_at"], r["updated_by"])
            for r in self._query("SELECT * FROM policy_scopes ORDER BY scope")
        ]

    def add_waiver(self, record: WaiverRecord) -> None:
        w = record.waiver
        with self._tx("cannot change the policy") as db:
            db.execute(
                "INSERT INTO waivers(waiver_id, check_id, finding_key, scope, reason, "
                "accepted_by, expires, created_at, created_by) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (w.id, w.check, w.key, w.scope, w.reason, w.accepted_by, w.expires,
                 _utc(record.created_at), record.created_by),
            )
            self._record_change(db, record.created_at, record.created_by, "waiver_added",
                                w.scope, json.dumps(w.to_dict(), ensure_ascii=False))

    def revoke_waiver(self, waiver_id: str, who: str, now: datetime) -> bool:
        with self._tx("cannot change the policy") as db:
            rows = db.execute(
                "UPDATE waivers SET revoked_at=%s, revoked_by=%s "
                "WHERE waiver_id=%s AND revoked_at IS NULL RETURNING scope",
                (_utc(now), who, waiver_id),
            ).fetchall()
            for row in rows:
                self._record_change(db, now, who, "waiver_revoked", row["scope"], waiver_id)
            return bool(rows)

    def list_waivers(self, include_revoked: bool = False) -> list[WaiverRecord]:
        where = "" if include_revoked else " WHERE revoked_at IS NULL"
        return [
            WaiverRecord(
                Waiver(r["waiver_id"], r["check_id"], r["scope"], r["reason"],
                       r["accepted_by"], r["expires"].isoformat(), r["finding_key"]),
                r["created_at"], r["created_by"], r["revoked_at"], r["revoked_by"],
            )
            for r in self._query(f"SELECT * FROM waivers{where} ORDER BY expires, waiver_id")
        ]

    def policy_changes(self, limit: int = 100) -> list[PolicyChange]:
        return [
            PolicyChange(r["at"], r["who"], r["action"], r["scope"], r["detail"])
            for r in self._query(
                "SELECT * FROM policy_changes ORDER BY change_id DESC LIMIT %s", (limit,)
            )
        ]

    # The commune's LAN inventory

    def observe_devices(
        self, commune: str, agent_id: str, seen: Sequence[SeenDevice], at: datetime
    ) -> None:
        when = _utc(at)
        with self._tx("cannot change the device inventory") as db:
            for d in seen:
                db.execute(
                    "INSERT INTO lan_devices(commune, mac, ip, vendor, device_class, name, "
                    "first_seen, last_seen, last_agent) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
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
                "SELECT mac FROM lan_devices WHERE commune=%s AND last_agent=%s "
                "AND missing_since IS NULL",
                (commune, agent_id),
            ).fetchall()
            for row in rows:
                if row["mac"] not in macs:
                    db.execute(
                        "UPDATE lan_devices SET missing_since=%s WHERE commune=%s AND mac=%s",
                        (when, commune, row["mac"]),
                    )

    def list_devices(self, commune: str | None = None) -> list[DeviceRecord]:
        where, args = ("WHERE commune=%s ", (commune,)) if commune is not None else ("", ())
        return [
            DeviceRecord(
                r["commune"], r["mac"], r["ip"], r["vendor"], r["device_class"], r["name"],
                (r["first_seen"]), (r["last_seen"]), r["last_agent"],
                (r["missing_since"]), r["label"], r["approved_by"], (r["approved_at"]),
            )
            for r in self._query(
                "SELECT * FROM lan_devices " + where
                + 'ORDER BY commune COLLATE "C", mac COLLATE "C"', args)
        ]

    def approve_device(self, commune: str, mac: str, label: str, who: str, now: datetime) -> None:
        with self._tx("cannot change the device inventory") as db:
            db.execute(
                "INSERT INTO lan_devices(commune, mac, label, approved_by, approved_at) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT(commune, mac) DO UPDATE SET "
                "label=excluded.label, approved_by=excluded.approved_by, "
                "approved_at=excluded.approved_at",
                (commune, mac, label, who, _utc(now)),
            )
            self._record_change(db, now, who, "device_approved", f"commune:{commune}",
                                json.dumps({"mac": mac, "label": label}, ensure_ascii=False))

    def forget_device(self, commune: str, mac: str, who: str, now: datetime) -> bool:
        with self._tx("cannot change the device inventory") as db:
            gone = db.execute("DELETE FROM lan_devices WHERE commune=%s AND mac=%s",
                              (commune, mac)).rowcount > 0
            if gone:
                self._record_change(db, now, who, "device_forgotten", f"commune:{commune}",
                                    json.dumps({"mac": mac}))
            return gone
