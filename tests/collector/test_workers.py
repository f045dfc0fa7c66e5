"""Collector worker processes: each has its own listening socket on the address, all share one
store, and they agree on /metrics."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

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


def listening_inodes(pid: int, port: int) -> set[int]:
    """Inodes of the sockets a process holds listening on the port."""
    wanted = {f"{inode}" for inode in _tcp_listen_inodes(port)}
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in wanted:
            held.add(int(target[8:-1]))
    return held


def _tcp_listen_inodes(port: int) -> set[int]:
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and int(local.split(":")[1], 16) == port:  # 0A: LISTEN
            inodes.add(int(inode))
    return inodes


def test_each_worker_accepts_on_its_own_socket_and_all_get_connections(tmp_path: Path) -> None:
    """With one shared socket, whichever worker woke first accepted a whole burst of keep-alive
    connections and carried them alone; each worker's own SO_REUSEPORT socket spreads them."""
    port = free_port()
    config = tmp_path / "collector.yaml"
    config.write_text(f"listen_address: 127.0.0.1:{port}\n"
                      f"store: sqlite:///{tmp_path / 'c.db'}\nworkers: 3\n")
    proc = subprocess.Popen([sys.executable, "-m", "sentinelle.cli", "collector", "--config",
                             str(config), "serve"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    clients: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 30
        workers: list[int] = []
        while time.monotonic() < deadline:
            children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                      text=True, check=False).stdout.split()
            workers = [proc.pid, *map(int, children)]
            if len(workers) == 3 and all(listening_inodes(w, port) for w in workers):
                break
            time.sleep(0.2)
        sockets = [listening_inodes(w, port) for w in workers]
        assert all(len(s) == 1 for s in sockets), sockets  # its own, the others closed
        assert len(set().union(*sockets)) == 3, sockets  # three distinct sockets
        for _ in range(45):
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        time.sleep(1)
        local_ports = {c.getsockname()[1] for c in clients}
        accepted = {}
        for w in workers:
            accepted[w] = sum(
                1 for c in psutil.Process(w).net_connections(kind="tcp")
                if c.raddr and c.raddr.port in local_ports
            )
        assert sum(accepted.values()) == 45, accepted
        assert all(n > 0 for n in accepted.values()), accepted
    finally:
        for c in clients:
            c.close()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]
