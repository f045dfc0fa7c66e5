"""Decoding and validation of pushed Reports: one strict schema, a canonical form, precise 4xx.

Every field anything downstream reads (the fleet exposition, the dashboards, the monthly
report) is decoded into a typed struct: types, enumerations, patterns, lengths, the depth of
evidence, dates within their valid range, unique check ids and series, strings valid UTF-8.
What is accepted is re-encoded from the structs (`canonical_json`) and that form is stored, not
the bytes received: unknown fields, duplicate keys and odd spellings (a lowercase `t` in a date)
never reach a consumer. msgspec does the work in C; it runs on every push.

The structs follow `sentinelle.model.Report.to_dict()`; the OpenAPI document is derived from
them (`report_json_schema`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from sentinelle.checks.base import CHECK_ID
from sentinelle.metrics import MEASUREMENTS
from sentinelle.model import (
    SCHEMA_VERSIONS,
    AgentHealth,
    CheckRun,
    Finding,
    Measurement,
    Report,
    Score,
    Severity,
    Status,
    Waiver,
)

# \Z, not $: `$` also matches before a trailing newline ("mairie\n").
REPORT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}\Z"
NAME_PATTERN = r"^[a-z_][a-z0-9_]{0,99}\Z"
MESSAGE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+){1,5}\Z"  # a catalog id: family.check.case
LABEL_PATTERN = r"^[a-z][a-z0-9_]{0,99}\Z"  # no leading "__": reserved by Prometheus
StatusName = Literal["pass", "warn", "fail", "error", "skip"]
SeverityName = Literal["critical", "high", "medium", "low", "info"]
GradeName = Literal["A", "B", "C", "D", "E"]
# Before this no Sentinelle agent existed: an earlier date is a broken clock or a forgery.
EARLIEST_GENERATED_AT = datetime(2020, 1, 1, tzinfo=UTC)
COUNT = Annotated[int, Meta(ge=0, le=2**53)]


@dataclass(frozen=True)
class Limits:
    """Bounds on what one push may contain."""

    max_body_bytes: int = 1 << 20  # compressed, as received
    max_decompressed_bytes: int = 8 << 20
    max_results: int = 2000
    max_checks: int = 500
    max_string: int = 4096
    max_summary: int = 2000
    max_measurements: int = 64  # per finding
    max_series: int = 5000  # measurements of one Report, all findings together
    max_evidence_depth: int = 6  # nested arrays/objects below a finding's evidence
    max_evidence_items: int = 1000  # entries of one array or object in evidence
    max_clock_ahead_seconds: int = 86_400  # how far in the future generated_at may be


class ReportInvalid(ValueError):
    """The Report breaks the schema or a limit; `field` is a JSON path such as
    `$.results[3].status`."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class AgentHealthIn(Struct, kw_only=True, gc=False):
    """The agent's own state (`sentinelle.model.AgentHealth`)."""

    spool_reports: COUNT = 0
    spool_bytes: COUNT = 0
    reports_dropped_total: COUNT = 0
    spool_quarantined_total: COUNT = 0
    reports_rejected_total: COUNT = 0
    push_consecutive_failures: COUNT = 0
    cycle_failures_total: COUNT = 0
    state_write_errors_total: COUNT = 0
    state_dir_writable: bool = True


class AgentIn(Struct, kw_only=True, omit_defaults=True, gc=False):
    """Who sent the Report."""

    version: Annotated[str, Meta(max_length=64)]
    health: AgentHealthIn | None = None


class CheckRunIn(Struct, gc=False):
    """How one check ran."""

    check: Annotated[str, Meta(max_length=128)]  # pattern checked by _check_names
    status: StatusName
    duration_seconds: Annotated[float, Meta(ge=0, le=86_400)]


class WaiverIn(Struct, kw_only=True, omit_defaults=True, gc=False):
    """The accepted risk that covers a finding (`sentinelle.model.Waiver`)."""

    id: Annotated[str, Meta(max_length=64)]
    check: Annotated[str, Meta(max_length=128)]
    scope: Annotated[str, Meta(max_length=128)]
    reason: Annotated[str, Meta(max_length=2000)]
    accepted_by: Annotated[str, Meta(max_length=200)]
    expires: Annotated[str, Meta(pattern=r"^\d{4}-\d{2}-\d{2}\Z")]
    key: Annotated[str, Meta(max_length=256)] | None = None


class ScoreIn(Struct, gc=False):
    """The agent's own score (the collector computes its own; this one is kept as sent)."""

    value: Annotated[float, Meta(ge=0, le=100)]
    grade: GradeName
    capped_by: Annotated[str, Meta(max_length=500)] | None = None
    open_by_severity: dict[SeverityName, COUNT] = {}


def _evidence_type(limits: Limits) -> Any:
    """JSON values nested at most `max_evidence_depth` deep, each container bounded: the depth
    is part of the type, so msgspec enforces it in C and never recurses on hostile nesting."""
    leaf: Any = Annotated[str, Meta(max_length=limits.max_string)] | int | float | bool | None
    key = Annotated[str, Meta(max_length=128)]
    bound = Meta(max_length=limits.max_evidence_items)
    value: Any = leaf
    for _ in range(limits.max_evidence_depth):
        value = leaf | Annotated[list[value], bound] | Annotated[dict[key, value], bound]
    return Annotated[dict[key, value], bound]


@lru_cache(maxsize=8)
def report_type(limits: Limits) -> type[Struct]:
    """The Report struct for these limits (struct constraints are fixed at definition)."""
    label_value = Annotated[str, Meta(max_length=256)]
    arg_text = Annotated[str, Meta(max_length=limits.max_summary)]
    arg_scalar: Any = arg_text | int | float | bool | None
    arg_value: Any = arg_scalar | Annotated[list[arg_scalar], Meta(max_length=64)]
    # gc=False: decoded data holds no reference cycles, and untracked structs spare the
    # garbage collector thousands of objects per push.
    measurement = msgspec.defstruct(
        "MeasurementIn",
        [
            ("name", Annotated[str, Meta(pattern=NAME_PATTERN)]),
            ("value", float),
            (
                "labels",
                Annotated[
                    dict[Annotated[str, Meta(pattern=LABEL_PATTERN)], label_value],
                    Meta(max_length=16),
                ],
                {},
            ),
        ],
        gc=False,
    )
    finding = msgspec.defstruct(
        "FindingIn",
        [
            ("check", Annotated[str, Meta(max_length=128)]),  # pattern: _check_names
            ("status", StatusName),
            ("severity", SeverityName),
            ("summary", Annotated[str, Meta(max_length=limits.max_summary)], ""),
            ("evidence", _evidence_type(limits), {}),
            (
                "remediation",
                Annotated[
                    dict[
                        # Lengths, not patterns, where nothing downstream needs more: msgspec
                        # checks lengths in C but calls back into Python for each pattern.
                        Annotated[str, Meta(min_length=2, max_length=8)],  # a language code
                        Annotated[str, Meta(max_length=limits.max_string)],
                    ],
                    Meta(max_length=8),
                ],
                {},
            ),
            (
                "references",
                Annotated[
                    dict[
                        Annotated[str, Meta(min_length=1, max_length=32)],  # a framework
                        Annotated[
                            list[Annotated[str, Meta(max_length=64)] | int], Meta(max_length=64)
                        ],
                    ],
                    Meta(max_length=16),
                ],
                {},
            ),
            (
                "measurements",
                Annotated[
                    list[measurement],  # type: ignore[valid-type]
                    Meta(max_length=limits.max_measurements),
                ],
                [],
            ),
            # Schema 2: the sentence as a catalog id and its typed arguments.
            ("message", Annotated[str, Meta(pattern=MESSAGE_PATTERN)] | None, None),
            ("key", Annotated[str, Meta(max_length=256)] | None, None),
            ("waiver", WaiverIn | None, None),
            (
                "args",
                Annotated[
                    dict[Annotated[str, Meta(min_length=1, max_length=64)], arg_value],
                    Meta(max_length=32),
                ],
                {},
            ),
        ],
        gc=False,
        omit_defaults=True,
    )
    host_value = Annotated[str, Meta(max_length=256)] | int | float | bool | None
    return msgspec.defstruct(
        "ReportIn",
        [
            ("schema_version", Literal[SCHEMA_VERSIONS]),
            ("report_id", Annotated[str, Meta(pattern=REPORT_ID_PATTERN)]),
            ("generated_at", datetime),
            ("agent", AgentIn),
            (
                "host",
                Annotated[
                    dict[Annotated[str, Meta(min_length=1, max_length=64)], host_value],
                    Meta(max_length=64),
                ],
            ),
            ("checks", Annotated[list[CheckRunIn], Meta(max_length=limits.max_checks)]),
            (
                "results",
                Annotated[
                    list[finding],  # type: ignore[valid-type]
                    Meta(max_length=limits.max_results),
                ],
            ),
            ("score", ScoreIn),
            ("policy_version", Annotated[str, Meta(max_length=64)] | None, None),
        ],
        gc=False,
        omit_defaults=True,
    )


@lru_cache(maxsize=8)
def _decoder(limits: Limits) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(report_type(limits))


def prepare(limits: Limits) -> None:
    """Build the decoder for these limits now: it takes milliseconds, which the first push of
    each worker would otherwise wait for."""
    _decoder(limits)


_ENCODER = msgspec.json.Encoder()
_AT = re.compile(r" - at `(\$[^`]*)`\Z")


# Check ids repeat from one Report to the next: a regex per field per push (msgspec calls back
# into Python for patterns) cost more than the rest of the decoding, so ids already seen valid
# are remembered. Bounded: a flood of distinct ids only costs regex matches again.
_VALID_IDS: set[str] = set()
_MAX_REMEMBERED = 10_000


def _valid_id(value: str) -> bool:
    if value in _VALID_IDS:
        return True
    if not CHECK_ID.match(value) or value.endswith("\n"):
        return False
    if len(_VALID_IDS) < _MAX_REMEMBERED:
        _VALID_IDS.add(value)
    return True


def _check_names(report: Any) -> None:
    runs = [run.check for run in report.checks]
    findings = {finding.check for finding in report.results}
    # Set operations first (in C): only names not seen valid before are looked at one by one.
    unseen = (set(runs) | findings) - _VALID_IDS
    if len(set(runs)) != len(runs) or any(not _valid_id(name) for name in unseen):
        seen: dict[str, int] = {}
        for i, name in enumerate(runs):
            if not _valid_id(name):
                raise ReportInvalid(f"$.checks[{i}].check", "Expected a check id like family.name")
            first = seen.setdefault(name, i)
            if first != i:
                raise ReportInvalid(
                    f"$.checks[{i}].check", f"check {name} already listed at $.checks[{first}]"
                )
        for i, finding in enumerate(report.results):
            if not _valid_id(finding.check):
                raise ReportInvalid(
                    f"$.results[{i}].check", "Expected a check id like family.name"
                )


def _check_texts(report: Any) -> None:
    """Every finding says something a person can read: a message (schema 2) or a summary."""
    for i, finding in enumerate(report.results):
        if finding.message is None and not finding.summary:
            raise ReportInvalid(f"$.results[{i}]", "a finding needs a message or a summary")
        if finding.message is not None and report.schema_version < 2:
            raise ReportInvalid(f"$.results[{i}].message", "messages need schema_version 2")


def _series_key(measurement: Any) -> tuple[str, tuple[str, ...]]:
    """The series a measurement becomes: known names keep only their documented labels (as
    `sentinelle.metrics` renders them), so two that differ in an ignored label still collide."""
    spec = MEASUREMENTS.get(measurement.name)
    labels = measurement.labels
    if spec is None:
        return measurement.name, tuple(f"{k}={v}" for k, v in sorted(labels.items()))
    return measurement.name, tuple(labels.get(k, "") for k in spec.labels)


def _check_series(report: Any, limits: Limits) -> None:
    seen: dict[tuple[str, tuple[str, ...]], str] = {}
    total = 0
    for i, finding in enumerate(report.results):
        for j, m in enumerate(finding.measurements):
            total += 1
            where = f"$.results[{i}].measurements[{j}]"
            if total > limits.max_series:
                raise ReportInvalid(where, f"more than {limits.max_series} series in one Report")
            first = seen.setdefault(_series_key(m), where)
            if first != where:
                raise ReportInvalid(where, f"the same series as {first}")


def _check_dates(report: Any, now: datetime, limits: Limits) -> None:
    generated = report.generated_at
    if generated.tzinfo is None:
        raise ReportInvalid("$.generated_at", "timestamp needs a time zone (use Z for UTC)")
    latest = now + timedelta(seconds=limits.max_clock_ahead_seconds)
    try:
        in_range = EARLIEST_GENERATED_AT <= generated <= latest
        utc = generated.astimezone(UTC)
    except OverflowError:
        in_range = False
    if not in_range:
        raise ReportInvalid(
            "$.generated_at",
            f"expected a time between {EARLIEST_GENERATED_AT:%Y-%m-%d} and "
            f"{limits.max_clock_ahead_seconds // 3600} h after the collector's clock",
        )
    report.generated_at = utc


def decode_report(body: bytes, limits: Limits, now: datetime | None = None) -> Any:
    """Decode and validate a Report; raise ReportInvalid naming the first bad field.

    `now` is the collector's clock, which bounds `generated_at`; the date is normalised to UTC.
    """
    try:
        report = _decoder(limits).decode(body)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _AT.search(message)
        field = match.group(1) if match else "$"
        raise ReportInvalid(field, _AT.sub("", message)) from exc
    except msgspec.DecodeError as exc:
        raise ReportInvalid("$", f"invalid JSON: {exc}") from exc
    except RecursionError as exc:  # nesting in a field the schema skips (an unknown key)
        raise ReportInvalid("$", "invalid JSON: nested too deeply") from exc
    _check_dates(report, now or datetime.now(UTC), limits)
    _check_names(report)
    _check_texts(report)
    _check_series(report, limits)
    return report


def canonical_json(report: Any) -> bytes:
    """The accepted Report re-encoded from its structs: what the collector stores."""
    return _ENCODER.encode(report)


_STATUS: dict[str, Status] = {s.value: s for s in Status}
_SEVERITY: dict[str, Severity] = {s.value: s for s in Severity}


def to_report(report: Any) -> Report:
    """The model's Report from a decoded one, built straight from the structs (the fleet
    renders every stored Report this way; going through plain dicts took twice as long)."""
    health = report.agent.health
    return Report(
        report_id=report.report_id,
        generated_at=report.generated_at.isoformat().replace("+00:00", "Z"),
        agent_version=report.agent.version,
        host=report.host,
        checks=tuple(
            CheckRun(c.check, _STATUS[c.status], c.duration_seconds) for c in report.checks
        ),
        results=tuple(
            Finding(
                f.check,
                _STATUS[f.status],
                _SEVERITY[f.severity],
                f.summary,
                f.evidence,
                f.remediation,
                f.references,
                tuple(Measurement(m.name, m.value, m.labels) for m in f.measurements),
                f.message,
                f.args,
                f.key,
                None if f.waiver is None else Waiver(
                    f.waiver.id, f.waiver.check, f.waiver.scope, f.waiver.reason,
                    f.waiver.accepted_by, f.waiver.expires, f.waiver.key,
                ),
            )
            for f in report.results
        ),
        score=Score(
            report.score.value,
            report.score.grade,
            report.score.capped_by,
            report.score.open_by_severity,
        ),
        schema_version=report.schema_version,
        agent_health=None if health is None else AgentHealth(
            **{name: getattr(health, name) for name in health.__struct_fields__}
        ),
        policy_version=report.policy_version,
    )


def report_json_schema(limits: Limits) -> dict[str, Any]:
    """JSON Schema of the Report, derived from the structs (for the OpenAPI document)."""
    (schema,), components = msgspec.json.schema_components(
        [report_type(limits)], ref_template="#/components/schemas/{name}"
    )
    # The depth-bounded evidence type spells out every level: say it in one line instead.
    finding = components.get("FindingIn", {})
    if "evidence" in finding.get("properties", {}):
        finding["properties"]["evidence"] = {
            "type": "object",
            "description": (
                f"Any JSON object, nested at most {limits.max_evidence_depth} levels, "
                f"{limits.max_evidence_items} entries per array or object, strings of at most "
                f"{limits.max_string} characters."
            ),
        }
    return {"schema": schema, "components": components}
