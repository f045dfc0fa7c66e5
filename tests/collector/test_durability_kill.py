"""SIGKILL under concurrent load: not one acknowledged Report is lost (issue 8, DESIGN.md).

The collector runs as the real service does (`python3 -m sentinelle.cli collector --config FILE
serve`, its own process group), 200 enrolled agents push concurrently on keep-alive connections,
and the whole process group is killed with SIGKILL while requests are in flight. The collector
is started again on the same store, and every Report that got a 2xx before the kill must be
there: in the store, answered as a duplicate when pushed again, and in the restarted
collector's fleet (`/metrics`). A few rounds in a row (one and two worker processes), for SQLite
and for PostgreSQL; `bench/kill_durability.py` runs more rounds. A start that fails after a kill
is retried (as systemd's Restart=on-failure would), recorded, and fails the test.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sentinelle.collector.records import AgentRecord, Commune
from sentinelle.collector.secrets import digest
from sentinelle.collector.store import open_store
from tests.collector.sample_reports import make_report

ROOT = Path(__file__).resolve().parents[2]
PUSHERS = 200
ROUNDS = int(os.environ.get("SENTINELLE_KILL_ROUNDS", "4"))  # two restarts with 2 workers
COMMUNES = ("01001", "01002", "2A004", "97411")
START_TIMEOUT = 60.0
LOAD_TIMEOUT = 30.0  # the kill comes long before; this only bounds a wedged load
RESTARTS = 3  # start attempts after a kill; a failed one is recorded, and is a failure


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True, eq=False)
class Agent:
    agent_id: str
    key: str
    commune: str
    host: str
    template: tuple[bytes, bytes]  # the Report's JSON before and after its report_id


def register_agents(store_url: str, count: int = PUSHERS) -> list[Agent]:
    """Communes and `count` agents written straight into the store (as `bench/ingest.py`)."""
    store = open_store(store_url)
    store.migrate()
    now = datetime.now(UTC)
    agents = []
    try:
        for code in COMMUNES:
            store.upsert_commune(Commune(code, f"Commune {code}", code[:2], 1000))
        for i in range(count):
            agent_id, key = f"agt_kill{i:05d}", f"key-{i:05d}-" + "k" * 32
            commune, host = COMMUNES[i % len(COMMUNES)], f"srv-{i}"
            store.add_agent(AgentRecord(agent_id, commune, host, digest(key), now))
            doc = make_report(n_results=8, seed=i, hostname=host).to_dict()
            doc["report_id"] = "@@ID@@"
            before, _, after = json.dumps(doc).encode().partition(b"@@ID@@")
            agents.append(Agent(agent_id, key, commune, host, (before, after)))
    finally:
        store.close()
    return agents


class CollectorProcess:
    """The collector as a service: a subprocess in its own process group, logging to a file."""

    def __init__(self, tmp: Path, store_url: str, workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = tmp / f"collector-{self.port}.yaml"
        self.log_path = tmp / f"collector-{self.port}.log"
        self.config.write_text(
            f"listen_address: 127.0.0.1:{self.port}\n"
            f"store: {json.dumps(store_url)}\n"
            f"workers: {workers}\n"
            "rate_limit: {per_second: 10000, burst: 100000}\n"
            "registry_refresh_seconds: 60\n",
            encoding="utf-8",
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.workers = workers

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sentinelle.cli", "collector", "--config",
                 str(self.config), "serve"],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"collector exited {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (OSError, urllib.error.HTTPError):
                time.sleep(0.1)
        raise AssertionError(f"collector did not answer /healthz in {START_TIMEOUT:g} s\n"
                             + self.log())

    def processes(self) -> int:
        """Live processes of the collector's group (the primary and its workers)."""
        assert self.proc is not None
        count = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rpartition(")")[2].split()
            if fields[0] != "Z" and int(fields[2]) == self.proc.pid:  # state, pgrp
                count += 1
        return count

    def kill(self) -> None:
        """SIGKILL to the whole process group (the workers too), as an OOM kill or a power cut
        of the service would; returns once every process of the group is gone."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.02)
        raise AssertionError("the collector's processes outlived SIGKILL for 30 s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def log(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Load:
    """What the pushers saw: the Reports acknowledged with a 2xx, and the other outcomes."""

    acked: list[tuple[str, str]] = field(default_factory=list)  # (agent_id, report_id)
    statuses: Counter[str] = field(default_factory=Counter)
    in_flight_at_kill: int = 0
    seconds: float = 0.0  # from the first push to the SIGKILL


async def _pusher(port: int, agent: Agent, prefix: str, load: Load,
                  in_flight: set[str], stop: asyncio.Event) -> None:
    """One agent pushing Reports back to back on a keep-alive connection, until it breaks."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as exc:
        load.statuses[f"connect-failed ({type(exc).__name__})"] += 1
        return
    seq = 0
    try:
        while not stop.is_set():
            report_id = f"{prefix}-{agent.agent_id[-5:]}-{seq}"
            seq += 1
            body = agent.template[0] + report_id.encode() + agent.template[1]
            writer.write(
                (f"POST /api/v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 f"Authorization: Bearer {agent.agent_id}:{agent.key}\r\n"
                 f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                 ).encode() + body)
            in_flight.add(agent.agent_id)
            await writer.drain()
            status_line = await reader.readline()
            if not status_line:
                raise ConnectionResetError("closed")
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            in_flight.discard(agent.agent_id)
            status = int(status_line.split()[1])
            load.statuses[str(status)] += 1
            if 200 <= status < 300:  # answered after the commit: durable from here on
                load.acked.append((agent.agent_id, report_id))
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
        load.statuses["cut"] += 1
    finally:
        writer.close()


async def _load_and_kill(collector: CollectorProcess, agents: list[Agent], prefix: str,
                         rng: random.Random, min_acked: int) -> Load:
    load = Load()
    in_flight: set[str] = set()
    stop = asyncio.Event()
    started = time.monotonic()
    tasks = [asyncio.create_task(_pusher(collector.port, a, prefix, load, in_flight, stop))
             for a in agents]
    # Kill once the load is well under way, at a random moment (seeded).
    while len(load.acked) < min_acked and time.monotonic() - started < LOAD_TIMEOUT:
        await asyncio.sleep(0.01)
    await asyncio.sleep(rng.uniform(0.0, 0.3))
    load.in_flight_at_kill = len(in_flight)
    load.seconds = time.monotonic() - started
    collector.kill()
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=LOAD_TIMEOUT)
    return load


def stored_ids(store_url: str) -> set[tuple[str, str]]:
    """Every (agent_id, report_id) the store holds."""
    store = open_store(store_url)
    try:
        now = datetime.now(UTC)
        ids: set[tuple[str, str]] = set()
        for code in COMMUNES:
            for r in store.reports_between(code, now - timedelta(days=2), now + timedelta(days=2)):
                ids.add((r.agent_id, r.report_id))
        return ids
    finally:
        store.close()


@dataclass
class RoundResult:
    round_no: int
    workers: int  # of the collector that was killed
    restarted_workers: int  # of the one started again
    load: Load
    lost: list[tuple[str, str]]
    replay_statuses: Counter[int]
    missing_hosts: list[str]
    restart_seconds: float
    failed_starts: list[str]

    def line(self) -> str:
        return (f"round {self.round_no}: {len(self.load.acked)} acknowledged by "
                f"{self.workers} worker{'s' * (self.workers > 1)} in {self.load.seconds:.1f} s, "
                f"{self.load.in_flight_at_kill} in flight at the SIGKILL, lost "
                f"{len(self.lost)}, restart with {self.restarted_workers} in "
                f"{self.restart_seconds:.1f} s"
                f"{f' after {len(self.failed_starts)} failed start(s)' * bool(self.failed_starts)}"
                ", outcomes "
                f"{dict(self.load.statuses)}, replays {dict(self.replay_statuses)}")


def kill_rounds(tmp: Path, store_url: str, rounds: int, seed: int = 8,
                min_acked: int = 400) -> list[RoundResult]:
    """Start, load, SIGKILL, restart and verify, `rounds` times on one store."""
    rng = random.Random(seed)
    agents = register_agents(store_url)
    by_id = {a.agent_id: a for a in agents}
    results: list[RoundResult] = []
    workers = 1
    collector = CollectorProcess(tmp, store_url, workers)
    collector.start()
    try:
        for round_no in range(1, rounds + 1):
            loaded_by = workers
            load = asyncio.run(_load_and_kill(collector, agents, f"k{round_no}", rng, min_acked))
            workers = 2 if round_no % 2 else 1  # the next collector alternates 2 and 1 workers
            restarted = time.monotonic()
            failed_starts: list[str] = []
            for _ in range(RESTARTS):  # as systemd's Restart=on-failure would
                collector = CollectorProcess(tmp, store_url, workers)
                try:
                    collector.start()
                except AssertionError as exc:
                    failed_starts.append(str(exc).splitlines()[-1][:300])
                    continue
                time.sleep(0.5)  # a worker that fails at start dies at once
                if collector.processes() < workers:  # serving, but with fewer workers
                    died = [line for line in collector.log(200).splitlines()
                            if "Error" in line][-1:]
                    failed_starts.append(f"started with {collector.processes()} of {workers} "
                                         f"processes: {died}")
                break
            else:
                raise AssertionError(f"the collector did not start again: {failed_starts}")
            restart_seconds = time.monotonic() - restarted
            held = stored_ids(store_url)
            lost = [a for a in load.acked if a not in held]
            # The restarted collector knows them too: pushed again, a Report is a duplicate.
            replays: Counter[int] = Counter()
            for agent_id, report_id in rng.sample(load.acked, min(20, len(load.acked))):
                agent = by_id[agent_id]
                body = agent.template[0] + report_id.encode() + agent.template[1]
                req = urllib.request.Request(
                    collector.url + "/api/v1/reports", data=body, method="POST",
                    headers={"Authorization": f"Bearer {agent_id}:{agent.key}",
                             "Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(req, timeout=30) as resp:
                        replays[resp.status] += 1
                except urllib.error.HTTPError as err:
                    replays[err.code] += 1
            with urllib.request.urlopen(collector.url + "/metrics", timeout=60) as resp:
                metrics = resp.read().decode()
            acked_agents = {by_id[a] for a, _ in load.acked}
            missing = sorted(
                a.host for a in acked_agents
                if f'sentinelle_host_last_report_timestamp_seconds{{commune="{a.commune}",'
                f'host="{a.host}"}}' not in metrics)
            results.append(RoundResult(round_no, loaded_by, workers, load, lost, replays,
                                       missing, restart_seconds, failed_starts))
    finally:
        collector.stop()
    return results


def check_rounds(results: list[RoundResult], rounds: int) -> None:
    summary = "\n".join(r.line() for r in results)
    print(summary)
    assert len(results) == rounds, summary
    for r in results:
        assert len(r.load.acked) >= 100, f"too little load before the kill\n{summary}"
        assert r.load.in_flight_at_kill > 0, f"nothing was in flight at the kill\n{summary}"
        assert not r.lost, f"acknowledged Reports lost: {r.lost[:10]}\n{summary}"
        assert not r.failed_starts, (
            f"round {r.round_no}: the collector failed to start after the SIGKILL "
            f"({r.restarted_workers} workers): {r.failed_starts}\n{summary}")
        assert set(r.replay_statuses) == {200}, f"replays not duplicates\n{summary}"
        assert not r.missing_hosts, f"hosts missing after restart: {r.missing_hosts[:10]}\n" \
            + summary
        assert not {k for k in r.load.statuses if k not in ("200", "201", "cut")
                    and not k.startswith("connect-failed")}, summary


@pytest.mark.integration
def test_sigkill_under_load_loses_no_acknowledged_report(tmp_path: Path, store_url: str) -> None:
    """Both backends (the `store_url` fixture starts PostgreSQL for its second run)."""
    started = time.monotonic()
    results = kill_rounds(tmp_path, store_url, ROUNDS)
    print(f"{store_url.split(':')[0]}: {time.monotonic() - started:.1f} s")
    check_rounds(results, ROUNDS)


HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA locking_mode=EXCLUSIVE")  # held until this process exits
db.execute("BEGIN IMMEDIATE")
db.execute("COMMIT")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_sqlite_store_waits_for_a_lock_held_by_another_process(tmp_path: Path) -> None:
    """Right after a SIGKILL the first process to open the database recovers its write-ahead
    log under an exclusive lock; the other workers starting with it, or a `sentinelle collector`
    command run meanwhile, must wait for it, not die with "database is locked" (seen in the
    rounds above: 5 of 7 restarts with two workers failed). Deterministic form: another process
    holds the database for one second while the store opens."""
    from sentinelle.collector.store.sqlite import SQLiteStore

    path = tmp_path / "collector.db"
    SQLiteStore(str(path)).close()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path), "1.0"],
                              stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        started = time.monotonic()
        store = SQLiteStore(str(path))  # must wait for the lock, within its busy timeout
        store.migrate()
        store.close()
        assert time.monotonic() - started < 20
    finally:
        holder.kill()
        holder.wait(30)


BURST = 300


def test_a_burst_of_connections_waits_in_the_listen_backlog(tmp_path: Path) -> None:
    """After a restart every agent reconnects at once, while the collector is still busy: the
    kernel must queue them (the listening socket is made with a backlog of 1024), not drop the
    SYNs past 128 so that agents wait for a retransmission or, as in the rounds above, find the
    collector gone by then. Deterministic form: the collector is frozen (SIGSTOP) while 300
    clients connect; every one must complete its handshake."""
    url = f"sqlite:///{tmp_path / 'collector.db'}"
    register_agents(url, 1)
    collector = CollectorProcess(tmp_path, url, workers=1)
    collector.start()
    assert collector.proc is not None
    socks: list[socket.socket] = []
    try:
        os.killpg(collector.proc.pid, signal.SIGSTOP)
        for _ in range(BURST):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", collector.port))
            socks.append(s)
        deadline = time.monotonic() + 2.0
        pending = set(socks)
        while pending and time.monotonic() < deadline:
            _, writable, _ = select.select([], list(pending), [], 0.1)
            pending -= set(writable)
        connected = sum(1 for s in socks if s not in pending
                        and s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0)
    finally:
        os.killpg(collector.proc.pid, signal.SIGCONT)
        for s in socks:
            s.close()
        collector.stop()
    assert connected == BURST, (
        f"{connected} of {BURST} connections completed while the collector was busy: the "
        "listen backlog is smaller than the 1024 asked for")
