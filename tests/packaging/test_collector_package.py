"""The sentinelle-collector package (the syndicate's side), installed with apt on this machine:
its own user and environment, its units enabled and the service started (by the systemctl
stand-in, as its unprivileged user), `sentinelle-admin`, and a purge that keeps the store."""

from __future__ import annotations

import json
import pwd
import shutil
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.packaging.system import (
    APT,
    SystemdStandin,
    exposure,
    installed_version,
    owner,
    process_status,
    purge,
    sh,
    until,
    user_exists,
)

pytestmark = pytest.mark.integration

PACKAGE = "sentinelle-collector"
UNIT_DIR = Path("/lib/systemd/system")
UNITS = ("sentinelle-collector.service", "sentinelle-collector-backup.service",
         "sentinelle-collector-backup.timer", "sentinelle-report.service",
         "sentinelle-report.timer")
CONFIG = Path("/etc/sentinelle/collector.yaml")
STATE = Path("/var/lib/sentinelle-collector")
BACKUPS = Path("/var/lib/sentinelle-collector-backups")
SHARE = Path("/usr/share/sentinelle-collector")


def forget_collector() -> None:
    """What even a purge keeps on purpose (the store, its user): gone between tests."""
    purge(PACKAGE)
    for path in (STATE, BACKUPS):
        shutil.rmtree(path, ignore_errors=True)
    if user_exists("sentinelle-collector"):
        sh(["deluser", "--system", "sentinelle-collector"])
    CONFIG.unlink(missing_ok=True)
    if CONFIG.parent.exists() and not any(CONFIG.parent.iterdir()):
        CONFIG.parent.rmdir()


@pytest.fixture
def clean_collector() -> Iterator[None]:
    forget_collector()
    yield
    forget_collector()


def healthz(port: int) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            return dict(json.load(resp))
    except (OSError, ValueError):
        return None


def enroll(port: int, token: str, hostname: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/enroll", method="POST",
        data=json.dumps({"token": token, "hostname": hostname}).encode(),
        headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return err.code


def test_collector_package_installs_runs_unprivileged_and_keeps_its_store_on_purge(
    collector_deb: Path, clean_collector: None, tmp_path: Path
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    # The syndicate's own settings, in place before the package (as configuration management
    # would put them): dpkg keeps them, the package makes them readable by the service.
    CONFIG.parent.mkdir(exist_ok=True)
    CONFIG.write_text(f"listen_address: 127.0.0.1:{port}\n"
                      "store: sqlite:///var/lib/sentinelle-collector/collector.db\n")
    systemd = SystemdStandin(tmp_path / "systemd", run=True)
    try:
        out = systemd([*APT, "-o", "Dpkg::Options::=--force-confold", "install",
                       str(collector_deb)]).stdout
        assert installed_version(PACKAGE) == "0.1.0-1"
        assert "sentinelle-admin commune add" in out
        assert owner(CONFIG) == ("root", "sentinelle-collector", 0o640)
        assert owner(STATE) == ("sentinelle-collector", "sentinelle-collector", 0o750)
        assert owner(BACKUPS) == ("sentinelle-collector", "sentinelle-collector", 0o750)
        # Enabled: the service and its nightly backup; not the mayors' mail (needs report.yaml).
        wants = Path("/etc/systemd/system")
        assert (wants / "multi-user.target.wants/sentinelle-collector.service").is_symlink()
        assert (wants / "timers.target.wants/sentinelle-collector-backup.timer").is_symlink()
        assert not (wants / "timers.target.wants/sentinelle-report.timer").exists()
        assert systemd.actions("sentinelle-collector.service") == ["start"]
        assert systemd.actions("sentinelle-collector-backup.timer") == ["start"]
        assert systemd.actions("sentinelle-report.timer") == []
        verify = sh(["systemd-analyze", "verify", *(str(UNIT_DIR / u) for u in UNITS)],
                    check=False, cwd="/tmp")
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert exposure(UNIT_DIR / "sentinelle-collector.service") < 2.0
        for unit in UNITS:
            text = (UNIT_DIR / unit).read_text()
            assert "/usr/local/bin" not in text, unit  # the packaged program, not a manual one
        # What docs/deployment.md copies from is installed.
        for path in ("deploy/nginx/sentinelle-collector.conf", "deploy/prometheus/prometheus.yml",
                     "rules/prometheus/alerts.yml", "dashboards/fleet-overview.json"):
            assert (SHARE / path).is_file(), path

        until(lambda: healthz(port) is not None, 60, "the collector answering",
              lambda: systemd.log("sentinelle-collector.service"))
        pid = systemd.pid("sentinelle-collector.service")
        assert pid is not None
        status = process_status(pid)
        uid = str(pwd.getpwnam("sentinelle-collector").pw_uid)
        assert status["Uid"].split() == [uid] * 4
        assert int(status["CapEff"], 16) == 0 and int(status["CapBnd"], 16) == 0

        # The administration commands, run as root, act as the service user on its store.
        sh(["sentinelle-admin", "commune", "add", "01001", "--name", "L'Abergement-Clémenciat",
            "--population", "767"])
        token = sh(["sentinelle-admin", "token", "create", "--commune", "01001", "--uses", "1"]
                   ).stdout.splitlines()[0].strip()
        until(lambda: enroll(port, token, "mairie-srv") == 201, 30,
              "enrollment with the new token (the service reloads its registry)")
        agents = sh(["sentinelle-admin", "agent", "list", "--commune", "01001"]).stdout
        assert "mairie-srv" in agents
        for path in STATE.iterdir():
            assert owner(path)[0] == "sentinelle-collector", path
        nobody = sh(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                     "sentinelle-admin", "agent", "list"], check=False)
        assert nobody.returncode == 1 and "run it as root" in nobody.stderr

        purged = systemd([*APT, "purge", PACKAGE]).stdout
        assert installed_version(PACKAGE) is None
        assert systemd.actions("sentinelle-collector.service") == ["start", "stop"]
        assert not Path("/opt/sentinelle/collector").exists()
        assert not Path("/usr/sbin/sentinelle-admin").exists()
        assert not CONFIG.exists()
        for unit in UNITS:
            assert not (UNIT_DIR / unit).exists()
            assert not list(wants.glob(f"*/{unit}")) and not (wants / unit).exists()
        # Losing the store means enrolling every town hall again: a purge keeps it.
        assert (STATE / "collector.db").is_file()
        assert f"{STATE} kept (the store and its backups)" in purged
        assert user_exists("sentinelle-collector")  # it still owns the store
    finally:
        systemd.kill_all()
