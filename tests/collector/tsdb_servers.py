"""Real, throwaway time-series databases for the remote-write tests.

`running_prometheus()` and `running_victoria_metrics()` start the real server on a free
127.0.0.1 port with its data in a directory the test owns, wait (bounded) until it answers its
readiness endpoint, yield a `TsdbServer`, and always stop the process, killing it if it lingers.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

START_TIMEOUT = 30.0  # seconds until the server must answer ready
STOP_TIMEOUT = 10.0  # seconds after SIGTERM before SIGKILL
PORT_ATTEMPTS = 3  # a free port can be taken between choosing it and the server binding it

PROMETHEUS_CONFIG = """\
global:
  scrape_interval: 1m
  evaluation_interval: 1m
scrape_configs: []
"""

# Loopback only, and never through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with _OPENER.open(url, timeout=timeout) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, bytes(exc.read())


@dataclass
class TsdbServer:
    """A started server: where to write, and how to query it with PromQL."""

    kind: str  # "prometheus" or "victoria-metrics"
    base_url: str
    write_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def flush(self) -> None:
        """Make written samples searchable now (VictoriaMetrics buffers them for up to 1 s)."""
        if self.kind == "victoria-metrics":
            status, body = http_get(f"{self.base_url}/internal/force_flush")
            assert status == 200, body

    def query(self, promql: str, at: float) -> list[dict[str, Any]]:
        """The instant-query result vector of `promql` evaluated at Unix time `at`."""
        qs = urllib.parse.urlencode({"query": promql, "time": f"{at:.3f}"})
        status, body = http_get(f"{self.base_url}/api/v1/query?{qs}")
        assert status == 200, (status, body[:500])
        data = json.loads(body)
        assert data["status"] == "success", data
        result: list[dict[str, Any]] = data["data"]["result"]
        return result

    def query_until(
        self, promql: str, at: float, count: int, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Poll (bounded) until the query returns `count` series; the last result otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            self.flush()
            result = self.query(promql, at)
            if len(result) >= count or time.monotonic() > deadline:
                return result
            time.sleep(0.1)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(STOP_TIMEOUT)


@contextlib.contextmanager
def _running(
    kind: str,
    workdir: Path,
    argv_for: Callable[[int], list[str]],
    ready_path: str,
    write_path: str,
) -> Iterator[TsdbServer]:
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"{kind}.log"
    last_error = ""
    for _ in range(PORT_ATTEMPTS):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                argv_for(port),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=workdir,
            )
        server = TsdbServer(kind, base, base + write_path, proc, log_path)
        try:
            deadline = time.monotonic() + START_TIMEOUT
            ready = False
            while time.monotonic() < deadline and proc.poll() is None:
                with contextlib.suppress(OSError):
                    if http_get(base + ready_path, timeout=1.0)[0] == 200:
                        ready = True
                        break
                time.sleep(0.05)
            if ready:
                yield server
                return
            last_error = f"{kind} not ready on port {port}: {server.log_tail()}"
        finally:
            _stop(proc)
    raise RuntimeError(last_error)


@contextlib.contextmanager
def running_prometheus(binary: str, workdir: Path) -> Iterator[TsdbServer]:
    """A Prometheus with the remote-write receiver enabled and no scrape targets."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(PROMETHEUS_CONFIG)

    def argv(port: int) -> list[str]:
        return [
            binary,
            "--web.enable-remote-write-receiver",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--config.file={config}",
            "--log.level=warn",
        ]

    with _running("prometheus", workdir, argv, "/-/ready", "/api/v1/write") as server:
        yield server


@contextlib.contextmanager
def running_victoria_metrics(binary: str, workdir: Path) -> Iterator[TsdbServer]:
    """A single-node VictoriaMetrics; queries see fresh samples (no latency offset, no cache)."""

    def argv(port: int) -> list[str]:
        return [
            binary,
            f"-httpListenAddr=127.0.0.1:{port}",
            f"-storageDataPath={workdir / 'data'}",
            "-retentionPeriod=1y",
            "-search.latencyOffset=0s",
            "-search.disableCache",
            "-loggerLevel=ERROR",
        ]

    with _running("victoria-metrics", workdir, argv, "/health", "/api/v1/write") as server:
        yield server
