"""A real fleet for end-to-end tests: real agents, a real collector, a real Prometheus.

Several communes, each with one or two real agents running the real checks on this machine
(with different backup set-ups so that postures differ), pushing real Reports through the real
push client to an embedded collector, which a real Prometheus scrapes every second.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sentinelle.agent.daemon import Agent
from sentinelle.agent.enroll import enroll
from sentinelle.agent.push import build_pusher
from sentinelle.collector.embedded import EmbeddedCollector
from sentinelle.collector.insee import departement_of
from sentinelle.collector.records import Commune, EnrollmentToken
from sentinelle.collector.secrets import digest, new_secret, new_token_id
from sentinelle.collector.settings import CollectorSettings
from sentinelle.model import Report
from sentinelle.promlauncher import PrometheusProcess, prometheus_config
from sentinelle.runner import build_setup

COMMUNES = (
    ("01001", "L'Abergement-Clémenciat", 767),
    ("01004", "Ambérieu-en-Bugey", 14_514),
    ("2A004", "Ajaccio", 71_361),
    ("97411", "Saint-Denis", 153_810),
)
# (commune, host, backup set-up): "fresh" a recent directory backup plus an offline copy,
# "stale" a three-day-old backup, "none" nothing configured.
AGENTS = (
    ("01001", "mairie-srv", "fresh"),
    ("01004", "srv-mairie", "stale"),
    ("01004", "srv-ecole", "fresh"),
    ("2A004", "srv-hotel-de-ville", "none"),
    ("97411", "srv-mairie", "stale"),
)


@dataclass
class RunningFleet:
    """What a test can reach: the collector, Prometheus and the Reports the agents sent."""

    collector: EmbeddedCollector
    prometheus: PrometheusProcess
    reports: dict[tuple[str, str], Report] = field(default_factory=dict)

    def query(self, promql: str) -> list[dict[str, object]]:
        return self.prometheus.query(promql)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _backups(setup: str, base: Path) -> str:
    if setup == "none":
        return ""
    primary, offline = base / "nas", base / "usb"
    for d in (primary, offline):
        d.mkdir(parents=True)
    age = timedelta(hours=2) if setup == "fresh" else timedelta(days=3)
    now = datetime.now(UTC)
    for i, directory in enumerate((primary, offline)):
        for n, size in ((1, 4000), (0, 4100)):
            f = directory / f"mairie-{n}.tar.gz"
            f.write_bytes(os.urandom(size))
            stamp = (now - age - timedelta(days=n + i)).timestamp()
            os.utime(f, (stamp, stamp))
    return (f"backups:\n  locations:\n"
            f"    - {{name: nas, type: directory, path: {primary}, pattern: '*.tar.gz'}}\n"
            f"    - {{name: usb, type: directory, path: {offline}, pattern: '*.tar.gz',"
            f" offline: true}}\n")


def _token(collector: EmbeddedCollector, commune: str) -> str:
    secret = new_secret()
    now = datetime.now(UTC)
    collector.store.add_token(EnrollmentToken(new_token_id(), commune, now,
                                              now + timedelta(hours=1), 1), digest(secret))
    return secret


@contextmanager
def running_fleet(tmp_path: Path, rule_files: tuple[str, ...] = (),
                  scrape_interval: str = "1s") -> Iterator[RunningFleet]:
    settings = replace(CollectorSettings(), listen_address="127.0.0.1:0",
                       store=f"sqlite:///{tmp_path / 'collector.db'}")
    with EmbeddedCollector(settings) as collector:
        for code, name, population in COMMUNES:
            collector.store.upsert_commune(Commune(code, name, departement_of(code), population,
                                                   (f"mairie-{code}@example.org",)))
        collector.service.refresh_registry()
        fleet_reports: dict[tuple[str, str], Report] = {}
        for code, host, backup_setup in AGENTS:
            home = tmp_path / f"agent-{code}-{host}"
            config = home / "agent.yaml"
            home.mkdir()
            config.write_text(
                f"agent: {{state_dir: {home / 'state'}, listen_address: '127.0.0.1:1'}}\n"
                "checks: {ports.network_scan: {enabled: false}}\n"
                + _backups(backup_setup, home / "backups"))
            setup = build_setup(config)
            enroll(collector.url, _token(collector, code), host, str(home / "state"))
            agent = Agent(setup)
            pusher = build_pusher(setup.config, stop_event=agent.stop_event)
            assert pusher is not None
            agent.hooks.append(pusher.on_report)
            report = agent.cycle()
            assert report is not None
            assert pusher.drain() == 1, pusher.status()
            pusher.close()
            fleet_reports[(code, host)] = report
        prometheus = PrometheusProcess(
            tmp_path / "prometheus",
            prometheus_config(collector.url.removeprefix("http://"), scrape_interval,
                              rule_files),
            free_port())
        prometheus.start()
        try:
            prometheus.wait_for(f"count(sentinelle_host_risk_score) >= {len(AGENTS)}")
            yield RunningFleet(collector, prometheus, fleet_reports)
        finally:
            prometheus.stop()
