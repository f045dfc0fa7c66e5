"""The collector's remote-write output, configured as a syndicate would, into real TSDBs."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from sentinelle.collector.server import build_remote_writer
from sentinelle.collector.settings import CollectorSettings, RemoteWriteSettings, parse_settings
from sentinelle.errors import ConfigError
from tests.collector.harness import auth, request, running_collector
from tests.collector.sample_reports import report_dict
from tests.collector.tsdb_servers import running_prometheus, running_victoria_metrics
from tests.conftest import need_tool


@pytest.mark.parametrize("kind", ["prometheus", "victoria-metrics"])
def test_fleet_series_reach_the_remote_tsdb(tmp_path: Path, kind: str) -> None:
    binary = need_tool(kind)
    starter = running_prometheus if kind == "prometheus" else running_victoria_metrics
    with starter(binary, tmp_path / kind) as tsdb:
        token = tmp_path / "token"
        token.write_text("s3cret\n")
        settings = RemoteWriteSettings(url=tsdb.write_url, bearer_token_file=str(token),
                                       headers={"X-Scope-OrgID": "syndicat-01"})
        with running_collector(tmp_path, remote_write=settings) as c:
            c.commune("01001", "L'Abergement-Clémenciat", population=767)
            creds = c.enroll("01001", "mairie-srv")
            assert request(c.url + "/api/v1/reports", "POST", report_dict(seed=7),
                           headers=auth(creds))[0] == 201
            c.service.remote_write()  # what the primary worker does every interval
            now = time.time()
            score = tsdb.query_until(
                'sentinelle_host_risk_score{commune="01001",host="mairie-srv"}', now, 1)
            assert len(score) == 1
            info = tsdb.query_until('sentinelle_commune_info{commune="01001"}', now, 1)
            assert info[0]["metric"]["name"] == "L'Abergement-Clémenciat"
            _, metrics, _ = request(c.url + "/metrics")
            sent = [line for line in metrics.splitlines()
                    if line.startswith('sentinelle_collector_remote_write_samples_total'
                                       '{result="sent"}')]
            assert sent and float(sent[0].split()[-1]) > 100
            assert "sentinelle_collector_remote_write_last_success_timestamp_seconds" in metrics


def test_remote_write_settings_are_validated(tmp_path: Path) -> None:
    settings = parse_settings({"remote_write": {"url": "https://mimir.example/api/v1/push",
                                                "interval_seconds": 30,
                                                "headers": {"X-Scope-OrgID": "s"}}}, "c.yaml")
    assert settings.remote_write is not None and settings.remote_write.interval_seconds == 30
    with pytest.raises(ConfigError, match=r"remote_write\.headers"):
        parse_settings({"remote_write": {"url": "https://x", "headers": ["a"]}}, "c.yaml")
    with pytest.raises(ConfigError, match=r"remote_write\.url"):
        parse_settings({"remote_write": {"interval_seconds": 30}}, "c.yaml")
    missing_token = RemoteWriteSettings(url="http://127.0.0.1:1/api/v1/write",
                                        bearer_token_file=str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match=r"bearer_token_file"):
        build_remote_writer(replace(CollectorSettings(), remote_write=missing_token))
