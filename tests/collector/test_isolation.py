"""One agent never hurts another: each case of the fault-isolation issue against a real collector.

Every hostile shape is either refused with a 4xx naming the field, or stored in its canonical
form; in both cases `/metrics` stays 200 for everybody, the well-behaved agent's series stay,
and `promtool check metrics` accepts the exposition.
"""

from __future__ import annotations

import copy
import gzip
import json
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sentinelle.collector.records import IncomingReport
from sentinelle.collector.validate import Limits
from tests.collector.harness import Running, auth, request, running_collector
from tests.collector.mutations import gzip_bomb_member
from tests.collector.sample_reports import report_dict
from tests.conftest import need_tool

Report = dict[str, Any]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, dict[str, Any],
                                                                        dict[str, Any]]]:
    """A collector with a hostile agent in commune 01001 and a good one in 01002."""
    with running_collector(tmp_path_factory.mktemp("isolation")) as c:
        c.commune("01001", "Abergement")
        c.commune("01002", "Ambérieux")
        hostile = c.enroll("01001", "hostile")
        good = c.enroll("01002", "good")
        yield c, hostile, good


def push_raw(c: Running, creds: dict[str, Any], body: bytes, gzip_body: bool = False,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
    status, answer, _ = request(c.url + "/api/v1/reports", "POST", raw=body,
                                headers={**auth(creds), **(headers or {})}, gzip_body=gzip_body)
    return status, answer


def exposition_ok(c: Running, good_host: str = "good") -> str:
    """/metrics answers 200, the good host is in it and promtool accepts it."""
    status, text, _ = request(c.url + "/metrics")
    assert status == 200, text
    assert f'host="{good_host}"' in text
    promtool = need_tool("promtool")
    checked = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                             capture_output=True, timeout=60)
    # promtool exits 1 for lint remarks too; only parse errors matter for a scrape.
    assert b"error while linting" not in checked.stderr, checked.stderr[:500]
    series = [line.split(" ")[0] for line in text.splitlines() if line and line[0] != "#"]
    assert len(series) == len(set(series)), "duplicate series in the exposition"
    return str(text)


_SEQ = iter(range(10**6))


def fresh(seed: int = 1, **changes: Any) -> Report:
    body = report_dict(seed=seed, n_results=8)
    body["report_id"] = f"iso-{next(_SEQ)}"
    body.update(changes)
    return body


def good_push(c: Running, good: dict[str, Any]) -> None:
    status, answer = push_raw(c, good, json.dumps(fresh(seed=2)).encode())
    assert status == 201, answer


def _set(path: str, value: Any) -> Callable[[Report], None]:
    def change(r: Report) -> None:
        target: Any = r
        keys = path.split(".")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        last = keys[-1]
        target[int(last) if last.isdigit() else last] = value
    return change


REFUSED = [
    ("score empty object", _set("score", {}), "$.score"),
    ("score holds a string", _set("score.value", "high"), "$.score.value"),
    ("references a number", _set("results.0.references", 5), "$.results[0].references"),
    ("references null", _set("results.0.references", None), "$.results[0].references"),
    ("generated_at far past", _set("generated_at", "0001-01-01T00:00:00+23:59"),
     "$.generated_at"),
    ("generated_at far future", _set("generated_at", "9999-12-31T23:59:59-23:59"),
     "$.generated_at"),
    ("generated_at without zone", _set("generated_at", "2026-11-30T10:00:00"), "$.generated_at"),
    ("check id with newline", _set("checks.0.check", "patching.item_000\n"), "$.checks[0].check"),
    ("finding check id with newline", _set("results.0.check", "a.b\n"), "$.results[0].check"),
    ("report id with newline", _set("report_id", "abc\n"), "$.report_id"),
    ("duplicate check id", lambda r: r["checks"].append(dict(r["checks"][0])), "$.checks[8]"),
    ("duplicate series",
     lambda r: r["results"][0]["measurements"].append(dict(r["results"][0]["measurements"][0])),
     "$.results[0].measurements[2]"),
    ("series differing only in an ignored label",
     lambda r: r["results"][1]["measurements"].append(
         {**r["results"][1]["measurements"][0],
          "labels": {**r["results"][1]["measurements"][0]["labels"], "extra": "x"}}),
     "$.results[1].measurements[1]"),
    ("evidence nested 200 deep",
     _set("results.0.evidence", json.loads("{\"a\":" + "[" * 200 + "]" * 200 + "}")),
     "$.results[0].evidence"),
    ("health with a string", _set("agent", {"version": "1", "health": {"spool_reports": "x"}}),
     "$.agent.health.spool_reports"),
]


@pytest.mark.integration
@pytest.mark.parametrize("name,change,field", REFUSED, ids=[r[0] for r in REFUSED])
def test_unusable_shapes_are_refused_with_the_field(
    fleet: tuple[Running, dict[str, Any], dict[str, Any]], name: str,
    change: Callable[[Report], None], field: str,
) -> None:
    c, hostile, good = fleet
    good_push(c, good)
    body = fresh()
    change(body)
    status, answer = push_raw(c, hostile, json.dumps(body).encode())
    assert status == 422, (name, status, answer)
    assert field in answer["detail"], answer
    exposition_ok(c)
    good_push(c, good)


@pytest.mark.integration
def test_nesting_anywhere_is_a_4xx_not_a_500(
    fleet: tuple[Running, dict[str, Any], dict[str, Any]],
) -> None:
    c, hostile, _ = fleet
    deep = "[" * 5000 + "]" * 5000
    base = json.dumps(fresh())
    for body in (
        base[:-1] + f', "unknown": {deep}}}',  # a key the schema skips
        base.replace('"host": {', f'"host": {{"deep": {deep}, ', 1),
        deep,
    ):
        status, answer = push_raw(c, hostile, body.encode())
        assert 400 <= status < 500, (status, answer)
    exposition_ok(c)


@pytest.mark.integration
def test_odd_spellings_and_unknown_bytes_are_stored_canonical(
    fleet: tuple[Running, dict[str, Any], dict[str, Any]],
) -> None:
    """A lowercase date and an unknown field with a 0xff byte are accepted, and what is stored
    (and rendered) is the canonical re-encoding, not the bytes received."""
    c, hostile, good = fleet
    good_push(c, good)  # the well-behaved host is live whatever ran before
    body = fresh(seed=3)
    body["generated_at"] = datetime.now(UTC).strftime("%Y-%m-%dt%H:%M:%Sz")
    raw = json.dumps(body).encode()[:-1] + b', "zz": "\xff\xfe"}'
    status, answer = push_raw(c, hostile, raw)
    if status == 201:
        rows = c.store.reports_between("01001", datetime(2020, 1, 1, tzinfo=UTC),
                                       datetime(2100, 1, 1, tzinfo=UTC))
        stored = next(r for r in rows if r.report_id == body["report_id"])
        text = gzip.decompress(stored.body)
        decoded = json.loads(text)  # valid UTF-8 JSON, whatever came in
        assert "zz" not in decoded
        assert decoded["generated_at"].endswith("Z") and "T" in decoded["generated_at"]
    else:
        assert 400 <= status < 500, answer
    text = exposition_ok(c)
    assert 'host="hostile"' in text or status != 201
    # Invalid UTF-8 inside a field anything reads is refused outright.
    body = fresh(seed=4)
    raw = json.dumps(body).encode().replace(b'"items"', b'"it\xffms"', 1)
    status, answer = push_raw(c, hostile, raw)
    assert status == 400 and "UTF-8" in answer["detail"], answer
    good_push(c, good)


@pytest.mark.integration
def test_gzip_with_a_second_member_or_trailing_data_is_refused(
    fleet: tuple[Running, dict[str, Any], dict[str, Any]],
) -> None:
    c, hostile, _ = fleet
    body = json.dumps(fresh()).encode()
    hdr = {"Content-Encoding": "gzip"}
    # The bomb of the issue: a valid member, then one that inflates to 1000 MiB.
    bomb = gzip.compress(body) + gzip.compress(b" " * (64 << 20), 9)
    for raw in (bomb, gzip.compress(body) + gzip.compress(b"{}"), gzip.compress(body) + b"junk"):
        status, answer = push_raw(c, hostile, raw, headers=hdr)
        assert status == 400 and "after the end" in answer["detail"], answer
    exposition_ok(c)


@pytest.mark.integration
def test_non_ascii_credentials_get_4xx(
    fleet: tuple[Running, dict[str, Any], dict[str, Any]],
) -> None:
    import socket

    c, _, _ = fleet
    host, port = c.url.removeprefix("http://").split(":")

    def raw_http(request_bytes: bytes) -> int:
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(request_bytes)
            return int(s.recv(4096).split(b" ")[1])

    body = b"{}"
    push = (b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer agt_\xff\xfe:k\xe9y"
            b"\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n" + body)
    assert raw_http(push) == 401
    token = '{"token": "\\ud800\\udfff\u00e9", "hostname": "srv"}'.encode()
    for payload in (token, b'{"token": "\xff\xfe", "hostname": "srv"}'):
        enroll = (b"POST /api/v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload)
        assert 400 <= raw_http(enroll) < 500


@pytest.mark.integration
def test_host_name_with_trailing_newline_cannot_enroll(
    fleet: tuple[Running, dict[str, Any], dict[str, Any]],
) -> None:
    c, _, _ = fleet
    status, answer, _ = request(c.url + "/api/v1/enroll", "POST",
                                {"token": c.token("01001", 1), "hostname": "mairie\n"})
    assert status == 422, answer
    _, groups, _ = request(c.url + "/sd")
    assert all("\n" not in g["labels"]["host"] for g in groups)


@pytest.mark.integration
def test_too_many_series_in_one_report(tmp_path: Path) -> None:
    with running_collector(tmp_path, limits=replace(Limits(), max_series=50)) as c:
        c.commune("01001", "Abergement")
        creds = c.enroll("01001", "srv")
        body = fresh()
        body["results"][3]["measurements"] = [
            {"name": "backup_age_seconds", "value": 1, "labels": {"location": f"l{i}"}}
            for i in range(60)
        ]
        status, answer = push_raw(c, creds, json.dumps(body).encode())
        assert status == 422 and "more than 50 series" in answer["detail"], answer


@pytest.mark.integration
def test_agent_health_reaches_the_fleet_metrics(
    fleet: tuple[Running, dict[str, Any], dict[str, Any]],
) -> None:
    c, _, good = fleet
    body = fresh(seed=5)
    body["agent"] = {"version": "0.1.0", "health": {
        "spool_reports": 7, "spool_bytes": 70_000, "reports_dropped_total": 3,
        "spool_quarantined_total": 1, "reports_rejected_total": 0,
        "push_consecutive_failures": 4, "cycle_failures_total": 2,
        "state_write_errors_total": 5, "state_dir_writable": False}}
    status, answer = push_raw(c, good, json.dumps(body).encode())
    assert status == 201, answer
    text = exposition_ok(c)
    labels = '{commune="01002",host="good"}'
    for line in (f"sentinelle_agent_health_spool_reports{labels} 7",
                 f"sentinelle_agent_health_reports_dropped_total{labels} 3",
                 f"sentinelle_agent_health_state_write_errors_total{labels} 5",
                 f"sentinelle_agent_health_state_dir_writable{labels} 0"):
        assert line in text, line


@pytest.mark.integration
def test_report_stored_by_an_older_version_does_not_break_metrics(tmp_path: Path) -> None:
    """Reports stored before the schema was strict (written straight into the store here, as an
    older collector did) are left out of /metrics, counted and logged; the rest stays."""
    with running_collector(tmp_path) as c:
        c.commune("01001", "Abergement")
        c.commune("01002", "Ambérieux")
        old = c.enroll("01001", "old")
        bomb = c.enroll("01001", "bomb")
        other = c.enroll("01001", "other")
        good = c.enroll("01002", "good")
        good_push(c, good)
        good_push(c, other)
        bad = fresh(seed=6)
        bad["score"] = {}
        bad["results"][0]["measurements"].append(dict(bad["results"][0]["measurements"][0]))
        agent = next(a for a in c.store.list_agents() if a.agent_id == old["agent_id"])
        now = datetime.now(UTC)
        c.store.store_reports([IncomingReport(
            bad["report_id"], agent.agent_id, agent.commune, agent.host, now, now, 80.0, "B",
            gzip.compress(json.dumps(bad).encode()), "{}", '{"value": 80.0, "grade": "B"}')])
        # A valid member followed by a bomb, as collectors before the one-member rule kept it:
        # left out (and inflated no further than a push may be: test_gzipped).
        agent = next(a for a in c.store.list_agents() if a.agent_id == bomb["agent_id"])
        valid = fresh(seed=7)
        c.store.store_reports([IncomingReport(
            valid["report_id"], agent.agent_id, agent.commune, agent.host, now, now, 80.0, "B",
            gzip.compress(json.dumps(valid).encode()) + gzip_bomb_member(), "{}",
            '{"value": 80.0, "grade": "B"}')])
    with running_collector(tmp_path) as c:  # the upgrade: a new version starts on the store
        text = exposition_ok(c)
        # Left out of the posture series, kept in the inventory (last report, silence).
        assert 'sentinelle_host_risk_score{commune="01001",host="old"}' not in text
        assert 'sentinelle_check_status{commune="01001",host="old"' not in text
        assert 'sentinelle_host_last_report_timestamp_seconds{commune="01001",host="old"}' in text
        assert 'sentinelle_host_risk_score{commune="01001",host="bomb"}' not in text
        assert 'sentinelle_host_risk_score{commune="01001",host="other"}' in text
        assert "sentinelle_collector_unrenderable_hosts 2.0" in text


class FailingStore:
    """A real SQLite store that refuses one Report id (as a constraint or an overflow would)."""

    def __init__(self, inner: Any, bad_id: str) -> None:
        self.inner, self.bad_id = inner, bad_id

    def store_reports(self, batch: list[IncomingReport]) -> list[bool]:
        if any(r.report_id == self.bad_id for r in batch):
            raise OverflowError("date value out of range")
        return list(self.inner.store_reports(batch))


def test_a_failing_batch_is_retried_item_by_item(tmp_path: Path) -> None:
    import asyncio

    from sentinelle.collector.ingest import GroupCommitter
    from sentinelle.collector.records import AgentRecord, Commune
    from sentinelle.collector.store.sqlite import SQLiteStore

    inner = SQLiteStore(str(tmp_path / "c.db"))
    inner.migrate()
    inner.upsert_commune(Commune("01001", "A", "01"))
    now = datetime.now(UTC)
    inner.add_agent(AgentRecord("agt_1", "01001", "srv", "h", now))
    committer = GroupCommitter(FailingStore(inner, "r-13"), batch_max=64)  # type: ignore[arg-type]

    def incoming(i: int) -> IncomingReport:
        return IncomingReport(f"r-{i}", "agt_1", "01001", "srv", now, now, 90.0, "A", b"x")

    async def all_at_once() -> list[object]:
        return await asyncio.gather(*(committer.submit(incoming(i)) for i in range(40)),
                                    return_exceptions=True)

    try:
        results = asyncio.run(all_at_once())
    finally:
        committer.close()
    failed = [i for i, r in enumerate(results) if isinstance(r, BaseException)]
    assert failed == [13]
    assert all(r is True for i, r in enumerate(results) if i != 13)
    assert inner.count_reports() == 39
    inner.close()


def test_validation_deep_copies_are_independent() -> None:
    """The REFUSED table mutates copies: the base Report stays valid for the next case."""
    base = fresh()
    for _, change, _ in REFUSED:
        change(copy.deepcopy(base))
    from sentinelle.collector.validate import decode_report

    assert decode_report(json.dumps(base).encode(), Limits()).report_id == base["report_id"]
