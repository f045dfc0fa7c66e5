"""The data that flows through Sentinelle: findings, check runs and the Report.

The Report is the unit pushed to the collector (see DESIGN.md); every type here is a frozen
dataclass with a plain-JSON form, so the agent, the collector and the monthly report share it.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# 2: a finding carries a message id and typed arguments (`message`, `args`), rendered where a
# person reads it; `summary` is then optional. Version 1 Reports (plain summaries) stay valid.
SCHEMA_VERSION = 2
SCHEMA_VERSIONS = (1, 2)


class Status(enum.StrEnum):
    """Outcome of one finding."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"
    SKIP = "skip"

    @property
    def is_open(self) -> bool:
        """True for outcomes that ask somebody to act (warn, fail)."""
        return self in (Status.WARN, Status.FAIL)


# Worst first, for "the status of a check is the worst of its findings".
STATUS_ORDER = (Status.FAIL, Status.ERROR, Status.WARN, Status.PASS, Status.SKIP)


class Severity(enum.StrEnum):
    """How much an open finding matters."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for critical up to 4 for info, to sort worst first."""
        return list(Severity).index(self)


@dataclass(frozen=True)
class Measurement:
    """A number a check measured, turned into a Prometheus sample by `sentinelle.metrics`.

    `name` is the metric name without the `sentinelle_` prefix; the list of names is the
    contract documented in docs/metrics.md.
    """

    name: str
    value: float
    labels: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "labels": dict(self.labels)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Measurement:
        return cls(str(data["name"]), float(data["value"]), dict(data.get("labels") or {}))


@dataclass(frozen=True)
class Waiver:
    """A risk the syndicate accepted: findings of `check` (only those whose key is `key`, when
    it is set) leave the score until `expires` (a date, inclusive), on the hosts of `scope`
    (`fleet`, `departement:01`, `commune:01001` or `host:<agent id>`)."""

    id: str
    check: str
    scope: str
    reason: str
    accepted_by: str
    expires: str  # YYYY-MM-DD, the last day the waiver holds
    key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "check": self.check,
            "scope": self.scope,
            "reason": self.reason,
            "accepted_by": self.accepted_by,
            "expires": self.expires,
        }
        if self.key is not None:
            data["key"] = self.key
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Waiver:
        key = data.get("key")
        return cls(
            str(data["id"]),
            str(data["check"]),
            str(data["scope"]),
            str(data["reason"]),
            str(data["accepted_by"]),
            str(data["expires"]),
            None if key is None else str(key),
        )


@dataclass(frozen=True)
class Finding:
    """One observation of one check: status, severity, evidence and what to do about it.

    `message` is a catalog id (rules/) and `args` its typed arguments (counts, seconds, dates,
    sizes, names): the sentence is rendered where a person reads it, in their language
    (`sentinelle.texts`). `summary` is plain text for findings without a message (schema 1).
    """

    check: str
    status: Status
    severity: Severity
    summary: str = ""
    evidence: Mapping[str, Any] = field(default_factory=dict)
    remediation: Mapping[str, str] = field(default_factory=dict)  # {"fr": ..., "en": ...}
    references: Mapping[str, list[Any]] = field(default_factory=dict)  # {"anssi": [34]}
    measurements: tuple[Measurement, ...] = ()
    message: str | None = None
    args: Mapping[str, Any] = field(default_factory=dict)
    # What the finding is about within its check (a service, a backup location, a port): a
    # waiver may accept one key of a check and not the others.
    key: str | None = None
    # Set when an accepted risk covers this (open) finding: it stays in the Report, marked,
    # and leaves the score while the waiver holds.
    waiver: Waiver | None = None

    @property
    def counts(self) -> bool:
        """Whether the finding weighs in the score (a waived one does not)."""
        return self.waiver is None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "check": self.check,
            "status": self.status.value,
            "severity": self.severity.value,
            "summary": self.summary,
            "evidence": dict(self.evidence),
            "remediation": dict(self.remediation),
            "references": {k: list(v) for k, v in self.references.items()},
            "measurements": [m.to_dict() for m in self.measurements],
        }
        if self.message is not None:
            data["message"] = self.message
            data["args"] = dict(self.args)
        if self.key is not None:
            data["key"] = self.key
        if self.waiver is not None:
            data["waiver"] = self.waiver.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        return cls(
            check=str(data["check"]),
            status=Status(data["status"]),
            severity=Severity(data["severity"]),
            summary=str(data.get("summary") or ""),
            evidence=dict(data.get("evidence") or {}),
            remediation=dict(data.get("remediation") or {}),
            references={k: list(v) for k, v in (data.get("references") or {}).items()},
            measurements=tuple(Measurement.from_dict(m) for m in data.get("measurements") or ()),
            message=str(data["message"]) if data.get("message") else None,
            args=dict(data.get("args") or {}),
            key=str(data["key"]) if data.get("key") is not None else None,
            waiver=Waiver.from_dict(data["waiver"]) if data.get("waiver") else None,
        )


@dataclass(frozen=True)
class CheckRun:
    """How one check ran: its worst status and its own duration (as node_exporter collectors)."""

    check: str
    status: Status
    duration_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "status": self.status.value,
            "duration_seconds": round(self.duration_seconds, 6),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckRun:
        return cls(str(data["check"]), Status(data["status"]), float(data["duration_seconds"]))


@dataclass(frozen=True)
class Score:
    """A 0-100 risk-adjusted posture score (100 is best) and its A-E grade."""

    value: float
    grade: str
    # Why the grade was capped: a code (sentinelle.scoring.Cap), "critical_open:backups.freshness"
    # or "high_open", that people read from the catalog (sentinelle.texts.capped_text).
    capped_by: str | None = None
    open_by_severity: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            # Six decimals: the score is a ratio now, and the collector, its workers and the
            # agent must agree on it to a millionth whichever copy they read.
            "value": round(self.value, 6),
            "grade": self.grade,
            "capped_by": self.capped_by,
            "open_by_severity": dict(self.open_by_severity),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Score:
        return cls(
            float(data["value"]),
            str(data["grade"]),
            data.get("capped_by"),
            {str(k): int(v) for k, v in (data.get("open_by_severity") or {}).items()},
        )


@dataclass(frozen=True)
class AgentHealth:
    """The agent's own state, carried in each Report so the SOC sees it behind NAT.

    Counters are totals since the agent's state directory was created (kept across restarts);
    `state_write_errors_total` counts failed writes under the state directory (a full disk).
    """

    spool_reports: int = 0
    spool_bytes: int = 0
    reports_dropped_total: int = 0
    spool_quarantined_total: int = 0
    reports_rejected_total: int = 0
    push_consecutive_failures: int = 0
    cycle_failures_total: int = 0
    state_write_errors_total: int = 0
    state_dir_writable: bool = True

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AgentHealth:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Report:
    """Everything one agent cycle found on one host."""

    report_id: str
    generated_at: str  # RFC 3339, UTC
    agent_version: str
    host: Mapping[str, Any]
    checks: tuple[CheckRun, ...]
    results: tuple[Finding, ...]
    score: Score
    schema_version: int = SCHEMA_VERSION
    agent_health: AgentHealth | None = None  # None: an agent that does not say (or `check`)
    # The version of the syndicate's policy the checks ran under (None: local config only).
    policy_version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        agent: dict[str, Any] = {"version": self.agent_version}
        if self.agent_health is not None:
            agent["health"] = self.agent_health.to_dict()
        return {
            "schema_version": self.schema_version,
            "report_id": self.report_id,
            "generated_at": self.generated_at,
            "agent": agent,
            "host": dict(self.host),
            "checks": [c.to_dict() for c in self.checks],
            "results": [f.to_dict() for f in self.results],
            "score": self.score.to_dict(),
            **({"policy_version": self.policy_version} if self.policy_version else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        health = (data.get("agent") or {}).get("health")
        return cls(
            report_id=str(data["report_id"]),
            generated_at=str(data["generated_at"]),
            agent_version=str((data.get("agent") or {}).get("version", "")),
            host=dict(data.get("host") or {}),
            checks=tuple(CheckRun.from_dict(c) for c in data.get("checks") or ()),
            results=tuple(Finding.from_dict(f) for f in data.get("results") or ()),
            score=Score.from_dict(data["score"]),
            schema_version=int(data.get("schema_version", SCHEMA_VERSION)),
            agent_health=AgentHealth.from_dict(health) if isinstance(health, Mapping) else None,
            policy_version=str(data["policy_version"]) if data.get("policy_version") else None,
        )


def worst_status(statuses: list[Status]) -> Status:
    """The status a check reports when it produced several findings."""
    if not statuses:
        return Status.SKIP
    return min(statuses, key=STATUS_ORDER.index)
