"""Benchmark: collector ingest and exposition, side by side with the Prometheus Pushgateway.

Many distinct enrolled agents push realistic Reports (about 60 results) concurrently over
loopback. Prints Reports/s durably stored, latency percentiles, /metrics render time for the
whole fleet, and the Pushgateway fed the same hosts' metrics as one group per host, with and
without its consistency check (it does not store a push durably before answering).

    python3 bench/ingest.py [--hosts 3000] [--concurrency 64] [--pushgateway-seconds 20]
                            [--rounds 3] [--workers 1 3] [--no-consistency-run]

Goals on a 2-core machine: >= 1,000 Reports/s, p99 < 250 ms, /metrics for 3,000 hosts < 1 s,
and at least 1.2 times the Pushgateway without its consistency check (median of the rounds).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
from prometheus_client import generate_latest  # noqa: E402

from sentinelle.agent.exporter import single_report_registry  # noqa: E402
from sentinelle.collector.records import AgentRecord, Commune  # noqa: E402
from sentinelle.collector.secrets import digest  # noqa: E402
from sentinelle.collector.store.sqlite import SQLiteStore  # noqa: E402
from tests.collector.sample_reports import make_report  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, deadline: float = 30) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


async def http_worker(
    port: int, jobs: asyncio.Queue[tuple[bytes, int] | None], results: list[tuple[int, float]]
) -> None:
    """One keep-alive connection sending prepared requests; records (status, seconds)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while True:
            job = await jobs.get()
            if job is None:
                return
            request, _ = job
            started = time.perf_counter()
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            results.append((int(status_line.split()[1]), time.perf_counter() - started))
    finally:
        writer.close()


async def run_load(
    port: int, requests: list[bytes], concurrency: int, time_limit: float
) -> tuple[list[tuple[int, float]], float]:
    jobs: asyncio.Queue[tuple[bytes, int] | None] = asyncio.Queue()
    for i, r in enumerate(requests):
        jobs.put_nowait((r, i))
    for _ in range(concurrency):
        jobs.put_nowait(None)
    results: list[tuple[int, float]] = []
    started = time.perf_counter()
    workers = [asyncio.create_task(http_worker(port, jobs, results)) for _ in range(concurrency)]
    try:
        await asyncio.wait_for(asyncio.gather(*workers), timeout=time_limit)
    except TimeoutError:
        for w in workers:
            w.cancel()
    return results, time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (the collector's workers)."""
    total = 0.0
    try:
        proc = psutil.Process(pid)
        for p in [proc, *proc.children(recursive=True)]:
            times = p.cpu_times()
            total += times.user + times.system
    except psutil.Error:
        pass
    return total


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


def summary(
    name: str, results: list[tuple[int, float]], seconds: float, ok: set[int]
) -> tuple[str, float]:
    """The printed line and the rate of accepted requests per second."""
    good = [lat for status, lat in results if status in ok]
    rate = len(good) / seconds if seconds else 0.0
    line = (
        f"{name:<44}{len(good):>7}{rate:>10.0f}{pct(good, 50) * 1000:>9.1f}"
        f"{pct(good, 99) * 1000:>9.1f}{len(results) - len(good):>8}"
    )
    return line, rate


def bench_collector(
    hosts: int, concurrency: int, bodies: list[bytes], tmp: Path, workers: int
) -> float:
    store = SQLiteStore(str(tmp / "collector.db"))
    store.migrate()
    now = datetime.now(UTC)
    creds = []
    for i in range(hosts // 100 + 1):
        store.upsert_commune(Commune(f"01{i:03d}", f"Commune {i}", "01", 1000 + i))
    for i in range(hosts):
        agent_id, key = f"agt_bench{i:05d}", f"key-{i:05d}-" + "x" * 30
        store.add_agent(AgentRecord(agent_id, f"01{i // 100:03d}", f"srv-{i}", digest(key), now))
        creds.append((agent_id, key))
    store.close()
    port = free_port()
    config = tmp / "collector.yaml"
    config.write_text(
        f"listen_address: 127.0.0.1:{port}\nstore: sqlite:///{tmp / 'collector.db'}\n"
        "rate_limit: {per_second: 100, burst: 100}\n"
        f"workers: {workers}\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "sentinelle.cli", "collector", "--config", str(config), "serve"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        requests = []
        for (agent_id, key), body in zip(creds, bodies, strict=True):
            requests.append(
                (
                    f"POST /api/v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Authorization: Bearer {agent_id}:{key}\r\nContent-Type: application/json\r\n"
                    f"Content-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n"
                ).encode()
                + body
            )
        cpu_before = cpu_seconds(proc.pid)
        results, seconds = asyncio.run(run_load(port, requests, concurrency, 300))
        cpu = cpu_seconds(proc.pid) - cpu_before
        name = f"sentinelle collector ({workers} worker{'s' if workers > 1 else ''}, SQLite)"
        line, rate = summary(name, results, seconds, {201})
        print(line)
        print(f"  server CPU per stored Report: {cpu / max(1, len(results)) * 1000:.2f} ms")
        db_count = SQLiteStore(str(tmp / "collector.db")).count_reports()
        print(f"  Reports in the database after the run: {db_count}")
        renders = []
        size = 0
        for _ in range(5):
            t0 = time.perf_counter()
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=60).read()
            renders.append(time.perf_counter() - t0)
            size = len(body)
        lines = body.count(b"\n")
        print(
            f"  /metrics for {hosts} hosts: median {statistics.median(renders):.3f} s "
            f"(min {min(renders):.3f}), {size / 1e6:.1f} MB, {lines} lines"
        )
    finally:
        proc.terminate()
        proc.wait(30)
    return rate


def bench_pushgateway(
    hosts: int, concurrency: int, texts: list[bytes], seconds: float, consistency: bool, tmp: Path
) -> float | None:
    binary = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")
    if binary is None:
        print("pushgateway: not installed (Debian package prometheus-pushgateway)")
        return None
    port = free_port()
    args = [binary, f"--web.listen-address=127.0.0.1:{port}"]
    if not consistency:
        args.append("--push.disable-consistency-check")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready")
        requests = []
        for i, text in enumerate(texts):
            requests.append(
                (
                    f"PUT /metrics/job/sentinelle/commune/01{i // 100:03d}/host/srv-{i}"
                    " HTTP/1.1\r\n"
                    f"Host: 127.0.0.1\r\nContent-Type: text/plain; version=0.0.4\r\n"
                    f"Content-Length: {len(text)}\r\n\r\n"
                ).encode()
                + text
            )
        cpu_before = cpu_seconds(proc.pid)
        results, took = asyncio.run(run_load(port, requests, concurrency, seconds))
        cpu = cpu_seconds(proc.pid) - cpu_before
        name = "pushgateway " + (
            "(default consistency check)" if consistency else "(--push.disable-consistency-check)"
        )
        line, rate = summary(name, results, took, {200, 202})
        print(line)
        print(f"  server CPU per push: {cpu / max(1, len(results)) * 1000:.2f} ms")
    finally:
        proc.kill()  # it may still be working through a backlog of consistency checks
        proc.wait(30)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--pushgateway-seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternate the collector and the Pushgateway this many times")
    parser.add_argument("--no-consistency-run", dest="consistency_run", action="store_false",
                        help="skip the (slow) Pushgateway run with its consistency check")
    args = parser.parse_args()
    print(f"preparing {args.hosts} Reports of 60 results ...", flush=True)
    reports = [make_report(n_results=60, seed=i, hostname=f"srv-{i}") for i in range(args.hosts)]
    bodies = [gzip.compress(json.dumps(r.to_dict()).encode(), 6) for r in reports]
    texts = [generate_latest(single_report_registry(r)) for r in reports]
    series = texts[0].count(b"\n") - texts[0].count(b"\n#")
    print(
        f"median gzip body {statistics.median(len(b) for b in bodies) / 1024:.1f} KiB; "
        f"{series} series per host for the Pushgateway"
    )
    print(f"{'target':<44}{'ok':>7}{'per s':>10}{'p50 ms':>9}{'p99 ms':>9}{'failed':>8}")
    # Rounds alternate the collector and the Pushgateway, so that a noisy neighbour on a shared
    # machine weighs on both alike; the verdict is the median of the per-round ratios.
    rates: dict[str, list[float]] = {}
    ratios: list[float] = []
    for n in range(args.rounds):
        if args.rounds > 1:
            print(f"-- round {n + 1} of {args.rounds}")
        for workers in args.workers:
            with tempfile.TemporaryDirectory() as tmp:
                rate = bench_collector(args.hosts, args.concurrency, bodies, Path(tmp), workers)
                rates.setdefault(f"collector, {workers} worker(s)", []).append(rate)
        with tempfile.TemporaryDirectory() as tmp:
            gateway = bench_pushgateway(
                args.hosts, args.concurrency, texts, args.pushgateway_seconds, False, Path(tmp)
            )
        if gateway:
            rates.setdefault("pushgateway --push.disable-consistency-check", []).append(gateway)
            ratios.append(rates[f"collector, {max(args.workers)} worker(s)"][-1] / gateway)
    if args.consistency_run:
        with tempfile.TemporaryDirectory() as tmp:
            bench_pushgateway(
                args.hosts, args.concurrency, texts, args.pushgateway_seconds, True, Path(tmp)
            )
    print("medians over the rounds:")
    for name, values in rates.items():
        print(f"  {name:<48}{statistics.median(values):>8.0f} Reports/s  "
              f"(min {min(values):.0f}, max {max(values):.0f})")
    if ratios:
        print(
            f"  collector ({max(args.workers)} workers) / pushgateway without consistency check: "
            f"median {statistics.median(ratios):.2f}x "
            f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
        )


if __name__ == "__main__":
    main()
