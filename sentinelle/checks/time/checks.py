"""Time: the system clock is synchronised (ANSSI measure 36: logs are only useful on one clock).

Asked, in order, of whoever can answer on this machine: systemd (`timedatectl show`:
NTPSynchronized, which is the kernel's own flag), chrony (`chronyc -n tracking`: its leap
status), systemd-timesyncd (the flag file it writes once synchronised), and last the kernel
itself (adjtimex(2): TIME_ERROR while no daemon has disciplined the clock).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sentinelle.checks.base import Check, register
from sentinelle.errors import CommandError, CommandTimeout
from sentinelle.facts import running_programs
from sentinelle.model import Finding, Status
from sentinelle.params import param

if TYPE_CHECKING:
    from sentinelle.host import Host

TIMEDATECTL_ARGV = ("timedatectl", "show")
CHRONYC_ARGV = ("chronyc", "-n", "tracking")
TIMESYNCD_FLAG = "/run/systemd/timesync/synchronized"
TIMESYNCD_PROCESS = "systemd-timesyn"  # /proc/PID/comm is cut at 15 characters
# adjtimex(2)'s return value while the clock is not synchronised (linux/timex.h).
TIME_ERROR = 5


def kernel_clock_synchronised() -> bool | None:
    """The kernel's view (adjtimex with no change requested); None when it cannot be asked."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None
    # struct timex is about 208 bytes; modes = 0 (first field) reads and changes nothing.
    buffer = ctypes.create_string_buffer(512)
    state = libc.adjtimex(buffer)
    if state < 0:
        return None
    return bool(state != TIME_ERROR)


def parse_timedatectl(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def parse_chrony_tracking(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


@register
class TimeSync(Check):
    """The system clock is synchronised by a time service."""

    id = "time.sync"
    platforms = frozenset({"linux"})

    @dataclass(frozen=True)
    class Params:
        timeout_seconds: float = param(minimum=1, maximum=120, doc="per timedatectl/chronyc")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        if not host.is_live:
            yield self.say(Status.SKIP, "not_live", {"root": str(host.root)},
                           {"reason": f"the clock is the running system's, not {host.root}'s"})
            return
        tried: list[str] = []
        evidence: dict[str, Any] = {"tried": tried}
        try:
            verdict = self._timedatectl(host, evidence) or self._chrony(host, evidence)
        except _Timeout as exc:
            yield self.say(Status.ERROR, "timeout",
                           {"command": exc.command, "seconds": self.params.timeout_seconds},
                           {**evidence, "error": exc.command})
            return
        verdict = verdict or self._timesyncd(host, evidence)
        if verdict is None:
            tried.append("adjtimex")
            kernel = kernel_clock_synchronised()
            if kernel is not None:
                evidence["kernel_synchronised"] = kernel
                verdict = ("kernel", kernel)
        if verdict is None:
            yield self.say(Status.SKIP, "unknown", {},
                           {**evidence, "reason": "no time service answered: "
                                                  + ", ".join(tried)})
            return
        source, synced = verdict
        evidence["source"] = source
        if synced:
            yield self.say(Status.PASS, "synchronised", {"source": source}, evidence)
        elif source == "kernel":
            yield self.say(Status.FAIL, "no_service", {"tried": tried[:-1]}, evidence)
        else:
            yield self.say(Status.FAIL, "not_synchronised", {"source": source}, evidence)

    def _ask(self, host: Host, argv: tuple[str, ...], tried: list[str]) -> str | None:
        """The command's output when it answered; None when it cannot (not installed, no
        daemon, no systemd)."""
        tried.append(argv[0])
        try:
            result = host.run(argv, timeout=self.params.timeout_seconds)
        except CommandTimeout as exc:
            raise _Timeout(" ".join(argv)) from exc
        except CommandError:
            return None
        return result.stdout if result.ok else None

    def _timedatectl(self, host: Host, evidence: dict[str, Any]) -> tuple[str, bool] | None:
        text = self._ask(host, TIMEDATECTL_ARGV, evidence["tried"])
        props = parse_timedatectl(text or "")
        if "NTPSynchronized" not in props:
            return None
        evidence["timedatectl"] = {k: props[k] for k in ("NTP", "NTPSynchronized", "Timezone")
                                   if k in props}
        return "timedatectl", props["NTPSynchronized"] == "yes"

    def _chrony(self, host: Host, evidence: dict[str, Any]) -> tuple[str, bool] | None:
        fields = parse_chrony_tracking(self._ask(host, CHRONYC_ARGV, evidence["tried"]) or "")
        leap = fields.get("Leap status")
        if leap is None:
            return None
        evidence["chrony"] = {k: fields[k] for k in ("Reference ID", "Stratum", "Leap status",
                                                     "System time") if k in fields}
        return "chrony", leap != "Not synchronised"

    def _timesyncd(self, host: Host, evidence: dict[str, Any]) -> tuple[str, bool] | None:
        running = running_programs(host) or frozenset()
        if TIMESYNCD_PROCESS not in running:
            return None
        evidence["tried"].append("systemd-timesyncd")
        return "systemd-timesyncd", host.exists(TIMESYNCD_FLAG)


class _Timeout(Exception):
    def __init__(self, command: str) -> None:
        super().__init__(command)
        self.command = command
