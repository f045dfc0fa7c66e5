"""Disk encryption (LUKS) of the system's data, and whether this machine is a laptop.

The block devices come from `lsblk -J` (util-linux): each device with its children (a
partition, then the LUKS mapping opened on it, then a volume group's logical volume...), so a
mounted file system is encrypted when one of its ancestors is a LUKS container (FSTYPE
crypto_LUKS) or a dm-crypt mapping (TYPE crypt). The laptop question is the firmware's
(SMBIOS chassis type in /sys/class/dmi/id/chassis_type) or a system battery.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sentinelle.checks.base import Check, register
from sentinelle.errors import CommandError, CommandNotFound
from sentinelle.model import Finding, Severity, Status
from sentinelle.params import param

if TYPE_CHECKING:
    from sentinelle.host import Host

LSBLK = ["lsblk", "-J", "-o", "NAME,TYPE,FSTYPE,MOUNTPOINT"]
LSBLK_TIMEOUT_SECONDS = 15.0
CHASSIS_TYPE = "/sys/class/dmi/id/chassis_type"
POWER_SUPPLY = "/sys/class/power_supply"
MAX_DEVICES = 4096
MAX_DEPTH = 16


@dataclass(frozen=True)
class Device:
    """One block device and whether it, or one of its ancestors, is encrypted."""

    name: str
    type: str
    fstype: str
    mountpoint: str
    encrypted: bool


def _is_encryption(node: dict[str, Any]) -> bool:
    return node.get("fstype") == "crypto_LUKS" or node.get("type") == "crypt"


def flatten(tree: Sequence[Any]) -> list[Device]:
    """lsblk's nested devices, each marked encrypted when a LUKS container is above it."""
    out: list[Device] = []

    def walk(nodes: Sequence[Any], encrypted: bool, depth: int) -> Iterator[Device]:
        for node in nodes:
            if not isinstance(node, dict) or depth > MAX_DEPTH:
                continue
            here = encrypted or _is_encryption(node)
            yield Device(str(node.get("name") or ""), str(node.get("type") or ""),
                         str(node.get("fstype") or ""), str(node.get("mountpoint") or ""),
                         here)
            yield from walk(node.get("children") or [], here, depth + 1)

    for device in walk(tree, False, 0):
        if len(out) >= MAX_DEVICES:
            break
        out.append(device)
    return out


def holding(devices: Sequence[Device], path: str) -> Device | None:
    """The device whose mount point is the longest prefix of `path`."""
    best: Device | None = None
    for device in devices:
        mount = device.mountpoint
        if not mount.startswith("/"):
            continue  # not mounted, or [SWAP]
        inside = path == mount or mount == "/" or path.startswith(mount.rstrip("/") + "/")
        if inside and (best is None or len(mount) > len(best.mountpoint)):
            best = device
    return best


def laptop_evidence(host: Host, chassis_types: Sequence[str]) -> dict[str, Any]:
    """What says this machine is portable: its chassis type, its system batteries."""
    chassis = host.read_text(CHASSIS_TYPE, default="").strip()
    batteries = []
    for supply in sorted(host.glob(POWER_SUPPLY, "*"))[:64]:
        try:
            kind = (supply / "type").read_text().strip()
        except OSError:
            continue
        try:
            scope = (supply / "scope").read_text().strip()
        except OSError:
            scope = ""
        # A wireless mouse's battery says scope Device: not the machine's own.
        if kind == "Battery" and scope != "Device":
            batteries.append(supply.name)
    return {"chassis_type": chassis, "batteries": batteries,
            "laptop": chassis in chassis_types or bool(batteries)}


@register
class DiskEncryption(Check):
    """The system's data (/, /home, /srv, /var) sits on encrypted (LUKS) volumes; required
    on a laptop, noted on a server."""

    id = "encryption.disks"
    platforms = frozenset({"linux"})

    @dataclass(frozen=True)
    class Params:
        data_paths: tuple[str, ...] = param(doc="where the system's data lives")
        laptop_chassis_types: tuple[str, ...] = param(
            doc="SMBIOS chassis types of a portable machine")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        try:
            result = host.run(LSBLK, timeout=LSBLK_TIMEOUT_SECONDS)
        except CommandNotFound:
            yield self.say(Status.SKIP, "no_lsblk", {}, {"reason": "lsblk is not installed"})
            return
        except CommandError as exc:
            yield self.say(Status.ERROR, "lsblk_failed", {}, {"reason": str(exc)})
            return
        try:
            if result.returncode != 0:
                raise ValueError(f"exited {result.returncode}: {result.stderr.strip()[:200]}")
            tree = json.loads(result.stdout).get("blockdevices")
            if not isinstance(tree, list):
                raise ValueError("no blockdevices list")
        except (ValueError, AttributeError) as exc:
            yield self.say(Status.ERROR, "lsblk_failed", {}, {"reason": f"lsblk: {exc}"})
            return
        devices = flatten(tree)
        portable = laptop_evidence(host, self.params.laptop_chassis_types)
        clear: list[str] = []
        encrypted: list[str] = []
        unknown: list[str] = []
        rows = []
        for path in self.params.data_paths:
            device = holding(devices, path)
            if device is None:
                unknown.append(path)
                continue
            (encrypted if device.encrypted else clear).append(path)
            rows.append({"path": path, "device": device.name, "mountpoint": device.mountpoint,
                         "encrypted": device.encrypted})
        evidence = {"source": " ".join(LSBLK), "paths": rows, "not_on_a_block_device": unknown,
                    "luks_volumes": sorted(d.name for d in devices if d.fstype == "crypto_LUKS"),
                    **portable}
        if not clear and not encrypted:
            yield self.say(Status.SKIP, "no_block_device", {"paths": unknown},
                           {**evidence, "reason": "no data path is on a block device lsblk "
                                                  "lists"})
            return
        args = {"paths": clear}
        if clear and portable["laptop"]:
            yield self.say(Status.FAIL, "unencrypted_laptop", args, evidence,
                           severity=Severity.HIGH)
        elif clear:
            yield self.say(Status.FAIL, "unencrypted_server", args, evidence,
                           severity=Severity.INFO)
        else:
            yield self.say(Status.PASS, "encrypted", {"paths": encrypted}, evidence)
