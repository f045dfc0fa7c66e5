"""The syndicate's policy end to end: a real collector, two communes, three real agents (the
daemon's own cycle with the policy applier `sentinelle agent run` uses), the SOC's commands
run as a person runs them, and a real Prometheus evaluating the alert rules.

The SOC accepts one host's RDP finding (a listening socket on a network address of this
machine, opened by the test), sets a stricter backup threshold for one commune, lets a waiver
expire; an agent that was offline when the policy changed applies it at its next cycle, and an
agent whose collector is down keeps applying the policy it holds.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sentinelle.agent.daemon import Agent
from sentinelle.agent.enroll import enroll, load_credentials
from sentinelle.agent.policy import policy_applier
from sentinelle.agent.push import build_pusher
from sentinelle.collector import server
from sentinelle.collector.embedded import EmbeddedCollector
from sentinelle.collector.records import Commune, EnrollmentToken, WaiverRecord
from sentinelle.collector.secrets import digest, new_secret, new_token_id
from sentinelle.collector.settings import CollectorSettings
from sentinelle.model import Report, Waiver
from sentinelle.promlauncher import PrometheusProcess, prometheus_config
from sentinelle.runner import build_setup
from tests.e2e.fleet import free_port

ROOT = Path(__file__).resolve().parents[2]
RDP_PORT = 3389
RDP_POLICY = """\
family: syndicat
category: {fr: "Règles du syndicat", en: "Syndicate rules"}
checks:
  syndicat.rdp_closed:
    severity: high
    anssi: [21]
    title: {fr: "Bureau à distance fermé", en: "Remote desktop closed"}
    rationale: {fr: "Le bureau à distance est la porte d'entrée des rançongiciels.",
                en: "Remote desktop is the ransomware gangs' way in."}
    remediation: {fr: "Fermez le port {port}.", en: "Close port {port}."}
    messages:
      pass: {fr: "Rien n'écoute sur le port {port}.", en: "Nothing listens on port {port}."}
      fail: {fr: "Le port {port} écoute.", en: "Port {port} listens."}
    condition:
      port: {port: 3389, listening: false}
"""


def sentinelle(*args: str) -> str:
    """A `sentinelle` command as the SOC runs it (its own process, the same store)."""
    done = subprocess.run([sys.executable, "-m", "sentinelle.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "SENTINELLE_LANG": "fr"})
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


class TownHall:
    """One real agent: its config (a directory backup 20 hours old), state and cycle."""

    def __init__(self, base: Path, collector: EmbeddedCollector, commune: str, host: str):
        self.home = base / f"agent-{commune}-{host}"
        backups = self.home / "backups"
        backups.mkdir(parents=True)
        archive = backups / "mairie.tar.gz"
        archive.write_bytes(os.urandom(4000))
        stamp = (datetime.now(UTC) - timedelta(hours=20)).timestamp()
        os.utime(archive, (stamp, stamp))
        self.config = self.home / "agent.yaml"
        self.config.write_text(
            f"agent: {{state_dir: {self.home / 'state'}, listen_address: '127.0.0.1:1'}}\n"
            "checks: {ports.network_scan: {enabled: false}, patching: {enabled: false}}\n"
            "backups:\n  locations:\n"
            f"    - {{name: nas, type: directory, path: {backups}, pattern: '*.tar.gz'}}\n")
        secret = new_secret()
        now = datetime.now(UTC)
        collector.store.add_token(EnrollmentToken(new_token_id(), commune, now,
                                                  now + timedelta(hours=1), 1), digest(secret))
        enroll(collector.url, secret, host, str(self.home / "state"))
        creds = load_credentials(self.home / "state")
        assert creds is not None
        self.agent_id = creds.agent_id

    def cycle(self, pushed: bool = True) -> Report:
        """One cycle of the daemon, as `agent run` builds it; its Report pushed (or spooled)."""
        setup = build_setup(self.config)
        applier = policy_applier(self.config, setup)
        agent = Agent(applier.setup, setup_source=applier)
        pusher = build_pusher(agent.setup.config, stop_event=agent.stop_event)
        assert pusher is not None
        agent.hooks.append(pusher.on_report)
        try:
            report = agent.cycle()
            assert report is not None
            assert pusher.drain() == (1 if pushed else 0), pusher.status()
        finally:
            pusher.close()
        return report


def finding(report: Report, check: str, key: str | None = None) -> list[object]:
    return [f for f in report.results if f.check == check and (key is None or f.key == key)]


@pytest.fixture
def rdp_listening() -> Iterator[None]:
    """An RDP port open on every address of this machine while the test runs."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", RDP_PORT))
        s.listen(1)
        yield


@pytest.mark.integration
def test_waivers_and_commune_policy_reach_the_right_agents(
    tmp_path: Path, rdp_listening: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server, "POLICY_CACHE_SECONDS", 0.0)  # the SOC's change, at once
    port = free_port()
    settings = replace(CollectorSettings(), listen_address=f"127.0.0.1:{port}",
                       store=f"sqlite:///{tmp_path / 'collector.db'}")
    soc_config = tmp_path / "collector.yaml"
    soc_config.write_text(f"store: sqlite:///{tmp_path / 'collector.db'}\n")
    soc = ("collector", "--config", str(soc_config))
    strict = tmp_path / "strict-backups.yaml"
    strict.write_text("checks:\n  backups.freshness:\n    max_age_hours: 12\n")
    # A declarative check the syndicate adds for the whole fleet: the RDP port closed.
    (tmp_path / "syndicat.yaml").write_text(RDP_POLICY)
    fleet_policy = tmp_path / "fleet.yaml"
    fleet_policy.write_text("policies: [syndicat.yaml]\n")
    with EmbeddedCollector(settings) as collector:
        collector.store.upsert_commune(Commune("01001", "L'Abergement-Clémenciat", "01", 767))
        collector.store.upsert_commune(Commune("01004", "Ambérieu-en-Bugey", "01", 14_514))
        collector.service.refresh_registry()
        srv = TownHall(tmp_path, collector, "01001", "mairie-srv")
        pc = TownHall(tmp_path, collector, "01001", "mairie-pc")
        other = TownHall(tmp_path, collector, "01004", "srv-mairie")
        before = {t: t.cycle() for t in (srv, pc, other)}
        for report in before.values():
            rdp = finding(report, "ports.risky_services", "rdp")
            assert rdp and all(f.status.value == "fail" and f.waiver is None for f in rdp)
            assert finding(report, "backups.freshness")[0].status.value == "pass"

        # The SOC accepts mairie-srv's RDP: its next cycle shows it accepted, score raised.
        out = sentinelle(*soc, "waiver", "add", "--check", "ports.risky_services", "--key",
                         "rdp", "--scope", f"host:{srv.agent_id}", "--reason",
                         "Accès du prestataire comptable par le VPN", "--by", "Alice (SOC)",
                         "--expires", (datetime.now(UTC) + timedelta(days=90)).strftime("%F"))
        waiver_id = out.split()[0]
        accepted = srv.cycle()
        rdp = finding(accepted, "ports.risky_services", "rdp")
        assert rdp and all(f.waiver is not None and f.waiver.id == waiver_id for f in rdp)
        assert accepted.score.value > before[srv].score.value
        assert accepted.score.open_by_severity["high"] < before[srv].score.open_by_severity["high"]

        # Then 01001's backups get stricter; mairie-pc is off meanwhile (no cycle until later).
        sentinelle(*soc, "policy", "set", "--scope", "commune:01001", "--file", str(strict),
                   "--by", "Alice (SOC)")
        history = sentinelle(*soc, "policy", "history")
        assert "waiver_added" in history and "policy_set" in history and "Alice" in history
        after = srv.cycle()
        assert finding(after, "backups.freshness")[0].status.value == "fail"  # 20 h > 12 h
        assert all(f.waiver is not None for f in finding(after, "ports.risky_services", "rdp"))
        assert after.policy_version not in (None, accepted.policy_version)

        unchanged = other.cycle()  # another commune: neither the waiver nor the threshold
        assert all(f.waiver is None for f in finding(unchanged, "ports.risky_services"))
        assert finding(unchanged, "backups.freshness")[0].status.value == "pass"

        # A declarative policy file for the whole fleet: every agent runs it at its next cycle.
        sentinelle(*soc, "policy", "set", "--scope", "fleet", "--file", str(fleet_policy),
                   "--by", "Alice (SOC)")
        held = {}
        for town_hall in (srv, other):
            held[town_hall] = town_hall.cycle()
            ran = finding(held[town_hall], "syndicat.rdp_closed")
            assert ran and ran[0].status.value == "fail", ran  # the test's RDP port listens

        late = pc.cycle()  # offline when the policy was set: applies it at its next cycle
        assert finding(late, "syndicat.rdp_closed")[0].status.value == "fail"
        assert finding(late, "backups.freshness")[0].status.value == "fail"
        assert all(f.waiver is None for f in finding(late, "ports.risky_services"))  # host's

        # The SOC sees it in the fleet metrics.
        text = collector.service.fleet.render(datetime.now(UTC).timestamp())
        assert ('sentinelle_findings_waived{commune="01001",host="mairie-srv",'
                'check="ports.risky_services"}') in text
        assert 'sentinelle_findings_waived{commune="01001",host="mairie-pc"' not in text

        # mairie-pc's own waiver ended yesterday (written as time would leave it: the CLI
        # refuses a waiver that ends in the past).
        now = datetime.now(UTC)
        ended = Waiver("wvr_00000000dead", "ports.risky_services", f"host:{pc.agent_id}",
                       "Essai", "Bob (SOC)", (now - timedelta(days=1)).strftime("%F"), "rdp")
        collector.store.add_waiver(WaiverRecord(ended, now - timedelta(days=30), "Bob (SOC)"))
        expired = pc.cycle()
        assert finding(expired, "ports.risky_services", "rdp")[0].waiver is None
        assert any(f.message == "waiver.expired" for f in expired.results)
        assert expired.score.value <= late.score.value
        listed = sentinelle(*soc, "waiver", "list", "--expiring-within", "0")
        assert "wvr_00000000dead" in listed and waiver_id not in listed

        prometheus = PrometheusProcess(
            tmp_path / "prometheus",
            prometheus_config(collector.url.removeprefix("http://"), "1s",
                              (str(ROOT / "rules/prometheus/alerts.yml"),)),
            free_port())
        prometheus.start()
        try:
            alert = prometheus.wait_for('ALERTS{alertname="SentinelleWaiverExpired"}')
            labels = alert[0]["metric"]
            assert (labels["commune"], labels["host"], labels["check"]) == (
                "01001", "mairie-pc", "ports.risky_services")
            assert labels["departement"] == "01"
        finally:
            prometheus.stop()

    # The collector is down: mairie-srv keeps the policy it holds (the waiver, the threshold)
    # and spools its Report.
    offline = srv.cycle(pushed=False)
    assert all(f.waiver is not None for f in finding(offline, "ports.risky_services", "rdp"))
    assert finding(offline, "backups.freshness")[0].status.value == "fail"
    assert offline.policy_version == held[srv].policy_version
    assert finding(offline, "syndicat.rdp_closed")  # the served policy file, from its cache
