"""Mandatory access control: AppArmor or SELinux enforcing.

Read from the kernel's own files, the ones aa-status and getenforce read: AppArmor's module
parameter and its securityfs profile list, SELinux's selinuxfs `enforce`. They are readable
without privilege (aa-status itself needs root only to list the profiles' names), and they
work on a fixture tree.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sentinelle.checks.base import Check, register
from sentinelle.model import Finding, Status

if TYPE_CHECKING:
    from sentinelle.host import Host

APPARMOR_ENABLED = "/sys/module/apparmor/parameters/enabled"
APPARMOR_PROFILES = "/sys/kernel/security/apparmor/profiles"
SECURITY_LSM = "/sys/kernel/security/lsm"
SELINUX_ENFORCE = "/sys/fs/selinux/enforce"
PROC_FILESYSTEMS = "/proc/filesystems"
MAX_PROFILE_LINES = 100_000


def _read(host: Host, path: str) -> str | None:
    """A small kernel file's text; None when absent, "" when the kernel refuses it."""
    try:
        return host.path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError:
        return ""


def apparmor_profiles(text: str) -> dict[str, int]:
    """Profiles by mode from securityfs `profiles` ("NAME (enforce)" lines)."""
    modes: dict[str, int] = {}
    for line in text.splitlines()[:MAX_PROFILE_LINES]:
        line = line.strip()
        if line.endswith(")") and " (" in line:
            mode = line.rsplit(" (", 1)[1][:-1]
            modes[mode] = modes.get(mode, 0) + 1
    return modes


@register
class MandatoryAccessControl(Check):
    """AppArmor or SELinux confines programs (enforcing, with profiles loaded)."""

    id = "hardening.mac"
    platforms = frozenset({"linux"})

    def run(self, host: Host) -> Iterable[Finding]:
        if not host.exists("/sys/module") and not host.exists("/sys/fs"):
            yield self.say(Status.SKIP, "no_sysfs", {}, {"reason": "no /sys in the tree"})
            return
        evidence: dict[str, Any] = {}
        lsm = _read(host, SECURITY_LSM)
        if lsm:
            evidence["lsm"] = lsm.strip()
        selinux = _read(host, SELINUX_ENFORCE)
        if selinux is not None:
            evidence["selinux_enforce"] = selinux.strip()
            if selinux.strip() == "1":
                yield self.say(Status.PASS, "selinux_enforcing", {}, evidence)
                return
        enabled = _read(host, APPARMOR_ENABLED)
        if enabled is not None:
            evidence["apparmor_enabled"] = enabled.strip()
        # Built in but left out of the boot's LSM list, AppArmor is not running.
        apparmor = (enabled is not None and enabled.strip().upper().startswith("Y")
                    and (not lsm or "apparmor" in lsm.split(",")))
        if apparmor:
            profiles_text = _read(host, APPARMOR_PROFILES)
            if profiles_text is None:
                # securityfs not mounted: the profiles cannot be counted, the kernel says on.
                evidence["profiles"] = "unknown"
                yield self.say(Status.PASS, "apparmor_enabled", {}, evidence)
                return
            modes = apparmor_profiles(profiles_text)
            evidence["profiles"] = modes
            enforced = modes.get("enforce", 0)
            if enforced:
                yield self.say(Status.PASS, "apparmor_enforcing", {"count": enforced},
                               evidence)
            else:
                yield self.say(Status.FAIL, "apparmor_no_profiles",
                               {"complain": modes.get("complain", 0)}, evidence)
            return
        if selinux is not None and selinux.strip() == "0":
            yield self.say(Status.FAIL, "selinux_permissive", {}, evidence)
            return
        yield self.say(Status.FAIL, "none", {}, evidence)
