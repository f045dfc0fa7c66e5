"""`sentinelle demo`: the whole path on this machine, on embedded defaults, in one command.

A collector (SQLite) on loopback, a sample commune, this machine's agent enrolled and pushing,
and, where Prometheus is installed, a Prometheus scraping the collector with the project's rules.
Ctrl-C (or `--duration`) stops everything it started.

Every line it prints is catalog text (rules/messages/cli.yaml, `cli.demo.…`) in the demo's
language (`--lang`, else the reader's), as the table of this machine's posture is.
"""

from __future__ import annotations

import logging
import shutil
import signal
import socket
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from sentinelle.agent.daemon import Agent
from sentinelle.agent.enroll import default_hostname, enroll, load_credentials
from sentinelle.agent.push import build_pusher
from sentinelle.cli.registry import say
from sentinelle.collector.embedded import EmbeddedCollector
from sentinelle.collector.insee import departement_of
from sentinelle.collector.records import Commune, EnrollmentToken
from sentinelle.collector.secrets import digest, new_secret, new_token_id
from sentinelle.collector.settings import CollectorSettings
from sentinelle.console import render_table, top_remediations
from sentinelle.errors import SentinelleError
from sentinelle.model import Report
from sentinelle.promlauncher import PrometheusProcess, prometheus_config
from sentinelle.rules import RuleSet, default_rules_dir
from sentinelle.runner import build_setup
from sentinelle.texts import severity_name

log = logging.getLogger("sentinelle.demo")
SAMPLE_COMMUNE = ("01001", "L'Abergement-Clémenciat", 767)


@dataclass(frozen=True)
class DemoOptions:
    """Where the demo keeps its files and which loopback ports it prefers."""

    directory: Path
    collector_port: int = 8470
    agent_port: int = 9830
    prometheus_port: int = 9090
    interval_seconds: float = 300.0
    duration_seconds: float | None = None  # None: until Ctrl-C
    lang: str = "fr"


def port_or_free(preferred: int, lang: str | None = None) -> int:
    """The preferred loopback port when free, else any free one."""
    for candidate in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise SentinelleError(say("cli.demo.no_free_port", lang))


def _agent_config(options: DemoOptions, agent_port: int) -> Path:
    path = options.directory / "agent.yaml"
    comment = say("cli.demo.config_comment", options.lang)
    path.write_text(
        f"# {comment}\n"
        f"agent:\n  state_dir: {options.directory / 'agent'}\n"
        f"  listen_address: 127.0.0.1:{agent_port}\n"
        f"  interval_seconds: {options.interval_seconds:g}\n",
        encoding="utf-8",
    )
    return path


def _enroll_agent(collector: EmbeddedCollector, state_dir: Path, lang: str) -> None:
    if load_credentials(state_dir) is not None:
        return  # enrolled by an earlier run of the demo, against the same database
    code = SAMPLE_COMMUNE[0]
    secret = new_secret()
    now = datetime.now(UTC)
    collector.store.add_token(
        EnrollmentToken(new_token_id(), code, now, now + timedelta(hours=1), 1), digest(secret)
    )
    enroll(collector.url, secret, default_hostname(), state_dir, lang=lang)


def run_demo(options: DemoOptions) -> int:
    lang = options.lang
    options.directory.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    settings = replace(
        CollectorSettings(),
        listen_address=f"127.0.0.1:{port_or_free(options.collector_port, lang)}",
        store=f"sqlite:///{options.directory / 'collector.db'}",
        snapshot_interval_seconds=60.0,
    )
    agent_port = port_or_free(options.agent_port, lang)
    print(say("cli.demo.files", lang, path=str(options.directory)))
    with EmbeddedCollector(settings) as collector:
        code, name, population = SAMPLE_COMMUNE
        collector.store.upsert_commune(
            Commune(code, name, departement_of(code), population, ("mairie@example.org",))
        )
        collector.service.refresh_registry()
        print(say("cli.demo.collector", lang, url=collector.url, code=code, name=name))
        setup = build_setup(_agent_config(options, agent_port))
        state_dir = Path(setup.config.agent.state_dir)
        _enroll_agent(collector, state_dir, lang)
        agent = Agent(setup)
        pusher = build_pusher(setup.config, stop_event=agent.stop_event)
        assert pusher is not None
        agent.hooks.append(pusher.on_report)
        agent.state.extra.append(pusher.collector())
        agent.serve()
        print(say("cli.demo.agent", lang, url=f"http://127.0.0.1:{agent_port}/metrics"))
        print(say("cli.demo.running", lang), flush=True)
        report = agent.cycle()
        if report is None:
            raise SentinelleError(say("cli.demo.first_cycle_failed", lang))
        pusher.drain()
        pusher.start()
        collector.service.take_snapshots()
        prometheus = _start_prometheus(options, collector.url, agent_port)
        try:
            _print_summary(report, setup.rules, lang, collector, prometheus)
            def later_cycles() -> None:
                if not agent.stop_event.wait(options.interval_seconds):  # the first one ran
                    agent.run_forever()

            threading.Thread(target=later_cycles, name="agent", daemon=True).start()
            print(
                "\n" + (say("cli.demo.until_ctrl_c", lang) if options.duration_seconds is None
                        else say("cli.demo.stops_in", lang, seconds=options.duration_seconds)),
                flush=True,
            )
            stop.wait(options.duration_seconds)
        finally:
            agent.stop()
            agent.close()
            pusher.close()
            if prometheus is not None:
                prometheus.stop()
    print(say("cli.demo.stopped", lang))
    return 0


def _start_prometheus(
    options: DemoOptions, collector_url: str, agent_port: int
) -> PrometheusProcess | None:
    rules = sorted(str(p) for p in (default_rules_dir() / "prometheus").glob("*.yml"))
    if shutil.which("prometheus") is None:  # said in the demo's language
        print(say("cli.demo.prometheus_not_started", options.lang,
                  reason=say("cli.demo.prometheus_missing", options.lang)))
        return None
    try:
        prometheus = PrometheusProcess(
            options.directory / "prometheus",
            prometheus_config(
                collector_url.removeprefix("http://"), "10s", rules, agent=f"127.0.0.1:{agent_port}"
            ),
            port_or_free(options.prometheus_port, options.lang),
        )
        prometheus.start()
        # The collector's series (the agent's own /metrics has no commune label).
        prometheus.wait_for("sentinelle_commune_risk_score", timeout=60)
    except SentinelleError as exc:
        print(say("cli.demo.prometheus_not_started", options.lang, reason=str(exc)))
        return None
    print(say("cli.demo.prometheus", options.lang, url=prometheus.url, count=len(rules)))
    return prometheus


def _print_summary(
    report: Report,
    rules: RuleSet,
    lang: str,
    collector: EmbeddedCollector,
    prometheus: PrometheusProcess | None,
) -> None:
    code = SAMPLE_COMMUNE[0]
    print()
    print(render_table(report, rules, lang))
    stored = collector.store.count_reports()
    print(say("cli.demo.stored", lang, count=stored, code=code))
    if prometheus is not None:
        commune = prometheus.query(f'sentinelle_commune_risk_score{{commune="{code}"}}')
        grade = prometheus.query(f'sentinelle_commune_grade_info{{commune="{code}"}}')
        if commune and grade:
            print(say("cli.demo.prometheus_score", lang, code=code,
                      score=round(float(commune[0]["value"][1])),
                      grade=str(grade[0]["metric"]["grade"])))
        query = "sentinelle_check_status%7Bstatus%3D%22fail%22%7D"
        print(say("cli.demo.try", lang, url=f"{prometheus.url}/graph?g0.expr={query}"))
    worst = top_remediations(report, 3)
    if worst:
        findings = [say("cli.demo.finding", lang, check=f.check,
                        severity=severity_name(f.severity, rules.catalog, lang)) for f in worst]
        print(say("cli.demo.worst", lang, findings=findings))
