"""Pushing Reports and enrolling, over real HTTP(S) on 127.0.0.1.

Most tests talk to the stand-in collector (tests/agent/standin_collector.py), programmed to give
each answer of docs/api.md; one test enrolls and pushes against the real collector. Timing tests
use backoffs of a tenth of a second so the whole file stays fast.
"""

from __future__ import annotations

import gzip
import importlib.util
import itertools
import json
import logging
import os
import random
import shutil
import socket
import stat
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from sentinelle.agent.enroll import (
    CollectorUnreachable,
    Credentials,
    CredentialsError,
    EnrollmentError,
    EnrollmentRefused,
    InsecureCollectorURL,
    check_collector_url,
    credentials_path,
    enroll,
    load_credentials,
)
from sentinelle.agent.exporter import AgentState, agent_registry
from sentinelle.agent.push import (
    Pusher,
    backoff_delay,
    build_pusher,
    parse_retry_after,
)
from sentinelle.agent.spool import REJECTED_DIR, Spool, write_file_atomic
from sentinelle.config import AgentSettings, Config, PushSettings
from sentinelle.model import CheckRun, Finding, Measurement, Report, Score, Severity, Status
from tests.agent.standin_collector import (
    AGENT_ID,
    AGENT_KEY,
    ENROLL,
    EXPIRED_TOKEN,
    GOOD_TOKEN,
    REPORTS,
    Answer,
    StandinCollector,
    running_standin,
)
from tests.conftest import need, need_tool


def make_report(n: int = 1, check: str = "patching.pending_updates") -> Report:
    finding = Finding(
        check=check,
        status=Status.WARN,
        severity=Severity.HIGH,
        summary=f"{n} mises à jour de sécurité en attente",
        evidence={"packages": [f"pkg{i}" for i in range(n)]},
        remediation={"fr": "Installez les mises à jour.", "en": "Install the updates."},
        references={"anssi": [34]},
        measurements=(Measurement("pending_updates", float(n), {"kind": "security"}),),
    )
    return Report(
        report_id=str(uuid.uuid4()),
        generated_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        agent_version="0.1.0",
        host={"hostname": "mairie-srv", "os_id": "debian"},
        checks=(CheckRun(check, Status.WARN, 0.01),),
        results=(finding,),
        score=Score(80.0, "B", None, {"high": 1}),
    )


def settings(
    initial: float = 0.05,
    maximum: float = 0.4,
    timeout: float = 5.0,
    ca_bundle: str | None = None,
) -> PushSettings:
    # Below the config file's minimums on purpose: the dataclass is built directly for speed.
    return PushSettings(
        ca_bundle=ca_bundle,
        timeout_seconds=timeout,
        backoff_initial_seconds=initial,
        backoff_max_seconds=maximum,
    )


def make_pusher(state_dir: Path, push: PushSettings, seed: int = 1) -> Pusher:
    spool = Spool(state_dir / "spool", push.spool_max_reports, push.spool_max_bytes)
    return Pusher(spool, state_dir, push, rng=random.Random(seed))


def write_credentials(state_dir: Path, url: str, key: str = AGENT_KEY) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    creds = Credentials(url, AGENT_ID, key, "01001", "mairie-srv")
    write_file_atomic(credentials_path(state_dir), json.dumps(creds.to_dict()).encode())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def standin() -> Iterator[StandinCollector]:
    with running_standin() as s:
        yield s


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def pushers() -> Iterator[list[Pusher]]:
    """Pushers created by a test, closed at its end even when it fails."""
    created: list[Pusher] = []
    yield created
    for p in created:
        p.close(timeout=5)


def enrolled_pusher(
    standin: StandinCollector, state_dir: Path, pushers: list[Pusher], push: PushSettings
) -> Pusher:
    enroll(standin.url, GOOD_TOKEN, "mairie-srv", state_dir)
    pusher = make_pusher(state_dir, push)
    pushers.append(pusher)
    return pusher


def gaps(standin: StandinCollector) -> list[float]:
    times = [r.at for r in standin.requests(REPORTS)]
    return [b - a for a, b in itertools.pairwise(times)]


# The happy path and what is on the wire


def test_report_is_posted_gzipped_with_bearer_and_decodes_to_the_report(
    standin: StandinCollector, state_dir: Path, pushers: list[Pusher]
) -> None:
    pusher = enrolled_pusher(standin, state_dir, pushers, settings())
    report = make_report(3)
    pusher.on_report(report)
    assert pusher.spool.depth() == 1  # spooled first, sent by the drain
    before = time.time()
    assert pusher.drain() == 1

    (request,) = standin.requests(REPORTS)
    assert request.headers["Authorization"] == f"Bearer {AGENT_ID}:{AGENT_KEY}"
    assert request.headers["Content-Encoding"] == "gzip"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("sentinelle-agent/")
    assert json.loads(gzip.decompress(request.body)) == report.to_dict()
    assert Report.from_dict(request.json()).to_dict() == report.to_dict()
    assert standin.stored_ids() == [report.report_id]

    status = pusher.status()
    assert status.spool_depth == 0 and status.spool_bytes == 0
    assert status.attempts == {"ok": 1, "retry": 0, "rejected": 0}
    assert status.last_success >= before
    assert status.consecutive_failures == 0


def test_duplicate_200_is_an_acknowledgement(
    standin: StandinCollector, state_dir: Path, pushers: list[Pusher]
) -> None:
    pusher = enrolled_pusher(standin, state_dir, pushers, settings())
    report = make_report()
    pusher.on_report(report)
    pusher.on_report(report)  # e.g. replayed after an acknowledgement was lost
    assert pusher.drain() == 2
    assert standin.stored_ids() == [report.report_id]  # the second got 200 duplicate
    assert pusher.spool.depth() == 0
    assert pusher.status().attempts["ok"] == 2


def test_an_agent_that_never_enrolled_does_not_spool_then_pushes_once_enrolled(
    standin: StandinCollector,
    state_dir: Path,
    pushers: list[Pusher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    pusher = make_pusher(state_dir, settings())
    pushers.append(pusher)
    caplog.set_level(logging.INFO, "sentinelle.agent.push")
    pusher.on_report(make_report())
    pusher.on_report(make_report())
    assert pusher.spool.depth() == 0
    assert pusher.status().enrolled is False
    assert sum("not enrolled" in r.getMessage() for r in caplog.records) == 1  # said once

    enroll(standin.url, GOOD_TOKEN, "mairie-srv", state_dir)  # no restart needed
    report = make_report()
    pusher.on_report(report)
    assert pusher.drain() == 1
    assert standin.stored_ids() == [report.report_id]
    assert pusher.status().enrolled is True


# Outages, order and backoff


def test_outage_then_replay_in_order(
    standin: StandinCollector, state_dir: Path, pushers: list[Pusher]
) -> None:
    pusher = enrolled_pusher(standin, state_dir, pushers, settings(0.05, 0.2))
    standin.set_outage(Answer(close=True))  # connections closed without an answer
    pusher.start()
    reports = [make_report(i) for i in range(3)]
    for report in reports:
        pusher.on_report(report)
    # Wait on the agent's own count: the stand-in sees a request before the agent has
    # classified its closed connection as a retry.
    assert standin.wait_for(lambda: pusher.status().attempts.get("retry", 0) >= 4, 10)
    assert len(standin.requests()) >= 4
    assert standin.stored_ids() == []
    assert pusher.spool.depth() == 3
    assert pusher.status().attempts["ok"] == 0

    standin.set_outage(None)
    assert standin.wait_for(lambda: len(standin.stored_ids()) == 3, 10)
    assert standin.stored_ids() == [r.report_id for r in reports]
    # never a newer Report before an older one was acknowledged
    order = [
        reports.index(next(r for r in reports if r.report_id == req.json()["report_id"]))
        for req in standin.requests()
    ]
    assert order == sorted(order)
    assert standin.wait_for(lambda: pusher.status().spool_depth == 0, 5)
    assert pusher.status().consecutive_failures == 0


def test_spooled_reports_are_replayed_after_an_agent_restart(
    standin: StandinCollector, state_dir: Path, pushers: list[Pusher]
) -> None:
    first = enrolled_pusher(standin, state_dir, pushers, settings())
    standin.set_outage(Answer(503, "storage down"))
    reports = [make_report(i) for i in range(2)]
    for report in reports:
        first.on_report(report)
    assert first.drain() == 0
    first.close()
    pushers.remove(first)

    standin.set_outage(None)
    second = make_pusher(state_dir, settings())  # a new process: same state_dir
    pushers.append(second)
    assert second.spool.depth() == 2
    second.start()  # no new Report needed: the thread replays the spool on its own
    assert standin.wait_for(lambda: len(standin.stored_ids()) == 2, 10)
    assert standin.stored_ids() == [r.report_id for r in reports]


def test_backoff_grows_with_full_jitter_within_bounds(
    standin: StandinCollector, state_dir: Path, pushers: list[Pusher]
) -> None:
    initial, maximum = 0.1, 0.4
    pusher = enrolled_pusher(standin, state_dir, pushers, settings(initial, maximum))
    standin.program(REPORTS, *[Answer(503, "busy")] * 4)
    pusher.start()
    report = make_report()
    pusher.on_report(report)
    assert standin.wait_for(lambda: standin.stored_ids() == [report.report_id], 10)
    observed = gaps(standin)
    assert len(observed) == 4
    for failures, gap in enumerate(observed, start=1):
        upper = min(maximum, initial * 2**failures)
        assert gap >= initial, f"attempt {failures + 1} came {gap:.3f}s after, before backoff"
        assert gap <= upper + 0.2, f"attempt {failures + 1} waited {gap:.3f}s > {upper}s"


def test_backoff_delay_is_jittered_between_initial_and_capped_exponential() -> None:
    rng = random.Random(7)
    for failures, upper in [(1, 60.0), (2, 120.0), (5, 960.0), (12, 3600.0), (500, 3600.0)]:
        samples = [backoff_delay(failures, 30.0, 3600.0, rng) for _ in range(500)]
        assert min(samples) >= 30.0
        assert max(samples) <= upper
        assert max(samples) > 30.0 + 0.8 * (upper - 30.0)  # spread over the whole range
        assert len({round(s, 3) for s in samples}) > 400  # jittered, not a fixed schedule


def test_a_new_report_during_backoff_does_not_bring_the_attempt_forward(
    standin: StandinCollector, state_dir: Path, pushers: list[Pusher]
) -> None:
    pusher = enrolled_pusher(standin, state_dir, pushers, settings(0.6, 1.0))
    standin.program(REPORTS, Answer(503, "busy"))
    pusher.start()
    first, second = make_report(1), make_report(2)
    pusher.on_report(first)
    assert standin.wait_for(lambda: len(standin.requests()) == 1, 5)
    pusher.on_report(second)  # wakes the thread, which must still wait
    time.sleep(0.3)
    assert len(standin.requests()) == 1
    assert 0 < pusher.status().backoff_remaining <= 1.2
    assert standin.wait_for(lambda: len(standin.stored_ids()) == 2, 10)
    assert gaps(standin)[0] >= 0.6
    assert standin.stored_ids() == [first.report_id, second.report_id]


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(
    status: int, standin: StandinCollector, state_dir: Path, pushers: list[Pusher]
) -> None:
    pusher = enrolled_pusher(standin, state_dir, pushers, settings(0.05, 5.0))
    standin.program(REPORTS, Answer(status, "slow down", {"Retry-After": "1"}))
    pusher.start()
    report = make_report()
    pusher.on_report(report)
    assert standin.wait_for(lambda: standin.stored_ids() == [report.report_id], 10)
    (gap,) = gaps(standin)
    assert 1.0 <= gap <= 1.6
    assert standin.wait_for(lambda: pusher.status().attempts["ok"] == 1, 5)
    assert pusher.status().attempts == {"ok": 1, "retry": 1, "rejected": 0}


def test_retry_after_parses_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("Sat, 28 Nov 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Sat, 28 Nov 2026 11:00:00 GMT", now) == 0.0  # past: now
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_a_bogus_retry_after_is_capped_at_the_backoff_maximum(
    standin: StandinCollector, state_dir: Path, pushers: list[Pusher]
) -> None:
    pusher = enrolled_pusher(standin, state_dir, pushers, settings(0.05, 2.0))
    standin.program(REPORTS, Answer(429, "", {"Retry-After": "86400"}))
    pusher.on_report(make_report())
    assert pusher.drain() == 0
    assert 1.5 < pusher.status().backoff_remaining <= 2.0


def test_network_errors_and_timeouts_keep_the_report(
    standin: StandinCollector, state_dir: Path, pushers: list[Pusher]
) -> None:
    pusher = enrolled_pusher(standin, state_dir, pushers, settings(0.05, 0.2, timeout=0.3))
    pusher.on_report(make_report())

    standin.program(REPORTS, Answer(delay=1.0))  # answers after the client's timeout
    assert pusher.drain() == 0
    assert "timed out" in pusher.status().last_error

    time.sleep(0.25)  # past the backoff
    standin.program(REPORTS, Answer(close=True))
    assert pusher.drain() == 0
    assert "RemoteDisconnected" in pusher.status().last_error

    time.sleep(0.25)
    write_credentials(state_dir, f"http://127.0.0.1:{free_port()}")  # nobody listens there
    assert pusher.drain() == 0
    assert "unreachable" in pusher.status().last_error
    assert "refused" in pusher.status().last_error.lower()

    status = pusher.status()
    assert status.spool_depth == 1
    assert status.rejected_total == 0
    assert status.attempts == {"ok": 0, "retry": 3, "rejected": 0}
    assert status.consecutive_failures == 3


# Refusals


def test_refused_reports_are_dropped_counted_and_explained(
    standin: StandinCollector,
    state_dir: Path,
    pushers: list[Pusher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    pusher = enrolled_pusher(standin, state_dir, pushers, settings())
    standin.program(
        REPORTS,
        Answer(400, "$.results[0].status: Expected one of pass, warn"),
        Answer(422, "$.report_id: does not match pattern"),
        Answer(413, "decompressed body exceeds 8388608 bytes"),
    )
    reports = [make_report(i) for i in range(4)]
    for report in reports:
        pusher.on_report(report)
    assert pusher.drain() == 1  # the three refusals do not stop the drain
    assert standin.stored_ids() == [reports[3].report_id]
    status = pusher.status()
    assert status.spool_depth == 0
    assert status.rejected_total == 3
    assert status.attempts == {"ok": 1, "retry": 0, "rejected": 3}
    assert len(list((pusher.spool.directory / REJECTED_DIR).iterdir())) == 3
    errors = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    assert "$.results[0].status: Expected one of pass, warn" in errors
    assert "does not match pattern" in errors
    assert reports[0].report_id in errors


@pytest.mark.parametrize("status", [401, 403])
def test_bad_credentials_are_logged_loudly(
    status: int,
    standin: StandinCollector,
    state_dir: Path,
    pushers: list[Pusher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    pusher = enrolled_pusher(standin, state_dir, pushers, settings())
    if status == 401:
        write_credentials(state_dir, standin.url, key="wrong-key")  # the stand-in answers 401
    else:
        standin.program(REPORTS, Answer(403, "this agent was revoked; enroll again"))
    pusher.on_report(make_report())
    assert pusher.drain() == 0
    assert pusher.status().rejected_total == 1
    assert pusher.spool.depth() == 0
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "refused the credentials" in record.getMessage()
    assert "enroll again" in record.getMessage()
    assert AGENT_KEY not in record.getMessage() and "wrong-key" not in record.getMessage()


# Observability and life cycle


def test_push_metrics_join_the_agent_metrics_and_pass_promtool(
    standin: StandinCollector, state_dir: Path, pushers: list[Pusher], tmp_path: Path
) -> None:
    pusher = enrolled_pusher(standin, state_dir, pushers, settings(5.0, 10.0))
    pusher.on_report(make_report())
    assert pusher.drain() == 1
    standin.program(REPORTS, Answer(503, "down"))
    pusher.on_report(make_report())
    assert pusher.drain() == 0

    state = AgentState()
    state.extra.append(pusher.collector())
    text = generate_latest(agent_registry(state)).decode()
    lines = set(text.splitlines())
    assert "sentinelle_agent_push_enrolled 1.0" in lines
    assert "sentinelle_agent_push_spool_depth 1.0" in lines
    assert f"sentinelle_agent_push_spool_bytes {float(pusher.spool.bytes())}" in lines
    assert "sentinelle_agent_push_dropped_total 0.0" in lines
    assert "sentinelle_agent_push_rejected_total 0.0" in lines
    assert "sentinelle_agent_push_spool_quarantined_total 0.0" in lines
    assert 'sentinelle_agent_push_attempts_total{result="ok"} 1.0' in lines
    assert 'sentinelle_agent_push_attempts_total{result="retry"} 1.0' in lines
    assert 'sentinelle_agent_push_attempts_total{result="rejected"} 0.0' in lines
    assert "sentinelle_agent_push_consecutive_failures 1.0" in lines
    backoff = next(x for x in lines if x.startswith("sentinelle_agent_push_backoff_seconds "))
    assert 4.0 < float(backoff.split()[1]) <= 10.0
    success = next(
        x for x in lines if x.startswith("sentinelle_agent_push_last_success_timestamp_seconds ")
    )
    assert abs(float(success.split()[1]) - time.time()) < 60

    promtool = need_tool("promtool")
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_close_interrupts_a_long_backoff_promptly(
    standin: StandinCollector, state_dir: Path, pushers: list[Pusher]
) -> None:
    pusher = enrolled_pusher(standin, state_dir, pushers, settings(30.0, 60.0))
    standin.set_outage(Answer(503, "down"))
    pusher.start()
    pusher.on_report(make_report())
    assert standin.wait_for(lambda: len(standin.requests()) == 1, 5)
    started = time.monotonic()
    pusher.close()
    assert time.monotonic() - started < 2.0
    assert pusher._thread is not None and not pusher._thread.is_alive()
    assert len(standin.requests()) == 1  # no attempt squeezed in before stopping


def test_build_pusher_follows_the_config(tmp_path: Path) -> None:
    agent = AgentSettings(state_dir=str(tmp_path / "state"))
    assert build_pusher(Config(agent=agent, push=PushSettings(enabled=False))) is None
    pusher = build_pusher(Config(agent=agent, push=PushSettings(spool_max_reports=7)))
    assert pusher is not None
    try:
        assert pusher.spool.directory == tmp_path / "state" / "spool"
        assert pusher.spool.max_reports == 7
    finally:
        pusher.close()


# Enrollment


def test_enroll_stores_private_credentials(standin: StandinCollector, state_dir: Path) -> None:
    creds = enroll(standin.url + "/", GOOD_TOKEN, "mairie-srv", state_dir)
    assert creds == Credentials(standin.url, AGENT_ID, AGENT_KEY, "01001", "mairie-srv")
    assert AGENT_KEY not in repr(creds)
    path = credentials_path(state_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {
        "collector_url": standin.url,
        "agent_id": AGENT_ID,
        "key": AGENT_KEY,
        "commune": "01001",
        "host": "mairie-srv",
    }
    assert load_credentials(state_dir) == creds
    (request,) = standin.requests(ENROLL)
    assert request.json() == {"token": GOOD_TOKEN, "hostname": "mairie-srv"}
    assert not [p for p in state_dir.iterdir() if p.name.startswith(".tmp-")]


def test_enroll_refuses_to_replace_credentials_unless_asked(
    standin: StandinCollector, state_dir: Path
) -> None:
    enroll(standin.url, GOOD_TOKEN, "mairie-srv", state_dir)
    with pytest.raises(EnrollmentError) as refused:
        enroll(standin.url, GOOD_TOKEN, "mairie-srv", state_dir)
    assert refused.value.message_id == "cli.enroll.already_enrolled"
    assert f"already enrolled as {AGENT_ID}" in refused.value.render("en")
    assert f"déjà enrôlé sous l'identifiant {AGENT_ID}" in refused.value.render("fr")
    assert len(standin.requests(ENROLL)) == 1  # refused before asking the collector
    enroll(standin.url, GOOD_TOKEN, "mairie-srv", state_dir, replace=True)
    assert len(standin.requests(ENROLL)) == 2


@pytest.mark.parametrize(
    ("token", "status", "message"),
    [
        ("no-such-token", 401, "cli.enroll.unknown_token"),
        (EXPIRED_TOKEN, 403, "cli.enroll.spent_token"),
    ],
)
def test_enroll_explains_a_refused_token(
    token: str, status: int, message: str, standin: StandinCollector, state_dir: Path
) -> None:
    with pytest.raises(EnrollmentRefused) as raised:
        enroll(standin.url, token, "mairie-srv", state_dir)
    assert raised.value.status == status and raised.value.message_id == message
    assert not credentials_path(state_dir).exists()


def test_enroll_reports_an_unreachable_or_failing_collector(
    standin: StandinCollector, state_dir: Path
) -> None:
    with pytest.raises(CollectorUnreachable) as raised:
        enroll(f"http://127.0.0.1:{free_port()}", GOOD_TOKEN, "mairie-srv", state_dir, timeout=5)
    assert raised.value.message_id == "cli.enroll.unreachable"
    standin.program(ENROLL, Answer(503, "maintenance"))
    with pytest.raises(CollectorUnreachable, match="503") as raised:
        enroll(standin.url, GOOD_TOKEN, "mairie-srv", state_dir)
    assert raised.value.message_id == "cli.enroll.failed_status"
    with pytest.raises(EnrollmentError) as refused:
        enroll(standin.url, GOOD_TOKEN, "mairie srv!", state_dir)
    assert refused.value.message_id == "cli.enroll.bad_hostname"
    assert not credentials_path(state_dir).exists()


def test_plain_http_is_refused_except_to_loopback(tmp_path: Path) -> None:
    for url in ("http://collecteur.example.fr", "http://192.0.2.10:8443", "ftp://x.example"):
        with pytest.raises(InsecureCollectorURL):
            enroll(url, GOOD_TOKEN, "mairie-srv", tmp_path)  # refused before any connection
    with pytest.raises(InsecureCollectorURL) as refused:
        check_collector_url("https://user:pw@collecteur.example.fr")
    assert "user, password" in refused.value.render("en")
    assert check_collector_url("https://collecteur.example.fr/base/") == (
        "https://collecteur.example.fr/base"
    )
    for url in (
        "http://127.0.0.1:8080",
        "http://[::1]:8080",
        "http://localhost",
        "http://127.0.0.5",
    ):
        assert check_collector_url(url) == url


def test_load_credentials_tightens_a_readable_file_and_rejects_a_broken_one(
    state_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert load_credentials(state_dir) is None
    write_credentials(state_dir, "https://collecteur.example.fr")
    path = credentials_path(state_dir)
    os.chmod(path, 0o644)
    creds = load_credentials(state_dir)
    assert creds is not None and creds.agent_id == AGENT_ID
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "readable by others" in caplog.text

    path.write_text('{"agent_id": "agt_x"}')
    with pytest.raises(CredentialsError) as broken:
        load_credentials(state_dir)
    assert broken.value.render("en") == (
        f"{path}: not valid credentials (field 'collector_url' is missing or not a non-empty "
        "string); enroll again with `sentinelle agent enroll --force`")
    assert broken.value.render("fr").startswith(f"{path} : identifiants invalides (le champ ")
    write_credentials(state_dir, "http://collecteur.example.fr")  # edited to plain http
    with pytest.raises(CredentialsError) as broken:
        load_credentials(state_dir)
    assert "plain http" in broken.value.render("en") and "en clair" in broken.value.render("fr")


# TLS


@dataclass(frozen=True)
class Pki:
    ca: Path
    cert: Path
    key: Path


def _pki_with_cryptography(directory: Path) -> Pki:
    from datetime import timedelta
    from ipaddress import ip_address

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Sentinelle test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pki = Pki(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    pki.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pki


def _pki_with_openssl(directory: Path) -> Pki:
    openssl = need_tool("openssl")
    pki = Pki(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    ca_key, csr = directory / "ca.key", directory / "server.csr"
    ext = directory / "server.ext"
    ext.write_text(
        "basicConstraints=critical,CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for argv in (
        [openssl, "req", "-x509", *ec, "-keyout", ca_key, "-out", pki.ca, "-days", "1",
         "-subj", "/CN=Sentinelle test CA",
         "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        [openssl, "req", *ec, "-keyout", pki.key, "-out", csr, "-subj", "/CN=127.0.0.1"],
        [openssl, "x509", "-req", "-in", csr, "-CA", pki.ca, "-CAkey", ca_key,
         "-CAcreateserial", "-out", pki.cert, "-days", "1", "-extfile", ext],
    ):  # fmt: skip
        subprocess.run([str(a) for a in argv], check=True, capture_output=True, timeout=30)
    return pki


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    """A throwaway CA and a server certificate for 127.0.0.1."""
    directory = tmp_path / "pki"
    directory.mkdir()
    if importlib.util.find_spec("cryptography") is not None:
        return _pki_with_cryptography(directory)
    need(shutil.which("openssl") is not None, "neither cryptography nor openssl available")
    return _pki_with_openssl(directory)


def test_tls_is_verified_and_a_private_ca_is_accepted_with_ca_bundle(
    pki: Pki, state_dir: Path, pushers: list[Pusher]
) -> None:
    with running_standin(pki.cert, pki.key) as standin:
        assert standin.url.startswith("https://")
        with pytest.raises(CollectorUnreachable) as untrusted:
            enroll(standin.url, GOOD_TOKEN, "mairie-srv", state_dir)
        assert "TLS certificate not trusted" in untrusted.value.render("en")
        assert "--ca-bundle" in untrusted.value.render("fr")
        assert standin.requests(ENROLL) == []  # the token never left over an untrusted link
        creds = enroll(standin.url, GOOD_TOKEN, "mairie-srv", state_dir, ca_bundle=str(pki.ca))
        assert creds.collector_url == standin.url

        untrusting = make_pusher(state_dir, settings(0.05, 0.2))
        report = make_report()
        untrusting.on_report(report)
        assert untrusting.drain() == 0
        status = untrusting.status()
        assert "CERTIFICATE_VERIFY_FAILED" in status.last_error
        assert status.spool_depth == 1 and status.rejected_total == 0  # kept for later
        assert status.attempts["retry"] == 1
        assert standin.requests(REPORTS) == []
        untrusting.close()

        trusting = make_pusher(state_dir, settings(0.05, 0.2, ca_bundle=str(pki.ca)))
        pushers.append(trusting)
        assert trusting.drain() == 1  # the Report spooled by the first one
        assert standin.stored_ids() == [report.report_id]
        (request,) = standin.requests(REPORTS)
        assert request.json()["report_id"] == report.report_id


def test_an_unreadable_ca_bundle_keeps_reports(
    standin: StandinCollector, state_dir: Path, pushers: list[Pusher], tmp_path: Path
) -> None:
    enroll(standin.url, GOOD_TOKEN, "mairie-srv", state_dir)
    pusher = make_pusher(state_dir, settings(ca_bundle=str(tmp_path / "missing.pem")))
    pushers.append(pusher)
    pusher.on_report(make_report())
    assert pusher.drain() == 0
    assert "missing.pem" in pusher.status().last_error
    assert pusher.spool.depth() == 1


# Against the real collector


def test_enroll_and_push_against_the_real_collector(
    tmp_path: Path, state_dir: Path, pushers: list[Pusher], caplog: pytest.LogCaptureFixture
) -> None:
    need(importlib.util.find_spec("aiohttp") is not None, "collector extra (aiohttp) missing")
    from tests.collector.harness import running_collector

    with running_collector(tmp_path) as collector:
        collector.commune("01001", "L'Abergement-Clémenciat")
        token = collector.token("01001", uses=1)
        with pytest.raises(EnrollmentRefused) as refused:
            enroll(collector.url, "not-a-token", "mairie-srv", state_dir)
        assert refused.value.message_id == "cli.enroll.unknown_token"
        creds = enroll(collector.url, token, "mairie-srv", state_dir)
        assert creds.commune == "01001" and creds.host == "mairie-srv"
        with pytest.raises(EnrollmentRefused) as refused:
            enroll(collector.url, token, "mairie-srv", tmp_path / "other")
        assert refused.value.message_id == "cli.enroll.spent_token"

        pusher = make_pusher(state_dir, settings())
        pushers.append(pusher)
        report = make_report(2)
        pusher.on_report(report)
        pusher.on_report(report)  # replay: 200 duplicate
        pusher.on_report(make_report(check="Not A Check Id"))  # 422 from the real validation
        assert pusher.drain() == 2
        status = pusher.status()
        assert status.attempts == {"ok": 2, "retry": 0, "rejected": 1}
        assert status.spool_depth == 0
        assert "$.checks[0].check" in caplog.text or "$.results[0].check" in caplog.text
        assert collector.store.count_reports(creds.agent_id) == 1
        (latest,) = collector.store.latest_reports()
        assert json.loads(gzip.decompress(latest.body))["report_id"] == report.report_id

        collector.store.revoke_agent(creds.agent_id, datetime.now(UTC))
        collector.service.refresh_registry()  # drop the collector's agent cache now
        pusher.on_report(make_report())
        assert pusher.drain() == 0
        assert pusher.status().rejected_total == 2
        assert "refused the credentials" in caplog.text
        assert pusher.spool.depth() == 0
