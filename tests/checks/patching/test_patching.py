"""patching checks: pending updates, package lists age, pending reboot, last upgrade, OS support.

apt runs for real everywhere: on fixture trees (fixtures/debian12: a dpkg status, a
sources.list and Packages/Release lists of a small Debian 12 machine, read by the real apt-get
through `-o Dir=ROOT`) and on this machine, where the counts are compared with a direct
`apt-get -s upgrade`. dnf does not run here: its outputs are recordings of the real dnf
(fixtures/dnf/README.md says how they were made).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from functools import cmp_to_key
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from sentinelle.checks.base import Check, CheckContext
from sentinelle.checks.patching.apt import is_security_origin, parse_upgrade_simulation
from sentinelle.checks.patching.checks import (
    LastUpgrade,
    OsSupport,
    PackageListsAge,
    PendingUpdates,
    RebootRequired,
    refresh_package_lists,
)
from sentinelle.checks.patching.dnf import nevra_name_arch, parse_check_update
from sentinelle.checks.patching.support import load_os_support, parse_os_support
from sentinelle.checks.patching.versions import compare_versions
from sentinelle.config import AgentSettings, Config
from sentinelle.errors import CommandNotFound, ConfigError, SentinelleError
from sentinelle.host import Host, subprocess_runner
from sentinelle.metrics import MEASUREMENTS
from sentinelle.model import Finding, Severity, Status
from sentinelle.rules import load_rules
from tests.checks.texts import remedy, rendered, summary
from tests.conftest import FIXED_NOW, fixture_host, need, need_tool, recorded

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
REPO = HERE.parents[2]
RULES = load_rules()
DNF = json.loads((FIXTURES / "dnf" / "recordings.json").read_text())


def make(cls: type[Check], state_dir: Path, **params: Any) -> Check:
    meta = RULES.checks[cls.id]
    config = Config(agent=AgentSettings(state_dir=str(state_dir)))
    return cls(meta, {**meta.params, **params}, CheckContext(config=config, rules=RULES))


def run(cls: type[Check], host: Host, state_dir: Path, **params: Any) -> list[Finding]:
    findings = list(make(cls, state_dir, **params).run(host))
    assert findings
    for f in findings:
        assert f.check == cls.id
        rendered(f)
        for m in f.measurements:  # only documented names, with exactly their labels
            assert m.name in MEASUREMENTS, m.name
            assert set(m.labels) == set(MEASUREMENTS[m.name].labels), m
    return findings


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, [summary(f) for f in findings]
    return findings[0]


def by_kind(findings: list[Finding]) -> dict[str, Finding]:
    assert len(findings) == 2, [summary(f) for f in findings]
    return {str(f.evidence["kind"]): f for f in findings}


def value(finding: Finding, name: str) -> float:
    (m,) = [m for m in finding.measurements if m.name == name]
    return m.value


def touch(path: Path, when: datetime) -> None:
    os.utime(path, (when.timestamp(), when.timestamp()))


def write(path: Path, text: str, when: datetime | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if when is not None:
        touch(path, when)
    return path


def os_release(root: Path, os_id: str, version: str, like: str = "") -> None:
    text = f'ID={os_id}\nVERSION_ID="{version}"\nPRETTY_NAME="{os_id} {version}"\n'
    write(root / "etc/os-release", text + (f'ID_LIKE="{like}"\n' if like else ""))


# --- Debian/Ubuntu: the real apt-get on a fixture tree ------------------------------------------

FIXTURE_SECURITY = {"libc6", "libssl3", "openssl"}  # candidates in bookworm-security
FIXTURE_OTHER = {"base-files", "tzdata"}  # candidates only in bookworm (point release)


def debian_tree(tmp_path: Path, lists_age: timedelta = timedelta(hours=2)) -> Path:
    """A copy of the Debian 12 fixture, its lists dated `lists_age` before FIXED_NOW."""
    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "debian12", root)
    for name in ("sources.list.d", "preferences.d", "apt.conf.d"):  # git keeps no empty dir
        (root / "etc/apt" / name).mkdir(exist_ok=True)
    for path in (root / "var/lib/apt/lists").iterdir():
        touch(path, FIXED_NOW - lists_age)
    return root


def apt_host(root: Path, now: datetime = FIXED_NOW) -> Host:
    """The real command runner (apt-get reads the tree through -o Dir=ROOT), a fixed clock."""
    need_tool("apt-get")
    return Host(root=root, runner=subprocess_runner, clock=lambda: now)


def test_apt_counts_security_and_other_updates_of_a_fixture_tree(tmp_path: Path) -> None:
    root = debian_tree(tmp_path)
    found = by_kind(run(PendingUpdates, apt_host(root), tmp_path / "state"))
    sec, other = found["security"], found["other"]

    assert sec.status is Status.FAIL and sec.severity is Severity.HIGH
    assert set(sec.evidence["packages"]) == FIXTURE_SECURITY
    assert sec.evidence["count"] == 3
    assert value(sec, "pending_updates") == 3
    assert sec.measurements[0].labels == {"kind": "security"}

    assert other.status is Status.WARN and other.severity is Severity.LOW
    assert set(other.evidence["packages"]) == FIXTURE_OTHER
    assert value(other, "pending_updates") == 2
    assert other.measurements[0].labels == {"kind": "other"}

    # linux-image-amd64 needs a new package: `apt-get upgrade` keeps it back, it is not pending.
    for f in (sec, other):
        assert f.evidence["kept_back"] == 1
        assert f.evidence["kept_back_packages"] == ["linux-image-amd64"]
        assert f"Dir={root.resolve()}" in f.evidence["command"]
        assert f.evidence["lists"] == "system"
        assert f.evidence["lists_age_hours"] == 2.0
        assert "5 upgraded" in f.evidence["apt_summary"]
    assert summary(sec, "fr").startswith("3 mises à jour de sécurité en attente : ")
    assert sec.args["count"] == 3 and len(sec.args["packages"]) == 3


def test_apt_thresholds_come_from_params(tmp_path: Path) -> None:
    root = debian_tree(tmp_path)
    found = by_kind(
        run(
            PendingUpdates,
            apt_host(root),
            tmp_path / "state",
            security_threshold=3,
            other_threshold=2,
        )
    )
    assert found["security"].status is Status.PASS
    assert found["other"].status is Status.PASS
    assert found["security"].evidence["count"] == 3  # still measured, only judged differently


def test_apt_up_to_date_tree_passes(tmp_path: Path) -> None:
    root = debian_tree(tmp_path)
    status = root / "var/lib/dpkg/status"
    text = status.read_text()
    for old, new in (
        ("12.4+deb12u10", "12.4+deb12u12"),
        ("2.36-9+deb12u9", "2.36-9+deb12u10"),
        ("3.0.15-1~deb12u1", "3.0.17-1~deb12u2"),
        ("2024a-0+deb12u1", "2025b-0+deb12u1"),
    ):
        text = text.replace(f"Version: {old}\n", f"Version: {new}\n")
    # apt tells versions apart by their dependencies too: the installed record must match.
    text = text.replace("libssl3 (>= 3.0.9)", "libssl3 (>= 3.0.17-1~deb12u2)")
    status.write_text(text)
    found = by_kind(run(PendingUpdates, apt_host(root), tmp_path / "state"))
    for kind in ("security", "other"):
        assert found[kind].status is Status.PASS
        assert found[kind].evidence["packages"] == []
        assert value(found[kind], "pending_updates") == 0
    assert summary(found["security"]) == "No security update pending."


def test_stale_lists_are_said_in_the_summary(tmp_path: Path) -> None:
    root = debian_tree(tmp_path, lists_age=timedelta(days=10))
    sec = by_kind(run(PendingUpdates, apt_host(root), tmp_path / "state"))["security"]
    assert "10 days old" in summary(sec) and sec.evidence["lists_age_hours"] == 240.0
    assert "vieille de 10 jours" in summary(sec, "fr") and sec.args["lists_age"] == 864000


def test_apt_failure_is_an_error_finding(tmp_path: Path) -> None:
    root = debian_tree(tmp_path)
    (root / "etc/apt/sources.list").write_text("deb [trusted=yes]\n")  # malformed: real apt error
    f = only(run(PendingUpdates, apt_host(root), tmp_path / "state"))
    assert f.status is Status.ERROR
    assert "apt-get -s upgrade failed" in summary(f) and "sources.list" in summary(f)
    assert summary(f, "fr").startswith("« apt-get -s upgrade » a échoué (code de sortie 100)")
    assert not f.measurements


def test_missing_apt_get_is_a_skip(tmp_path: Path) -> None:
    root = debian_tree(tmp_path)
    host = fixture_host(root, commands={("apt-get",): CommandNotFound("apt-get: not installed")})
    f = only(run(PendingUpdates, host, tmp_path / "state"))
    assert f.status is Status.SKIP and f.evidence["reason"] == "apt-get not installed"


def test_neither_apt_nor_dnf_system_is_a_skip(tmp_path: Path) -> None:
    os_release(tmp_path, "alpine", "3.20.3")
    host = fixture_host(tmp_path)  # any command would raise: none may run
    for cls in (PendingUpdates, PackageListsAge):
        f = only(run(cls, host, tmp_path / "state"))
        assert f.status is Status.SKIP and f.evidence["reason"] == "unsupported package manager"


def _direct_apt_get() -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["apt-get", "-s", "-o", "Debug::NoLocking=1", "upgrade"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={"LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
    )


def test_live_counts_agree_with_a_direct_apt_get(tmp_path: Path) -> None:
    need_tool("apt-get")
    need(Path("/var/lib/dpkg/status").is_file(), "not a Debian/Ubuntu machine")
    direct = _direct_apt_get()  # at the same time as the check: apt takes seconds here
    found = by_kind(run(PendingUpdates, Host(), tmp_path / "state", max_listed=10_000))
    out, _ = direct.communicate(timeout=120)
    assert direct.returncode == 0

    inst = [line for line in out.splitlines() if line.startswith("Inst ")]
    security = {line.split()[1] for line in inst if "-security" in line.split(" (", 1)[1]}
    other = {line.split()[1] for line in inst} - security
    summary = re.search(r"^(\d+) upgraded, (\d+) newly installed", out, re.M)
    assert summary and len(inst) == int(summary[1]) + int(summary[2])

    assert value(found["security"], "pending_updates") == len(security)
    assert value(found["other"], "pending_updates") == len(other)
    assert set(found["security"].evidence["packages"]) == security
    assert set(found["other"].evidence["packages"]) == other
    assert found["security"].status is (Status.FAIL if security else Status.PASS)
    assert found["other"].status is (Status.WARN if other else Status.PASS)
    assert found["security"].evidence["lists"] == "system"


def test_apt_release_descriptions_are_classified() -> None:
    # The strings apt prints, as seen on this Debian machine and on Ubuntu.
    assert is_security_origin("Debian-Security:12/oldstable-security")
    assert is_security_origin("Ubuntu:22.04/jammy-security")
    assert not is_security_origin("Debian:12.12/oldstable")
    assert not is_security_origin("Ubuntu:22.04/jammy-updates")
    plan = parse_upgrade_simulation(
        "Inst libgcrypt20 [1.10.1-3] (1.10.1-3+deb12u1 Debian:12.15/oldstable, "
        "Debian-Security:12/oldstable-security [amd64]) []\n"
        "Inst base-files [12.4+deb12u11] (12.4+deb12u15 Debian:12.15/oldstable [amd64])\n"
    )
    assert [(p.name, p.security) for p in plan.packages] == [
        ("libgcrypt20", True),
        ("base-files", False),
    ]
    assert plan.packages[0].installed == "1.10.1-3"


# --- the agent's own package lists (refresh_package_lists) --------------------------------------


def local_repository(base: Path, package: str, version: str) -> str:
    """A file:// Debian security archive with one package: what `apt-get update` fetches."""
    rel = "main/binary-amd64/Packages"
    suite = base / "dists/bookworm-security"
    packages = (
        f"Package: {package}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: Fixture <fixture@example.org>\nInstalled-Size: 100\n"
        f"Filename: pool/main/{package[0]}/{package}/{package}_{version}_all.deb\n"
        f"Size: 1000\nSHA256: {'0' * 64}\nSection: misc\nPriority: optional\n"
        f"Description: {package} (fixture)\n"
    ).encode()
    (suite / rel).parent.mkdir(parents=True)
    (suite / rel).write_bytes(packages)
    (suite / "Release").write_text(
        "Origin: Debian\nLabel: Debian-Security\nSuite: oldstable-security\nVersion: 12\n"
        "Codename: bookworm-security\nArchitectures: amd64\nComponents: main\n"
        "Description: Debian 12 - Security Updates\nSHA256:\n"
        f" {hashlib.sha256(packages).hexdigest()} {len(packages)} {rel}\n"
    )
    return f"deb [trusted=yes] file://{base} bookworm-security main\n"


def _mtimes(directory: Path) -> dict[str, float]:
    return {p.name: p.stat().st_mtime for p in directory.iterdir()} if directory.is_dir() else {}


def test_refresh_writes_only_into_the_state_dir_and_pending_updates_use_it(
    tmp_path: Path,
) -> None:
    need_tool("apt-get")
    now = datetime.now(UTC)
    root = debian_tree(tmp_path)
    for path in (root / "var/lib/apt/lists").iterdir():
        touch(path, now - timedelta(days=10))
    # The mirror now has a bash security update that the tree's old lists do not know.
    sources = local_repository(tmp_path / "mirror", "bash", "5.2.15-2+deb12u1")
    (root / "etc/apt/sources.list").write_text(sources)
    tree_lists = _mtimes(root / "var/lib/apt/lists")
    system_lists = _mtimes(Path("/var/lib/apt/lists"))
    system_cache = _mtimes(Path("/var/cache/apt"))
    state = tmp_path / "state"
    host = Host(root=root, clock=lambda: now)

    result = refresh_package_lists(state, host=host)

    fetched = sorted(p.name for p in result.lists_dir.glob("*_Packages*"))
    assert result.lists_dir == state / "apt/lists" and len(fetched) == 1
    assert _mtimes(root / "var/lib/apt/lists") == tree_lists  # the tree's lists: untouched
    assert _mtimes(Path("/var/lib/apt/lists")) == system_lists  # this machine's: untouched
    assert _mtimes(Path("/var/cache/apt")) == system_cache

    found = by_kind(run(PendingUpdates, host, state))
    assert found["security"].evidence["lists"] == "agent"
    assert found["security"].evidence["packages"] == ["bash"]  # only the fresh lists know it
    assert f"Dir::State::Lists={state / 'apt/lists'}" in found["security"].evidence["command"]
    age = only(run(PackageListsAge, host, state))
    assert age.status is Status.PASS and age.evidence["lists"] == "agent"
    assert value(age, "package_lists_age_seconds") < 120

    # The system's update hooks (appstream, packagekit...) would write outside the state dir:
    # the config file the refresh passes with -c clears them, as the real apt-config shows.
    conf = state / "apt/refresh.conf"
    dump = subprocess.run(
        ["apt-config", "-c", str(conf), "dump"], capture_output=True, text=True, check=True
    ).stdout
    assert not re.search(r"^APT::Update::(Pre|Post)-Invoke[-A-Za-z]*:: ", dump, re.M)

    # Lists refreshed for another root are not used for this one.
    other_root = debian_tree(tmp_path / "other")
    other = by_kind(run(PendingUpdates, apt_host(other_root, now), state))
    assert other["security"].evidence["lists"] == "system"


def test_agent_lists_older_than_the_systems_are_not_used(tmp_path: Path) -> None:
    need_tool("apt-get")
    root = debian_tree(tmp_path, lists_age=timedelta(hours=1))
    state = tmp_path / "state"
    lists = state / "apt/lists"
    shutil.copytree(root / "var/lib/apt/lists", lists)
    stamp = write(state / "apt/lists.root", f"{root.resolve()}\n", FIXED_NOW - timedelta(days=3))
    assert stamp.is_file()
    f = only(run(PackageListsAge, apt_host(root), state))
    assert f.evidence["lists"] == "system" and f.evidence["age_hours"] == 1.0
    assert f.evidence["agent_lists_updated"] == "2026-11-25T12:00:00Z"


def test_refresh_failure_raises_a_sentinelle_error(tmp_path: Path) -> None:
    need_tool("apt-get")
    root = debian_tree(tmp_path)
    (root / "etc/apt/sources.list").write_text(
        f"deb [trusted=yes] file://{tmp_path}/no-such-mirror bookworm main\n"
    )
    with pytest.raises(SentinelleError, match="apt-get update failed"):
        refresh_package_lists(tmp_path / "state", host=Host(root=root))
    assert not (tmp_path / "state/apt/lists.root").exists()


# --- RHEL family: recorded real dnf output ------------------------------------------------------


def rhel_tree(tmp_path: Path, metadata_age: timedelta = timedelta(hours=3)) -> Path:
    root = tmp_path / "rhel"
    write(
        root / "etc/os-release",
        'NAME="Red Hat Enterprise Linux"\nID="rhel"\nID_LIKE="fedora"\nVERSION_ID="9.4"\n'
        'PRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"\n',
    )
    repomd = root / "var/cache/dnf/baseos-91a2083ebe1a1be0/repodata/repomd.xml"
    write(repomd, "<repomd/>\n", FIXED_NOW - metadata_age)
    return root


def dnf_host(root: Path, state: str) -> Host:
    """Replays what the real dnf printed in that state (see fixtures/dnf/README.md)."""
    base = ("dnf", f"--installroot={root.resolve()}", "-C")

    def rec(name: str) -> Any:
        r = DNF[f"{state}_{name}"]
        return recorded(r["stdout"], r["returncode"], r["stderr"])

    return fixture_host(
        root,
        commands={
            (*base, "check-update"): rec("check_update"),
            (*base, "updateinfo"): rec("updateinfo"),
        },
    )


def test_dnf_pending_updates_from_recorded_output(tmp_path: Path) -> None:
    root = rhel_tree(tmp_path)
    found = by_kind(run(PendingUpdates, dnf_host(root, "pending"), tmp_path / "state"))
    sec, other = found["security"], found["other"]
    assert sec.status is Status.FAIL
    assert sec.evidence["packages"] == ["kernel-core.x86_64", "openssl-libs.x86_64"]
    assert sec.evidence["advisories"] == ["RHSA-2024:2264", "RHSA-2024:2394"]
    assert value(sec, "pending_updates") == 2
    assert other.status is Status.WARN
    assert other.evidence["packages"] == ["bash.x86_64", "tzdata.x86_64"]  # RHBA: not security
    assert value(other, "pending_updates") == 2
    assert sec.evidence["metadata"].startswith("Last metadata expiration check")
    assert sec.evidence["lists_age_hours"] == 3.0


def test_dnf_up_to_date_from_recorded_output(tmp_path: Path) -> None:
    root = rhel_tree(tmp_path)
    found = by_kind(run(PendingUpdates, dnf_host(root, "uptodate"), tmp_path / "state"))
    assert {f.status for f in found.values()} == {Status.PASS}
    assert [value(f, "pending_updates") for f in found.values()] == [0, 0]


def test_dnf_without_metadata_cache_is_an_error_not_zero(tmp_path: Path) -> None:
    # The recorded dnf exits 0 and prints nothing on stdout: only stderr says there is no cache.
    root = rhel_tree(tmp_path)
    f = only(run(PendingUpdates, dnf_host(root, "nocache"), tmp_path / "state"))
    assert f.status is Status.ERROR
    assert "Cache-only enabled but no cache for 'baseos'" in summary(f)
    assert not f.measurements


def test_missing_dnf_is_a_skip(tmp_path: Path) -> None:
    root = rhel_tree(tmp_path)
    host = fixture_host(root, commands={("dnf",): CommandNotFound("dnf: not installed")})
    f = only(run(PendingUpdates, host, tmp_path / "state"))
    assert f.status is Status.SKIP and f.evidence["reason"] == "dnf not installed"


def test_dnf_parsers() -> None:
    assert nevra_name_arch("openssl-libs-1:3.0.7-27.el9.x86_64") == "openssl-libs.x86_64"
    assert nevra_name_arch("kernel-core-5.14.0-427.13.1.el9_4.x86_64") == "kernel-core.x86_64"
    # Recorded: a 58-character name widens dnf's first column; the obsoleting section (a
    # replacement package, and the installed one it replaces) is not a pending update.
    assert parse_check_update(DNF["wide_check_update"]["stdout"]) == [
        "bash.x86_64",
        "kernel-core.x86_64",
        "openssl-libs.x86_64",
        "python3-a-package-name-longer-than-the-first-column.noarch",
        "tzdata.x86_64",
    ]


def test_dnf_wide_listing_counts_like_dnf(tmp_path: Path) -> None:
    found = by_kind(run(PendingUpdates, dnf_host(rhel_tree(tmp_path), "wide"), tmp_path / "s"))
    assert value(found["security"], "pending_updates") == 2
    assert value(found["other"], "pending_updates") == 3


def test_dnf_metadata_age(tmp_path: Path) -> None:
    root = rhel_tree(tmp_path, metadata_age=timedelta(hours=72))
    f = only(run(PackageListsAge, fixture_host(root), tmp_path / "state"))
    assert f.status is Status.WARN and f.evidence["age_hours"] == 72.0
    assert value(f, "package_lists_age_seconds") == 72 * 3600
    assert "dnf makecache" in remedy(f)


# --- patching.package_lists_age -----------------------------------------------------------------


def test_fresh_lists_pass_and_stale_lists_warn(tmp_path: Path) -> None:
    fresh = only(run(PackageListsAge, fixture_host(debian_tree(tmp_path / "a")), tmp_path / "s"))
    assert fresh.status is Status.PASS
    assert value(fresh, "package_lists_age_seconds") == 2 * 3600
    assert fresh.evidence["newest_file"].endswith(("_Packages", "_Release"))

    root = debian_tree(tmp_path / "b", lists_age=timedelta(hours=49))
    stale = only(run(PackageListsAge, fixture_host(root), tmp_path / "s"))
    assert stale.status is Status.WARN and stale.severity is Severity.MEDIUM
    assert value(stale, "package_lists_age_seconds") == 49 * 3600
    assert "not counted" in summary(stale)
    assert "--refresh-package-lists" in remedy(stale, "fr")

    relaxed = only(run(PackageListsAge, fixture_host(root), tmp_path / "s", max_age_hours=72.0))
    assert relaxed.status is Status.PASS


def test_update_stamp_counts_and_pkgcache_is_the_fallback(tmp_path: Path) -> None:
    root = debian_tree(tmp_path, lists_age=timedelta(days=5))
    stamp = write(root / "var/lib/apt/periodic/update-success-stamp", "", FIXED_NOW)
    f = only(run(PackageListsAge, fixture_host(root), tmp_path / "s"))
    assert f.evidence["newest_file"] == str(stamp) and value(f, "package_lists_age_seconds") == 0

    bare = tmp_path / "bare"
    os_release(bare, "debian", "12")
    (bare / "var/lib/apt/lists").mkdir(parents=True)
    none = only(run(PackageListsAge, fixture_host(bare), tmp_path / "s"))
    assert none.status is Status.WARN and "never run" in summary(none) and not none.measurements
    write(bare / "var/cache/apt/pkgcache.bin", "x", FIXED_NOW - timedelta(hours=30))
    cached = only(run(PackageListsAge, fixture_host(bare), tmp_path / "s"))
    assert cached.status is Status.PASS and value(cached, "package_lists_age_seconds") == 30 * 3600


def test_live_lists_age_is_the_newest_list_file(tmp_path: Path) -> None:
    lists = Path("/var/lib/apt/lists")
    need(lists.is_dir(), "no apt lists on this machine")
    now = datetime.now(UTC)
    f = only(run(PackageListsAge, Host(clock=lambda: now), tmp_path / "state"))
    candidates = [
        p
        for p in lists.iterdir()
        if p.is_file() and re.search(r"_(Packages(\..+)?|InRelease|Release)$", p.name)
    ]
    stamp = Path("/var/lib/apt/periodic/update-success-stamp")
    newest = max(p.stat().st_mtime for p in [*candidates, *([stamp] if stamp.exists() else [])])
    expected = max(0.0, now.timestamp() - newest)
    assert value(f, "package_lists_age_seconds") == pytest.approx(expected, abs=0.01)
    assert f.status is (Status.PASS if expected <= 48 * 3600 else Status.WARN)


# --- patching.reboot_required --------------------------------------------------------------------


def kernel_tree(tmp_path: Path, running: str, installed: dict[str, datetime]) -> Path:
    root = tmp_path / "k"
    if running:
        write(root / "proc/sys/kernel/osrelease", running + "\n")
    for release, when in installed.items():
        write(root / f"boot/vmlinuz-{release}", "kernel", datetime(2025, 1, 1, tzinfo=UTC))
        modules = root / "lib/modules" / release
        modules.mkdir(parents=True)
        touch(modules, when)
    return root


def test_running_kernel_older_than_installed_warns_then_fails(tmp_path: Path) -> None:
    # 6.1.0-9 < 6.1.0-37 for dpkg, not for a string comparison.
    installed = {"6.1.0-9-amd64": FIXED_NOW - timedelta(days=300)}
    installed["6.1.0-37-amd64"] = FIXED_NOW - timedelta(days=2)
    root = kernel_tree(tmp_path / "a", "6.1.0-9-amd64", installed)
    f = only(run(RebootRequired, fixture_host(root), tmp_path / "s"))
    assert f.status is Status.WARN and value(f, "reboot_required") == 1
    assert f.evidence["newest_installed_kernel"] == "6.1.0-37-amd64"
    assert f.evidence["pending_days"] == 2.0
    assert "while 6.1.0-37-amd64 has been installed for 2 days" in summary(f)
    assert "installé depuis 2 jours" in summary(f, "fr")

    installed["6.1.0-37-amd64"] = FIXED_NOW - timedelta(days=10)
    root = kernel_tree(tmp_path / "b", "6.1.0-9-amd64", installed)
    late = only(run(RebootRequired, fixture_host(root), tmp_path / "s"))
    assert late.status is Status.FAIL and late.evidence["pending_days"] == 10.0


def test_reboot_required_flag_lists_its_packages(tmp_path: Path) -> None:
    root = kernel_tree(tmp_path, "6.1.0-37-amd64", {"6.1.0-37-amd64": FIXED_NOW})
    write(root / "var/run/reboot-required", "*** System restart required ***\n", FIXED_NOW)
    write(root / "var/run/reboot-required.pkgs", "libc6\nlibssl3\nlibc6\n")
    f = only(run(RebootRequired, fixture_host(root), tmp_path / "s"))
    assert f.status is Status.WARN and value(f, "reboot_required") == 1
    assert f.evidence["packages"] == ["libc6", "libssl3"]


def test_newest_kernel_running_passes(tmp_path: Path) -> None:
    installed = {"6.1.0-9-amd64": FIXED_NOW, "6.1.0-37-amd64": FIXED_NOW}
    root = kernel_tree(tmp_path, "6.1.0-37-amd64", installed)
    # What a purged kernel can leave behind (DKMS files): not an installed kernel.
    write(root / "lib/modules/6.1.0-40-amd64/updates/dkms/vboxdrv.ko", "")
    f = only(run(RebootRequired, fixture_host(root), tmp_path / "s"))
    assert f.status is Status.PASS and value(f, "reboot_required") == 0
    assert f.evidence["newest_installed_kernel"] == "6.1.0-37-amd64"


def test_unknown_running_kernel_is_a_skip(tmp_path: Path) -> None:
    root = kernel_tree(tmp_path, "", {"6.1.0-37-amd64": FIXED_NOW})
    f = only(run(RebootRequired, fixture_host(root), tmp_path / "s"))
    assert f.status is Status.SKIP and not f.measurements


def _dpkg_cmp(a: str, b: str) -> int:
    if subprocess.run(["dpkg", "--compare-versions", a, "lt", b], check=False).returncode == 0:
        return -1
    return 0 if subprocess.run(["dpkg", "--compare-versions", a, "eq", b]).returncode == 0 else 1


def test_live_reboot_required_matches_the_machine(tmp_path: Path) -> None:
    need_tool("dpkg")
    f = only(run(RebootRequired, Host(), tmp_path / "state"))
    flag = any(Path(p).is_file() for p in ("/run/reboot-required", "/var/run/reboot-required"))
    kernels = [p.name.removeprefix("vmlinuz-") for p in Path("/boot").glob("vmlinuz-*")]
    for d in ("/lib/modules", "/usr/lib/modules"):
        if Path(d).is_dir():
            kernels += [p.name for p in Path(d).iterdir() if p.is_dir() and not p.is_symlink()]
    running = os.uname().release
    newest = max(kernels, key=cmp_to_key(_dpkg_cmp)) if kernels else None
    expected = flag or (newest is not None and _dpkg_cmp(running, newest) < 0)
    assert value(f, "reboot_required") == float(expected)
    assert f.evidence["running_kernel"] == running == platform.release()
    assert f.status in ((Status.WARN, Status.FAIL) if expected else (Status.PASS,))


def test_version_order_agrees_with_dpkg() -> None:
    need_tool("dpkg")
    versions = [
        "1.0", "1.0-1", "1.0~rc1", "1.0~rc1-1", "1:0.9", "1.0a", "1.0+b1", "1.0.1",
        "2.36-9+deb12u9", "2.36-9+deb12u10", "6.1.0-9-amd64", "6.1.0-37-amd64",
        "5.15.0-91-generic", "5.15.0-101-generic", "1.2.3~~", "1.2.3~", "01.0",
        "6.18.44-fc-v782",
    ]  # fmt: skip
    pairs = [(a, b) for i, a in enumerate(versions) for b in versions[i + 1 :]]
    for a, b in pairs[::3]:  # a third of the pairs keeps the test quick; all are in dpkg order
        got = compare_versions(a, b)
        assert (got > 0) - (got < 0) == _dpkg_cmp(a, b), (a, b)


# --- patching.last_upgrade -----------------------------------------------------------------------

PARIS = ZoneInfo("Europe/Paris")


def apt_entry(
    end: datetime, command: str, *, upgrade: str = "", install: str = "", error: str = ""
) -> str:
    local_end = end.astimezone(PARIS)
    start = local_end - timedelta(seconds=40)
    lines = [f"Start-Date: {start:%Y-%m-%d  %H:%M:%S}", f"Commandline: {command}"]
    lines += [f"Install: {install}"] if install else []
    lines += [f"Upgrade: {upgrade}"] if upgrade else []
    lines += [f"Error: {error}"] if error else []
    lines.append(f"End-Date: {local_end:%Y-%m-%d  %H:%M:%S}")
    return "\n" + "\n".join(lines) + "\n"


def history_tree(tmp_path: Path, *entries: str, rotated: str = "") -> Path:
    root = tmp_path / "h"
    write(root / "etc/timezone", "Europe/Paris\n")
    write(root / "var/log/apt/history.log", "".join(entries))
    if rotated:
        with gzip.open(root / "var/log/apt/history.log.1.gz", "wt") as handle:
            handle.write(rotated)
    return root


UPGRADE = "openssl:amd64 (3.0.15-1~deb12u1, 3.0.17-1~deb12u2), libssl3:amd64 (3.0.15-1~deb12u1, 3.0.17-1~deb12u2)"  # noqa: E501


def test_last_upgrade_pass_warn_fail(tmp_path: Path) -> None:
    for days, status in ((10, Status.PASS), (20, Status.WARN), (40, Status.FAIL)):
        when = FIXED_NOW - timedelta(days=days)
        root = history_tree(
            tmp_path / str(days), apt_entry(when, "apt-get upgrade", upgrade=UPGRADE)
        )
        f = only(run(LastUpgrade, fixture_host(root), tmp_path / "s"))
        assert f.status is status, days
        assert value(f, "last_upgrade_timestamp_seconds") == when.timestamp()
        assert f.evidence["packages"] == 2 and f.evidence["days"] == days
        assert f"il y a {days} jours" in summary(f, "fr")
        assert "au plus tard tous les 30 jours" in remedy(f, "fr") if f.status.is_open else True


def test_failed_and_install_only_entries_are_not_upgrades(tmp_path: Path) -> None:
    good = FIXED_NOW - timedelta(days=40)
    root = history_tree(
        tmp_path,
        apt_entry(good, "apt-get upgrade", upgrade=UPGRADE),
        apt_entry(
            FIXED_NOW - timedelta(days=5),
            "apt-get upgrade",
            upgrade=UPGRADE,
            error="Sub-process /usr/bin/dpkg returned an error code (1)",
        ),
        apt_entry(
            FIXED_NOW - timedelta(days=1),
            "apt-get install nmap",
            install="nmap:amd64 (7.93+dfsg1-1)",
        ),
    )
    f = only(run(LastUpgrade, fixture_host(root), tmp_path / "s"))
    assert f.status is Status.FAIL and f.evidence["last_upgrade"] == _z(good)
    counted = only(run(LastUpgrade, fixture_host(root), tmp_path / "s", count_installs=True))
    assert counted.status is Status.PASS
    assert counted.evidence["command"] == "apt-get install nmap"


def _z(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def test_rotated_history_and_local_time_zone(tmp_path: Path) -> None:
    when = FIXED_NOW - timedelta(days=12)
    root = history_tree(
        tmp_path,
        apt_entry(
            FIXED_NOW - timedelta(days=2), "apt-get install nmap", install="nmap:amd64 (7.93)"
        ),
        rotated=apt_entry(when, "/usr/bin/unattended-upgrade", upgrade=UPGRADE),
    )
    f = only(run(LastUpgrade, fixture_host(root), tmp_path / "s"))
    # Written in Paris local time (UTC+1 in November), read back as the same instant.
    assert value(f, "last_upgrade_timestamp_seconds") == when.timestamp()
    assert f.evidence["source"].endswith("history.log.1.gz") and f.status is Status.PASS


def test_dpkg_log_fallback(tmp_path: Path) -> None:
    root = tmp_path / "d"
    write(root / "etc/timezone", "UTC\n")
    write(
        root / "var/log/dpkg.log",
        "2026-11-01 09:00:00 startup archives unpack\n"
        "2026-11-01 09:00:01 upgrade tzdata:all 2024a-0+deb12u1 2025b-0+deb12u1\n"
        "2026-11-01 09:00:02 status half-configured tzdata:all 2025b-0+deb12u1\n"
        "2026-11-01 09:00:03 status installed tzdata:all 2025b-0+deb12u1\n"
        "2026-11-20 10:00:00 upgrade bash:amd64 5.2.15-2+b7 5.2.15-2+deb12u1\n"
        "2026-11-20 10:00:01 status half-installed bash:amd64 5.2.15-2+b7\n",  # never finished
    )
    f = only(run(LastUpgrade, fixture_host(root), tmp_path / "s"))
    assert f.evidence["last_upgrade"] == "2026-11-01T09:00:03Z"
    assert f.status is Status.WARN  # 27 days: past warn_days (14), not max_days (30)


def test_dnf_rpm_log_recorded(tmp_path: Path) -> None:
    root = rhel_tree(tmp_path)
    write(root / "var/log/dnf.rpm.log", (FIXTURES / "dnf/dnf.rpm.log").read_text())
    now = datetime(2026, 12, 1, tzinfo=UTC)
    f = only(run(LastUpgrade, fixture_host(root, now=now), tmp_path / "s"))
    assert f.evidence["last_upgrade"] == "2026-11-28T13:44:17Z" and f.evidence["packages"] == 4
    assert f.status is Status.PASS


def test_no_upgrade_in_logs_and_no_logs(tmp_path: Path) -> None:
    old = FIXED_NOW - timedelta(days=100)
    root = history_tree(
        tmp_path, apt_entry(old, "apt-get install curl", install="curl:amd64 (7.88)")
    )
    f = only(run(LastUpgrade, fixture_host(root), tmp_path / "s"))
    assert f.status is Status.FAIL and not f.measurements
    assert f.evidence["logs_start"] == _z(old - timedelta(seconds=40))

    empty = tmp_path / "empty"
    empty.mkdir()
    skip = only(run(LastUpgrade, fixture_host(empty), tmp_path / "s"))
    assert skip.status is Status.SKIP and skip.evidence["reason"] == "no package manager log"


def _live_apt_upgrades() -> Iterator[tuple[datetime, str]]:
    """Independent reading of this machine's apt history: End-Date of upgrades without error."""
    tz_name = Path("/etc/timezone").read_text().strip() if Path("/etc/timezone").exists() else "UTC"
    for path in Path("/var/log/apt").glob("history.log*"):
        raw = path.read_bytes()
        text = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode(errors="replace")
        for block in re.split(r"\n\s*\n", text):
            end = re.search(r"^End-Date: (.+)$", block, re.M)
            if end and re.search(r"^Upgrade: ", block, re.M) and "\nError: " not in block:
                naive = datetime.strptime(" ".join(end[1].split()), "%Y-%m-%d %H:%M:%S")
                yield naive.replace(tzinfo=ZoneInfo(tz_name)), str(path)


def test_live_last_upgrade_matches_apt_history(tmp_path: Path) -> None:
    upgrades = list(_live_apt_upgrades())
    need(bool(upgrades), "no upgrade in this machine's apt history")
    newest, _ = max(upgrades)
    now = datetime.now(UTC)
    f = only(run(LastUpgrade, Host(clock=lambda: now), tmp_path / "state"))
    assert value(f, "last_upgrade_timestamp_seconds") == newest.timestamp()
    days = (now - newest).total_seconds() / 86400
    assert f.status is (Status.FAIL if days > 30 else Status.WARN if days > 14 else Status.PASS)


# --- patching.os_support ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("os_id", "version", "status", "end", "days_left"),
    [
        ("debian", "12", Status.PASS, "2028-06-30", 580),  # in its LTS phase since 2026-07-11
        ("ubuntu", "22.04", Status.WARN, "2027-06-01", 185),
        ("debian", "10", Status.FAIL, "2024-06-30", -881),
        ("rhel", "9.4", Status.PASS, "2032-05-31", 2011),  # looked up as 9
        ("almalinux", "8.10", Status.PASS, "2029-03-01", 824),
    ],
)
def test_os_support_countdown(
    tmp_path: Path, os_id: str, version: str, status: Status, end: str, days_left: int
) -> None:
    os_release(tmp_path, os_id, version)
    f = only(run(OsSupport, fixture_host(tmp_path), tmp_path / "s"))
    assert f.status is status
    assert f.evidence["end"] == end and f.evidence["days_left"] == days_left
    (m,) = f.measurements
    assert m.labels == {"os_id": os_id, "os_version": version}
    assert m.value == datetime.fromisoformat(end).replace(tzinfo=UTC).timestamp()
    assert f.args["end"] == end
    assert str(datetime.fromisoformat(end).year) in remedy(f, "fr")


def test_debian_12_reports_its_lts_phase(tmp_path: Path) -> None:
    os_release(tmp_path, "debian", "12")
    f = only(run(OsSupport, fixture_host(tmp_path), tmp_path / "s"))
    assert f.evidence["phase"] == "LTS" and f.evidence["regular_end"] == "2026-07-11"
    assert "LTS phase" in summary(f)


def test_os_support_warn_days_param(tmp_path: Path) -> None:
    os_release(tmp_path, "debian", "12")
    f = only(run(OsSupport, fixture_host(tmp_path), tmp_path / "s", warn_days=600))
    assert f.status is Status.WARN


def test_unknown_os_is_a_skip(tmp_path: Path) -> None:
    os_release(tmp_path / "a", "alpine", "3.20.3")
    f = only(run(OsSupport, fixture_host(tmp_path / "a"), tmp_path / "s"))
    assert f.status is Status.SKIP and "alpine 3.20.3" in summary(f) and not f.measurements
    (tmp_path / "b").mkdir()
    g = only(run(OsSupport, fixture_host(tmp_path / "b"), tmp_path / "s"))
    assert g.status is Status.SKIP and g.evidence["reason"] == "unknown OS"


def test_windows_server_by_name_or_build() -> None:
    table = load_os_support(RULES)
    by_name = table.lookup("windows-server", "2019")
    assert by_name is not None and by_name.end == date(2029, 1, 9)
    assert table.lookup("windows-server", "10.0.17763") == by_name
    r2 = table.lookup("windows-server", "2012 R2")
    assert r2 is not None and r2 == table.lookup("windows-server", "2012r2")
    assert table.lookup("ubuntu", "22.10") is None  # not an LTS: unknown, not "22"


def test_debian_and_ubuntu_dates_agree_with_distro_info() -> None:
    debian_csv = Path("/usr/share/distro-info/debian.csv")
    need(debian_csv.is_file(), "distro-info-data is not installed")
    table = load_os_support(RULES)
    rows = [line.split(",") for line in debian_csv.read_text().splitlines()[1:]]
    debian = {r[0]: r for r in rows if r[0]}
    for version in ("10", "11", "12", "13"):
        window = table.lookup("debian", version)
        assert window is not None and window.regular_end is not None
        assert window.regular_end.isoformat() == debian[version][5], version  # eol
        assert window.end.isoformat() == debian[version][6], version  # eol-lts
    ubuntu_rows = Path("/usr/share/distro-info/ubuntu.csv").read_text().splitlines()[1:]
    ubuntu = {r.split(",")[0].removesuffix(" LTS"): r.split(",") for r in ubuntu_rows}
    for version in ("20.04", "22.04", "24.04", "26.04"):
        window = table.lookup("ubuntu", version)
        assert window is not None and window.extended_end is not None
        assert window.end.isoformat() == ubuntu[version][5], version  # eol (standard)
        assert window.extended_end.isoformat() == ubuntu[version][7], version  # eol-esm


def test_live_os_support_matches_os_release(tmp_path: Path) -> None:
    osr = dict(
        line.split("=", 1)
        for line in Path("/etc/os-release").read_text().splitlines()
        if "=" in line
    )
    os_id, version = osr["ID"].strip('"'), osr.get("VERSION_ID", "").strip('"')
    now = datetime.now(UTC)
    f = only(run(OsSupport, Host(clock=lambda: now), tmp_path / "state"))
    data = yaml.safe_load((REPO / "rules/os_support.yaml").read_text())
    entry = data["systems"].get(os_id, {}).get("versions", {}).get(version)
    need(entry is not None, f"{os_id} {version} is not in os_support.yaml")
    assert f.evidence["os_id"] == os_id and f.evidence["os_version"] == version
    assert f.evidence["days_left"] == (entry["end"] - now.date()).days
    (m,) = f.measurements
    assert m.labels == {"os_id": os_id, "os_version": version}


@pytest.mark.parametrize(
    ("mutate", "key", "expected"),
    [
        (
            lambda d: d["systems"]["debian"]["versions"]["12"].pop("end"),
            "versions.12.end",
            "required",
        ),
        (
            lambda d: d["systems"]["debian"]["versions"]["12"].update(end="soon"),
            "versions.12.end",
            "a date YYYY-MM-DD",
        ),
        (
            lambda d: d["systems"]["debian"]["versions"].update({13: {"end": date(2030, 6, 30)}}),
            "versions.13",
            "quoted string",
        ),
        (
            lambda d: d["systems"]["debian"]["versions"]["12"].update(regular_end=date(2029, 1, 1)),
            "versions.12.regular_end",
            "on or before end",
        ),
        (
            lambda d: d["systems"]["debian"]["versions"]["12"].update(eol=date(2029, 1, 1)),
            "versions.12.eol",
            "unknown key",
        ),
        (lambda d: d["systems"]["ubuntu"].pop("name"), "systems.ubuntu.name", "required"),
        (lambda d: d.update(systems={}), "systems", "mapping of os-release IDs"),
    ],
)
def test_malformed_os_support_file_names_file_key_and_expectation(
    mutate: Any, key: str, expected: str
) -> None:
    data = yaml.safe_load((REPO / "rules/os_support.yaml").read_text())
    mutate(data)
    with pytest.raises(ConfigError) as info:
        parse_os_support(data, "rules/os_support.yaml")
    err = info.value
    assert err.source == "rules/os_support.yaml"
    assert err.key.endswith(key), err.key
    assert expected in err.expected_in("en"), err.expected_in("en")


def test_os_support_file_in_a_rules_dir_is_validated_when_loaded(tmp_path: Path) -> None:
    shutil.copytree(REPO / "rules", tmp_path / "rules")
    (tmp_path / "rules/os_support.yaml").write_text("systems:\n  debian: [12]\n")
    with pytest.raises(ConfigError) as err:
        load_os_support(load_rules(tmp_path / "rules"))
    assert re.search(r"os_support\.yaml:2: key 'systems\.debian'", err.value.render("en"))


def test_simulation_is_reused_until_an_input_changes(tmp_path: Path) -> None:
    """apt's resolver is slow: an unchanged system reuses the last simulation, a changed dpkg
    status or list file runs apt-get again."""
    root = debian_tree(tmp_path)
    calls: list[list[str]] = []

    def counting(argv: Any, timeout: float, env: Any) -> Any:
        calls.append(list(argv))
        return subprocess_runner(argv, timeout, env)

    need_tool("apt-get")
    host = Host(root=root, runner=counting, clock=lambda: FIXED_NOW)
    state = tmp_path / "state"
    first = by_kind(run(PendingUpdates, host, state))
    second = by_kind(run(PendingUpdates, host, state))
    assert len(calls) == 1
    assert second["security"].evidence["packages"] == first["security"].evidence["packages"]
    assert (state / "apt" / "upgrade-simulation.json").is_file()
    status = root / "var/lib/dpkg/status"
    status.write_text(status.read_text() + "\n")  # an install or upgrade rewrites it
    run(PendingUpdates, host, state)
    assert len(calls) == 2
    touch(next((root / "var/lib/apt/lists").iterdir()), FIXED_NOW)  # an `apt-get update`
    run(PendingUpdates, host, state)
    assert len(calls) == 3
    run(PendingUpdates, host, state)
    assert len(calls) == 3
