"""The collector's storage interface: what both backends (SQLite, PostgreSQL) promise.

Every method is synchronous and safe to call from worker threads; the server calls them outside
its event loop. `store_reports` writes a whole batch in one transaction (group commit) and is
idempotent on (agent_id, report_id). Both backends answer every method alike, orderings
included: the contract suite (tests/collector/test_store.py) runs on each.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

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
from sentinelle.errors import SentinelleError


class StoreError(SentinelleError):
    """The store refused an operation (duplicate, unknown reference, unreachable server)."""


class SchemaTooNew(StoreError):
    """The database was migrated by a newer Sentinelle than this one: refusing to touch it.

    Running older code on a newer schema could write rows the newer code misreads, so the
    collector stops at start instead, naming both versions.
    """

    def __init__(self, where: str, found: int, known: int) -> None:
        self.found = found
        self.known = known
        super().__init__(
            f"{where}: the database has schema version {found}, newer than this Sentinelle "
            f"knows (up to {known}); run the Sentinelle that migrated it, or restore the "
            f"backup taken before that upgrade"
        )


class Redemption(enum.Enum):
    """Outcome of presenting an enrollment token."""

    OK = "ok"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED_UP = "used_up"
    REVOKED = "revoked"


@dataclass(frozen=True)
class StoredReport:
    """One raw Report kept by the collector, with its registry labels (see `reports_between`)."""

    agent_id: str
    report_id: str
    host: str
    received_at: datetime
    generated_at: datetime
    score: float
    grade: str
    body: bytes  # the Report as gzip-compressed JSON


class Store(ABC):
    """Durable state of the collector.

    Text orderings are by code point (binary), as SQLite compares: the PostgreSQL backend sorts
    with the "C" collation whatever the database's locale, so both answer the same order.
    """

    @abstractmethod
    def migrate(self) -> None:
        """Bring the schema to the newest version this code knows, applying the numbered
        migrations it lacks in order, each in its own transaction.

        Safe to call at every start, from several processes at once (they serialise on a lock
        and the later ones find nothing to do). A database created before migrations existed
        is adopted; one whose version is newer than the code raises `SchemaTooNew`.
        """

    @abstractmethod
    def close(self) -> None: ...

    # Communes
    @abstractmethod
    def upsert_commune(self, commune: Commune) -> None: ...

    @abstractmethod
    def get_commune(self, code: str) -> Commune | None: ...

    @abstractmethod
    def list_communes(self) -> list[Commune]:
        """Every commune, by code."""

    # Enrollment tokens
    @abstractmethod
    def add_token(self, token: EnrollmentToken, token_hash: str) -> None: ...

    @abstractmethod
    def list_tokens(self, commune: str | None = None) -> list[EnrollmentToken]:
        """Tokens (of one commune, or all), oldest first, ties by token id."""

    @abstractmethod
    def redeem_token(self, token_hash: str, now: datetime) -> tuple[Redemption, str | None]:
        """Atomically check and consume one use; returns the outcome and the commune code."""

    @abstractmethod
    def revoke_token(self, token_id: str) -> bool: ...

    # Agents
    @abstractmethod
    def add_agent(self, agent: AgentRecord) -> None: ...

    @abstractmethod
    def get_agent(self, agent_id: str) -> AgentRecord | None: ...

    @abstractmethod
    def list_agents(self, commune: str | None = None) -> list[AgentRecord]:
        """Agents (of one commune, or all, revoked ones included), by commune, host, agent id."""

    @abstractmethod
    def revoke_agent(self, agent_id: str, now: datetime) -> bool: ...

    @abstractmethod
    def host_taken(self, commune: str, host: str) -> bool:
        """True when an active agent of the commune already uses this host label."""

    # Reports
    @abstractmethod
    def store_reports(self, batch: Sequence[IncomingReport]) -> list[bool]:
        """Store a batch in one transaction; True for each newly stored Report, False for a
        replay of a Report id this agent already sent."""

    @abstractmethod
    def latest_reports(self, since: datetime | None = None) -> list[LatestReport]:
        """The newest Report of every non-revoked agent, by commune, host, agent id; with
        `since`, only those received after it (how collector workers catch up on what the
        others stored)."""

    @abstractmethod
    def check_states(self, agent_id: str) -> list[CheckState]: ...

    @abstractmethod
    def count_reports(self, agent_id: str | None = None) -> int: ...

    @abstractmethod
    def reports_between(self, commune: str, start: datetime, end: datetime) -> list[StoredReport]:
        """The raw Reports of the commune's agents (revoked ones included) generated in
        [start, end), oldest first; only those still within the raw-report retention."""

    @abstractmethod
    def prune_reports(self, before: datetime) -> int:
        """Delete raw Reports received before `before` (latest state is kept)."""

    # Daily snapshots
    @abstractmethod
    def upsert_snapshot(self, snapshot: DailySnapshot) -> None: ...

    @abstractmethod
    def snapshots(self, commune: str, start: date, end: date) -> list[DailySnapshot]: ...

    @abstractmethod
    def prune_snapshots(self, before: date) -> int: ...


    # The syndicate's policy (sentinelle.collector.policy); every change is recorded.

    @abstractmethod
    def set_policy(self, record: PolicyRecord) -> None:
        """Set (or replace) the policy of one scope, and record the change."""

    @abstractmethod
    def clear_policy(self, scope: str, who: str, now: datetime) -> bool:
        """Remove the policy of one scope (recorded); False when it had none."""

    @abstractmethod
    def list_policies(self) -> list[PolicyRecord]:
        """Every scope's policy, by scope."""

    @abstractmethod
    def add_waiver(self, record: WaiverRecord) -> None:
        """Store a new waiver, and record the change."""

    @abstractmethod
    def revoke_waiver(self, waiver_id: str, who: str, now: datetime) -> bool:
        """End a waiver before its expiry (recorded); False when no such active waiver."""

    @abstractmethod
    def list_waivers(self, include_revoked: bool = False) -> list[WaiverRecord]:
        """Waivers, soonest expiry first (revoked ones only when asked)."""

    @abstractmethod
    def policy_changes(self, limit: int = 100) -> list[PolicyChange]:
        """The latest changes of the policy and the waivers, newest first."""

    # The commune's LAN inventory (sentinelle.checks.lan, `sentinelle collector device …`).

    @abstractmethod
    def observe_devices(
        self, commune: str, agent_id: str, seen: Sequence[SeenDevice], at: datetime
    ) -> None:
        """Record what one agent's Report saw: new devices get `first_seen`, known ones their
        `last_seen`; a device this agent saw last and no longer sees gets `missing_since`."""

    @abstractmethod
    def list_devices(self, commune: str | None = None) -> list[DeviceRecord]:
        """The devices of one commune (or all), by commune then MAC."""

    @abstractmethod
    def approve_device(self, commune: str, mac: str, label: str, who: str, now: datetime) -> None:
        """Approve a device (seen or not yet) with a label; recorded in the policy history."""

    @abstractmethod
    def forget_device(self, commune: str, mac: str, who: str, now: datetime) -> bool:
        """Remove a device and its approval (recorded); False when the commune has no such
        device."""
