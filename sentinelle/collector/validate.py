"""Validation of pushed Reports, with limits: bad input gets a precise 4xx, never a 5xx."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sentinelle.checks.base import CHECK_ID
from sentinelle.model import SCHEMA_VERSION, Severity, Status

REPORT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
METRIC_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,99}$")
STATUSES = frozenset(s.value for s in Status)
SEVERITIES = frozenset(s.value for s in Severity)


@dataclass(frozen=True)
class Limits:
    """Bounds on what one push may contain."""

    max_body_bytes: int = 1 << 20  # compressed, as received
    max_decompressed_bytes: int = 8 << 20
    max_results: int = 2000
    max_checks: int = 500
    max_string: int = 4096
    max_summary: int = 2000
    max_evidence_depth: int = 8
    max_measurements: int = 500


class ReportInvalid(ValueError):
    """The Report breaks the schema or a limit; `field` is a JSON path such as results[3].status."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


def _str(value: Any, field: str, limit: int, required: bool = True) -> str:
    if not isinstance(value, str):
        if value is None and not required:
            return ""
        raise ReportInvalid(field, "expected a string")
    if len(value) > limit:
        raise ReportInvalid(field, f"longer than {limit} characters")
    return value


def _walk(value: Any, limits: Limits, depth: int) -> str | None:
    """The relative path of the first problem in a JSON value, or None (no paths built
    unless something is wrong: this runs on every finding of every push)."""
    if isinstance(value, str):
        return "" if len(value) > limits.max_string else None
    if isinstance(value, (int, float, bool)) or value is None:
        return None
    if depth >= limits.max_evidence_depth:
        return ""
    if isinstance(value, Mapping):
        for k, v in value.items():
            bad = _walk(v, limits, depth + 1)
            if bad is not None:
                return f".{k}{bad}"
        return None
    if isinstance(value, list):
        for i, v in enumerate(value):
            bad = _walk(v, limits, depth + 1)
            if bad is not None:
                return f"[{i}]{bad}"
        return None
    return ""


def _timestamp(value: Any, field: str) -> datetime:
    text = _str(value, field, 40)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ReportInvalid(field, "expected an RFC 3339 timestamp") from exc
    if parsed.tzinfo is None:
        raise ReportInvalid(field, "timestamp needs a time zone (use Z for UTC)")
    return parsed


def _finding_problem(f: Any, limits: Limits) -> tuple[str, str] | None:
    """(relative field, message) of the first problem of one finding, or None."""
    if not isinstance(f, Mapping):
        return "", "expected an object"
    check = f.get("check")
    if not isinstance(check, str) or not CHECK_ID.match(check):
        return ".check", "expected a check id like family.name"
    if f.get("status") not in STATUSES:
        return ".status", "expected " + "|".join(sorted(STATUSES))
    if f.get("severity") not in SEVERITIES:
        return ".severity", "expected " + "|".join(sorted(SEVERITIES))
    summary = f.get("summary")
    if not isinstance(summary, str):
        return ".summary", "expected a string"
    if len(summary) > limits.max_summary:
        return ".summary", f"longer than {limits.max_summary} characters"
    for key in ("evidence", "remediation", "references"):
        value = f.get(key, {})
        if not isinstance(value, Mapping):
            return f".{key}", "expected an object"
        bad = _walk(value, limits, 1)
        if bad is not None:
            return f".{key}{bad}", (
                f"too deep (over {limits.max_evidence_depth} levels), too "
                f"long (over {limits.max_string} characters) or not JSON"
            )
    ms = f.get("measurements", [])
    if not isinstance(ms, list):
        return ".measurements", "expected a list"
    for j, m in enumerate(ms):
        if (
            not isinstance(m, Mapping)
            or not isinstance(m.get("name"), str)
            or not METRIC_NAME.match(m["name"])
        ):
            return f".measurements[{j}]", "expected {name: snake_case, value, labels}"
        value = m.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f".measurements[{j}].value", "expected a number"
        labels = m.get("labels", {})
        if not isinstance(labels, Mapping) or len(labels) > 16:
            return f".measurements[{j}].labels", "expected at most 16 labels"
        for k, v in labels.items():
            if not isinstance(k, str) or not METRIC_NAME.match(k) or k.startswith("__"):
                return f".measurements[{j}].labels", f"invalid label name {str(k)[:40]!r}"
            if not isinstance(v, str) or len(v) > 256:
                return f".measurements[{j}].labels.{k}", "expected a string of 256 characters"
    return None


def validate_report(data: Any, limits: Limits) -> datetime:
    """Raise ReportInvalid on the first problem; return the Report's generation time."""
    if not isinstance(data, Mapping):
        raise ReportInvalid("$", "expected a JSON object (a Report)")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ReportInvalid("schema_version", f"expected {SCHEMA_VERSION}")
    report_id = data.get("report_id")
    if not isinstance(report_id, str) or not REPORT_ID.match(report_id):
        raise ReportInvalid("report_id", "1-64 characters among letters, digits and . _ : -")
    generated = _timestamp(data.get("generated_at"), "generated_at")
    agent = data.get("agent")
    if not isinstance(agent, Mapping):
        raise ReportInvalid("agent", "expected an object with a version")
    _str(agent.get("version"), "agent.version", 64)
    host = data.get("host")
    if not isinstance(host, Mapping):
        raise ReportInvalid("host", "expected an object of host facts")
    for key, value in host.items():
        _str(key, "host", 64)
        if not isinstance(value, (str, int, float, bool)) and value is not None:
            raise ReportInvalid(f"host.{key}", "expected a scalar")
        if isinstance(value, str) and len(value) > 256:
            raise ReportInvalid(f"host.{key}", "longer than 256 characters")
    checks = data.get("checks")
    if not isinstance(checks, list):
        raise ReportInvalid("checks", "expected a list")
    if len(checks) > limits.max_checks:
        raise ReportInvalid("checks", f"more than {limits.max_checks} entries")
    for i, run in enumerate(checks):
        where = f"checks[{i}]"
        if not isinstance(run, Mapping):
            raise ReportInvalid(where, "expected an object")
        if not isinstance(run.get("check"), str) or not CHECK_ID.match(run["check"]):
            raise ReportInvalid(f"{where}.check", "expected a check id like family.name")
        if run.get("status") not in STATUSES:
            raise ReportInvalid(f"{where}.status", "expected " + "|".join(sorted(STATUSES)))
        duration = run.get("duration_seconds")
        if isinstance(duration, bool) or not isinstance(duration, (int, float)) or duration < 0:
            raise ReportInvalid(f"{where}.duration_seconds", "expected a number >= 0")
    results = data.get("results")
    if not isinstance(results, list):
        raise ReportInvalid("results", "expected a list")
    if len(results) > limits.max_results:
        raise ReportInvalid("results", f"more than {limits.max_results} findings")
    measurements = 0
    for i, f in enumerate(results):
        problem = _finding_problem(f, limits)
        if problem is not None:
            raise ReportInvalid(f"results[{i}]{problem[0]}", problem[1])
        measurements += len(f.get("measurements") or ())
        if measurements > limits.max_measurements:
            raise ReportInvalid(
                f"results[{i}].measurements", f"more than {limits.max_measurements} in the Report"
            )
    score = data.get("score")
    if not isinstance(score, Mapping):
        raise ReportInvalid("score", "expected an object")
    return generated
