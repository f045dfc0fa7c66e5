"""The sentinelle-agent package, built by packaging/build-packages and installed on this machine
with `apt-get install ./sentinelle-agent_*.deb`: files, user, unit, a cycle as the unprivileged
user, enrollment, the service pushing, an upgrade that keeps spool and credentials, removal and
purge. systemd is not PID 1 here: dpkg runs where /run/systemd/system exists and systemctl is a
stand-in that runs the unit's command as its user with its capabilities (system.py)."""

from __future__ import annotations

import json
import os
import pwd
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sentinelle.collector.embedded import EmbeddedCollector
from sentinelle.collector.insee import departement_of
from sentinelle.collector.records import Commune, EnrollmentToken
from sentinelle.collector.secrets import digest, new_secret, new_token_id
from sentinelle.collector.settings import CollectorSettings
from sentinelle.console import default_lang
from sentinelle.i18n import LANGS
from tests.cli.speech import say
from tests.conftest import need_tool
from tests.packaging.conftest import AgentBuilds
from tests.packaging.system import (
    APT,
    ROOT,
    SystemdStandin,
    as_service_user,
    exposure,
    group_exists,
    installed_version,
    owner,
    process_status,
    purge,
    sh,
    unit_settings,
    until,
    user_exists,
)

pytestmark = pytest.mark.integration

UNIT = "sentinelle-agent.service"
UNIT_FILE = Path("/lib/systemd/system") / UNIT
STATE = Path("/var/lib/sentinelle")
CONFIG = Path("/etc/sentinelle/agent.yaml")
VENV = Path("/opt/sentinelle/agent")
WANTS = Path("/etc/systemd/system/multi-user.target.wants") / UNIT
CAPABILITY_BITS = {"CAP_DAC_READ_SEARCH": 2, "CAP_NET_RAW": 13, "CAP_SYS_PTRACE": 19}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def extract(deb: Path, into: Path) -> Path:
    sh(["dpkg-deb", "-x", str(deb), str(into)])
    return into


# What the catalogs need from Babel, in every language (sentinelle/i18n.py).
RENDER = (
    "from sentinelle.i18n import LANGS, format_duration, format_value, plural_form\n"
    "for lang in LANGS:\n"
    "    print(format_duration(7200, lang), format_value(1234.5, 'number', lang),\n"
    "          format_value(0.25, 'percent', lang), format_value(90000, 'ago', lang),\n"
    "          format_value(3 * 2**20, 'size', lang), plural_form(2, lang))\n"
)


def unit_capabilities() -> list[str]:
    return " ".join(unit_settings(UNIT_FILE).get("AmbientCapabilities", [])).split()


# --- What the package holds ------------------------------------------------------------------


def test_package_holds_a_relocated_environment_the_unit_and_the_conffile(
    agent_builds: AgentBuilds, tmp_path: Path
) -> None:
    deb = agent_builds.deb
    fields = sh(["dpkg-deb", "-f", str(deb), "Package", "Version", "Depends"]).stdout
    python = sh(["/usr/bin/python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
    assert "Package: sentinelle-agent" in fields and "Version: 0.1.0-1" in fields
    assert f"python{python.stdout.strip()}" in fields  # the interpreter the venv links to
    control = tmp_path / "control"
    sh(["dpkg-deb", "-e", str(deb), str(control)])
    assert (control / "conffiles").read_text().split() == ["/etc/sentinelle/agent.yaml"]
    for script in ("postinst", "prerm", "postrm"):
        sh(["sh", "-n", str(control / script)])
    tree = extract(deb, tmp_path / "tree")
    venv = tree / VENV.relative_to("/")
    # The service user cannot write /opt: every module is compiled for its installed path.
    sources = list(venv.rglob("*.py"))
    assert len(sources) > 100
    missing = [p for p in sources if not list(p.parent.glob(f"__pycache__/{p.stem}.cpython-*.pyc"))]
    assert missing == []
    assert (venv / "bin/sentinelle").read_text().startswith(f"#!{VENV}/bin/python")
    assert (venv / "bin/python3").resolve() == Path(os.path.realpath("/usr/bin/python3"))
    assert not list(venv.glob("lib/python*/site-packages/pip"))  # nobody installs into it
    # Nothing points at the build machine's staging directory.
    leftovers = sh(["grep", "-rl", "sentinelle-build-", str(tree)], check=False)
    assert leftovers.stdout == ""
    assert (tree / "usr/bin/sentinelle").readlink() == Path(f"{VENV}/bin/sentinelle")
    # Babel's data is kept for the languages Sentinelle speaks only: what it renders is the same.
    locale_data = next(venv.glob("lib/python*/site-packages/babel/locale-data"))
    assert {p.stem for p in locale_data.glob("*.dat")} >= {"root", *LANGS}
    assert not (locale_data / "de.dat").exists()
    rendered = sh([str(venv / "bin/python"), "-c", RENDER]).stdout
    assert rendered == subprocess.run([sys.executable, "-c", RENDER], capture_output=True,
                                      text=True, check=True).stdout
    shipped = tree / "etc/sentinelle/agent.yaml"
    assert shipped.read_text() == (ROOT / "packaging/agent.yaml").read_text()
    assert (tree / UNIT_FILE.relative_to("/")).read_text() == (
        ROOT / "packaging/sentinelle-agent.service"
    ).read_text()


def test_unit_runs_unprivileged_with_only_the_checks_capabilities() -> None:
    need_tool("systemd-analyze")
    unit = ROOT / "packaging/sentinelle-agent.service"
    settings = unit_settings(unit)
    assert settings["User"] == ["sentinelle"] and settings["NoNewPrivileges"] == ["true"]
    caps = " ".join(settings["AmbientCapabilities"]).split()
    assert sorted(caps) == ["CAP_DAC_READ_SEARCH", "CAP_SYS_PTRACE"]  # CAP_NET_RAW: drop-in only
    assert sorted(" ".join(settings["CapabilityBoundingSet"]).split()) == sorted(caps)
    assert exposure(unit) <= 2.5
    # The LAN-discovery drop-in adds raw sockets and nothing else.
    drop_in = (ROOT / "packaging/sentinelle-agent-lan-discovery.conf").read_text()
    assert "AmbientCapabilities=CAP_NET_RAW\n" in drop_in
    assert "RestrictAddressFamilies=AF_PACKET\n" in drop_in


# --- Install, remove, purge ------------------------------------------------------------------


def test_install_remove_purge(agent_builds: AgentBuilds, clean_agent: None,
                              tmp_path: Path) -> None:
    assert not user_exists("sentinelle")
    systemd = SystemdStandin(tmp_path / "systemd")
    out = systemd([*APT, "install", str(agent_builds.deb)]).stdout
    assert installed_version("sentinelle-agent") == "0.1.0-1"
    # What to do next is printed by the package.
    assert "sentinelle agent enroll --collector https://" in out
    account = pwd.getpwnam("sentinelle")
    assert account.pw_uid < 1000 and account.pw_shell.endswith("nologin")
    assert account.pw_dir == str(STATE)
    assert owner(STATE) == ("sentinelle", "sentinelle", 0o750)
    assert owner(CONFIG) == ("root", "sentinelle", 0o640)
    assert CONFIG.read_text() == (ROOT / "packaging/agent.yaml").read_text()
    version = sh(["/usr/bin/sentinelle", "--version"]).stdout
    assert version.strip() == "sentinelle 0.1.0"
    # Enabled, and started because systemd (the stand-in) runs.
    assert WANTS.resolve() == UNIT_FILE.resolve()
    assert systemd.actions(UNIT) == ["start"]
    assert ["--system", "daemon-reload"] in systemd.calls()
    verify = sh(["systemd-analyze", "verify", str(UNIT_FILE)], check=False, cwd="/tmp")
    assert verify.returncode == 0, verify.stderr
    assert exposure(UNIT_FILE) <= 2.5

    systemd([*APT, "remove", "sentinelle-agent"])
    assert systemd.actions(UNIT) == ["start", "stop"]
    status = sh(["dpkg-query", "-W", "-f=${Status}", "sentinelle-agent"]).stdout
    assert status == "deinstall ok config-files"
    assert CONFIG.exists() and STATE.is_dir() and user_exists("sentinelle")  # reinstall goes on
    assert not VENV.exists() and not Path("/usr/bin/sentinelle").exists()
    assert not UNIT_FILE.exists()

    systemd([*APT, "purge", "sentinelle-agent"])
    assert installed_version("sentinelle-agent") is None
    for gone in (CONFIG, CONFIG.parent, STATE, Path("/opt/sentinelle"), WANTS,
                 Path("/etc/systemd/system") / UNIT):
        assert not gone.exists() and not gone.is_symlink(), gone
    assert not user_exists("sentinelle") and not group_exists("sentinelle")
    helper_state = Path("/var/lib/systemd/deb-systemd-helper-enabled")
    assert not [p for p in helper_state.rglob("*") if "sentinelle-agent" in p.name]


# --- A cycle as the service user --------------------------------------------------------------


@pytest.fixture
def root_listener() -> Iterator[int]:
    """A TCP listener owned by root, as a real service's would be."""
    port = free_port()
    proc = subprocess.Popen(
        ["/usr/bin/python3", "-c",
         "import socket, sys, time; s = socket.socket(); "
         "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
         f"s.bind(('127.0.0.1', {port})); s.listen(); print('up', flush=True); time.sleep(600)"],
        stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
    yield port
    proc.kill()
    proc.wait()


def results(report: dict[str, object], check: str) -> list[dict[str, object]]:
    found = report["results"]
    assert isinstance(found, list)
    return [r for r in found if r["check"] == check]


def test_a_cycle_as_the_service_user_sees_with_the_units_capabilities_and_says_what_it_lacks(
    agent_builds: AgentBuilds, clean_agent: None, tmp_path: Path, root_listener: int
) -> None:
    sh([*APT, "install", str(agent_builds.deb)])  # systemd not running: nothing started
    # A backup folder only root may read, with tonight's archive.
    nas = tmp_path / "nas"
    nas.mkdir(mode=0o700)
    (nas / "mairie-2026.tar.gz").write_bytes(b"x" * 1000)
    CONFIG.write_text(
        "agent:\n  state_dir: /var/lib/sentinelle\n"
        f"backups:\n  locations:\n    - name: nas\n      type: directory\n      path: {nas}\n"
        "      pattern: '*.tar.gz'\n      offline: true\n"
        "push:\n  enabled: false\n"
        "checks:\n  patching:\n    enabled: false\n")
    command = unit_settings(UNIT_FILE)["ExecStart"][-1].split()
    assert command[0] == str(VENV / "bin/sentinelle")
    caps = unit_capabilities()

    cycle = as_service_user("sentinelle", caps, [*command, "--once"])
    assert cycle.returncode == 0, cycle.stdout + cycle.stderr
    report_path = STATE / "last-report.json"
    assert owner(report_path)[0] == "sentinelle"  # written by the unprivileged user
    report = json.loads(report_path.read_text())
    sockets = results(report, "ports.listening")[0]["evidence"]["sockets"]
    mine = [s for s in sockets if s["port"] == root_listener]
    assert mine and mine[0]["process"] == "python3"  # root's socket, named
    assert [r["status"] for r in results(report, "ports.listening")] == ["pass"]
    assert {r["status"] for r in results(report, "backups.freshness")} == {"pass"}
    assert {r["status"] for r in results(report, "backups.offline_copy")} == {"pass"}

    # Without them the same cycle runs, and says what it could not see and why.
    bare = as_service_user("sentinelle", [], [*command, "--once"])
    assert bare.returncode == 0, bare.stdout + bare.stderr
    report = json.loads(report_path.read_text())
    listening = results(report, "ports.listening")
    assert [r["status"] for r in listening] == ["pass", "skip"]
    mine = [s for s in listening[0]["evidence"]["sockets"]
            if s["port"] == root_listener]
    assert mine and mine[0]["process"] is None
    assert "CAP_SYS_PTRACE" in listening[1]["args"]["capabilities"]
    for check in ("backups.freshness", "backups.offline_copy"):
        (finding,) = results(report, check)
        assert finding["status"] == "skip", finding
        assert "CAP_DAC_READ_SEARCH" in str(finding["evidence"]["reason"])


# --- Enrollment, pushing, spooling and an upgrade, with the service running -------------------


class Collector:
    """A real collector on a fixed loopback port and SQLite file, that can go away and return."""

    def __init__(self, directory: Path, port: int) -> None:
        self.settings = replace(CollectorSettings(), listen_address=f"127.0.0.1:{port}",
                                store=f"sqlite:///{directory / 'collector.db'}")
        self.url = f"http://127.0.0.1:{port}"
        self.running: EmbeddedCollector | None = None

    def start(self) -> EmbeddedCollector:
        self.running = EmbeddedCollector(self.settings)
        self.running.start()
        return self.running

    def stop(self) -> None:
        if self.running is not None:
            self.running.stop()
            self.running = None

    def count(self) -> int:
        assert self.running is not None
        return self.running.store.count_reports()

    def token(self, code: str) -> str:
        running = self.running
        assert running is not None
        running.store.upsert_commune(Commune(code, "Essai", departement_of(code), 100, ()))
        running.service.refresh_registry()
        secret = new_secret()
        now = datetime.now(UTC)
        running.store.add_token(
            EnrollmentToken(new_token_id(), code, now, now + timedelta(hours=1), 1),
            digest(secret))
        return secret


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def agent_metrics(port: int) -> dict[str, float]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return {}
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_enroll_push_spool_and_upgrade_with_the_service_running(
    agent_builds: AgentBuilds, clean_agent: None, tmp_path: Path
) -> None:
    systemd = SystemdStandin(tmp_path / "systemd", run=True)
    collector = Collector(tmp_path, free_port())
    collector.start()
    try:
        sh([*APT, "install", str(agent_builds.deb)])
        agent_port = free_port()
        # The admin's settings (a conffile: the upgrade must keep them).
        config = (f"agent:\n  listen_address: 127.0.0.1:{agent_port}\n  interval_seconds: 3600\n"
                  "push:\n  backoff_initial_seconds: 0.5\n  backoff_max_seconds: 1\n"
                  "  timeout_seconds: 5\n")
        CONFIG.write_text(config)
        systemd(["systemctl", "start", UNIT])  # as systemd does at boot
        until(lambda: agent_metrics(agent_port).get("sentinelle_agent_cycles_total", 0) >= 1,
              90, "the service's first cycle", lambda: systemd.log(UNIT))
        pid = systemd.pid(UNIT)
        assert pid is not None
        status = process_status(pid)
        uid = str(pwd.getpwnam("sentinelle").pw_uid)
        assert status["Uid"].split() == [uid] * 4 and status["NoNewPrivs"] == "1"
        wanted = sum(1 << CAPABILITY_BITS[c] for c in unit_capabilities())
        for field in ("CapEff", "CapAmb", "CapBnd"):
            assert int(status[field], 16) == wanted, (field, status[field])
        assert collector.count() == 0  # not enrolled yet: nothing pushed

        # One step for the technician: enroll as root; the service pushes right away.
        enrolled = systemd(["sentinelle", "agent", "enroll", "--collector", collector.url,
                            "--token", collector.token("01001"),
                            "--hostname", "mairie-essai"]).stdout
        # In the technician's language (this environment's: French unless it says English).
        lang = default_lang()
        assert say("cli.enroll.handed_over", lang, user="sentinelle",
                   path=str(STATE / "credentials.json")) in enrolled
        assert say("cli.enroll.restarted", lang, unit=UNIT, url=collector.url) in enrolled
        assert systemd.actions(UNIT)[-1] == "try-restart"
        credentials = STATE / "credentials.json"
        assert owner(credentials) == ("sentinelle", "sentinelle", 0o600)
        until(lambda: collector.count() == 1, 90, "the first Report pushed",
              lambda: systemd.log(UNIT))

        # The collector goes away; the next cycle's Report waits in the spool.
        collector.stop()
        systemd(["systemctl", "restart", UNIT])
        until(lambda: agent_metrics(agent_port).get("sentinelle_agent_push_spool_depth", 0) >= 1,
              90, "a Report spooled", lambda: systemd.log(UNIT))
        spooled_id = json.loads((STATE / "last-report.json").read_text())["report_id"]
        kept = credentials.read_bytes()
        old_pid = systemd.pid(UNIT)

        # Upgrade to the newer build while it runs: dpkg restarts it on the new files.
        out = systemd([*APT, "install", str(agent_builds.newer_deb)]).stdout
        assert installed_version("sentinelle-agent") == "0.1.0-2"
        assert systemd.actions(UNIT)[-1] == "restart"
        assert "agent enroll" not in out  # enrolled: no "next step" this time
        until(lambda: systemd.pid(UNIT) not in (None, old_pid), 30, "the new service")
        assert credentials.read_bytes() == kept
        assert owner(credentials) == ("sentinelle", "sentinelle", 0o600)
        assert CONFIG.read_text() == config  # the admin's conffile kept
        until(lambda: agent_metrics(agent_port).get("sentinelle_agent_push_spool_depth", 0) >= 2,
              90, "the spool kept across the upgrade (plus the new cycle's Report)",
              lambda: systemd.log(UNIT))

        # The collector is back: everything spooled arrives, the pre-upgrade Report included.
        running = collector.start()
        until(lambda: collector.count() >= 3, 90, "the spool replayed", lambda: systemd.log(UNIT))
        stored = running.store.reports_between("01001", datetime(2000, 1, 1, tzinfo=UTC),
                                               datetime.now(UTC) + timedelta(days=1))
        assert spooled_id in {r.report_id for r in stored}
        assert {r.host for r in stored} == {"mairie-essai"}
        until(lambda: agent_metrics(agent_port).get("sentinelle_agent_push_spool_depth") == 0,
              30, "an empty spool")

        last_pid = systemd.pid(UNIT)
        assert last_pid is not None
        systemd([*APT, "purge", "sentinelle-agent"])
        assert not alive(last_pid)
        assert not STATE.exists() and not user_exists("sentinelle")
    finally:
        systemd.kill_all()
        collector.stop()
        purge("sentinelle-agent")
