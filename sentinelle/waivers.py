"""Accepted risks: waivers applied to a cycle's findings.

A waiver names a check (and optionally one finding key of it: a service, a backup location),
a scope, a reason, who accepted it and the last day it holds. While it holds, the open
findings it covers stay in the Report, marked with it, and leave the score. The day after it
ends, the findings count again and each of them gains a companion finding `waiver.expired`
(the same check, open, so the SOC sees why the risk came back): an expired waiver is itself a
finding.

Waivers are set at the collector (`sentinelle collector waiver add`), recorded with who and
when, and served to each agent with its policy; the agent applies those of its scope.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from sentinelle.errors import Expected, problem
from sentinelle.model import Finding, Status, Waiver

MAX_WAIVER_DAYS = 366  # "at most a year": a leap year's worth
SCOPE_PATTERN = re.compile(
    r"^(fleet|departement:[0-9AB]{2,3}|commune:[0-9AB]{5}|host:[A-Za-z0-9_.:-]{1,64})\Z"
)
EXPIRED_MESSAGE = "waiver.expired"


def expiry_date(text: str) -> date:
    """A waiver's `expires` as a date (raises ValueError when it is not YYYY-MM-DD)."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ValueError(text)
    return date.fromisoformat(text)


def holds(waiver: Waiver, today: date) -> bool:
    """Whether the waiver still holds on `today` (its expiry day included)."""
    return today <= expiry_date(waiver.expires)


def covers(waiver: Waiver, finding: Finding) -> bool:
    """Whether the waiver is about this finding: the same check, the same key when it names
    one, and a finding that asks somebody to act (a pass or a skip has nothing to accept)."""
    return (
        finding.check == waiver.check
        and finding.status.is_open
        and (waiver.key is None or waiver.key == finding.key)
    )


def applies_to(scope: str, agent_id: str, commune: str, departement: str) -> bool:
    """Whether a waiver or a policy of `scope` reaches this agent."""
    kind, _, value = scope.partition(":")
    return (
        kind == "fleet"
        or (kind == "departement" and value == departement)
        or (kind == "commune" and value == commune)
        or (kind == "host" and value == agent_id)
    )


def check_expiry(expires: date, today: date) -> Expected | None:
    """Why an expiry date cannot be set today (a config problem of the catalog), or None."""
    if expires < today:
        return problem("waiver_in_the_past")
    if expires > today + timedelta(days=MAX_WAIVER_DAYS):
        return problem("waiver_too_long")
    return None


def apply_waivers(
    findings: Sequence[Finding], waivers: Iterable[Waiver], now: datetime
) -> list[Finding]:
    """The findings with the waivers of this cycle applied: covered open findings marked while
    their waiver holds; past its last day, left to count and followed by a `waiver.expired`
    finding each."""
    today = now.date()
    ordered = sorted(waivers, key=lambda w: (w.key is None, w.expires, w.id))  # keyed first
    out: list[Finding] = []
    for finding in findings:
        waiver = next((w for w in ordered if covers(w, finding)), None)
        if waiver is None:
            out.append(finding)
        elif holds(waiver, today):
            out.append(dataclasses.replace(finding, waiver=waiver))
        else:
            out.append(finding)
            out.append(expired_finding(finding, waiver))
    return out


def expired_finding(finding: Finding, waiver: Waiver) -> Finding:
    """The finding that says a waiver ended while the risk it accepted is still there."""
    return Finding(
        check=finding.check,
        status=Status.WARN,
        severity=finding.severity,
        evidence={
            "waiver": waiver.id,
            "expired": waiver.expires,
            "accepted_by": waiver.accepted_by,
            "reason": waiver.reason,
            **({"key": waiver.key} if waiver.key is not None else {}),
        },
        references=finding.references,
        message=EXPIRED_MESSAGE,
        args={"until": waiver.expires, "accepted_by": waiver.accepted_by,
              "reason": waiver.reason},
        key=finding.key,
    )
