"""The agent daemon: real /metrics over HTTP, promtool-valid, SIGTERM stops it cleanly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sentinelle.agent.daemon import Agent, atomic_write, next_delay
from sentinelle.model import SCHEMA_VERSION
from sentinelle.runner import build_setup
from tests.conftest import need_tool

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def agent_config(tmp_path: Path, port: int, interval: int = 3600) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(
        f"agent:\n  listen_address: 127.0.0.1:{port}\n  state_dir: {tmp_path / 'state'}\n"
        f"  interval_seconds: {interval}\n"
    )
    return path


def scrape(port: int, deadline: float = 30.0) -> str:
    end = time.monotonic() + deadline
    last: Exception | None = None
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                body = resp.read().decode()
            if "sentinelle_host_risk_score" in body:
                return body
        except OSError as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"no posture metrics on /metrics within {deadline}s ({last})")


def test_metrics_endpoint_serves_last_report_and_passes_promtool(tmp_path: Path) -> None:
    promtool = need_tool("promtool")
    port = free_port()
    setup = build_setup(agent_config(tmp_path, port))
    agent = Agent(setup)
    agent.serve()
    try:
        report = agent.cycle()
        assert report is not None
        body = scrape(port)
    finally:
        agent.stop()
        agent.run_forever(max_cycles=0)
    assert 'sentinelle_agent_info{version="' in body
    assert f"sentinelle_host_risk_score {report.score.value}" in body
    for run in report.checks:
        assert f'check="{run.check}"' in body
    assert "sentinelle_check_duration_seconds" in body
    assert 'sentinelle_pending_updates{kind="security"}' in body
    checked = subprocess.run(
        [promtool, "check", "metrics"],
        input=body,
        text=True,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    saved = json.loads((tmp_path / "state/last-report.json").read_text())
    assert saved["report_id"] == report.report_id


def test_agent_process_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    config = agent_config(tmp_path, port, interval=3600)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sentinelle.cli", "agent", "run", "--config", str(config)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        body = scrape(port, deadline=60)
        assert "sentinelle_agent_cycles_total 1.0" in body
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0, out
    assert time.monotonic() - started < 15  # the 1 h sleep was interrupted, not waited out
    assert "signal 15 received" in out
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_once_runs_one_cycle_and_exits(tmp_path: Path) -> None:
    config = agent_config(tmp_path, free_port())
    out = subprocess.run(
        [sys.executable, "-m", "sentinelle.cli", "agent", "run", "--once", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT), "SENTINELLE_LANG": "fr"},
    )
    assert out.returncode == 0, out.stderr
    assert "/100, niveau " in out.stdout and "grade" not in out.stdout
    report = json.loads((tmp_path / "state/last-report.json").read_text())
    assert report["schema_version"] == SCHEMA_VERSION and report["results"]


def test_importing_the_agent_does_not_import_scapy() -> None:
    code = (
        "import sys, sentinelle.cli, sentinelle.agent.daemon, sentinelle.checks, "
        "sentinelle.runner; print('scapy' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.stdout.strip() == "False"


def test_jitter_stays_within_bounds() -> None:
    import random

    rng = random.Random(7)
    delays = [next_delay(600, 0.1, rng) for _ in range(500)]
    assert min(delays) >= 540 and max(delays) <= 660
    assert max(delays) - min(delays) > 60  # it really spreads


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "sub/report.json"
    atomic_write(target, b"old")
    atomic_write(target, b"new content")
    assert target.read_bytes() == b"new content"
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]
