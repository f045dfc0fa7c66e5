"""removable_media.usb_storage on trees laid out as Debian writes them (modprobe.d, USBGuard's
daemon configuration, /proc/cmdline, modules.builtin) and on this machine."""

from __future__ import annotations

from pathlib import Path

from sentinelle.checks.base import CheckContext
from sentinelle.checks.removable_media.checks import UsbStorage
from sentinelle.config import Config
from sentinelle.host import Host
from sentinelle.model import Finding, Status
from tests.checks.texts import RULES, remedy, rendered
from tests.conftest import fixture_host

RELEASE = "6.1.0-28-amd64"


def run(host: Host) -> Finding:
    meta = RULES.checks[UsbStorage.id]
    check = UsbStorage(meta, meta.params, CheckContext(Config(), RULES))
    (finding,) = check.run(host)
    rendered(finding)
    return finding


def write(root: Path, files: dict[str, str]) -> Path:
    base = {"proc/cmdline": f"BOOT_IMAGE=/vmlinuz-{RELEASE} root=/dev/sda1 ro quiet\n",
            "proc/sys/kernel/osrelease": RELEASE + "\n",
            f"lib/modules/{RELEASE}/modules.builtin": "kernel/drivers/usb/core/usbcore.ko\n"}
    for name, text in {**base, **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_nothing_restricts_usb_storage(tmp_path: Path) -> None:
    f = run(fixture_host(write(tmp_path, {})))
    assert f.status is Status.FAIL and f.message == "removable_media.usb_storage.allowed"
    assert "install usb-storage /bin/false" in remedy(f, "fr")


def test_install_bin_false_blocks_and_etc_hides_lib(tmp_path: Path) -> None:
    root = write(tmp_path, {
        "etc/modprobe.d/usb-storage.conf": "# ANSSI\ninstall usb-storage /bin/false\n",
        "lib/modprobe.d/aliases.conf": "alias usb:v*p*d*dc*dsc*dp*ic08isc06ip50in* usb-storage\n"})
    f = run(fixture_host(root))
    assert f.status is Status.PASS and f.args == {"file": "/etc/modprobe.d/usb-storage.conf"}
    # A same-named file in /etc hides /lib's (modprobe.d(5)).
    (root / "lib/modprobe.d/usb-storage.conf").write_text("install usb_storage /bin/false\n")
    (root / "etc/modprobe.d/usb-storage.conf").write_text("# allowed again\n")
    assert run(fixture_host(root)).status is Status.FAIL


def test_a_blacklist_alone_is_a_warning_uas_loads_it(tmp_path: Path) -> None:
    f = run(fixture_host(write(tmp_path, {"etc/modprobe.d/bl.conf": "blacklist usb_storage\n"})))
    assert f.status is Status.WARN and f.message == "removable_media.usb_storage.blacklist_only"


def test_a_block_does_nothing_when_the_module_is_built_in(tmp_path: Path) -> None:
    f = run(fixture_host(write(tmp_path, {
        "etc/modprobe.d/usb-storage.conf": "install usb-storage /bin/false\n",
        f"lib/modules/{RELEASE}/modules.builtin": "kernel/drivers/usb/storage/usb-storage.ko\n"})))
    assert f.status is Status.FAIL and f.message == "removable_media.usb_storage.builtin"


def test_usbguard_running_and_blocking_passes(tmp_path: Path) -> None:
    root = write(tmp_path, {"proc/733/comm": "usbguard-daemon\n",
                            "etc/usbguard/usbguard-daemon.conf":
                                "RuleFile=/etc/usbguard/rules.conf\nImplicitPolicyTarget=block\n"})
    f = run(fixture_host(root))
    assert f.status is Status.PASS and f.args == {"policy": "block"}
    (root / "etc/usbguard/usbguard-daemon.conf").write_text("ImplicitPolicyTarget=allow\n")
    assert run(fixture_host(root)).status is Status.FAIL


def test_the_kernel_authorising_no_new_device_passes(tmp_path: Path) -> None:
    f = run(fixture_host(write(tmp_path, {
        "proc/cmdline": "root=/dev/sda1 ro usbcore.authorized_default=0\n"})))
    assert f.status is Status.PASS and f.args == {"value": "0"}


def test_a_machine_without_usb_bus(tmp_path: Path) -> None:
    f = run(fixture_host(write(tmp_path, {"sys/bus/pci/drivers_autoprobe": "1\n"})))
    assert f.status is Status.PASS and f.message == "removable_media.usb_storage.no_usb"
    (tmp_path / "sys/bus/usb").mkdir()
    assert run(fixture_host(tmp_path)).status is Status.FAIL


def test_this_machine() -> None:
    """What the check says of this machine matches its /sys: no USB bus, no restriction, or a
    restriction the check names."""
    f = run(Host())
    if not Path("/sys/bus/usb").exists() and Path("/sys/bus").exists():
        assert f.message in ("removable_media.usb_storage.no_usb",
                             "removable_media.usb_storage.usbguard",
                             "removable_media.usb_storage.modprobe")
    else:
        assert f.status is not Status.SKIP and f.evidence["builtin"] in (True, False, None)
