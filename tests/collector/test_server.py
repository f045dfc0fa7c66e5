"""The collector over real HTTP: enrollment, auth, tenant isolation, limits, replay, /metrics."""

from __future__ import annotations

import gzip
import json
import random
import sqlite3
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sentinelle.collector.validate import Limits
from tests.collector.harness import auth, request, running_collector
from tests.collector.sample_reports import report_dict
from tests.conftest import need_tool


def push(url: str, creds: dict[str, str], body: dict[str, object], **kw: object):  # type: ignore[no-untyped-def]
    return request(url + "/api/v1/reports", "POST", body, headers=auth(creds), **kw)  # type: ignore[arg-type]


def test_enrollment_outcomes(tmp_path: Path) -> None:
    with running_collector(tmp_path) as c:
        c.commune("01001", "L'Abergement-Clémenciat")
        token = c.token("01001", uses=1)
        status, body, _ = request(c.url + "/api/v1/enroll", "POST",
                                  {"token": token, "hostname": "Mairie-SRV"})
        assert status == 201
        assert body["commune"] == "01001" and body["host"] == "mairie-srv"
        assert body["agent_id"].startswith("agt_") and len(body["key"]) >= 40
        # Used up, unknown, malformed, bad host name.
        assert request(c.url + "/api/v1/enroll", "POST",
                       {"token": token, "hostname": "x"})[0] == 403
        assert request(c.url + "/api/v1/enroll", "POST",
                       {"token": "nope", "hostname": "x"})[0] == 401
        assert request(c.url + "/api/v1/enroll", "POST", {"token": 3})[0] == 400
        status, problem, headers = request(c.url + "/api/v1/enroll", "POST",
                                           {"token": c.token("01001"), "hostname": "a b/c"})
        assert status == 422 and headers["Content-Type"].startswith("application/problem+json")
        assert problem["status"] == 422 and "hostname" in problem["detail"]
        # A cloned VM with the same host name gets its own id, key and label.
        twin = c.enroll("01001", "mairie-srv")
        assert twin["host"] == "mairie-srv-2" and twin["agent_id"] != body["agent_id"]
        # Only a hash of the key is kept.
        db = sqlite3.connect(tmp_path / "collector.db")
        stored = [row[0] for row in db.execute("SELECT key_hash FROM agents")]
        db.close()
        assert body["key"] not in stored and twin["key"] not in stored
        assert all(len(h) == 64 for h in stored)


def test_expired_and_revoked_tokens_are_refused(tmp_path: Path) -> None:
    with running_collector(tmp_path) as c:
        c.commune("2B033", "Bastia")
        token = c.token("2B033")
        c.service.clock = lambda: time.time() + 2 * 86400  # past the one-day expiry
        status, body, _ = request(c.url + "/api/v1/enroll", "POST",
                                  {"token": token, "hostname": "srv"})
        assert status == 403 and "expired" in body["detail"]
        c.service.clock = time.time
        (tok,) = [t for t in c.store.list_tokens("2B033")]
        assert c.store.revoke_token(tok.token_id)
        status, body, _ = request(c.url + "/api/v1/enroll", "POST",
                                  {"token": token, "hostname": "srv"})
        assert status == 403 and "revoked" in body["detail"]


def test_auth_failures(tmp_path: Path) -> None:
    with running_collector(tmp_path) as c:
        c.commune("97411", "Saint-Denis")
        creds = c.enroll("97411", "srv")
        body = report_dict(seed=1)
        assert request(c.url + "/api/v1/reports", "POST", body)[0] == 401
        assert push(c.url, {**creds, "key": "wrong"}, body)[0] == 401
        assert push(c.url, {**creds, "agent_id": "agt_unknown"}, body)[0] == 401
        assert push(c.url, creds, body)[0] == 201
        assert c.store.revoke_agent(creds["agent_id"], datetime.now(UTC))
        c.service.refresh_registry()  # what the periodic refresh does within seconds
        status, problem, _ = push(c.url, creds, report_dict(seed=2))
        assert status == 403 and "revoked" in problem["detail"]


def test_labels_come_from_the_registry_not_the_payload(tmp_path: Path) -> None:
    with running_collector(tmp_path) as c:
        c.commune("01001", "L'Abergement-Clémenciat")
        c.commune("75056", "Paris")
        creds = c.enroll("01001", "srv-abergement")
        body = report_dict(seed=3, hostname="srv-paris")
        body["host"]["commune"] = "75056"  # an agent trying to write for another commune
        body["commune"] = "75056"
        assert push(c.url, creds, body)[0] == 201  # unknown keys are ignored, not trusted
        _, metrics, _ = request(c.url + "/metrics")
        assert 'sentinelle_host_risk_score{commune="01001",host="srv-abergement"}' in metrics
        assert 'commune="75056",host=' not in metrics


def test_replay_is_acknowledged_once_stored_once(tmp_path: Path) -> None:
    with running_collector(tmp_path) as c:
        c.commune("01001", "Abergement")
        creds = c.enroll("01001", "srv")
        body = report_dict(seed=4)
        first = push(c.url, creds, body, gzip_body=True)
        again = push(c.url, creds, body)
        assert (first[0], first[1]["status"]) == (201, "stored")
        assert (again[0], again[1]["status"]) == (200, "duplicate")
        assert c.store.count_reports(creds["agent_id"]) == 1


def test_limits_give_clear_4xx_never_5xx(tmp_path: Path) -> None:
    limits = Limits(max_body_bytes=64 * 1024, max_decompressed_bytes=512 * 1024,
                    max_results=100)
    with running_collector(tmp_path, limits=limits) as c:
        c.commune("01001", "Abergement")
        creds = c.enroll("01001", "srv")
        url = c.url + "/api/v1/reports"
        h = auth(creds)
        big = json.dumps(report_dict(seed=5, n_results=90)).encode() + b" " * 70_000
        assert request(url, "POST", raw=big, headers=h)[0] == 413
        bomb = gzip.compress(b"{" + b" " * (5 << 20) + b"}")  # 5 MiB of spaces, tiny on wire
        assert len(bomb) < 64 * 1024
        status, problem, _ = request(url, "POST", raw=bomb,
                                     headers={**h, "Content-Encoding": "gzip"})
        assert status == 413 and "decompressed" in problem["detail"]
        assert request(url, "POST", raw=b"{}", headers={**h, "Content-Encoding": "br"})[0] == 415
        assert request(url, "POST", raw=b"\x1f\x8b\x08garbage",
                       headers={**h, "Content-Encoding": "gzip"})[0] == 400
        assert request(url, "POST", raw=b"{not json", headers=h)[0] == 400
        too_many = report_dict(seed=6, n_results=101)
        status, problem, _ = push(c.url, creds, too_many)
        assert status == 422 and "results" in problem["detail"]
        bad_id = report_dict(seed=7)
        bad_id["report_id"] = "../../etc/passwd"
        status, problem, _ = push(c.url, creds, bad_id)
        assert status == 422 and "report_id" in problem["detail"]
        long = report_dict(seed=8)
        long["results"][0]["summary"] = "x" * 5000
        status, problem, _ = push(c.url, creds, long)
        assert status == 422 and "results[0].summary" in problem["detail"]
        # Random mutations of a valid Report: whatever breaks, the answer is a 4xx or a 2xx.
        rng = random.Random(42)
        base = report_dict(seed=9, n_results=10)
        for i in range(60):
            mutated = json.loads(json.dumps(base))
            mutated["report_id"] = f"fuzz-{i}"
            target = rng.choice(["results", "checks", "host", "score", "agent", "generated_at"])
            mutated[target] = rng.choice([None, 3, "x", [], {}, [None], {"a": [1]}, -1.5, True])
            status = push(c.url, creds, mutated)[0]
            assert 200 <= status < 500, (target, mutated[target], status)
        _, metrics, _ = request(c.url + "/metrics")
        assert 'sentinelle_collector_reports_total{result="error"} 0.0' in metrics


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    from sentinelle.collector.settings import RateLimit

    with running_collector(tmp_path, rate_limit=RateLimit(per_second=0.5, burst=3)) as c:
        c.commune("01001", "Abergement")
        creds = c.enroll("01001", "srv")
        statuses = [push(c.url, creds, report_dict(seed=10 + i, n_results=5)) for i in range(5)]
        assert [s[0] for s in statuses[:3]] == [201, 201, 201]
        assert statuses[3][0] == 429
        assert 1 <= int(statuses[3][2]["Retry-After"]) <= 2


def test_metrics_sd_and_silence(tmp_path: Path) -> None:
    promtool = need_tool("promtool")
    with running_collector(tmp_path) as c:
        c.commune("01001", "Abergement", population=250)
        c.commune("2A004", "Ajaccio", population=70000)
        a = c.enroll("01001", "srv-a")
        b = c.enroll("2A004", "srv-b")
        c.enroll("2A004", "srv-never")
        assert push(c.url, a, report_dict(seed=20))[0] == 201
        assert push(c.url, b, report_dict(seed=21))[0] == 201
        _, metrics, _ = request(c.url + "/metrics")
        checked = subprocess.run([promtool, "check", "metrics"], input=metrics, text=True,
                                 capture_output=True, timeout=30, check=False)
        assert checked.returncode == 0, checked.stderr[-2000:]
        assert ('sentinelle_commune_info{commune="01001",name="Abergement",departement="01"} 1'
                in metrics)
        assert 'sentinelle_commune_hosts{commune="2A004",state="never"} 1' in metrics
        assert 'sentinelle_host_last_report_timestamp_seconds{commune="2A004",host="srv-b"}' \
            in metrics
        assert 'sentinelle_pending_updates{commune="01001",host="srv-a",kind="security"}' \
            in metrics
        assert 'sentinelle_commune_risk_score{commune="2A004"}' in metrics
        assert "_created" not in metrics
        _, sd, _ = request(c.url + "/sd")
        targets = {g["labels"]["host"]: g for g in sd}
        assert targets["srv-b"]["targets"] == ["srv-b:9830"]
        assert targets["srv-b"]["labels"]["commune"] == "2A004"
        # Seven hours later, silent hosts leave the posture exposition but stay in inventory.
        c.service.clock = lambda: time.time() + 7 * 3600
        _, later, _ = request(c.url + "/metrics")
        assert 'sentinelle_host_risk_score{commune="01001"' not in later
        assert 'sentinelle_host_silent{commune="01001",host="srv-a"} 1' in later
        assert 'sentinelle_host_last_report_timestamp_seconds{commune="01001",host="srv-a"}' \
            in later
        assert 'sentinelle_commune_hosts{commune="01001",state="silent"} 1' in later


def test_state_survives_restart_and_snapshots_are_daily(tmp_path: Path) -> None:
    with running_collector(tmp_path) as c:
        c.commune("01001", "Abergement")
        creds = c.enroll("01001", "srv")
        body = report_dict(seed=30)
        assert push(c.url, creds, body)[0] == 201
        c.service.take_snapshots()
    with running_collector(tmp_path) as c:
        _, metrics, _ = request(c.url + "/metrics")
        assert 'sentinelle_host_risk_score{commune="01001",host="srv"}' in metrics
        assert push(c.url, creds, body)[0] == 200  # still a duplicate after restart
        today = datetime.now(UTC).date()
        (snap,) = c.store.snapshots("01001", today - timedelta(days=1), today)
        assert snap.reporting_hosts == 1 and snap.grade in "ABCDE"
        assert 0 <= snap.score <= 100


def test_openapi_and_health(tmp_path: Path) -> None:
    with running_collector(tmp_path) as c:
        status, doc, _ = request(c.url + "/api/v1/openapi.json")
        assert status == 200 and doc["openapi"].startswith("3.")
        assert {"/api/v1/enroll", "/api/v1/reports", "/metrics", "/sd"} <= set(doc["paths"])
        responses = doc["paths"]["/api/v1/reports"]["post"]["responses"]
        assert {"201", "200", "401", "413", "422", "429"} <= set(responses)
        assert request(c.url + "/healthz")[0] == 200


@pytest.mark.parametrize("code,valid", [("01001", True), ("2A004", True), ("2B033", True),
                                        ("97411", True), ("98735", True), ("20004", False),
                                        ("00001", False), ("96001", False), ("1001", False),
                                        ("2C001", False)])
def test_insee_codes(code: str, valid: bool) -> None:
    from sentinelle.collector.insee import departement_of, is_valid_insee

    assert is_valid_insee(code) is valid
    if valid:
        assert departement_of(code) == (code[:3] if code[:2] in ("97", "98") else code[:2])
