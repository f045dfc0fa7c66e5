"""The typed accessors every stored Report is read through: any JSON in, a fact or None out."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone

import pytest

from sentinelle.report.content import host_backup
from sentinelle.report.reading import (
    count,
    decode_body,
    finding_ids,
    findings,
    inflate,
    items,
    mapping,
    moment,
    number,
    text,
)

WEIRD: list[object] = [None, True, False, 0, -1, 1.5, float("nan"), float("inf"), "", "x",
                       [], [1], {}, {"a": 1}, 10**400]


def test_accessors_answer_the_expected_type_or_nothing() -> None:
    for value in WEIRD:
        assert mapping(value) == (value if isinstance(value, dict) else {})
        assert text(value) is None or isinstance(value, str)
        assert number(value) is None or isinstance(value, int | float)
        assert items(value) == (value if isinstance(value, list) else ())
    assert mapping({"a": 1}) == {"a": 1} and mapping([("a", 1)]) == {}
    assert text("Oui") == "Oui" and text(5) is None
    assert (number(3), number(2.5), number(True), number("3")) == (3.0, 2.5, None, None)
    assert number(float("nan")) is None and number(float("-inf")) is None
    assert number(10**400) is None  # beyond a float: no number at all
    assert (count(0), count(5), count(5.0)) == (0, 5, 5)
    assert (count(-1), count(0.5), count("0"), count(False), count(None)) == (None,) * 5


def test_moment_reads_iso_dates_within_what_every_time_zone_can_show() -> None:
    assert moment("2026-03-31T04:00:00+00:00") == datetime(2026, 3, 31, 4, tzinfo=UTC)
    assert moment("2026-03-31T04:00:00Z") == datetime(2026, 3, 31, 4, tzinfo=UTC)
    assert moment("2026-03-31T04:00:00") == datetime(2026, 3, 31, 4, tzinfo=UTC)
    offset = moment("2026-03-31T06:00:00+02:00")
    assert offset is not None and offset.utcoffset() == timedelta(hours=2)
    for bad in ("NaN", "", "31/03/2026", "2026-13-01T00:00:00", "9999-12-31T23:59:59-23:59",
                "0001-01-01T00:00:00+14:00", "1900-01-01T00:00:00+00:00", 1e999, None,
                ["2026-03-31T04:00:00+00:00"], "2026-03-31T04:00:00+00:00" + " " * 100):
        assert moment(bad) is None, bad
    # Whatever it returns can be moved to any zone without overflowing.
    edge = moment("9998-12-28T23:00:00-12:00")
    assert edge is not None and edge.astimezone(timezone(timedelta(hours=14))).year == 9998


def test_decode_body_reads_only_a_bounded_gzip_json_object() -> None:
    good = {"results": [{"check": "a.b", "status": "pass"}]}
    assert decode_body(gzip.compress(json.dumps(good).encode())) == good
    # Two gzip members are one stream, as gzip.decompress reads them.
    half = json.dumps(good).encode()
    assert decode_body(gzip.compress(half[:10]) + gzip.compress(half[10:])) == good
    for bad in (b"", b"not gzip", gzip.compress(b"[1, 2]"), gzip.compress(b"\xff\xfe"),
                gzip.compress(b"{" + b"9" * 5000 + b"}"),
                gzip.compress(b"[" * 100_000 + b"]" * 100_000),
                gzip.compress(json.dumps(good).encode())[:-5]):
        assert decode_body(bad) == {}
    # A bomb stops at the limit: no more than the limit is ever inflated.
    bomb = gzip.compress(b"{}") + gzip.compress(b"\0" * (4 << 20))
    assert inflate(bomb, limit=1 << 20) is None
    assert inflate(bomb, limit=8 << 20) is not None
    assert inflate(b"\x1f\x8b" + b"\0" * 20) is None
    assert inflate(zlib.compress(b"{}")) is None  # zlib, not gzip


def test_findings_keep_only_those_that_name_a_check() -> None:
    report = {"results": [
        {"check": "backups.freshness", "status": "pass", "severity": "high",
         "evidence": {"locations": 1}},
        {"check": "backups.offline_copy", "status": {"pass": True}, "evidence": [1]},
        {"check": ["backups.freshness"]}, {"status": "fail"}, "backups.freshness", None, 7,
    ]}
    facts = findings(report)
    assert [(f.check, f.status, f.severity) for f in facts] == [
        ("backups.freshness", "pass", "high"), ("backups.offline_copy", "", ""),
    ]
    assert facts[0].evidence == {"locations": 1} and facts[1].evidence == {}
    assert findings({"results": {"check": "a.b"}}) == [] and findings({}) == []
    # The lean loop reads them the same way.
    assert list(finding_ids(report)) == [(f.check, f.status, f.severity) for f in facts]
    assert list(finding_ids({"results": "x"})) == []


GENERATED = "2026-03-31T08:00:00+00:00"


def _report(*results: Mapping[str, object]) -> dict[str, object]:
    return {"generated_at": GENERATED, "results": list(results)}


FRESH: dict[str, object] = {"check": "backups.freshness", "status": "pass",
         "evidence": {"backups": 3, "newest": {"time": "2026-03-31T02:00:00+00:00"}}}
OLD: dict[str, object] = {"check": "backups.freshness", "status": "fail",
       "evidence": {"backups": 3, "newest": {"time": "2026-03-01T02:00:00+00:00"}}}
RESTORED: dict[str, object] = {"check": "backups.restore_test", "status": "pass",
            "evidence": {"last_test": "2026-02-03T10:00:00+00:00"}}
OFFLINE: dict[str, object] = {"check": "backups.offline_copy", "status": "pass", "evidence": {}}


def test_backup_answers_from_evidence_it_can_read() -> None:
    assert host_backup(_report(FRESH, RESTORED, OFFLINE))[:2] == ("yes", "ok")
    assert host_backup(_report(OLD, RESTORED))[:2] == ("no", "stale")
    empty = {"check": "backups.freshness", "status": "fail", "evidence": {"backups": 0}}
    assert host_backup(_report(empty, RESTORED))[:2] == ("no", "stale")
    none = {"check": "backups.freshness", "status": "fail", "evidence": {"locations": 0}}
    assert host_backup(_report(none))[:2] == ("no", "no_backup")
    assert host_backup(_report({"check": "patching.x", "status": "pass"}))[:2] == (
        "unknown", "not_checked")
    assert host_backup({"results": "none"})[:2] == ("unknown", "no_data")
    # A location the agent may not read (skipped for lack of a privilege) is not a "no".
    denied = {"check": "backups.freshness", "status": "skip",
              "evidence": {"location": "nas", "error": "permission denied",
                           "reason": "permission denied"}}
    assert host_backup(_report(denied, RESTORED))[:2] == ("unknown", "unreadable")


@pytest.mark.parametrize("evidence", [
    {"locations": 5}, {"locations": "0"}, None, [], [{"newest": {"time": GENERATED}}],
    {"newest": [1, 2]}, {"newest": {"time": ["2026-03-31T02:00:00+00:00"]}},
    {"age_seconds": "x", "newest": {"time": "NaN"}}, {"backups": float("nan")},
    {"backups": 10**30, "newest": {"time": 1e308}},
    {"newest": {"time": "9999-12-31T23:59:59-23:59"}},
    {"newest": {"time": "2999-01-01T00:00:00+00:00"}},  # years ahead: not a fresh backup
])
def test_backup_evidence_of_an_unexpected_shape_is_unknown_never_no_or_yes(
    evidence: object,
) -> None:
    odd = {"check": "backups.freshness", "status": "pass", "evidence": evidence}
    answer, reason, _, _ = host_backup(_report(odd, RESTORED, OFFLINE))
    assert (answer, reason) == ("unknown", "unreadable")
    # Beside a readable location that is fresh, the host's answer stands.
    assert host_backup(_report(odd, FRESH, RESTORED))[:2] == ("yes", "ok")


def test_a_restore_test_counts_with_a_date_only() -> None:
    for last_test in ("0001-01-01T00:00:00+14:00", "2026-04-30T00:00:00+00:00", 5, None):
        undated = {**RESTORED, "evidence": {"last_test": last_test}}
        answer, reason, when, _ = host_backup(_report(FRESH, undated))
        assert (answer, reason, when) == ("unknown", "no_restore_test", None), last_test


def test_a_report_without_a_date_is_dated_by_the_store() -> None:
    stored = datetime(2026, 3, 31, 8, tzinfo=UTC)
    undated = {"generated_at": ["x"], "results": [FRESH, RESTORED]}
    assert host_backup(undated, stored)[:2] == ("yes", "ok")
    # A month later by the store's date, the same backup is stale.
    assert host_backup(undated, stored + timedelta(days=30))[:2] == ("no", "stale")
