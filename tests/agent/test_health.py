"""Agent health in the Report: filled by the daemon from its own counters and the Pusher's,
kept across restarts, absent from `sentinelle check`, and mirrored on the local /metrics."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from sentinelle.agent.daemon import AGENT_STATE_FILE, LAST_REPORT_FILE, Agent
from sentinelle.agent.enroll import enroll
from sentinelle.agent.exporter import agent_registry
from sentinelle.agent.push import encode_report
from sentinelle.agent.spool import STATE_FILE
from sentinelle.cli import main
from sentinelle.model import AgentHealth, Report
from sentinelle.runner import run_checks
from tests.agent.agent_rig import FAST_PUSH, agent_yaml, fast_setup, stored_health, wired_agent
from tests.agent.standin_collector import (
    GOOD_TOKEN,
    REPORTS,
    Answer,
    StandinCollector,
    running_standin,
)
from tests.conftest import need_tool


@pytest.fixture
def standin() -> Iterator[StandinCollector]:
    with running_standin() as s:
        yield s


def test_every_pushed_report_carries_the_spool_and_push_state(
    standin: StandinCollector, tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    enroll(standin.url, GOOD_TOKEN, "mairie-srv", state_dir)
    agent, pusher = wired_agent(fast_setup(tmp_path, state_dir))
    try:
        standin.program(REPORTS, Answer(503, "storage down"))
        first = agent.cycle()
        assert first is not None and first.agent_health == AgentHealth()  # nothing to say yet
        assert pusher.drain() == 0  # 503: kept, one failure
        second = agent.cycle()
        assert second is not None and second.agent_health is not None
        assert second.agent_health.spool_reports == 1  # the first, waiting
        assert second.agent_health.spool_bytes == len(encode_report(first))
        assert second.agent_health.push_consecutive_failures == 1

        time.sleep(FAST_PUSH.backoff_max_seconds + 0.05)
        standin.program(REPORTS, Answer(422, "$.host: unexpected"))
        assert pusher.drain() == 1  # the first refused for good, the second stored
        third = agent.cycle()
        assert third is not None
        assert pusher.drain() == 1
    finally:
        pusher.close()

    assert standin.stored_ids() == [second.report_id, third.report_id]
    assert stored_health(standin, second.report_id) == second.agent_health.to_dict()
    after = stored_health(standin, third.report_id)
    assert after["reports_rejected_total"] == 1
    assert after["push_consecutive_failures"] == 0 and after["spool_reports"] == 0
    assert after["state_dir_writable"] is True and after["state_write_errors_total"] == 0
    # last-report.json is the Report as built, health included
    saved = json.loads((state_dir / LAST_REPORT_FILE).read_text())
    assert saved["report_id"] == third.report_id
    assert saved["agent"]["health"]["reports_rejected_total"] == 1


def test_counters_are_kept_across_a_restart(
    standin: StandinCollector, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state_dir = tmp_path / "state"
    enroll(standin.url, GOOD_TOKEN, "mairie-srv", state_dir)
    setup = fast_setup(tmp_path, state_dir, dataclasses.replace(FAST_PUSH, spool_max_reports=1))
    agent, pusher = wired_agent(setup)
    try:
        standin.set_outage(Answer(503, "down"))
        for _ in range(3):  # a spool of one: two Reports dropped
            assert agent.cycle() is not None
        standin.set_outage(None)
        standin.program(REPORTS, Answer(400, "$.score: expected an object"))
        assert pusher.drain() == 0  # the one left is refused
        # A cycle whose checks blow up, and a last-report.json that cannot be replaced.
        monkeypatch.setattr("sentinelle.runner.run_checks", _raise)
        assert agent.cycle() is None
        monkeypatch.setattr("sentinelle.runner.run_checks", run_checks)
        (state_dir / LAST_REPORT_FILE).unlink()
        (state_dir / LAST_REPORT_FILE).mkdir()  # os.replace onto a directory fails
        assert agent.cycle() is not None
        before = agent.health()
    finally:
        pusher.close()

    assert before.reports_dropped_total == 2
    assert before.reports_rejected_total == 1
    assert before.cycle_failures_total == 1
    assert before.state_write_errors_total == 1
    assert before.state_dir_writable is False
    persisted = json.loads((state_dir / AGENT_STATE_FILE).read_text())
    assert persisted == {"cycle_failures_total": 1, "state_write_errors_total": 1}
    assert json.loads((state_dir / "spool" / STATE_FILE).read_text())["rejected_total"] == 1

    (state_dir / LAST_REPORT_FILE).rmdir()
    again, pusher2 = wired_agent(setup)  # a new process on the same state directory
    try:
        report = again.cycle()
        assert report is not None and report.agent_health is not None
    finally:
        pusher2.close()
    health = report.agent_health
    assert health.reports_dropped_total == 2
    assert health.reports_rejected_total == 1
    assert health.cycle_failures_total == 1
    assert health.state_write_errors_total == 1  # the total, not the condition
    assert health.state_dir_writable is True  # last-report.json is writable again


def _raise(*_: object) -> Report:
    raise RuntimeError("a bug in a check runner")


def test_sentinelle_check_reports_carry_no_agent_health(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = agent_yaml(tmp_path, tmp_path / "state")
    assert main(["check", "--config", str(config), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["agent"] == {"version": report["agent"]["version"]}  # no "health" key
    assert Report.from_dict(report).agent_health is None


def test_an_agent_without_push_still_reports_its_own_health(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    agent = Agent(fast_setup(tmp_path, state_dir))
    state_dir.mkdir()
    (state_dir / LAST_REPORT_FILE).mkdir()
    report = agent.cycle()
    assert report is not None and report.agent_health is not None
    assert report.agent_health.state_write_errors_total == 1
    assert report.agent_health.state_dir_writable is False
    assert report.agent_health.spool_reports == 0


def test_local_metrics_show_the_state_directory_and_pass_promtool(
    standin: StandinCollector, tmp_path: Path
) -> None:
    promtool = need_tool("promtool")
    state_dir = tmp_path / "state"
    enroll(standin.url, GOOD_TOKEN, "mairie-srv", state_dir)
    agent, pusher = wired_agent(fast_setup(tmp_path, state_dir))
    try:
        assert agent.cycle() is not None
        healthy = generate_latest(agent_registry(agent.state)).decode()
        (state_dir / LAST_REPORT_FILE).unlink()
        (state_dir / LAST_REPORT_FILE).mkdir()
        assert agent.cycle() is not None
        failing = generate_latest(agent_registry(agent.state)).decode()
    finally:
        pusher.close()
    assert "sentinelle_agent_state_write_errors_total 0.0" in healthy
    assert "sentinelle_agent_state_dir_writable 1.0" in healthy
    assert "sentinelle_agent_state_write_errors_total 1.0" in failing
    assert "sentinelle_agent_state_dir_writable 0.0" in failing
    for body in (healthy, failing):
        checked = subprocess.run(
            [promtool, "check", "metrics"],
            input=body,
            text=True,
            capture_output=True,
            timeout=30,
            check=False,
        )
        # promtool refuses duplicate families: the live and the Report-carried health coexist.
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_failing_health_provider_does_not_cost_the_report(tmp_path: Path) -> None:
    agent = Agent(fast_setup(tmp_path, tmp_path / "state"))

    def broken(health: AgentHealth) -> AgentHealth:
        raise KeyError("a bug in a provider")

    def spool_says(health: AgentHealth) -> AgentHealth:
        return dataclasses.replace(health, spool_reports=4)

    agent.health_providers.extend([broken, spool_says])
    report = agent.cycle()
    assert report is not None
    assert report.agent_health == AgentHealth(spool_reports=4)  # the others still apply
