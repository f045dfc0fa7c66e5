"""USB storage restricted: USBGuard blocking, the kernel told not to authorise new USB
devices, or the usb-storage module kept from loading (modprobe.d, the kernel command line).

modprobe reads its configuration directories in order and a file of the same name in an
earlier one hides the later one (modprobe.d(5)); `blacklist` only ignores a module's aliases,
so a UAS disk still loads usb-storage as uas's dependency: only `install usb-storage
/bin/false` (or true) stops every load. None of it does anything when usb-storage is built
into the kernel (modules.builtin).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sentinelle.checks.base import Check, register
from sentinelle.facts import processes
from sentinelle.model import Finding, Status
from sentinelle.params import param

if TYPE_CHECKING:
    from sentinelle.host import Host

MODPROBE_DIRS = ("/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d",
                 "/lib/modprobe.d", "/usr/lib/modprobe.d")
MAX_FILES = 256
MAX_FILE_BYTES = 1 << 20
MODULE = "usb_storage"
USBGUARD_CONF = "/etc/usbguard/usbguard-daemon.conf"
USBGUARD_DAEMON = "usbguard-daemon"
CMDLINE = "/proc/cmdline"
OSRELEASE = "/proc/sys/kernel/osrelease"


def _module(name: str) -> str:
    return name.replace("-", "_")


@dataclass(frozen=True)
class ModprobeRule:
    """A line of modprobe.d about usb-storage: `install` (with its command) or `blacklist`."""

    kind: str
    file: str
    command: str = ""


def modprobe_rules(host: Host) -> list[ModprobeRule]:
    """The usb-storage lines of the modprobe.d files modprobe would read."""
    chosen: dict[str, str] = {}
    for directory in MODPROBE_DIRS:
        for path in sorted(host.glob(directory, "*.conf"))[:MAX_FILES]:
            chosen.setdefault(path.name, f"{directory}/{path.name}")
    rules: list[ModprobeRule] = []
    for name in sorted(chosen):
        where = chosen[name]
        try:
            text = host.path(where).read_bytes()[:MAX_FILE_BYTES].decode("utf-8", "replace")
        except OSError:
            continue
        # A line ending in a backslash continues on the next one.
        for line in text.replace("\\\n", " ").splitlines():
            words = line.split("#", 1)[0].split()
            if len(words) >= 2 and _module(words[1]) == MODULE:
                if words[0] == "blacklist":
                    rules.append(ModprobeRule("blacklist", where))
                elif words[0] == "install" and len(words) >= 3:
                    rules.append(ModprobeRule("install", where, " ".join(words[2:])))
    return rules


def cmdline_options(host: Host) -> dict[str, str]:
    text = host.read_text(CMDLINE, default="")
    options: dict[str, str] = {}
    for word in text.split("--", 1)[0].split():  # after "--" come init's arguments
        key, _, value = word.partition("=")
        options[key] = value
    return options


def builtin(host: Host) -> bool | None:
    """Whether usb-storage is built into the running kernel; None when unknown."""
    release = host.read_text(OSRELEASE, default="").strip()
    if not release:
        return None
    for base in ("/lib/modules", "/usr/lib/modules"):
        path = f"{base}/{release}/modules.builtin"
        if host.path(path).is_file():
            names = host.read_text(path).split()
            return any(_module(n.rsplit("/", 1)[-1].removesuffix(".ko")) == MODULE
                       for n in names)
    return None


def usbguard_policy(host: Host) -> str:
    """USBGuard's ImplicitPolicyTarget (what it does with a device no rule names)."""
    for line in host.read_text(USBGUARD_CONF, default="").splitlines():
        key, _, value = line.split("#", 1)[0].partition("=")
        if key.strip() == "ImplicitPolicyTarget":
            return value.strip()
    return "block"  # usbguard-daemon.conf(5)'s default


@register
class UsbStorage(Check):
    """A USB key plugged into this machine cannot be used (USB storage restricted)."""

    id = "removable_media.usb_storage"
    platforms = frozenset({"linux"})

    @dataclass(frozen=True)
    class Params:
        blocking_commands: tuple[str, ...] = param(
            doc="`install usb-storage COMMAND` commands that keep the module from loading")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        evidence: dict[str, Any] = {}
        programs = processes(host)
        if programs is not None and USBGUARD_DAEMON in programs.names:
            policy = usbguard_policy(host)
            evidence["usbguard"] = {"running": True, "implicit_policy_target": policy}
            if policy in ("block", "reject"):
                yield self.say(Status.PASS, "usbguard", {"policy": policy}, evidence)
                return
        options = cmdline_options(host)
        authorized = options.get("usbcore.authorized_default")
        if authorized is not None:
            evidence["usbcore.authorized_default"] = authorized
            # 0: no new device is authorised; 2: only the machine's internal ones.
            if authorized in ("0", "2"):
                yield self.say(Status.PASS, "not_authorized", {"value": authorized}, evidence)
                return
        rules = modprobe_rules(host)
        on_cmdline = any(_module(m) == MODULE
                         for m in options.get("modprobe.blacklist", "").split(",") if m)
        blocking = [r for r in rules if r.kind == "install"
                    and r.command.split()[0] in self.params.blocking_commands]
        evidence["modprobe"] = [{"kind": r.kind, "file": r.file, "command": r.command}
                                for r in rules[:32]]
        if on_cmdline:
            evidence["modprobe.blacklist"] = options["modprobe.blacklist"]
        blacklisted = [r for r in rules if r.kind == "blacklist"]
        built_in = builtin(host)
        evidence["builtin"] = built_in
        if blocking or on_cmdline or blacklisted:
            # modprobe.blacklist= on the kernel command line is a blacklist too.
            where = blocking[0].file if blocking else (
                blacklisted[0].file if blacklisted else CMDLINE)
            if built_in:
                yield self.say(Status.FAIL, "builtin", {"file": where}, evidence)
            elif blocking:
                yield self.say(Status.PASS, "modprobe", {"file": where}, evidence)
            else:
                yield self.say(Status.WARN, "blacklist_only", {"file": where}, evidence)
            return
        if host.exists("/sys/bus") and not host.exists("/sys/bus/usb"):
            evidence["usb_bus"] = False
            yield self.say(Status.PASS, "no_usb", {}, evidence)
            return
        yield self.say(Status.FAIL, "allowed", {"file": "/etc/modprobe.d/usb-storage.conf"},
                       evidence)
