"""The strict Report schema: the model's Report survives decode → structs → Report unchanged,
and the canonical re-encoding is what a consumer reads back."""

from __future__ import annotations

import json
from dataclasses import replace

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
