"""The strict Report schema: the model's Report survives decode → structs → Report unchanged,
and the canonical re-encoding is what a consumer reads back."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import msgspec

from sentinelle.collector.validate import Limits, canonical_json, decode_report, to_report
from sentinelle.model import AgentHealth, Report
from tests.collector.sample_reports import make_report


def test_report_round_trips_through_the_schema() -> None:
    for seed in range(20):
        report = replace(make_report(60, seed=seed),
                         agent_health=AgentHealth(spool_reports=seed, state_dir_writable=False))
        decoded = decode_report(json.dumps(report.to_dict()).encode(), Limits())
        assert to_report(decoded).to_dict() == report.to_dict()
        # The direct build and the generic one agree.
        assert to_report(decoded) == Report.from_dict(msgspec.to_builtins(decoded))
        # What is stored reads back as the same Report.
        again = Report.from_dict(json.loads(canonical_json(decoded)))
        assert again.to_dict() == report.to_dict()


def test_a_report_without_health_stays_without() -> None:
    report = make_report(5, seed=1)
    decoded = decode_report(json.dumps(report.to_dict()).encode(), Limits())
    assert to_report(decoded).agent_health is None
    assert b'"health"' not in canonical_json(decoded)


def test_schema_1_and_2_reports_are_both_accepted_by_a_real_collector(tmp_path: Path) -> None:
    from tests.collector.harness import auth, request, running_collector

    with running_collector(tmp_path) as c:
        c.commune("01001", "Abergement")
        old, new = c.enroll("01001", "old-agent"), c.enroll("01001", "new-agent")
        v1 = make_report(5, seed=1).to_dict()
        v1["schema_version"] = 1
        v2 = make_report(5, seed=2).to_dict()
        v2["results"][0].update(summary="", message="backups.freshness.stale",
                                args={"location": "nas", "age": 3 * 86400})
        for creds, body in ((old, v1), (new, v2)):
            status, answer, _ = request(c.url + "/api/v1/reports", "POST", body,
                                        headers=auth(creds))
            assert status == 201, answer
        _, text, _ = request(c.url + "/metrics")
        assert 'sentinelle_host_risk_score{commune="01001",host="old-agent"}' in text
        assert 'sentinelle_host_risk_score{commune="01001",host="new-agent"}' in text
        # A message in a schema-1 Report, or a finding with nothing to read, is refused.
        v1["report_id"] = "other"
        v1["results"][0]["message"] = "backups.freshness.stale"
        status, answer, _ = request(c.url + "/api/v1/reports", "POST", v1, headers=auth(old))
        assert status == 422 and "schema_version 2" in answer["detail"]
        v2["report_id"] = "other"
        v2["results"][0].pop("message")
        status, answer, _ = request(c.url + "/api/v1/reports", "POST", v2, headers=auth(new))
        assert status == 422 and "$.results[0]" in answer["detail"]
