"""Decoding and validation of pushed Reports, with limits: bad input gets a precise 4xx.

msgspec decodes the JSON straight into typed structs and checks types, enumerations, patterns
and lengths in C; this runs on every push, so it must cost far less than the HTTP handling.
The structs follow `sentinelle.model.Report.to_dict()`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from sentinelle.checks.base import CHECK_ID
from sentinelle.model import SCHEMA_VERSION

REPORT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
NAME_PATTERN = r"^[a-z_][a-z0-9_]{0,99}$"
LABEL_PATTERN = r"^[a-z][a-z0-9_]{0,99}$"  # no leading "__": reserved by Prometheus
StatusName = Literal["pass", "warn", "fail", "error", "skip"]
SeverityName = Literal["critical", "high", "medium", "low", "info"]


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


class ReportInvalid(ValueError):
    """The Report breaks the schema or a limit; `field` is a JSON path such as
    `$.results[3].status`."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class Agent(Struct):
    version: Annotated[str, Meta(max_length=64)]


class CheckRunIn(Struct):
    check: Annotated[str, Meta(max_length=128)]  # pattern checked by _check_names
    status: StatusName
    duration_seconds: Annotated[float, Meta(ge=0)]


@lru_cache(maxsize=8)
def _report_type(limits: Limits) -> type[Struct]:
    """The Report struct for these limits (struct constraints are fixed at definition)."""
    label_value = Annotated[str, Meta(max_length=256)]
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
    )
    finding = msgspec.defstruct(
        "FindingIn",
        [
            ("check", Annotated[str, Meta(max_length=128)]),  # pattern: _check_names
            ("status", StatusName),
            ("severity", SeverityName),
            ("summary", Annotated[str, Meta(max_length=limits.max_summary)]),
            # Text for people, not used at ingest: kept as validated raw JSON (no Python
            # objects built: 7x faster), bounded by size and checked to be objects below.
            ("evidence", msgspec.Raw, msgspec.Raw(b"{}")),
            ("remediation", msgspec.Raw, msgspec.Raw(b"{}")),
            ("references", msgspec.Raw, msgspec.Raw(b"{}")),
            (
                "measurements",
                Annotated[
                    list[measurement],  # type: ignore[valid-type]
                    Meta(max_length=limits.max_measurements),
                ],
                [],
            ),
        ],
    )
    host_value = Annotated[str, Meta(max_length=256)] | int | float | bool | None
    return msgspec.defstruct(
        "ReportIn",
        [
            ("schema_version", Literal[SCHEMA_VERSION]),
            ("report_id", Annotated[str, Meta(pattern=REPORT_ID_PATTERN)]),
            ("generated_at", datetime),
            ("agent", Agent),
            (
                "host",
                Annotated[
                    dict[Annotated[str, Meta(max_length=64)], host_value], Meta(max_length=64)
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
            ("score", dict[str, Any]),
        ],
    )


@lru_cache(maxsize=8)
def _decoder(limits: Limits) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(_report_type(limits))


_AT = re.compile(r" - at `(\$[^`]*)`$")


# Check ids repeat from one Report to the next: a regex per field per push (msgspec calls back
# into Python for patterns) cost more than the rest of the decoding, so ids already seen valid
# are remembered. Bounded: a flood of distinct ids only costs regex matches again.
_VALID_IDS: set[str] = set()
_MAX_REMEMBERED = 10_000


def _valid_id(value: str) -> bool:
    if value in _VALID_IDS:
        return True
    if not CHECK_ID.match(value):
        return False
    if len(_VALID_IDS) < _MAX_REMEMBERED:
        _VALID_IDS.add(value)
    return True


def _check_names(report: Any) -> None:
    for i, run in enumerate(report.checks):
        if not _valid_id(run.check):
            raise ReportInvalid(f"$.checks[{i}].check", "Expected a check id like family.name")
    for i, finding in enumerate(report.results):
        if not _valid_id(finding.check):
            raise ReportInvalid(f"$.results[{i}].check", "Expected a check id like family.name")


def decode_report(body: bytes, limits: Limits) -> Any:
    """Decode and validate a Report; raise ReportInvalid naming the first bad field."""
    try:
        report = _decoder(limits).decode(body)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _AT.search(message)
        field = match.group(1) if match else "$"
        raise ReportInvalid(field, _AT.sub("", message)) from exc
    except msgspec.DecodeError as exc:
        raise ReportInvalid("$", f"invalid JSON: {exc}") from exc
    if report.generated_at.tzinfo is None:
        raise ReportInvalid("$.generated_at", "timestamp needs a time zone (use Z for UTC)")
    _check_names(report)
    for i, finding in enumerate(report.results):
        for name in ("evidence", "remediation", "references"):
            raw = bytes(getattr(finding, name))
            if raw[:1] != b"{":
                raise ReportInvalid(f"$.results[{i}].{name}", "Expected `object`")
            if len(raw) > limits.max_string * 4:
                raise ReportInvalid(
                    f"$.results[{i}].{name}", f"longer than {limits.max_string * 4} bytes"
                )
    return report
