"""encryption.disks: lsblk outputs replayed (recorded on this machine, and Debian's encrypted
LVM layout), laptop or server from /sys, and the real lsblk on a real LUKS header."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sentinelle.checks.base import CheckContext
from sentinelle.checks.encryption.checks import DiskEncryption
from sentinelle.config import Config
from sentinelle.errors import CommandNotFound
from sentinelle.host import Host
from sentinelle.model import Finding, Severity, Status
from tests.checks.texts import RULES, remedy, rendered, summary
from tests.conftest import fixture_host, need_root, need_tool, recorded

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def run(host: Host, **params: Any) -> Finding:
    meta = RULES.checks[DiskEncryption.id]
    check = DiskEncryption(meta, {**meta.params, **params}, CheckContext(Config(), RULES))
    (finding,) = check.run(host)
    rendered(finding)
    return finding


def host(root: Path, lsblk: str | Exception, sys_files: dict[str, str] | None = None) -> Host:
    for name, text in (sys_files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    result = lsblk if isinstance(lsblk, Exception) else recorded(
        (FIXTURES / lsblk).read_text())
    return fixture_host(root, commands={("lsblk",): result})


def test_this_vm_is_a_clear_server_info(tmp_path: Path) -> None:
    f = run(host(tmp_path, "lsblk_vm.json"))
    assert f.status is Status.FAIL and f.severity is Severity.INFO
    assert f.args == {"paths": ["/", "/home", "/srv", "/var"]}
    assert f.evidence["laptop"] is False
    assert "Emplacements non chiffrés : /, /home, /srv et /var" in remedy(f, "fr")


def test_a_clear_laptop_is_high(tmp_path: Path) -> None:
    f = run(host(tmp_path, "lsblk_vm.json", {"sys/class/dmi/id/chassis_type": "10\n"}))
    assert f.status is Status.FAIL and f.severity is Severity.HIGH
    assert summary(f, "fr").startswith("Cet ordinateur portable n'est pas chiffré")


def test_a_battery_says_laptop_but_a_mouse_does_not(tmp_path: Path) -> None:
    mouse = {"sys/class/power_supply/hidpp_battery_0/type": "Battery\n",
             "sys/class/power_supply/hidpp_battery_0/scope": "Device\n",
             "sys/class/dmi/id/chassis_type": "3\n"}
    assert run(host(tmp_path / "a", "lsblk_vm.json", mouse)).severity is Severity.INFO
    own = {**mouse, "sys/class/power_supply/BAT0/type": "Battery\n"}
    f = run(host(tmp_path / "b", "lsblk_vm.json", own))
    assert f.severity is Severity.HIGH and f.evidence["batteries"] == ["BAT0"]


def test_luks_under_lvm_passes_and_a_clear_second_disk_fails(tmp_path: Path) -> None:
    laptop = {"sys/class/dmi/id/chassis_type": "9\n"}
    f = run(host(tmp_path / "a", "lsblk_luks.json", laptop), data_paths=["/", "/home"])
    assert f.status is Status.PASS and f.args == {"paths": ["/", "/home"]}
    assert f.evidence["luks_volumes"] == ["nvme0n1p3"]
    f = run(host(tmp_path / "b", "lsblk_luks.json", laptop))
    assert f.status is Status.FAIL and f.args == {"paths": ["/srv"]}


def test_no_lsblk_bad_output_and_no_block_device(tmp_path: Path) -> None:
    f = run(host(tmp_path, CommandNotFound("lsblk")))
    assert f.status is Status.SKIP and f.message == "encryption.disks.no_lsblk"
    bad = fixture_host(tmp_path, commands={("lsblk",): recorded("lsblk: unknown column", 1)})
    assert run(bad).status is Status.ERROR
    empty = fixture_host(tmp_path, commands={("lsblk",): recorded('{"blockdevices": []}')})
    f = run(empty)
    assert f.status is Status.SKIP and f.message == "encryption.disks.no_block_device"


@contextlib.contextmanager
def loop_device(image: Path) -> Iterator[str]:
    device = subprocess.run(["losetup", "--find", "--show", str(image)], capture_output=True,
                            text=True, check=True, timeout=30).stdout.strip()
    try:
        yield device
    finally:
        subprocess.run(["losetup", "-d", device], check=False, timeout=30)


def test_the_real_lsblk_names_a_real_luks_header(tmp_path: Path) -> None:
    need_root()
    need_tool("cryptsetup")
    need_tool("losetup")
    image = tmp_path / "disk.img"
    with image.open("wb") as f:
        f.truncate(32 << 20)
    key = tmp_path / "key"
    key.write_bytes(b"phrase secrete de test")
    subprocess.run(["cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2",
                    "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000",
                    "--key-file", str(key), str(image)], check=True, timeout=60,
                   capture_output=True)
    with loop_device(image) as device:
        f = run(Host())
        listed = json.loads(subprocess.run(
            ["lsblk", "-J", "-o", "NAME,TYPE,FSTYPE,MOUNTPOINT"], capture_output=True,
            text=True, check=True).stdout)
    name = device.rsplit("/", 1)[-1]
    (entry,) = [d for d in listed["blockdevices"] if d["name"] == name]
    assert entry["type"] == "loop"
    # lsblk takes FSTYPE from udev's database: without udev (this VM) it is null, and the
    # check does not claim a LUKS volume it was not told of. A mounted file system opened
    # through LUKS still shows as TYPE crypt (from /sys), which is what decides.
    assert (name in f.evidence["luks_volumes"]) == (entry["fstype"] == "crypto_LUKS")
    assert f.status is not Status.ERROR
