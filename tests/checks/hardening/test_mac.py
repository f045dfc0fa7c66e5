"""hardening.mac on /sys trees laid out as the kernel shows them, and on this machine
against the real aa-status."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sentinelle.checks.base import CheckContext
from sentinelle.checks.hardening.checks import MandatoryAccessControl
from sentinelle.config import Config
from sentinelle.host import Host
from sentinelle.model import Finding, Status
from tests.checks.texts import RULES, rendered, summary
from tests.conftest import fixture_host, need_tool


def run(host: Host) -> Finding:
    meta = RULES.checks[MandatoryAccessControl.id]
    check = MandatoryAccessControl(meta, meta.params, CheckContext(Config(), RULES))
    (finding,) = check.run(host)
    rendered(finding)
    return finding


def write(root: Path, files: dict[str, str]) -> Path:
    (root / "sys/module").mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


# Debian 12's kernel: lsm list and profile lines as securityfs prints them.
LSM = "lockdown,capability,landlock,yama,apparmor,tomoyo,bpf,integrity"
PROFILES = ("/usr/sbin/chronyd (enforce)\nnvidia_modprobe (enforce)\nlsb_release (enforce)\n"
            "/usr/bin/man (complain)\n")


def test_apparmor_enforcing_profiles_pass(tmp_path: Path) -> None:
    f = run(fixture_host(write(tmp_path, {
        "sys/module/apparmor/parameters/enabled": "Y\n", "sys/kernel/security/lsm": LSM,
        "sys/kernel/security/apparmor/profiles": PROFILES})))
    assert f.status is Status.PASS and f.args == {"count": 3}
    assert summary(f, "fr").startswith("AppArmor est actif : 3 profils")


def test_apparmor_without_enforced_profiles_fails(tmp_path: Path) -> None:
    f = run(fixture_host(write(tmp_path, {
        "sys/module/apparmor/parameters/enabled": "Y\n", "sys/kernel/security/lsm": LSM,
        "sys/kernel/security/apparmor/profiles": "/usr/bin/man (complain)\n"})))
    assert f.status is Status.FAIL and f.args == {"complain": 1}


def test_apparmor_on_without_securityfs_passes_uncounted(tmp_path: Path) -> None:
    f = run(fixture_host(write(tmp_path, {"sys/module/apparmor/parameters/enabled": "Y\n"})))
    assert f.status is Status.PASS and f.message == "hardening.mac.apparmor_enabled"


def test_apparmor_left_out_of_the_lsm_list_is_off(tmp_path: Path) -> None:
    f = run(fixture_host(write(tmp_path, {
        "sys/module/apparmor/parameters/enabled": "Y\n",
        "sys/kernel/security/lsm": "lockdown,capability,landlock,yama,bpf"})))
    assert f.status is Status.FAIL and f.message == "hardening.mac.none"


def test_selinux_enforcing_and_permissive(tmp_path: Path) -> None:
    f = run(fixture_host(write(tmp_path / "a", {"sys/fs/selinux/enforce": "1"})))
    assert f.status is Status.PASS and f.message == "hardening.mac.selinux_enforcing"
    f = run(fixture_host(write(tmp_path / "b", {"sys/fs/selinux/enforce": "0"})))
    assert f.status is Status.FAIL and f.message == "hardening.mac.selinux_permissive"


def test_no_sys_is_a_skip(tmp_path: Path) -> None:
    f = run(fixture_host(tmp_path))
    assert f.status is Status.SKIP and f.evidence["reason"] == "no /sys in the tree"


def test_this_machine_agrees_with_the_real_aa_status() -> None:
    """aa-status exits 0 when AppArmor is enabled with a policy, 1 when it is not enabled,
    2 with no policy loaded (aa-status(8))."""
    need_tool("aa-status")
    code = subprocess.run(["aa-status", "--enabled"], capture_output=True, check=False,
                          timeout=30).returncode
    f = run(Host())
    if code == 0:
        assert f.message.startswith("hardening.mac.apparmor") or "selinux" in f.message
    else:
        assert f.message in ("hardening.mac.none", "hardening.mac.selinux_enforcing",
                             "hardening.mac.selinux_permissive")
