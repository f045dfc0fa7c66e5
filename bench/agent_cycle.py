"""Benchmark: one full local check cycle against `lynis audit system`, side by side.

Prints the median wall time and peak RSS of `sentinelle check` (the whole local catalog: every
check of this platform, Python and declarative, except the network scans) over several runs,
Lynis' figures from the same run, and the idle RSS of a running agent between cycles. Goals:
median <= 2 s, peak RSS <= 45 MB, idle <= 35 MB.

    python3 bench/agent_cycle.py [--runs 7] [--lynis-runs 1] [--no-lynis]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.catalog import local_catalog  # noqa: E402


def measure(
    argv: list[str], env: dict[str, str] | None = None, timeout: float = 600
) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MB (from wait4's rusage of that child alone), exit code."""
    started = time.monotonic()
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT
    )
    deadline = started + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.005)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, proc.returncode


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def idle_agent_rss(env: dict[str, str]) -> float:
    """RSS (MB) of `sentinelle agent run` a few seconds after its first cycle."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "agent.yaml"
        config.write_text(
            f"agent: {{listen_address: '127.0.0.1:{port}', state_dir: '{tmp}'}}\n"
            "checks: {ports.network_scan: {enabled: false}}\n"
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "sentinelle.cli", "agent", "run", "--config", str(config)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            end = time.monotonic() + 60
            while time.monotonic() < end:
                try:
                    body = (
                        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
                        .read()
                        .decode()
                    )
                    if "sentinelle_agent_cycles_total 1.0" in body:
                        break
                except OSError:
                    pass
                time.sleep(0.2)
            time.sleep(3)
            status = Path(f"/proc/{proc.pid}/status").read_text()
            rss_kb = next(
                int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")
            )
            return rss_kb / 1024
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--lynis-runs", type=int, default=1)
    parser.add_argument("--no-lynis", action="store_true")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sentinelle = [sys.executable, "-m", "sentinelle.cli", "check", "--format", "json",
                  "--only", *local_catalog()]
    measure(sentinelle, env)  # warm the page cache once, as a scheduled agent would find it
    runs = [measure(sentinelle, env) for _ in range(args.runs)]
    walls = [r[0] for r in runs]
    rss = [r[1] for r in runs]
    print(
        f"{'tool':<28}{'runs':>5}{'median wall s':>15}{'min s':>8}{'max s':>8}"
        f"{'median peak RSS MB':>20}"
    )
    print(
        f"{'sentinelle check':<28}{len(runs):>5}{statistics.median(walls):>15.2f}"
        f"{min(walls):>8.2f}{max(walls):>8.2f}{statistics.median(rss):>20.1f}"
    )
    lynis = shutil.which("lynis")
    if lynis and not args.no_lynis:
        lruns = [
            measure([lynis, "audit", "system", "--quick", "--no-colour", "--no-log"], env)
            for _ in range(args.lynis_runs)
        ]
        lw = [r[0] for r in lruns]
        lr = [r[1] for r in lruns]
        print(
            f"{'lynis audit system':<28}{len(lruns):>5}{statistics.median(lw):>15.2f}"
            f"{min(lw):>8.2f}{max(lw):>8.2f}{statistics.median(lr):>20.1f}"
        )
        print(
            f"ratio wall lynis/sentinelle: {statistics.median(lw) / statistics.median(walls):.1f}x"
            f"   ratio peak RSS: {statistics.median(lr) / statistics.median(rss):.1f}x"
        )
        print("(lynis' peak RSS is its largest single process: it forks a shell per test)")
    else:
        print("lynis: not run (not installed or --no-lynis)")
    print(f"idle agent RSS after one cycle: {idle_agent_rss(env):.1f} MB  (goal <= 35 MB)")
    print("goals: median wall <= 2 s, peak RSS <= 45 MB")


if __name__ == "__main__":
    main()
