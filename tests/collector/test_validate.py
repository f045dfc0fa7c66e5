"""The strict Report schema: the model's Report survives decode → structs → Report unchanged,
and the canonical re-encoding is what a consumer reads back."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import msgspec

from sentinelle.collector.validate import (
    Limits,
    canonical_json,
    decode_report,
    report_type,
    to_report,
)
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


def test_the_model_and_the_schema_name_the_same_fields() -> None:
    """The dataclasses are the agent's way to build a Report; the structs are the schema. A field
    added to one and not the other fails here, before the round trip above loses it."""
    import dataclasses

    from sentinelle.model import AgentHealth, CheckRun, Finding, Measurement, Score

    report_in = report_type(Limits())

    def struct_fields(tp: object) -> dict[str, object]:
        info = msgspec.inspect.type_info(tp)  # type: ignore[arg-type]
        assert isinstance(info, msgspec.inspect.StructType)
        return {f.name: f.type for f in info.fields}

    def inner(t: object, cls_name: str) -> object:
        """The struct named cls_name reachable from type info t."""
        seen: list[object] = [t]
        while seen:
            cur = seen.pop()
            if isinstance(cur, msgspec.inspect.StructType):
                if cur.cls.__name__ == cls_name:
                    return cur.cls
                seen.extend(f.type for f in cur.fields)
            elif isinstance(cur, msgspec.inspect.UnionType):
                seen.extend(cur.types)
            elif isinstance(cur, msgspec.inspect.ListType):
                seen.append(cur.item_type)
            elif isinstance(cur, msgspec.inspect.DictType):
                seen.append(cur.value_type)
            elif isinstance(cur, msgspec.inspect.Metadata):
                seen.append(cur.type)
        raise AssertionError(f"no struct {cls_name} in the schema")

    root = msgspec.inspect.type_info(report_in)

    def names(cls: type) -> set[str]:
        return {f.name for f in dataclasses.fields(cls)}

    report_fields = set(struct_fields(report_in))
    assert names(Report) - {"agent_version", "agent_health"} == report_fields - {"agent"}
    assert set(struct_fields(inner(root, "AgentIn"))) == {"version", "health"}
    assert names(Finding) == set(struct_fields(inner(root, "FindingIn")))
    assert names(Measurement) == set(struct_fields(inner(root, "MeasurementIn")))
    assert names(CheckRun) == set(struct_fields(inner(root, "CheckRunIn")))
    assert names(Score) == set(struct_fields(inner(root, "ScoreIn")))
    assert names(AgentHealth) == set(struct_fields(inner(root, "AgentHealthIn")))
