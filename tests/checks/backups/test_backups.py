"""backups checks: freshness, size change, offline copy and restore tests.

restic and borg tests create REAL repositories in temporary directories, with snapshots and
archives stamped at chosen times (restic --time, borg --timestamp), and run the checks on a live
Host whose clock is pinned to FIXED_NOW. Directory locations are fixture trees built here with
chosen mtimes (os.utime). The only replay stands for a remote restic repository, which cannot run
here: fixtures/record.py recorded its outputs from the real restic.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sentinelle.checks.backups import directory as backups_directory
from sentinelle.checks.backups.checks import BackupFreshness
from sentinelle.checks.backups.listing import parse_time, series_of_name
from sentinelle.checks.backups.restore import (
    journal_path,
    load_restore_tests,
    record_restore_test,
)
from sentinelle.checks.base import Check, CheckContext, registry
from sentinelle.config import AgentSettings, BackupLocation, CheckSettings, Config
from sentinelle.errors import ConfigError
from sentinelle.host import CommandResult, Host, subprocess_runner
from sentinelle.metrics import MEASUREMENTS
from sentinelle.model import Finding, Severity, Status
from sentinelle.rules import load_rules
from sentinelle.runner import build_setup, run_checks
from tests.checks.texts import remedy, rendered, summary
from tests.conftest import FIXED_NOW, fixture_host, need_tool, recorded

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
RULES = load_rules()
NOW = FIXED_NOW
KB = 1000
FRESHNESS = "backups.freshness"
SIZE = "backups.size_change"
OFFLINE = "backups.offline_copy"
RESTORE = "backups.restore_test"
CHECK_IDS = (FRESHNESS, OFFLINE, RESTORE, SIZE)


# ---------------------------------------------------------------------------- helpers


def make_config(
    state_dir: Path,
    *locations: BackupLocation,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> Config:
    checks = {cid: CheckSettings(params=dict(p)) for cid, p in (params or {}).items()}
    return Config(
        agent=AgentSettings(state_dir=str(state_dir)), backups=tuple(locations), checks=checks
    )


def make_check(check_id: str, config: Config) -> Check:
    meta = RULES.checks[check_id]
    params = dict(meta.params)
    if check_id in config.checks:
        params.update(config.checks[check_id].params)
    return registry()[check_id](meta, params, CheckContext(config=config, rules=RULES))


def run(check_id: str, config: Config, host: Host) -> list[Finding]:
    """Run one check directly: an exception fails the test instead of becoming an error."""
    findings = list(make_check(check_id, config).run(host))
    for f in findings:
        assert f.check == check_id
        rendered(f)  # every placeholder filled, in both languages
        for m in f.measurements:
            assert m.name in MEASUREMENTS, m.name
            assert set(m.labels) == set(MEASUREMENTS[m.name].labels), m
    return findings


def by_location(findings: Sequence[Finding]) -> dict[str, Finding]:
    return {str(f.evidence["location"]): f for f in findings}


def measured(finding: Finding) -> dict[str, float]:
    return {m.name: m.value for m in finding.measurements}


def live_host(runner: Any = subprocess_runner, now: datetime = NOW) -> Host:
    """This machine (commands really run) with the clock pinned to `now`."""
    return Host(root="/", runner=runner, clock=lambda: now)


class CountingRunner:
    """The real subprocess runner, counting the commands it runs."""

    def __init__(self, extra_env: Mapping[str, str] | None = None) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.extra_env = dict(extra_env or {})
        self.lock = threading.Lock()

    def __call__(
        self, argv: Sequence[str], timeout: float, env: Mapping[str, str] | None
    ) -> CommandResult:
        with self.lock:
            self.calls.append(tuple(argv))
        return subprocess_runner(argv, timeout, {**self.extra_env, **(env or {})})

    def count(self, word: str) -> int:
        return sum(1 for argv in self.calls if word in argv)


def write_random(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))


def backup_file(root: Path, rel: str, size: int, age_hours: float) -> Path:
    path = root / rel.lstrip("/")
    write_random(path, size)
    stamp = (NOW - timedelta(hours=age_hours)).timestamp()
    os.utime(path, (stamp, stamp))
    return path


# ---------------------------------------------------------------------------- real repositories


@dataclass(frozen=True)
class ResticRepos:
    healthy: Path  # series X at -49 h (20 kB) and -2 h (21 kB); series Y at -26 h (60 kB)
    shrunk: Path  # one series: -80 h (40 kB), then -30 h (8 kB)
    password: Path
    wrong_password: Path
    newest_size: int


@dataclass(frozen=True)
class BorgRepos:
    encrypted: Path  # repokey: mairie-* at -72 h (40 kB) and -3 h (10 kB)
    plain: Path  # no encryption: one archive at -240 h (10 days)
    password: Path
    wrong_password: Path


def _restic(repo: Path, password: Path, *args: str) -> None:
    subprocess.run(
        ["restic", "-r", str(repo), "--password-file", str(password), "--no-cache", "-q", *args],
        env={**os.environ, "TZ": "UTC"},  # restic reads --time in local time
        check=True,
        capture_output=True,
    )


def _restic_snapshot(repo: Path, password: Path, data: Path, age_hours: float) -> None:
    when = (NOW - timedelta(hours=age_hours)).strftime("%Y-%m-%d %H:%M:%S")
    _restic(repo, password, "backup", "--host", "mairie", "--time", when, str(data))


@pytest.fixture(scope="module")
def restic_repos(tmp_path_factory: pytest.TempPathFactory) -> ResticRepos:
    need_tool("restic")
    base = tmp_path_factory.mktemp("restic")
    password = base / "password"
    password.write_text("mot-de-passe-mairie\n")
    wrong = base / "wrong"
    wrong.write_text("pas-le-bon\n")
    healthy, shrunk = base / "healthy", base / "shrunk"
    x, y, s = base / "x", base / "y", base / "s"
    for repo in (healthy, shrunk):
        _restic(repo, password, "init")
    write_random(x / "etat-civil.db", 20 * KB)
    _restic_snapshot(healthy, password, x, 49)
    write_random(y / "archives.tar", 60 * KB)
    _restic_snapshot(healthy, password, y, 26)
    write_random(x / "compta.ods", 1 * KB)
    _restic_snapshot(healthy, password, x, 2)
    write_random(s / "a.bin", 32 * KB)
    write_random(s / "b.bin", 8 * KB)
    _restic_snapshot(shrunk, password, s, 80)
    (s / "a.bin").unlink()
    _restic_snapshot(shrunk, password, s, 30)
    return ResticRepos(healthy, shrunk, password, wrong, newest_size=21 * KB)


def _borg_env(base: Path, passphrase: str = "") -> dict[str, str]:
    # Test-only borg state in the temporary directory, not in root's home.
    return {**os.environ, "BORG_BASE_DIR": str(base / "borg-home"), "BORG_PASSPHRASE": passphrase}


def _borg_archive(repo: Path, name: str, data: Path, age_hours: float, env: dict[str, str]) -> None:
    when = (NOW - timedelta(hours=age_hours)).strftime("%Y-%m-%dT%H:%M:%S")  # UTC for borg
    subprocess.run(
        ["borg", "create", "--timestamp", when, f"{repo}::{name}", "."],
        cwd=data,
        env=env,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def borg_repos(tmp_path_factory: pytest.TempPathFactory) -> BorgRepos:
    need_tool("borg")
    base = tmp_path_factory.mktemp("borg")
    password = base / "password"
    password.write_text("mot-de-passe-borg\n")
    wrong = base / "wrong"
    wrong.write_text("pas-le-bon\n")
    encrypted, plain = base / "encrypted", base / "plain"
    env = _borg_env(base, "mot-de-passe-borg")
    for repo, mode in ((encrypted, "repokey"), (plain, "none")):
        subprocess.run(
            ["borg", "init", "-e", mode, str(repo)], env=env, check=True, capture_output=True
        )
    data = base / "data"
    write_random(data / "a.bin", 30 * KB)
    write_random(data / "b.bin", 10 * KB)
    _borg_archive(encrypted, "mairie-2026-11-25T12:00", data, 72, env)
    (data / "a.bin").unlink()
    _borg_archive(encrypted, "mairie-2026-11-28T09:00", data, 3, env)
    _borg_archive(plain, "usb-2026-11-18", data, 240, env)
    return BorgRepos(encrypted, plain, password, wrong)


def restic_location(name: str, repo: Path, password: Path | None, **kw: Any) -> BackupLocation:
    return BackupLocation(
        name, "restic", str(repo), password_file=str(password) if password else None, **kw
    )


def borg_location(name: str, repo: Path, password: Path | None, **kw: Any) -> BackupLocation:
    return BackupLocation(
        name, "borg", str(repo), password_file=str(password) if password else None, **kw
    )


# ---------------------------------------------------------------------------- no location at all


def test_no_location_configured(tmp_path: Path) -> None:
    config = make_config(tmp_path / "state")
    host = fixture_host(tmp_path)
    [fresh] = run(FRESHNESS, config, host)
    assert fresh.status == Status.FAIL and fresh.severity == Severity.CRITICAL
    assert "No backup location" in summary(fresh)
    [offline] = run(OFFLINE, config, host)
    assert offline.status == Status.FAIL and offline.severity == Severity.HIGH
    assert run(SIZE, config, host)[0].status == Status.SKIP
    assert run(RESTORE, config, host)[0].status == Status.SKIP
    assert not (tmp_path / "state").exists()  # nothing to read: nothing created


# ---------------------------------------------------------------------------- directories


def test_directory_fresh_and_steady_on_fixture_tree(tmp_path: Path) -> None:
    root = tmp_path / "root"
    backup_file(root, "/srv/sauvegardes/2026/11/mairie-2026-11-27.tar.gz", 10 * KB, 27)
    backup_file(root, "/srv/sauvegardes/2026/11/mairie-2026-11-28.tar.gz", 11 * KB, 3)
    # A partial upload and a "latest" link are newer, but neither is a backup.
    backup_file(root, "/srv/sauvegardes/.mairie-2026-11-28.tar.gz.part", 1, 0.1)
    (root / "srv/sauvegardes/latest.tar.gz").symlink_to("2026/11/mairie-2026-11-28.tar.gz")
    backup_file(root, "/srv/sauvegardes/notes.txt", 5, 1)  # does not match the pattern
    loc = BackupLocation("nas", "directory", "/srv/sauvegardes", pattern="*.tar.gz")
    config = make_config(tmp_path / "state", loc)
    host = fixture_host(root)

    [fresh] = run(FRESHNESS, config, host)
    assert fresh.status == Status.PASS, summary(fresh)
    assert fresh.evidence["newest"]["name"] == "2026/11/mairie-2026-11-28.tar.gz"
    assert fresh.evidence["backups"] == 2
    assert measured(fresh) == {"backup_age_seconds": 3 * 3600.0, "backup_size_bytes": 11 * KB}
    assert fresh.measurements[0].labels == {"location": "nas"}

    [size] = run(SIZE, config, host)
    assert size.status == Status.PASS, summary(size)
    assert size.evidence["previous"]["name"] == "2026/11/mairie-2026-11-27.tar.gz"
    assert size.evidence["ratio"] == pytest.approx(1.1)


def test_directory_stale_warn_and_future(tmp_path: Path) -> None:
    root = tmp_path / "root"
    backup_file(root, "/backups/stale/dump-1.sql.gz", 1 * KB, 30)
    backup_file(root, "/backups/late/dump-1.sql.gz", 1 * KB, 25)  # 26 h * 0.95 = 24.7 h
    backup_file(root, "/backups/future/dump-1.sql.gz", 1 * KB, -5)
    backup_file(root, "/backups/custom/dump-1.sql.gz", 1 * KB, 30)
    locs = [
        BackupLocation("stale", "directory", "/backups/stale"),
        BackupLocation("late", "directory", "/backups/late"),
        BackupLocation("future", "directory", "/backups/future"),
        BackupLocation("custom", "directory", "/backups/custom", max_age_hours=48),
    ]
    found = by_location(run(FRESHNESS, make_config(tmp_path / "state", *locs), fixture_host(root)))
    assert found["stale"].status == Status.FAIL and found["stale"].severity == Severity.HIGH
    assert "more than the 26 hours allowed" in summary(found["stale"])
    assert "plus que les 26 heures admises" in summary(found["stale"], "fr")
    assert found["stale"].args["limit"] == 26 * 3600
    assert found["late"].status == Status.WARN and found["late"].severity == Severity.MEDIUM
    assert found["future"].status == Status.WARN and "future" in summary(found["future"])
    assert measured(found["future"])["backup_age_seconds"] == 0.0
    assert found["custom"].status == Status.PASS
    assert found["custom"].evidence["max_age_hours"] == 48


def test_directory_threshold_from_config(tmp_path: Path) -> None:
    root = tmp_path / "root"
    backup_file(root, "/backups/dump-1.sql.gz", 1 * KB, 30)
    loc = BackupLocation("nas", "directory", "/backups")
    config = make_config(tmp_path / "s", loc, params={FRESHNESS: {"max_age_hours": 50.0}})
    assert run(FRESHNESS, config, fixture_host(root))[0].status == Status.PASS


def test_directory_shrink_is_a_failure(tmp_path: Path) -> None:
    root = tmp_path / "root"
    backup_file(root, "/backups/mairie-2026-11-27.tar.gz", 10 * KB, 27)
    backup_file(root, "/backups/mairie-2026-11-28.tar.gz", 4 * KB, 3)
    config = make_config(tmp_path / "state", BackupLocation("nas", "directory", "/backups"))
    [size] = run(SIZE, config, fixture_host(root))
    assert size.status == Status.FAIL and size.severity == Severity.HIGH
    assert size.evidence["ratio"] == pytest.approx(0.4)
    assert "40%" in summary(size) and "40 %" in summary(size, "fr")
    assert "nas" in remedy(size, "fr") and "9.8 KiB" in remedy(size)
    assert "9,8 Kio" in remedy(size, "fr") and size.args["newest_size"] == 4 * KB
    # A laxer threshold from the config accepts the same shrink.
    lax = make_config(tmp_path / "s", *config.backups, params={SIZE: {"shrink_ratio": 0.3}})
    assert run(SIZE, lax, fixture_host(root))[0].status == Status.PASS


def test_directory_compares_within_a_series(tmp_path: Path) -> None:
    root = tmp_path / "root"
    backup_file(root, "/backups/mairie-2026-11-27.tar.gz", 10 * KB, 28)
    backup_file(root, "/backups/db-2026-11-27.sql.gz", 1 * KB, 27)
    backup_file(root, "/backups/mairie-2026-11-28.tar.gz", 10 * KB, 4)
    backup_file(root, "/backups/db-2026-11-28.sql.gz", 1 * KB, 3)
    config = make_config(tmp_path / "state", BackupLocation("nas", "directory", "/backups"))
    [size] = run(SIZE, config, fixture_host(root))
    # The small dump is compared with the previous dump, not with the large archive.
    assert size.status == Status.PASS, summary(size)
    assert size.evidence["newest"]["name"] == "db-2026-11-28.sql.gz"
    assert size.evidence["previous"]["name"] == "db-2026-11-27.sql.gz"
    assert series_of_name("db-2026-11-28.sql.gz") == series_of_name("db-2026-11-27.sql.gz")
    assert series_of_name("db-2026-11-28.sql.gz") != series_of_name("mairie-2026-11-28.tar.gz")


def test_directory_single_or_no_backup(tmp_path: Path) -> None:
    root = tmp_path / "root"
    backup_file(root, "/one/mairie-2026-11-28.tar.gz", 1 * KB, 2)
    (root / "empty").mkdir()
    config = make_config(
        tmp_path / "state",
        BackupLocation("one", "directory", "/one"),
        BackupLocation("empty", "directory", "/empty"),
    )
    host = fixture_host(root)
    sizes = by_location(run(SIZE, config, host))
    assert sizes["one"].status == Status.SKIP and sizes["empty"].status == Status.SKIP
    fresh = by_location(run(FRESHNESS, config, host))
    assert fresh["one"].status == Status.PASS
    assert fresh["empty"].status == Status.FAIL and "no backup found" in summary(fresh["empty"])
    assert fresh["empty"].measurements == ()


def test_directory_missing_is_an_error_that_spares_the_others(tmp_path: Path) -> None:
    root = tmp_path / "root"
    backup_file(root, "/backups/mairie-2026-11-28.tar.gz", 1 * KB, 2)
    (root / "file").write_text("not a directory")
    config = make_config(
        tmp_path / "state",
        BackupLocation("usb", "directory", "/media/usb/sauvegardes"),
        BackupLocation("file", "directory", "/file"),
        BackupLocation("nas", "directory", "/backups"),
    )
    host = fixture_host(root)
    for check_id in (FRESHNESS, SIZE):
        found = by_location(run(check_id, config, host))
        assert found["usb"].status == Status.ERROR
        assert "does not exist" in found["usb"].evidence["error"]
        assert found["file"].status == Status.ERROR
        assert "not a directory" in found["file"].evidence["error"]
    assert by_location(run(FRESHNESS, config, host))["nas"].status == Status.PASS


def test_directory_with_too_many_files_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backups_directory, "MAX_SCANNED_FILES", 3)
    root = tmp_path / "root"
    for i in range(5):
        backup_file(root, f"/mirror/file{i}", 10, 1)
    config = make_config(tmp_path / "state", BackupLocation("mirror", "directory", "/mirror"))
    [fresh] = run(FRESHNESS, config, fixture_host(root))
    assert fresh.status == Status.ERROR and "more than 3" in fresh.evidence["error"]


def test_directory_on_this_machine(tmp_path: Path) -> None:
    """A live Host reads a real directory at its real path (the root is /)."""
    backup_file(tmp_path, "/backups/mairie-2026-11-28.tar.gz", 3 * KB, 1)
    loc = BackupLocation("local", "directory", str(tmp_path / "backups"))
    [fresh] = run(FRESHNESS, make_config(tmp_path / "state", loc), live_host())
    assert fresh.status == Status.PASS
    assert measured(fresh) == {"backup_age_seconds": 3600.0, "backup_size_bytes": 3 * KB}


# ---------------------------------------------------------------------------- restic


def test_restic_fresh_with_size_and_series(tmp_path: Path, restic_repos: ResticRepos) -> None:
    loc = restic_location("restic", restic_repos.healthy, restic_repos.password)
    config = make_config(tmp_path / "state", loc)
    host = live_host()
    [fresh] = run(FRESHNESS, config, host)
    assert fresh.status == Status.PASS, summary(fresh)
    assert fresh.evidence["backups"] == 3
    # Exact: restic's restore size of the newest snapshot is the bytes this test wrote.
    assert measured(fresh) == {
        "backup_age_seconds": 2 * 3600.0,
        "backup_size_bytes": float(restic_repos.newest_size),
    }
    [size] = run(SIZE, config, host)
    # The newest snapshot of x/ is compared with the previous one of x/ (49 h), not with the
    # larger snapshot of y/ in between (which would look like a 65 % shrink).
    assert size.status == Status.PASS, summary(size)
    assert size.evidence["previous"]["size_bytes"] == 20 * KB
    assert size.evidence["previous"]["time"] == (NOW - timedelta(hours=49)).isoformat()
    # The restic cache lives under the agent's state directory, not in a home directory.
    assert (tmp_path / "state" / "cache" / "restic").is_dir()


def test_restic_stale_and_shrunk(tmp_path: Path, restic_repos: ResticRepos) -> None:
    loc = restic_location("restic", restic_repos.shrunk, restic_repos.password)
    config = make_config(tmp_path / "state", loc)
    host = live_host()
    [fresh] = run(FRESHNESS, config, host)
    assert fresh.status == Status.FAIL and fresh.severity == Severity.HIGH
    assert fresh.evidence["age_hours"] == 30.0
    [size] = run(SIZE, config, host)
    assert size.status == Status.FAIL
    assert size.evidence["newest"]["size_bytes"] == 8 * KB
    assert size.evidence["previous"]["size_bytes"] == 40 * KB
    assert size.evidence["ratio"] == pytest.approx(0.2)


def test_restic_near_its_own_limit_warns(tmp_path: Path, restic_repos: ResticRepos) -> None:
    # max_age_hours 2.05 for this location: 2 h is past 95 % of it.
    loc = restic_location("restic", restic_repos.healthy, restic_repos.password, max_age_hours=2.05)
    [fresh] = run(FRESHNESS, make_config(tmp_path / "state", loc), live_host())
    assert fresh.status == Status.WARN and fresh.severity == Severity.MEDIUM


def test_restic_errors(tmp_path: Path, restic_repos: ResticRepos) -> None:
    config = make_config(
        tmp_path / "state",
        restic_location("wrong", restic_repos.healthy, restic_repos.wrong_password),
        restic_location("missing", tmp_path / "no-repo", restic_repos.password),
        restic_location("nofile", restic_repos.healthy, tmp_path / "no-password-file"),
        restic_location("nopass", restic_repos.healthy, None),
        restic_location("good", restic_repos.healthy, restic_repos.password),
    )
    host = live_host()
    for check_id in (FRESHNESS, SIZE):
        found = by_location(run(check_id, config, host))
        assert {name: f.status for name, f in found.items()} == {
            "wrong": Status.ERROR,
            "missing": Status.ERROR,
            "nofile": Status.ERROR,
            "nopass": Status.ERROR,
            "good": Status.PASS,
        }
        assert "wrong password" in found["wrong"].evidence["error"]
        assert "no-repo" in found["missing"].evidence["error"]
        assert "password file" in found["nofile"].evidence["error"]
        assert "empty password" in found["nopass"].evidence["error"]


def test_restic_is_read_once_per_cycle(tmp_path: Path, restic_repos: ResticRepos) -> None:
    loc = restic_location("restic", restic_repos.healthy, restic_repos.password, offline=True)
    config = make_config(tmp_path / "state", loc)
    runner = CountingRunner()
    host = live_host(runner)
    for check_id in CHECK_IDS:
        assert run(check_id, config, host)
    assert runner.count("snapshots") == 1
    assert runner.count("stats") == 2  # newest (freshness, size_change) and previous
    # Another Host (another cycle) reads again.
    run(FRESHNESS, config, live_host(runner))
    assert runner.count("snapshots") == 2
    # The repository was only read: restic wrote no lock into it.
    assert not any((restic_repos.healthy / "locks").iterdir())


def test_remote_restic_replayed(tmp_path: Path) -> None:
    """A remote repository, replayed from real restic output (fixtures/record.py)."""
    root = tmp_path / "root"
    (root / "etc/sentinelle").mkdir(parents=True)
    (root / "etc/sentinelle/restic.pass").write_text("x\n")
    seen: list[list[str]] = []

    def replay(argv: Sequence[str], timeout: float, env: Mapping[str, str] | None) -> CommandResult:
        seen.append(list(argv))
        if "snapshots" in argv:
            return recorded((FIXTURES / "restic-snapshots.json").read_text(), argv=argv)
        if "stats" in argv:
            return recorded((FIXTURES / f"restic-stats-{argv[-1][:8]}.json").read_text(), argv=argv)
        raise AssertionError(argv)

    repo = "sftp:sauvegarde@nas.mairie.local:/srv/restic"
    loc = BackupLocation("nas", "restic", repo, password_file="/etc/sentinelle/restic.pass")
    config = make_config(tmp_path / "state", loc)
    host = Host(root=root, runner=replay, clock=lambda: NOW)
    [fresh] = run(FRESHNESS, config, host)
    # Snapshot taken at 03:00 Paris time (+01:00) on 28 November: 02:00 UTC, 10 h before NOW.
    assert fresh.status == Status.PASS
    assert measured(fresh) == {"backup_age_seconds": 10 * 3600.0, "backup_size_bytes": 12000.0}
    [size] = run(SIZE, config, host)
    assert size.status == Status.FAIL and size.evidence["ratio"] == pytest.approx(0.4)
    # The remote address is passed as is; the password file goes through the inspected root.
    assert seen[0][:3] == ["restic", "-r", repo]
    assert str(root / "etc/sentinelle/restic.pass") in seen[0]
    assert "--no-lock" in seen[0]


def test_parse_time_of_real_restic_and_borg_stamps() -> None:
    # Copied from real outputs: restic 0.14 (nanoseconds, offset), borg 1.2 (naive, TZ=UTC).
    assert parse_time("2026-11-28T14:44:58.931043155+01:00") == datetime(
        2026, 11, 28, 13, 44, 58, 931043, tzinfo=UTC
    )
    assert parse_time("2026-11-27T10:00:00.000000") == datetime(2026, 11, 27, 10, tzinfo=UTC)
    assert parse_time("2026-11-20T10:00:00Z") == datetime(2026, 11, 20, 10, tzinfo=UTC)


# ---------------------------------------------------------------------------- borg


def test_borg_fresh_but_shrunk(tmp_path: Path, borg_repos: BorgRepos) -> None:
    loc = borg_location("borg", borg_repos.encrypted, borg_repos.password)
    config = make_config(tmp_path / "state", loc)
    runner = CountingRunner()
    host = live_host(runner)
    [fresh] = run(FRESHNESS, config, host)
    assert fresh.status == Status.PASS, summary(fresh)
    assert fresh.evidence["newest"]["name"] == "mairie-2026-11-28T09:00"
    assert measured(fresh) == {"backup_age_seconds": 3 * 3600.0, "backup_size_bytes": 10 * KB}
    [size] = run(SIZE, config, host)
    assert size.status == Status.FAIL, summary(size)
    assert size.evidence["previous"]["size_bytes"] == 40 * KB
    assert size.evidence["ratio"] == pytest.approx(0.25)
    assert runner.count("list") == 1 and runner.count("info") == 2
    # borg kept its cache and security data under the agent's state directory.
    assert any((tmp_path / "state/cache/borg/security").iterdir())
    assert not any(borg_repos.encrypted.glob("lock*"))


def test_borg_times_are_read_in_utc_whatever_the_local_zone(
    tmp_path: Path, borg_repos: BorgRepos
) -> None:
    # borg prints local times without an offset: the check must run it with TZ=UTC.
    loc = borg_location("borg", borg_repos.encrypted, borg_repos.password)
    host = live_host(CountingRunner({"TZ": "Europe/Paris"}))
    [fresh] = run(FRESHNESS, make_config(tmp_path / "state", loc), host)
    assert measured(fresh)["backup_age_seconds"] == 3 * 3600.0


def test_borg_errors(tmp_path: Path, borg_repos: BorgRepos) -> None:
    config = make_config(
        tmp_path / "state",
        borg_location("wrong", borg_repos.encrypted, borg_repos.wrong_password),
        borg_location("missing", tmp_path / "no-repo", borg_repos.password),
        borg_location("nopass", borg_repos.encrypted, None),
        borg_location("plain", borg_repos.plain, None, max_age_hours=300),
    )
    found = by_location(run(FRESHNESS, config, live_host()))
    assert found["wrong"].status == Status.ERROR
    assert "incorrect" in found["wrong"].evidence["error"]
    assert found["missing"].status == Status.ERROR
    assert "does not exist" in found["missing"].evidence["error"]
    assert found["nopass"].status == Status.ERROR
    # An unencrypted repository needs no password and is not refused as "unknown".
    assert found["plain"].status == Status.PASS, summary(found["plain"])


# ---------------------------------------------------------------------------- offline copy


def test_offline_copy_fresh_stale_and_unreadable(
    tmp_path: Path, borg_repos: BorgRepos, restic_repos: ResticRepos
) -> None:
    state = tmp_path / "state"
    primary = restic_location("nas", restic_repos.healthy, restic_repos.password)
    usb_stale = borg_location("usb", borg_repos.plain, None, offline=True)  # 10 days old
    usb_fresh = borg_location("coffre", borg_repos.encrypted, borg_repos.password, offline=True)
    usb_locked = borg_location(
        "cloud", borg_repos.encrypted, borg_repos.wrong_password, offline=True
    )
    host = live_host()

    [none] = run(OFFLINE, make_config(state, primary), host)
    assert none.status == Status.FAIL and none.severity == Severity.HIGH
    assert none.evidence["offline_locations"] == 0

    [stale] = run(OFFLINE, make_config(state, primary, usb_stale), host)
    assert stale.status == Status.FAIL and stale.evidence["stale"] == ["usb"]
    # freshness holds the offline copy to the same 8 days, not to the 26 h of a daily backup.
    fresh_usb = by_location(run(FRESHNESS, make_config(state, primary, usb_stale), host))["usb"]
    assert fresh_usb.status == Status.FAIL and fresh_usb.evidence["max_age_hours"] == 192

    [good] = run(OFFLINE, make_config(state, primary, usb_stale, usb_fresh), host)
    assert good.status == Status.PASS and good.evidence["fresh"] == ["coffre"]

    [unknown] = run(OFFLINE, make_config(state, usb_stale, usb_locked), host)
    assert unknown.status == Status.ERROR and unknown.evidence["unreadable"] == ["cloud"]


def test_offline_threshold_from_config_file(tmp_path: Path, borg_repos: BorgRepos) -> None:
    """Through the real config loader and runner: one threshold for both checks."""
    config_file = tmp_path / "agent.yaml"
    config_file.write_text(
        f"agent: {{state_dir: {tmp_path / 'state'}}}\n"
        "checks:\n"
        "  backups.offline_copy: {offline_max_age_days: 11}\n"
        "backups:\n"
        "  locations:\n"
        f"    - {{name: usb, type: borg, path: {borg_repos.plain}, offline: true}}\n"
    )
    report = run_checks(build_setup(config_file, only=["backups"]), live_host())
    statuses = {f.check: f.status for f in report.results}
    assert statuses[OFFLINE] == Status.PASS
    assert statuses[FRESHNESS] == Status.PASS  # 10 days < 11 days, in both checks


# ---------------------------------------------------------------------------- restore tests


def test_restore_journal_round_trip(tmp_path: Path) -> None:
    state = tmp_path / "state" / "nested"
    first = NOW - timedelta(days=30)
    path = record_restore_test(state, "nas", NOW - timedelta(days=1), "délibérations 2025")
    assert path == journal_path(state) and path.is_file()
    record_restore_test(state, "nas", first)
    record_restore_test(state, "usb", NOW)
    journal = load_restore_tests(state)
    assert [t.when for t in journal["nas"]] == [first, NOW - timedelta(days=1)]
    assert journal["nas"][-1].note == "délibérations 2025"
    assert journal["usb"][0].when == NOW
    # Atomic replacement: no temporary file left; readable by an agent running as another user.
    assert sorted(p.name for p in state.iterdir() if not p.name.endswith(".lock")) == [
        "restore-tests.json"
    ]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert json.loads(path.read_text())["locations"]["nas"][0]["tested_at"] == (
        "2026-10-29T12:00:00Z"
    )
    with pytest.raises(ValueError, match="timezone"):
        record_restore_test(state, "nas", datetime(2026, 1, 1))
    assert load_restore_tests(tmp_path / "never-created") == {}


def test_restore_journal_keeps_concurrent_records(tmp_path: Path) -> None:
    state = tmp_path / "state"

    def record(worker: int) -> None:
        for i in range(5):
            record_restore_test(state, f"loc{worker}", NOW - timedelta(minutes=i))

    threads = [threading.Thread(target=record, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    journal = load_restore_tests(state)
    assert sorted(journal) == [f"loc{w}" for w in range(6)]
    assert all(len(tests) == 5 for tests in journal.values())


def test_damaged_journal_is_reported_and_kept(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    journal_path(state).write_text('{"locations": {"nas": [{"tested_at": "hier"}]}}')
    with pytest.raises(ConfigError, match=r"locations\.nas\[0\]\.tested_at"):
        record_restore_test(state, "nas", NOW)
    assert "hier" in journal_path(state).read_text()  # left untouched
    config = make_config(state, BackupLocation("nas", "directory", "/backups"))
    [finding] = run(RESTORE, config, fixture_host(tmp_path))
    assert finding.status == Status.ERROR and "restore-tests.json" in summary(finding)


def test_restore_test_never_stale_and_recent(tmp_path: Path) -> None:
    state = tmp_path / "state"
    locs = [BackupLocation(n, "directory", f"/backups/{n}") for n in ("never", "old", "recent")]
    record_restore_test(state, "old", NOW - timedelta(days=200))
    record_restore_test(state, "recent", NOW - timedelta(days=400))
    record_restore_test(state, "recent", NOW - timedelta(days=10), "un fichier")
    record_restore_test(state, "removed-location", NOW)  # ignored: not configured any more
    found = by_location(run(RESTORE, make_config(state, *locs), fixture_host(tmp_path)))
    assert set(found) == {"never", "old", "recent"}
    assert found["never"].status == Status.FAIL and found["never"].severity == Severity.MEDIUM
    assert found["never"].measurements == ()
    assert "--location never" in remedy(found["never"])
    assert found["old"].status == Status.WARN
    assert found["recent"].status == Status.PASS
    assert found["recent"].evidence["note"] == "un fichier"
    assert measured(found["recent"]) == {
        "backup_last_restore_test_timestamp_seconds": (NOW - timedelta(days=10)).timestamp()
    }
    longer = make_config(state, *locs, params={RESTORE: {"max_age_days": 365.0}})
    assert by_location(run(RESTORE, longer, fixture_host(tmp_path)))["old"].status == Status.PASS


# ---------------------------------------------------------------------------- metadata


def test_metadata_and_params() -> None:
    for check_id in CHECK_IDS:
        meta = RULES.checks[check_id]
        assert meta.anssi == (37,), check_id
    assert RULES.checks[FRESHNESS].params["max_age_hours"] == 26
    assert RULES.checks[SIZE].params["shrink_ratio"] == 0.5
    assert RULES.checks[OFFLINE].params["offline_max_age_days"] == 8
    assert RULES.checks[RESTORE].params["max_age_days"] == 180
    assert BackupFreshness.__doc__
