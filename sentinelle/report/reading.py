"""Typed reading of stored Reports: any JSON shape in, a typed fact or "unknown" (None) out.

Stored Reports come from agents, which may be old versions or hostile, and a Report stored by
an older collector stays in the database whatever today's collector accepts. So the monthly
report never indexes a decoded body itself: it reads through these accessors, which never
raise. A value of the wrong type, a missing key, a null, a NaN or infinite number, a boolean
where a number is expected, a date that is not ISO 8601 or that no time zone can convert: each
reads as None (or an empty mapping or sequence), and the question it served is answered
"unknown" by the caller.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sentinelle.collector import gzipped

# Twice the collector's decompressed-body limit (validate.py, 8 MiB) leaves room for a limit
# raised later, while a stored gzip bomb (accepted by older collectors) stops here instead of
# inflating hundreds of megabytes at every month's report.
MAX_INFLATED_BYTES = 16 << 20
# Dates a datetime can move to any time zone (year 1 and year 9999 overflow near the edges);
# anything outside is no date at all.
EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
LATEST = datetime(9998, 12, 30, tzinfo=UTC)

_EMPTY: Mapping[str, object] = {}


def inflate(body: bytes, limit: int = MAX_INFLATED_BYTES) -> bytes | None:
    """The gzip `body` inflated (every member), or None when it is not gzip, is truncated or
    would inflate beyond `limit` bytes (which stops after inflating at most `limit` + 1)."""
    out = bytearray()
    data = body
    try:
        while data:
            inflater = gzipped.inflater()
            out += inflater.decompress(data, limit + 1 - len(out))
            if len(out) > limit or inflater.unconsumed_tail:
                return None
            if not inflater.eof:
                return None
            data = inflater.unused_data
            if not data.strip(b"\0"):
                break  # zero padding after the last member, as gzip.decompress allows
    except gzipped.ERRORS:
        return None
    return bytes(out)


def decode_body(body: bytes) -> dict[str, object]:
    """A stored Report (gzip JSON) as a mapping; {} when it cannot be read (not gzip, too large
    once inflated, not UTF-8, not JSON, nested deeper than the parser goes, or not an object)."""
    raw = inflate(body)
    if raw is None:
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def mapping(value: object) -> Mapping[str, object]:
    """`value` if it is a JSON object, else an empty mapping."""
    return value if isinstance(value, dict) else _EMPTY


def items(value: object) -> Sequence[object]:
    """`value` if it is a JSON array, else an empty sequence."""
    return value if isinstance(value, list) else ()


def text(value: object) -> str | None:
    """`value` if it is a string."""
    return value if isinstance(value, str) else None


def number(value: object) -> float | None:
    """`value` as a finite float if it is a JSON number (not a boolean, NaN or infinity, and not
    an integer too large for a float)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        result = float(value)
    except OverflowError:
        return None
    return result if math.isfinite(result) else None


def count(value: object) -> int | None:
    """`value` as a count: a whole, non-negative JSON number (5 or 5.0, not "5" or true)."""
    result = number(value)
    if result is None or result < 0 or not result.is_integer():
        return None
    return int(result)


def moment(value: object) -> datetime | None:
    """`value` as an aware datetime if it is an ISO 8601 string within [EARLIEST, LATEST]
    (without an offset it is taken as UTC, as the agents write them)."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        in_range = EARLIEST <= parsed <= LATEST
    except OverflowError:  # an offset that pushes it past year 1 or 9999
        return None
    return parsed if in_range else None


def aware(value: object) -> datetime | None:
    """`value` if it is an aware datetime that every time zone can show (for datetimes the
    store parsed, which older collectors stored without bounds)."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        return None
    try:
        return value if EARLIEST <= value <= LATEST else None
    except OverflowError:
        return None


@dataclass(frozen=True, slots=True)
class FindingFacts:
    """What the report reads of one finding: the ids as text ("" when they are not text), the
    evidence as a mapping (empty when it is not an object)."""

    check: str
    status: str
    severity: str
    evidence: Mapping[str, object]


def findings(report: Mapping[str, object]) -> list[FindingFacts]:
    """The Report's findings that name a check; anything else in `results` is left out."""
    out = []
    for raw in items(report.get("results")):
        finding = mapping(raw)
        check = text(finding.get("check"))
        if not check:
            continue
        out.append(
            FindingFacts(
                check,
                text(finding.get("status")) or "",
                text(finding.get("severity")) or "",
                mapping(finding.get("evidence")),
            )
        )
    return out


def finding_ids(report: Mapping[str, object]) -> Iterator[tuple[str, str, str]]:
    """(check, status, severity) of the findings that name a check, as `findings` reads them:
    the lean loop for reading dozens of Reports per host, where the evidence is not needed."""
    results = report.get("results")
    if not isinstance(results, list):
        return
    for finding in results:
        if not isinstance(finding, dict) or finding.get("waiver"):
            continue  # an accepted risk is not an open finding while its waiver holds
        check = finding.get("check")
        if not isinstance(check, str) or not check:
            continue
        status, severity = finding.get("status"), finding.get("severity")
        yield (
            check,
            status if isinstance(status, str) else "",
            severity if isinstance(severity, str) else "",
        )


@dataclass(frozen=True)
class AcceptedFacts:
    """A finding an accepted risk (waiver) covers: its check, severity and last day."""

    check: str
    severity: str
    until: date


def accepted(report: Mapping[str, object]) -> list[AcceptedFacts]:
    """The Report's waived findings whose waiver reads (a check and a YYYY-MM-DD end)."""
    out = []
    for raw in items(report.get("results")):
        finding = mapping(raw)
        waiver = mapping(finding.get("waiver"))
        check, until = text(finding.get("check")), text(waiver.get("expires"))
        if not check or not until:
            continue
        try:
            day = date.fromisoformat(until)
        except ValueError:
            continue
        out.append(AcceptedFacts(check, text(finding.get("severity")) or "", day))
    return out
