"""Three communes of one département and size band, March 2026, one of them with hostile data.

Pré-Sain (01020) and Bois-Sain (01021) are healthy; Val-Piégé (01022) has the same month, and
then Reports whose shapes nothing downstream expected. The month goes through a real collector
(tests/collector/harness.py): every host pushes a real agent Report (the scenario's, re-dated)
every four hours and the collector takes its own daily snapshots. The hostile Reports are then
written straight into the store, as an older collector that accepted them left them there:
today's collector may refuse them at the door, but the monthly report must still cope with
what is already stored.

Each hostile shape (`SHAPES`) goes into two of Val-Piégé's Reports: one in the middle of the
month (read for what was fixed and what broke) and its latest one (read for the backup question).
"""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sentinelle.collector.records import CheckState, IncomingReport, checks_document
from sentinelle.collector.settings import RateLimit
from sentinelle.collector.store import open_store
from sentinelle.model import Report
from sentinelle.scoring import ScoringPolicy
from tests.collector.harness import auth, request, running_collector
from tests.report.scenario import FIRST_PUSH, STEP, T_END, scenario_report

HEALTHY = {"01020": "Pré-Sain", "01021": "Bois-Sain"}
HOSTILE, HOSTILE_NAME = "01022", "Val-Piégé"
COMMUNES = {**HEALTHY, HOSTILE: HOSTILE_NAME}
POPULATIONS = {"01020": 800, "01021": 900, "01022": 1000}
HOST = "srv-mairie"
MIDDLE = datetime(2026, 3, 10, 21, 30, tzinfo=UTC)  # after the day's last push (22:30 in Paris)
LATEST = T_END + timedelta(minutes=30)  # after every push, before the report is made

# A JSON text standing for the evidence of backups.freshness, or a function rewriting the
# whole Report (as a dict) and returning its JSON text.
Shape = str | Callable[[dict[str, Any]], str]
_MARK = "__hostile_evidence__"


def _statuses_not_strings(report: dict[str, Any]) -> str:
    for f in report["results"]:
        if f["check"] in ("backups.offline_copy", "backups.restore_test"):
            f["status"] = {"pass": True}
        elif f["check"] == "backups.freshness":
            f["status"] = ["error"]
    return json.dumps(report)


def _restore_test_in_year_one(report: dict[str, Any]) -> str:
    # Moved to UTC, this date falls before year 1: no datetime can hold it.
    for f in report["results"]:
        if f["check"] == "backups.restore_test":
            f["evidence"] = {"last_test": "0001-01-01T00:00:00+14:00"}
    return json.dumps(report)


def _results_not_a_list(report: dict[str, Any]) -> str:
    report["results"] = 5
    return json.dumps(report)


def _findings_not_objects(report: dict[str, Any]) -> str:
    report["results"] = ["backups.freshness", None, [1, 2], 7.5]
    return json.dumps(report)


SHAPES: dict[str, Shape] = {
    "locations-5": '{"locations": 5}',
    "locations-string-zero": '{"locations": "0"}',
    "keys-missing": "{}",
    "evidence-null": "null",
    "evidence-a-list": '[{"newest": {"time": "2026-03-31T04:00:00+00:00"}}]',
    "newest-a-list": '{"newest": [1, 2]}',
    "time-a-list": '{"newest": {"time": ["2026-03-31T04:00:00+00:00"]}}',
    "age-not-a-number": '{"age_seconds": "x", "newest": {"time": "NaN"}}',
    "nan-and-infinity": '{"locations": NaN, "backups": Infinity, "newest": {"time": -Infinity}}',
    "huge-numbers": '{"locations": 1e308, "backups": 1000000000000000000000000000000, '
    '"newest": {"time": 1e999, "size_bytes": 1e999}}',
    "more-digits-than-the-parser-reads": '{"backups": ' + "9" * 5000 + "}",
    "time-overflows-in-utc": '{"newest": {"time": "9999-12-31T23:59:59-23:59"}}',
    "time-in-year-2999": '{"newest": {"time": "2999-01-01T00:00:00+00:00"}}',
    "nested-100000-deep": "[" * 100_000 + "]" * 100_000,
    "statuses-not-strings": _statuses_not_strings,
    "restore-test-in-year-one": _restore_test_in_year_one,
    "results-not-a-list": _results_not_a_list,
    "findings-not-objects": _findings_not_objects,
}


def hostile_body(report: Report, shape: Shape) -> bytes:
    """`report` with `shape` applied, gzip JSON as the store keeps a body."""
    data = report.to_dict()
    if callable(shape):
        return gzip.compress(shape(data).encode())
    for f in data["results"]:
        if f["check"] == "backups.freshness":
            f["evidence"] = _MARK
    text = json.dumps(data).replace(json.dumps(_MARK), shape)
    assert shape in text
    return gzip.compress(text.encode())


@dataclass
class HostileMonth:
    """The clean month's store, and how to make copies of it with hostile data added."""

    directory: Path
    base: Report  # the real agent Report every push is made from
    policy: ScoringPolicy

    @property
    def db(self) -> Path:
        return self.directory / "collector.db"

    def copy(self, to: Path) -> str:
        """A copy of the clean store in `to`; its URL."""
        to.mkdir(parents=True, exist_ok=True)
        for f in self.directory.glob("collector.db*"):
            shutil.copy(f, to / f.name)
        return f"sqlite://{to / 'collector.db'}"

    def with_shapes(self, to: Path, *shapes: Shape) -> str:
        """A copy where Val-Piégé's Reports carry `shapes`: the first one mid-month, the
        others on the following days, the last one also in its latest Report."""
        url = self.copy(to)
        store = open_store(url)
        try:
            agent = next(a for a in store.list_agents(HOSTILE))
            times = [MIDDLE + timedelta(days=i) for i in range(len(shapes))] + [LATEST]
            for seq, (at, shape) in enumerate(zip(times, [*shapes, shapes[-1]], strict=True)):
                report = scenario_report(self.base, at, {}, self.policy, 90_000 + seq)
                store.store_reports([
                    IncomingReport(
                        report_id=report.report_id,
                        agent_id=agent.agent_id,
                        commune=HOSTILE,
                        host=HOST,
                        received_at=at,
                        generated_at=at,
                        score=report.score.value,
                        grade=report.score.grade,
                        body=hostile_body(report, shape),
                        checks_json=checks_document(_states(report)),
                        score_json=json.dumps(report.score.to_dict()),
                    )
                ])
        finally:
            store.close()
        return url

    def with_broken_snapshots(self, to: Path) -> str:
        """A copy where two of Val-Piégé's daily snapshots hold what the table never should
        (a text score, a grade that is no grade), written with SQL as an older version could."""
        url = self.copy(to)
        with sqlite3.connect(to / "collector.db") as db:
            db.execute("UPDATE snapshots SET score = 'NaN' WHERE commune = ? AND day = ?",
                       (HOSTILE, "2026-03-14"))
            db.execute("UPDATE snapshots SET grade = 'Z' WHERE commune = ? AND day = ?",
                       (HOSTILE, "2026-03-15"))
        db.close()
        return url


def _states(report: Report) -> tuple[CheckState, ...]:
    """The check states a collector derives from a valid Report (worst finding per check)."""
    order = ("error", "fail", "warn", "pass", "skip")
    worst: dict[str, CheckState] = {}
    for f in report.results:
        state = CheckState(f.check, f.status.value, f.severity.value, f.summary)
        current = worst.get(f.check)
        if current is None or order.index(state.status) < order.index(current.status):
            worst[f.check] = state
    return tuple(worst.values())


def _clock(at: datetime) -> Callable[[], float]:
    return lambda: at.timestamp()


def build_hostile_month(directory: Path, base: Report, policy: ScoringPolicy) -> HostileMonth:
    """March 2026 of the three communes through a real collector (stopped on return)."""
    directory.mkdir(parents=True, exist_ok=True)
    url = f"sqlite://{directory / 'collector.db'}"
    overrides = {
        "rate_limit": RateLimit(per_second=10_000.0, burst=100_000),
        "snapshot_interval_seconds": 1e6,  # the test takes the daily snapshots itself
    }
    feb = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
    with running_collector(directory, url, **overrides) as c:
        creds: dict[str, dict[str, Any]] = {}
        for code, name in COMMUNES.items():
            c.commune(code, name, POPULATIONS[code], (f"maire@{code}.example",))
            c.service.clock = lambda: feb.timestamp()
            creds[code] = c.enroll(code, HOST)
        at, seq = FIRST_PUSH, 0
        while at <= T_END:
            for code in COMMUNES:
                seq += 1
                report = scenario_report(base, at, {}, policy, seq)
                c.service.clock = _clock(at)
                status, body, _ = request(c.url + "/api/v1/reports", "POST", report.to_dict(),
                                          headers=auth(creds[code]), gzip_body=True)
                assert status == 201, body
            if at.hour == 20 and at < datetime(2026, 4, 1, tzinfo=UTC):
                c.service.clock = _clock(at + timedelta(minutes=90))
                c.service.take_snapshots()
            at += STEP
    return HostileMonth(directory, base, policy)
