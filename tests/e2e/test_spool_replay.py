"""The agent spools while the collector is down and replays in order after it restarts."""

from __future__ import annotations

import socket
import sqlite3
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sentinelle.agent.enroll import enroll
from sentinelle.agent.push import Pusher
from sentinelle.agent.spool import Spool
from sentinelle.collector.embedded import EmbeddedCollector
from sentinelle.collector.records import Commune, EnrollmentToken
from sentinelle.collector.secrets import digest, new_secret, new_token_id
from sentinelle.collector.settings import CollectorSettings
from sentinelle.config import PushSettings
from tests.collector.sample_reports import make_report


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_reports_spooled_during_an_outage_arrive_in_order_after_restart(tmp_path: Path) -> None:
    settings = replace(CollectorSettings(), listen_address=f"127.0.0.1:{free_port()}",
                       store=f"sqlite:///{tmp_path / 'collector.db'}")
    state = tmp_path / "agent"
    push = PushSettings(backoff_initial_seconds=0.1, backoff_max_seconds=0.2)
    with EmbeddedCollector(settings) as collector:
        collector.store.upsert_commune(Commune("01001", "Abergement", "01", 767))
        secret = new_secret()
        now = datetime.now(UTC)
        collector.store.add_token(EnrollmentToken(new_token_id(), "01001", now,
                                                  now + timedelta(hours=1), 1), digest(secret))
        enroll(collector.url, secret, "mairie-srv", state)
    # The collector is down: three cycles' Reports go to the spool.
    start = datetime.now(UTC) - timedelta(hours=3)
    reports = [make_report(seed=40 + i, n_results=6, generated_at=start + timedelta(hours=i))
               for i in range(3)]
    spool = Spool(state / "spool", 100, 10_000_000)
    pusher = Pusher(spool, state, push)
    try:
        for report in reports:
            pusher.on_report(report)
        assert pusher.drain() == 0
        assert spool.depth() == 3
        assert pusher.status().attempts.get("retry", 0) >= 1
    finally:
        pusher.close()
        spool.close()
    # Reboot of the agent too: a new spool object reads what is on disk.
    spool = Spool(state / "spool", 100, 10_000_000)
    pusher = Pusher(spool, state, push)
    with EmbeddedCollector(settings) as collector:  # same address, same database
        try:
            deadline = datetime.now(UTC) + timedelta(seconds=20)
            while spool.depth() and datetime.now(UTC) < deadline:
                pusher.drain()
                time.sleep(0.05)  # the backoff from the outage may still run
            assert spool.depth() == 0
            assert collector.store.count_reports() == 3
        finally:
            pusher.close()
            spool.close()
    db = sqlite3.connect(tmp_path / "collector.db")
    stored = [row[0] for row in db.execute("SELECT report_id FROM reports ORDER BY rowid")]
    db.close()
    assert stored == [r.report_id for r in reports]  # oldest first
