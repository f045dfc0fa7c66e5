"""Start a real Prometheus that scrapes a Sentinelle collector: for `sentinelle demo` and tests."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sentinelle.errors import SentinelleError

SCRAPE_CONFIG = """\
global:
  scrape_interval: {interval}
  evaluation_interval: {interval}
rule_files: {rule_files}
scrape_configs:
  - job_name: sentinelle-collector
    honor_labels: true   # commune and host come from the collector's registry
    static_configs:
      - targets: ["{collector}"]
{extra}"""


def prometheus_config(collector: str, interval: str = "15s", rule_files: Sequence[str] = (),
                      agent: str | None = None) -> str:
    """prometheus.yml scraping the collector (and optionally one agent's own /metrics)."""
    extra = ""
    if agent:
        extra = (f"  - job_name: sentinelle-agent\n"
                 f"    static_configs:\n      - targets: [\"{agent}\"]\n")
    return SCRAPE_CONFIG.format(interval=interval, rule_files=json.dumps(list(rule_files)),
                                collector=collector, extra=extra)


class PrometheusProcess:
    """A Prometheus server on loopback with its data in `workdir`."""

    def __init__(self, workdir: Path, config_text: str, port: int,
                 binary: str | None = None) -> None:
        found = binary or shutil.which("prometheus")
        if found is None:
            raise SentinelleError("prometheus is not installed (Debian package prometheus)")
        self.binary = found
        self.workdir = workdir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(config_text, encoding="utf-8")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        log = (self.workdir / "prometheus.log").open("wb")
        self.proc = subprocess.Popen(
            [self.binary, f"--config.file={self.config_path}",
             f"--storage.tsdb.path={self.workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-lifecycle"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SentinelleError(f"prometheus exited: {self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SentinelleError(f"prometheus not ready within {timeout:g} s: {self.log_tail()}")

    def log_tail(self, chars: int = 2000) -> str:
        path = self.workdir / "prometheus.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Instant query; the result vector (empty when no series match)."""
        url = self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                answer = json.load(resp)
        except urllib.error.HTTPError as err:
            raise SentinelleError(f"query {promql!r} failed: {err.read()[:500]!r}") from err
        if answer.get("status") != "success":
            raise SentinelleError(f"query {promql!r} failed: {answer}")
        result = answer["data"]["result"]
        return result if isinstance(result, list) else [result]

    def wait_for(self, promql: str, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Poll until the query returns data (a scrape has happened), bounded in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.query(promql)
            if result:
                return result
            time.sleep(0.5)
        raise SentinelleError(f"no data for {promql!r} within {timeout:g} s")

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout)
