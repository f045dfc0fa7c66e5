"""What the collector keeps: communes, enrollment tokens, agents, stored Reports, snapshots."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple

import msgspec

from sentinelle.model import Waiver


@dataclass(frozen=True)
class Commune:
    """A commune of the syndicate, keyed by its INSEE code."""

    code: str
    name: str
    departement: str
    population: int | None = None
    mayor_emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class EnrollmentToken:
    """A commune's enrollment secret (only its hash is stored), limited in time and uses."""

    token_id: str
    commune: str
    created_at: datetime
    expires_at: datetime | None
    uses_left: int | None  # None: unlimited
    revoked: bool = False


@dataclass(frozen=True)
class AgentRecord:
    """One enrolled agent: its commune and host label come from here, never from a push."""

    agent_id: str
    commune: str
    host: str
    key_hash: str
    enrolled_at: datetime
    revoked_at: datetime | None = None
    last_report_at: datetime | None = None


class CheckState(NamedTuple):
    """The latest status of one check on one host (a tuple: built 60 times per push)."""

    check: str
    status: str
    severity: str
    summary: str


@dataclass(frozen=True)
class IncomingReport:
    """A validated Report ready to be stored, with its registry-derived labels."""

    report_id: str
    agent_id: str
    commune: str
    host: str
    received_at: datetime
    generated_at: datetime
    score: float
    grade: str
    body: bytes  # the Report as gzip-compressed JSON
    # Per check, its worst finding as [status, severity, summary]: `checks_document`. JSON
    # text, not tuples: pushes waiting for their commit then hold no objects the garbage
    # collector must visit.
    checks_json: str = "{}"
    score_json: str = "{}"  # the collector's full Score (sentinelle.model.Score.to_dict())


@dataclass(frozen=True)
class LatestReport:
    """The newest Report of an agent, to rebuild the fleet view at start."""

    agent: AgentRecord
    received_at: datetime
    body: bytes  # gzip JSON
    generated_at: datetime
    score_json: str


@dataclass(frozen=True)
class DailySnapshot:
    """A commune's posture for one day, kept at least 13 months for the monthly report."""

    commune: str
    day: date
    score: float
    grade: str
    hosts: int
    reporting_hosts: int
    open_by_severity: Mapping[str, int] = field(default_factory=dict)


_ENCODE = msgspec.json.Encoder().encode


def checks_document(states: Iterable[tuple[str, str, str, str]]) -> str:
    """The stored form of a host's latest check states: `{check: [status, severity, summary]}`,
    from CheckStates or plain (check, status, severity, summary) tuples."""
    return _ENCODE({check: (status, severity, summary)
                    for check, status, severity, summary in states}).decode()


@dataclass(frozen=True)
class PolicyRecord:
    """The SOC's policy for one scope (`fleet`, `departement:01`, `commune:01001`,
    `host:<agent id>`): a JSON document `{"checks": {...}, "policies": [{name, content}]}`."""

    scope: str
    document: str
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True)
class WaiverRecord:
    """A waiver as the collector keeps it: the accepted risk, and who set and ended it when."""

    waiver: Waiver
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    revoked_by: str | None = None


@dataclass(frozen=True)
class PolicyChange:
    """One line of the policy's history: who changed what, when."""

    at: datetime
    who: str
    action: str  # policy_set, policy_cleared, waiver_added, waiver_revoked
    scope: str
    detail: str


@dataclass(frozen=True)
class SeenDevice:
    """A device of the commune's LAN as one Report saw it (lan.devices' inventory)."""

    mac: str
    ip: str
    vendor: str
    device_class: str
    name: str = ""


@dataclass(frozen=True)
class DeviceRecord:
    """A device of a commune's inventory: when it was seen, and whether it is approved.

    `missing_since`: the first Report of the agent that last saw it in which it was absent
    (None while it is seen). A device approved before it was ever seen has no times yet."""

    commune: str
    mac: str
    ip: str
    vendor: str
    device_class: str
    name: str
    first_seen: datetime | None
    last_seen: datetime | None
    last_agent: str
    missing_since: datetime | None
    label: str | None  # set when approved
    approved_by: str | None
    approved_at: datetime | None

    @property
    def approved(self) -> bool:
        return self.label is not None
