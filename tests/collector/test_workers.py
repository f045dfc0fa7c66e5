"""Several collector worker processes share one socket and one store, and agree on /metrics."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.collector.harness import auth, request
from tests.collector.sample_reports import report_dict

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "sentinelle.cli", *args], cwd=ROOT, text=True,
                         capture_output=True, timeout=60, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    return out.stdout.strip()


def test_two_workers_serve_one_consistent_fleet(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "collector.yaml"
    config.write_text(f"listen_address: 127.0.0.1:{port}\n"
                      f"store: sqlite:///{tmp_path / 'c.db'}\nworkers: 2\n")
    cli("collector", "--config", str(config), "commune", "add", "01001", "--name", "Abergement")
    token = cli("collector", "--config", str(config), "token", "create", "--commune", "01001")
    proc = subprocess.Popen([sys.executable, "-m", "sentinelle.cli", "collector", "--config",
                             str(config), "serve"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if request(url + "/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        hosts = []
        for i in range(12):
            status, creds, _ = request(url + "/api/v1/enroll", "POST",
                                       {"token": token, "hostname": f"srv-{i}"})
            assert status == 201, creds
            hosts.append(creds)
        for i, creds in enumerate(hosts):
            status, body, _ = request(url + "/api/v1/reports", "POST",
                                      report_dict(seed=100 + i, n_results=8),
                                      headers=auth(creds), gzip_body=True)
            assert status == 201, body
        # Whichever worker answers a scrape, it shows every host and the summed counters.
        for _ in range(8):
            _, metrics, _ = request(url + "/metrics")
            for i in range(12):
                assert f'sentinelle_host_risk_score{{commune="01001",host="srv-{i}"}}' in metrics
            assert 'sentinelle_collector_reports_total{result="stored"} 12.0' in metrics
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                  text=True, check=False).stdout.split()
        assert len(children) == 1  # one forked worker beside the primary
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(
            f"/proc/{pid}/status").read_text().lower()
