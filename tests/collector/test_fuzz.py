"""The seeded fuzz campaign of issue 8 against a real collector: one bad agent hurts nobody else.

At least 20,000 mutations of real Reports (`tests/collector/mutations.py`) are pushed over
loopback by 32 enrolled hostile agents in two communes, while a well-behaved agent of a third
commune pushes a valid Report every round. The pushes go in rounds: one mutation per hostile
agent, all at once on keep-alive connections (so a group commit mixes hostile and good Reports),
then one scrape of `/metrics`. Each hostile agent's latest accepted Report is live state, so every
accepted mutation is in the exposition of at least one checked scrape. What must hold:

- no push is answered 5xx (or not answered at all);
- every 4xx is an RFC 9457 problem document whose detail names the field (a JSON path such as
  `$.results[3].status`) or the encoding at fault;
- after every round `/metrics` answers 200, passes `promtool check metrics`, parses here with no
  duplicate series, and carries every host that got a Report accepted in that round (accepted
  means usable by every consumer);
- the well-behaved agent's pushes are all stored (201) and its series are in every scrape;
- a new collector started on the campaign's store renders the same state just as well;
- at the end, the monthly report makes the well-behaved commune's page (and, since accepted
  means usable, every other commune's too).

promtool (another process) judges round r's scrape while round r+1 is pushed, and mutations are
built one round ahead in another process: the collector under test has this process to itself.
When a scrape breaks, the agents whose mutation was accepted in the round(s) it covers are
revoked (their state leaves the fleet, the campaign goes on), and each candidate is replayed
alone by a fresh agent to name the culprit. Every failure prints the seed, the index and the
mutation's name, and `python3 -m tests.collector.mutations --seed S --index I --generated-at G`
rebuilds its bytes.
`SENTINELLE_FUZZ_SEED` and `SENTINELLE_FUZZ_MUTATIONS` change the seed and the size;
`bench/fuzz_ingest.py` runs the same campaign at 200,000 mutations.
"""

from __future__ import annotations

import collections
import contextlib
import http.client
import io
import json
import logging
import multiprocessing
import os
import re
import select
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sentinelle.collector.records import AgentRecord
from sentinelle.collector.secrets import digest, new_agent_id, new_secret
from tests.collector.harness import Running, auth, request, running_collector
from tests.collector.mutations import (
    AGENT_CREDENTIALS,
    FAMILIES,
    Mutation,
    MutationEngine,
    build_batch,
    enrollment_mutations,
    needs_raw_socket,
)
from tests.collector.sample_reports import make_report
from tests.conftest import need_tool

SEED = int(os.environ.get("SENTINELLE_FUZZ_SEED", "8"))
MUTATIONS = int(os.environ.get("SENTINELLE_FUZZ_MUTATIONS", "20000"))
HOSTILE_AGENTS = 32
HOSTILE_COMMUNES = (("01001", "L'Abergement-Clémenciat"), ("2A004", "Ajaccio"))
GOOD_COMMUNE = ("97411", "Saint-Denis")
GOOD_HOST = "mairie-bien"
TIME_LIMIT_SECONDS = 300.0  # the campaign fails, rather than hangs, past this
MAX_PINPOINTED = 10  # broken scrapes whose culprit is searched by replaying each candidate
RAW_TIMEOUT = 10.0
PROBLEM_TYPE = "application/problem+json"
# What a refusal's detail must name: a JSON path, or the part of the request at fault.
NAMES_FIELD = re.compile(
    r"\$|\b(gzip|deflate|encoding|content-encoding|content-length|content-type|utf-?8|utf-?16|"
    r"unicode|json|authorization|bearer|agent|key|body|bytes|token|hostname|header)\b",
    re.IGNORECASE,
)


# HTTP: keep-alive connections for the pushes, raw sockets for the framing mutations.


@dataclass
class Answer:
    """What the collector answered: status None when it answered nothing."""

    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str = ""

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class KeepAlive:
    """One persistent HTTP/1.1 connection to the collector (reopened when the server closes
    it; a request that fails on a reused connection is retried once, and counted)."""

    def __init__(self, host: str, port: int, timeout: float = 60.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.conn: http.client.HTTPConnection | None = None
        self.retries = 0

    def request(self, method: str, path: str, headers: dict[str, str],
                body: bytes | None = None) -> Answer:
        for attempt in (0, 1):
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
                answer = Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
                if resp.will_close:
                    self.close()
                return answer
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.BadStatusLine) as exc:
                self.close()
                if attempt == 0 and reused:
                    self.retries += 1
                    continue
                return Answer(None, error=f"{type(exc).__name__}: {exc}")
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                return Answer(None, error=f"{type(exc).__name__}: {exc}")
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _read_response(sock: socket.socket) -> Answer:
    """The first HTTP response on a raw socket (status line, headers, Content-Length body)."""
    reader = sock.makefile("rb")
    status_line = reader.readline(65536)
    if not status_line:
        return Answer(None, error="connection closed without an answer")
    parts = status_line.split()
    headers: dict[str, str] = {}
    while True:
        line = reader.readline(65536)
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    body = reader.read(length) if length else b""
    return Answer(int(parts[1]), headers, body)


def stalls(headers: dict[str, str], body: bytes) -> bool:
    """True when the request announces more body than it sends: an HTTP/1.1 server rightly
    waits for the rest (until its read timeout), so the answer is collected at the end."""
    lower = {k.lower(): v for k, v in headers.items()}
    if "chunked" in lower.get("transfer-encoding", ""):
        return not body.endswith(b"0\r\n\r\n")
    length = lower.get("content-length", "").strip()
    return length.isdigit() and int(length) > len(body)


def raw_request(host: str, port: int, path: str, headers: dict[str, str],
                body: bytes) -> Answer | socket.socket:
    """Write the request byte for byte; the answer, or the open socket when it `stalls`."""
    head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    try:
        sock = socket.create_connection((host, port), timeout=RAW_TIMEOUT)
    except OSError as exc:
        return Answer(None, error=f"{type(exc).__name__}: {exc}")
    try:
        sock.sendall(head.encode("latin-1") + body)
        if stalls(headers, body):
            return sock
        answer = _read_response(sock)
    except OSError as exc:
        answer = Answer(None, error=f"{type(exc).__name__}: {exc}")
    sock.close()
    return answer


# Checks of one answer and of one exposition.


def problem_failure(answer: Answer) -> tuple[str, str] | None:
    """(kind, why) when a 4xx answer is not a problem document naming the field at fault."""
    ctype = answer.headers.get("content-type", "")
    if not ctype.startswith(PROBLEM_TYPE):
        return "problem-doc", f"Content-Type {ctype!r}, body {answer.text()[:160]!r}"
    try:
        doc = json.loads(answer.body)
    except ValueError:
        return "problem-doc", f"not JSON: {answer.text()[:160]!r}"
    if not isinstance(doc, dict) or doc.get("status") != answer.status or not all(
        isinstance(doc.get(k), str) and doc.get(k) for k in ("title", "detail")
    ):
        return "problem-doc", f"not a problem document: {answer.text()[:200]!r}"
    if not NAMES_FIELD.search(doc["detail"]):
        return "vague-detail", f"{answer.status} {doc['detail'][:200]!r}"
    return None


SeriesKey = str  # `name{labels}` as rendered: the collector writes labels in a fixed order


def parse_exposition(text: str) -> tuple[set[SeriesKey], list[str]]:
    """Series of a text exposition (0.0.4) and what is wrong with it that promtool lets
    through: duplicate series (Prometheus drops them silently) and families with two HELP or
    TYPE lines. Syntax, UTF-8 and duplicate label names are promtool's to judge."""
    series: set[SeriesKey] = set()
    problems: list[str] = []
    described: set[str] = set()
    for line in text.split("\n"):
        if not line:
            continue
        if line[0] == "#":
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                key = parts[1] + " " + parts[2]
                if key in described:
                    problems.append(f"second {key}")
                described.add(key)
            continue
        key = line.rpartition(" ")[0]
        if key in series:
            problems.append(f"duplicate series {key[:200]!r}")
        series.add(key)
    return series, problems


def host_series(series: set[SeriesKey], commune: str, host: str) -> bool:
    return f'sentinelle_host_risk_score{{commune="{commune}",host="{host}"}}' in series


def promtool_problems(promtool: str, text: str) -> list[str]:
    checked = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                             capture_output=True, timeout=120, check=False)
    if checked.returncode == 0:
        return []
    out = (checked.stderr + checked.stdout).decode("utf-8", "replace").strip()
    return [f"promtool check metrics exited {checked.returncode}: {out[:600]}"]


# The campaign.


class SecretWatch(logging.Handler):
    """Looks for any agent's key in what the collector logs (tracebacks included)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.secrets: set[str] = set()
        self.hits: list[str] = []
        self._format = logging.Formatter("%(name)s %(levelname)s %(message)s")

    def emit(self, record: logging.LogRecord) -> None:
        text = self._format.format(record)
        for secret in self.secrets:
            if secret in text:
                line = next(x for x in text.splitlines() if secret in x)
                self.hits.append(f"{record.name} {record.levelname}: "
                                 + line.replace(secret, "<KEY>").strip()[:300])
                return


@dataclass
class Failure:
    """One broken requirement, with what reproduces it."""

    kind: str
    seed: int
    index: int | None
    name: str
    detail: str
    generated_at: str = ""

    def __str__(self) -> str:
        where = f"seed={self.seed} index={self.index}" if self.index is not None else "-"
        repro = (f"  [python3 -m tests.collector.mutations --seed {self.seed} --index "
                 f"{self.index} --generated-at {self.generated_at}]"
                 if self.index is not None and self.generated_at else "")
        return f"[{self.kind}] {where} {self.name}: {self.detail}{repro}"


@dataclass
class Slot:
    """One hostile agent (replaced by a fresh one when its state must leave the fleet)."""

    number: int
    commune: str
    agent: dict[str, str] = field(default_factory=dict)
    generation: int = 0
    conn: KeepAlive | None = None


@dataclass
class Candidate:
    """An accepted mutation, with the agent that pushed it."""

    index: int
    mutation: Mutation
    agent: dict[str, str]
    stamp: str


@dataclass
class Verdict:
    """promtool's judgement of one round's scrape, still running."""

    round_no: int
    accepted: list[Candidate]
    future: Future[list[str]]

    def outcome(self) -> list[str]:
        return self.future.result()


@dataclass
class CampaignResult:
    """Counts, timings and every broken requirement of one campaign."""

    seed: int
    planned: int
    sent: int = 0
    rounds: int = 0
    scrapes: int = 0
    accepted: int = 0
    seconds: float = 0.0
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)
    by_family: dict[str, collections.Counter[str]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    replaced_agents: int = 0
    retries: int = 0
    pending_checked: int = 0
    max_scrape_bytes: int = 0
    max_scrape_seconds: float = 0.0
    good_pushes: int = 0
    phases: collections.defaultdict[str, float] = field(
        default_factory=lambda: collections.defaultdict(float))  # seconds spent in each step
    accepted_examples: dict[str, list[str]] = field(default_factory=dict)  # a few per family

    def of_kind(self, *kinds: str) -> list[Failure]:
        return [f for f in self.failures if f.kind in kinds]

    def summary(self) -> str:
        rate = self.sent / self.seconds if self.seconds else 0.0
        lines = [
            f"fuzz campaign seed={self.seed}: {self.sent}/{self.planned} mutations in "
            f"{self.rounds} rounds, {self.seconds:.1f} s ({rate:.0f} mutations/s); "
            f"{self.accepted} accepted, {self.scrapes} scrapes checked, "
            f"{self.good_pushes} good pushes, {self.replaced_agents} hostile agents replaced, "
            f"{self.retries} keep-alive retries, {self.pending_checked} stalled requests checked",
            f"  largest scrape {self.max_scrape_bytes / 1e6:.2f} MB, slowest "
            f"{self.max_scrape_seconds:.2f} s; time in "
            + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(self.phases.items(),
                                                            key=lambda kv: -kv[1])),
            "  outcomes: " + ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items())),
        ]
        for family, counts in sorted(self.by_family.items()):
            lines.append(f"    {family:<12} " + ", ".join(f"{k}: {v}"
                                                         for k, v in sorted(counts.items())))
        kinds = collections.Counter(f.kind for f in self.failures)
        lines.append("  failures: " + (", ".join(f"{k}: {v}" for k, v in kinds.items())
                                       or "none"))
        return "\n".join(lines)

    def report(self, *kinds: str, examples: int = 12) -> str:
        chosen = self.of_kind(*kinds) if kinds else self.failures
        shown: list[str] = []
        per_kind: collections.Counter[str] = collections.Counter()
        for f in chosen:
            per_kind[f.kind] += 1
            if per_kind[f.kind] <= examples:
                shown.append(str(f))
        return self.summary() + "\n" + "\n".join(shown)


def _family(name: str) -> str:
    return name.split("/", 1)[1].split(":", 1)[0].split(" ", 1)[0]


def _now_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Campaign:
    """Hostile agents push mutations in rounds; a scrape is checked after every round."""

    def __init__(self, running: Running, seed: int, promtool: str,
                 hostile_agents: int = HOSTILE_AGENTS,
                 log: Callable[[str], None] | None = None) -> None:
        self.c = running
        self.seed = seed
        self.promtool_path = promtool
        self.log = log or (lambda _: None)
        host, _, port = running.url.removeprefix("http://").rpartition(":")
        self.host, self.port = host, int(port)
        self.slots = [Slot(i, HOSTILE_COMMUNES[i % len(HOSTILE_COMMUNES)][0])
                      for i in range(hostile_agents)]
        self._scrape_conn = KeepAlive(self.host, self.port)
        self.good: dict[str, str] = {}
        self._good_conn = KeepAlive(self.host, self.port)
        self._good_base = make_report(n_results=12, seed=97411, hostname=GOOD_HOST).to_dict()
        self._good_checks = len(self._good_base["checks"])
        self._pending: list[tuple[int, str, str, socket.socket]] = []
        self._pinpointed = 0
        self.phase_registry = 0.0
        self.replaced = 0
        # Hostile agents with an accepted Report, not revoked: agent id -> (commune, host).
        self.live: dict[str, tuple[str, str]] = {}
        self.watch = SecretWatch()

    # Registry

    def setup(self) -> None:
        """Communes, the good agent (enrolled over HTTP) and the hostile agents."""
        for code, name in (*HOSTILE_COMMUNES, GOOD_COMMUNE):
            self.c.commune(code, name, population=1000)
        self.good = self.c.enroll(GOOD_COMMUNE[0], GOOD_HOST)
        self.watch.secrets.add(self.good["key"])
        for slot in self.slots:
            slot.agent = self._store_agent(slot.commune, f"hostile-{slot.number}-0")
            slot.conn = KeepAlive(self.host, self.port)
        self.c.service.refresh_registry()

    def _store_agent(self, commune: str, host: str) -> dict[str, str]:
        agent_id, key = new_agent_id(), new_secret()
        self.watch.secrets.add(key)
        self.c.store.add_agent(AgentRecord(agent_id, commune, host, digest(key),
                                           datetime.now(UTC)))
        return {"agent_id": agent_id, "key": key, "commune": commune, "host": host}

    def _store_revoke(self, agent_ids: Sequence[str], refresh: bool = True) -> None:
        now = datetime.now(UTC)
        for agent_id in agent_ids:
            self.c.store.revoke_agent(agent_id, now)
        if refresh:
            self.c.service.refresh_registry()

    def _quarantine(self, candidates: Sequence[Candidate]) -> None:
        """Revoke the agents that pushed these Reports (their state leaves the fleet); a fresh
        agent takes over each slot whose agent it was."""
        self._revoke_slots({c.agent["agent_id"] for c in candidates})

    def _revoke_slots(self, gone: set[str]) -> None:
        if not gone:
            return
        started = time.perf_counter()
        self._store_revoke(sorted(gone), refresh=False)  # once below, new agents included
        for agent_id in gone:
            self.live.pop(agent_id, None)
        for slot in self.slots:
            if slot.agent["agent_id"] in gone:
                slot.generation += 1
                slot.agent = self._store_agent(slot.commune,
                                             f"hostile-{slot.number}-{slot.generation}")
                self.replaced += 1
        self.c.service.refresh_registry()
        self.phase_registry += time.perf_counter() - started

    # Requests

    def push(self, conn: KeepAlive, agent: dict[str, str], index: int,
             mutation: Mutation) -> Answer:
        headers = {**auth(agent), **mutation.headers}
        if AGENT_CREDENTIALS in headers.get("Authorization", ""):
            headers["Authorization"] = headers["Authorization"].replace(
                AGENT_CREDENTIALS, f"{agent['agent_id']}:{agent['key']}")
        if needs_raw_socket(mutation.headers):
            got = raw_request(self.host, self.port, "/api/v1/reports", headers, mutation.body)
            if isinstance(got, socket.socket):
                self._pending.append((index, mutation.name, agent["agent_id"], got))
                return Answer(0)  # collected at the end
            return got
        return conn.request("POST", "/api/v1/reports", headers, mutation.body)

    def _push_good(self, round_no: int, stamp: str) -> Answer:
        body = dict(self._good_base, report_id=f"good-{round_no}", generated_at=stamp)
        return self._good_conn.request(
            "POST", "/api/v1/reports",
            {**auth(self.good), "Content-Type": "application/json"}, json.dumps(body).encode())

    def _http_scrape(self) -> tuple[int, str]:
        answer = self._scrape_conn.request("GET", "/metrics", {})
        return answer.status or 0, answer.text() if answer.status else answer.error

    def scrape_and_parse(self, expect: Sequence[tuple[str, str]], result: CampaignResult,
                         good: bool = True) -> tuple[str | None, list[str]]:
        """One scrape and what is wrong with it, promtool aside: (text, problems); text is
        None when the scrape itself failed."""
        started = time.perf_counter()
        status, text = self._http_scrape()
        took = time.perf_counter() - started
        result.phases["scrape"] += took
        result.scrapes += 1
        result.max_scrape_seconds = max(result.max_scrape_seconds, took)
        result.max_scrape_bytes = max(result.max_scrape_bytes, len(text))
        if status != 200:
            return None, [f"/metrics answered {status}: {text[:300]!r}"]
        started = time.perf_counter()
        series, problems = parse_exposition(text)
        problems = problems[:5]
        if good:
            if not host_series(series, GOOD_COMMUNE[0], GOOD_HOST):
                problems.append("good-series: the well-behaved host is missing")
            prefix = f'sentinelle_check_status{{commune="{GOOD_COMMUNE[0]}",'
            good_checks = sum(1 for key in series if key.startswith(prefix))
            if good_checks != self._good_checks:
                problems.append(f"good-series: {good_checks} check_status series of the "
                                f"well-behaved host, expected {self._good_checks}")
        for commune, host in expect:
            if not host_series(series, commune, host):
                problems.append(f"left-out: {commune}/{host} got its Report accepted but is "
                                "not in /metrics")
        result.phases["parse"] += time.perf_counter() - started
        return text, problems

    def promtool(self, text: str, result: CampaignResult) -> list[str]:
        started = time.perf_counter()
        problems = promtool_problems(self.promtool_path, text)
        result.phases["promtool"] += time.perf_counter() - started
        return problems

    def check_scrape(self, expect: Sequence[tuple[str, str]], result: CampaignResult,
                     good: bool = True) -> list[str]:
        """Every check of one scrape, at once: status, duplicates, hosts, promtool."""
        text, problems = self.scrape_and_parse(expect, result, good)
        if text is not None:
            problems = self.promtool(text, result) + problems
        return problems

    # The campaign

    def _classify(self, result: CampaignResult, index: int, mutation: Mutation,
                  answer: Answer, stamp: str) -> bool:
        """Record the outcome of one push; True when it was accepted."""
        family = _family(mutation.name)
        counts = result.by_family.setdefault(family, collections.Counter())
        if answer.status == 0:
            counts["stalled"] += 1
            result.statuses["stalled"] += 1
            return False
        key = str(answer.status) if answer.status is not None else "no-answer"
        counts[key] += 1
        result.statuses[key] += 1

        def fail(kind: str, detail: str) -> None:
            result.failures.append(Failure(kind, self.seed, index, mutation.name, detail, stamp))

        if answer.status is None:
            if family != "http":  # a framing error may close the connection without a word
                fail("no-answer", answer.error)
            return False
        if answer.status >= 500:
            fail("5xx", f"{answer.status} {answer.text()[:200]!r}")
            return False
        if 400 <= answer.status < 500:
            # Framing and header-syntax errors too: the collector answers what aiohttp's HTTP
            # parser refuses with a problem document (sentinelle.collector.guard).
            why = problem_failure(answer)
            if why is not None:
                fail(why[0], why[1])
            return False
        if 200 <= answer.status < 300:
            examples = result.accepted_examples.setdefault(family, [])
            if len(examples) < 5:
                examples.append(f"#{index} {mutation.name}")
            return True
        fail("unexpected-status", f"{answer.status} {answer.text()[:200]!r}")
        return False

    def run(self, count: int, time_limit: float = TIME_LIMIT_SECONDS,
            progress_every: float = 0.0) -> CampaignResult:
        """Push `count` mutations in rounds; check a scrape after every round.

        promtool (a separate process) judges round r's scrape while round r+1 is pushed; when
        it fails, the Reports accepted in both rounds are the candidates (round r's state may
        still be live in round r+1's scrape).
        """
        result = CampaignResult(self.seed, count)
        started = time.monotonic()
        last_progress = started
        n = len(self.slots)
        index = 0
        waiting: Verdict | None = None
        logging.getLogger().addHandler(self.watch)
        # Mutations are built one round ahead in another process: the collector under test
        # runs in this one, and the builder's CPU would otherwise slow both down.
        spawn = multiprocessing.get_context("spawn")
        with ThreadPoolExecutor(max_workers=n + 1, thread_name_prefix="fuzz") as pool, \
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="promtool") as checker, \
                ProcessPoolExecutor(max_workers=1, mp_context=spawn) as builder:
            ahead_stamp = _now_stamp()
            ahead = builder.submit(build_batch, self.seed, 0, min(count, n), ahead_stamp)
            while index < count:
                if time.monotonic() - started > time_limit:
                    result.failures.append(Failure(
                        "time-limit", self.seed, None, "campaign",
                        f"stopped after {index} of {count} mutations ({time_limit:.0f} s)"))
                    break
                t0 = time.perf_counter()
                built, stamp = ahead.result(), ahead_stamp
                batch = list(zip(self.slots, range(index, index + len(built)), built,
                                 strict=False))
                index += len(batch)
                ahead_stamp = _now_stamp()
                ahead = builder.submit(build_batch, self.seed, index, min(count, index + n),
                                       ahead_stamp)
                t1 = time.perf_counter()
                result.phases["build"] += t1 - t0
                good_future = pool.submit(self._push_good, result.rounds, stamp)
                futures = [pool.submit(self.push, slot.conn, slot.agent, i, m)
                           for slot, i, m in batch if slot.conn is not None]
                answers = [f.result() for f in futures]
                good = good_future.result()
                result.phases["push"] += time.perf_counter() - t1
                result.rounds += 1
                result.sent += len(batch)
                result.good_pushes += 1
                if good.status != 201:
                    result.failures.append(Failure(
                        "good-push", self.seed, batch[0][1], f"round {result.rounds}",
                        f"the well-behaved agent got {good.status} {good.text()[:200]!r}",
                        stamp))
                accepted: list[Candidate] = []
                for (slot, i, m), answer in zip(batch, answers, strict=True):
                    if self._classify(result, i, m, answer, stamp):
                        accepted.append(Candidate(i, m, dict(slot.agent), stamp))
                result.accepted += len(accepted)
                expect = [(c.agent["commune"], c.agent["host"]) for c in accepted]
                self.live.update((c.agent["agent_id"], e) for c, e in zip(accepted, expect,
                                                                         strict=True))
                text, problems = self.scrape_and_parse(expect, result)
                previous = waiting.outcome() if waiting is not None else []
                if previous:
                    assert waiting is not None
                    self._broken_round(result, waiting.round_no,
                                       [*waiting.accepted, *accepted], previous)
                    waiting = None
                elif problems or text is None:
                    self._broken_round(result, result.rounds, accepted, problems)
                    waiting = None
                else:
                    waiting = Verdict(result.rounds, accepted,
                                      checker.submit(self.promtool, text, result))
                    # A Report dated ahead would keep the next ones out of the live state.
                    self._quarantine([c for c in accepted if "generated_at" in c.mutation.name])
                self._collect_pending(result)
                if progress_every and time.monotonic() - last_progress > progress_every:
                    last_progress = time.monotonic()
                    self.log(f"  {index}/{count} mutations, {result.accepted} accepted, "
                             f"{len(result.failures)} failures, "
                             f"{index / (last_progress - started):.0f}/s")
            last = waiting.outcome() if waiting is not None else []
            if last:
                assert waiting is not None
                self._broken_round(result, waiting.round_no, waiting.accepted, last)
        logging.getLogger().removeHandler(self.watch)
        for hit in self.watch.hits:
            result.failures.append(Failure("key-in-log", self.seed, None, "collector log", hit))
        result.seconds = time.monotonic() - started
        result.phases["registry"] += self.phase_registry
        result.replaced_agents = self.replaced
        self._collect_pending(result, wait=1.0)
        result.retries = sum(s.conn.retries for s in self.slots if s.conn) + \
            self._good_conn.retries
        return result

    def _broken_round(self, result: CampaignResult, round_no: int,
                      candidates: list[Candidate], problems: list[str]) -> None:
        """Record a broken scrape, take the candidates' Reports out, name the culprits."""
        kinds = {p.split(":", 1)[0] for p in problems}
        kind = "left-out" if kinds <= {"left-out"} else "good-series" if kinds <= {
            "good-series"} else "scrape"
        names = "; ".join(f"#{c.index} {c.mutation.name}" for c in candidates[:8])
        more = f" (+{len(candidates) - 8})" if len(candidates) > 8 else ""
        only = candidates[0] if len(candidates) == 1 else None
        result.failures.append(Failure(
            kind, self.seed, only.index if only else None,
            only.mutation.name if only else f"round {round_no}",
            f"{' | '.join(problems)[:800]} -- candidates: {names or 'none'}{more}",
            only.stamp if only else ""))
        self._quarantine(candidates)
        after = self.check_scrape([], result)
        if after:
            # Start again from clean hostile agents.
            self._revoke_slots({s.agent["agent_id"] for s in self.slots})
            still = self.check_scrape([], result)
            if still:
                result.failures.append(Failure(
                    "stuck", self.seed, None, f"round {round_no}",
                    "the scrape stays broken with every hostile agent revoked: "
                    + " | ".join(still)[:600]))
        if self._pinpointed >= MAX_PINPOINTED or kind == "good-series" or only is not None:
            return
        self._pinpointed += 1
        for c in candidates:  # replay each candidate alone, with a fresh agent
            agent = self._store_agent(HOSTILE_COMMUNES[0][0], f"replay-{c.index}")
            self.c.service.refresh_registry()
            conn = KeepAlive(self.host, self.port)
            answer = self.push(conn, agent, c.index, c.mutation)
            conn.close()
            if answer.status is not None and 200 <= answer.status < 300:
                alone = self.check_scrape([(agent["commune"], agent["host"])], result)
                if alone:
                    result.failures.append(Failure(
                        "culprit", self.seed, c.index, c.mutation.name, " | ".join(alone)[:600],
                        c.stamp))
            self._store_revoke([agent["agent_id"]])

    def _collect_pending(self, result: CampaignResult, wait: float = 0.0) -> None:
        """Requests that announced more body than they sent: whatever the collector answered
        meanwhile (a 408 or 400 after its body timeout) must not be a 5xx or a 2xx. Sockets
        with an answer (or closed) are read and closed; with `wait`, the rest are given that
        long, then closed unanswered (the collector was still waiting for their body)."""
        if not self._pending:
            return
        socks = [p[3] for p in self._pending]
        time.sleep(wait)
        ready, _, _ = select.select(socks, [], [], 0)
        done = set(ready) if not wait else set(socks)
        keep = []
        for index, name, agent_id, sock in self._pending:
            if sock not in done:
                keep.append((index, name, agent_id, sock))
                continue
            result.pending_checked += 1
            answer = Answer(None)
            if sock in ready:
                try:
                    sock.settimeout(1.0)
                    answer = _read_response(sock)
                except OSError:
                    pass
            sock.close()
            if answer.status is not None and (answer.status >= 500 or answer.status < 400):
                result.failures.append(Failure(
                    "5xx" if answer.status >= 500 else "unexpected-status", self.seed, index,
                    name, f"{answer.status} {answer.text()[:200]!r}"))
        self._pending = keep

    def close(self) -> None:
        for slot in self.slots:
            if slot.conn is not None:
                slot.conn.close()
        self._good_conn.close()
        self._scrape_conn.close()


# The monthly report after the campaign.


@dataclass
class MonthlyOutcome:
    """Each commune's page of this month: (made, the page's text or the reason it failed)."""

    month: str
    pages: dict[str, tuple[bool, str]]
    how: str
    error: str = ""  # the whole build crashed (no commune got its page)


def build_monthly(store_url: str, out: Path) -> MonthlyOutcome:
    """This month's page of every commune of the store, each on its own.

    With the per-commune builder (`sentinelle.report.build.build_month`) no PDF is printed;
    without it, `sentinelle report monthly --out DIR` writes what it can (PDF included).
    """
    from sentinelle.collector.store import open_store

    month_text = datetime.now(ZoneInfo("Europe/Paris")).strftime("%Y-%m")
    try:
        from sentinelle.report.build import build_month
        from sentinelle.report.content import Month
    except ImportError:
        return _monthly_by_command(store_url, out, month_text)
    except Exception as exc:  # the report's code itself is broken: only its tests fail
        return MonthlyOutcome(month_text, {}, "build_month", f"{type(exc).__name__}: {exc}")
    store = open_store(store_url)
    try:
        outcomes = build_month(store, Month.parse(month_text))
    except Exception as exc:  # the whole build stopped: what the test reports
        return MonthlyOutcome(month_text, {}, "build_month", f"{type(exc).__name__}: {exc}")
    finally:
        store.close()
    pages = {code: (True, o.rendered.text) if o.ok and o.rendered is not None
             else (False, f"{o.stage}: {o.reason}") for code, o in outcomes.items()}
    return MonthlyOutcome(month_text, pages, "build_month")


def _monthly_by_command(store_url: str, out: Path, month: str) -> MonthlyOutcome:
    from sentinelle.cli import main

    need_tool("chromium")
    stdout, stderr = io.StringIO(), io.StringIO()
    error = ""
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = main(["report", "monthly", "--store", store_url, "--month", month,
                         "--out", str(out)])
        except Exception as exc:
            code, error = -1, f"{type(exc).__name__}: {exc}"
    said = stdout.getvalue() + stderr.getvalue()
    pages: dict[str, tuple[bool, str]] = {}
    for code_, _ in (*HOSTILE_COMMUNES, GOOD_COMMUNE):
        page = out / f"{code_}-{month}.txt"
        pages[code_] = ((True, page.read_text("utf-8")) if page.is_file()
                        else (False, next((line for line in said.splitlines() if code_ in line),
                                          f"no page, exit {code}")))
    return MonthlyOutcome(month, pages, "sentinelle report monthly --out", error)


# The tests.


@dataclass
class CampaignRun:
    result: CampaignResult
    monthly: MonthlyOutcome
    store_url: str
    restart_problems: list[str]


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CampaignRun]:
    """The campaign, run once for the module's tests (about a minute on 2 cores)."""
    from sentinelle.collector.settings import RateLimit

    promtool = need_tool("promtool")
    tmp = tmp_path_factory.mktemp("fuzz")
    store_url = f"sqlite:///{tmp / 'collector.db'}"
    # Per-agent rate limits would turn most of the campaign into 429s.
    with running_collector(tmp, store_url=store_url,
                           rate_limit=RateLimit(per_second=1e6, burst=1_000_000)) as c:
        run = Campaign(c, SEED, promtool)
        run.setup()
        try:
            result = run.run(MUTATIONS, progress_every=15.0)
        finally:
            run.close()
        print(result.summary())
        c.service.take_snapshots()
        live = sorted(run.live.values())
    # The stored state, reloaded by a new collector on the same store, renders the same way.
    with running_collector(tmp, store_url=store_url) as again:
        restarted = Campaign(again, SEED, promtool, hostile_agents=0)
        restart_problems = restarted.check_scrape(live, CampaignResult(SEED, 0))
        monthly = build_monthly(store_url, tmp / "monthly")
        yield CampaignRun(result, monthly, store_url, restart_problems)


def test_the_engine_is_deterministic_and_covers_every_path() -> None:
    engine = MutationEngine(SEED)
    assert engine.mutation(1234) == MutationEngine(SEED).mutation(1234)
    assert engine.mutation(1234) != MutationEngine(SEED + 1).mutation(1234)
    assert engine.systematic_covered(MUTATIONS) == len(engine.systematic), (
        "the campaign must walk every path of the backups fixture")
    families = collections.Counter(_family(engine.mutation(i).name) for i in range(3000))
    assert {name for name, _, _ in FAMILIES} <= set(families), families


@pytest.mark.integration
def test_campaign_ran_in_full(campaign: CampaignRun) -> None:
    result = campaign.result
    assert not result.of_kind("time-limit", "stuck"), result.report("time-limit", "stuck")
    assert result.sent == result.planned, result.summary()
    assert MUTATIONS >= 20_000 or "SENTINELLE_FUZZ_MUTATIONS" in os.environ
    assert result.accepted > 0 and result.statuses["401"] > 0, result.summary()


@pytest.mark.integration
def test_no_push_is_answered_5xx(campaign: CampaignRun) -> None:
    result = campaign.result
    bad = result.of_kind("5xx", "no-answer", "unexpected-status")
    assert not bad, result.report("5xx", "no-answer", "unexpected-status")


@pytest.mark.integration
def test_every_refusal_is_a_problem_naming_the_field(campaign: CampaignRun) -> None:
    result = campaign.result
    assert not result.of_kind("problem-doc", "vague-detail"), result.report(
        "problem-doc", "vague-detail")


@pytest.mark.integration
def test_metrics_stay_valid_after_every_accepted_mutation(campaign: CampaignRun) -> None:
    result = campaign.result
    kinds = ("scrape", "culprit", "left-out")
    assert result.scrapes >= result.rounds
    assert not result.of_kind(*kinds), result.report(*kinds)


@pytest.mark.integration
def test_no_agent_key_reaches_the_logs(campaign: CampaignRun) -> None:
    """A stolen agent key is one of the threats (docs/security.md): what the collector logs,
    a refused request's traceback included, never holds one."""
    result = campaign.result
    assert not result.of_kind("key-in-log"), result.report("key-in-log", examples=3)


@pytest.mark.integration
def test_metrics_after_a_restart_on_the_campaign_store(campaign: CampaignRun) -> None:
    """What was stored (the canonical form of every accepted Report) renders after a restart:
    200, promtool, no duplicates, every live hostile host and the well-behaved one present."""
    assert not campaign.restart_problems, "\n".join(campaign.restart_problems)


@pytest.mark.integration
def test_the_well_behaved_agent_is_never_hurt(campaign: CampaignRun) -> None:
    result = campaign.result
    assert result.good_pushes == result.rounds
    assert not result.of_kind("good-push", "good-series"), result.report(
        "good-push", "good-series")


@pytest.mark.integration
def test_monthly_report_renders_for_the_well_behaved_commune(campaign: CampaignRun) -> None:
    m = campaign.monthly
    told = f"{m.how}: {m.error} {json.dumps(m.pages, ensure_ascii=False)[:3000]}"
    assert not m.error, told
    made, text = m.pages.get(GOOD_COMMUNE[0], (False, "no outcome"))
    assert made and GOOD_COMMUNE[1] in text, told
    # Every commune has an outcome: its page, or the reason it has none.
    assert set(m.pages) >= {code for code, _ in (*HOSTILE_COMMUNES, GOOD_COMMUNE)}, told
    assert all(made or reason for made, reason in m.pages.values()), told


@pytest.mark.integration
def test_monthly_report_can_use_everything_the_collector_accepted(campaign: CampaignRun) -> None:
    """The collector accepts only what every consumer can use: the hostile communes, whose
    stored Reports are the accepted mutations, get their pages too."""
    m = campaign.monthly
    failed = {code: reason for code, (made, reason) in m.pages.items() if not made}
    assert not m.error and not failed, f"{m.how}: {m.error} {failed}"


@pytest.mark.integration
def test_enrollment_fuzz(tmp_path: Path) -> None:
    """Enrollment bodies with bad tokens and host names: 4xx problem documents, never 5xx, and a
    host name with a trailing newline (or any other byte out of the pattern) never enrolls."""
    with running_collector(tmp_path) as c:
        c.commune("01001", "L'Abergement-Clémenciat")
        token = c.token("01001")
        host, _, port = c.url.removeprefix("http://").rpartition(":")
        conn = KeepAlive(host, int(port))
        failures: list[str] = []
        for m in enrollment_mutations(token):
            answer = conn.request("POST", "/api/v1/enroll", m.headers, m.body)
            if answer.status is None or answer.status >= 500:
                failures.append(f"{m.name}: {answer.status} {answer.error or answer.text()[:200]}")
            elif m.name.startswith("refused:") and answer.status < 400:
                failures.append(f"{m.name}: enrolled ({answer.status} {answer.text()[:200]})")
            elif m.name.startswith("accepted:") and answer.status not in (201, 429):
                failures.append(f"{m.name}: {answer.status} {answer.text()[:200]}")
            elif answer.status >= 400 and (why := problem_failure(answer)) is not None:
                failures.append(f"{m.name}: {why[0]}: {why[1]}")
        # The Authorization header of a push, with non-UTF-8 bytes: 401, not 500 (a NUL is
        # refused by aiohttp's header parser before the handler: 400).
        for value in ("Bearer \xff\xfe:\xff", "Bearer agt_x:key\xe9", "Bearer agt_\x00:\x00"):
            answer = conn.request("POST", "/api/v1/reports",
                                  {"Authorization": value, "Content-Type": "application/json"},
                                  b"{}")
            if answer.status not in (401, 429) and not (answer.status == 400 and "\x00" in value):
                failures.append(f"Authorization {value!r}: {answer.status} "
                                f"{answer.error or answer.text()[:200]}")
        conn.close()
        status, sd, _ = request(c.url + "/sd")
        assert status == 200
        labels = [g["labels"]["host"] for g in sd]
        bad = [h for h in labels if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,62}", h)]
        assert not bad, f"host labels out of the pattern reached /sd: {bad!r}"
        assert not failures, "\n".join(failures)
