"""Real OpenSSH for the ssh tests: host keys, configurations written by the test, `sshd -T`
and a running sshd, each in a private mount namespace whose /run is a fresh tmpfs (so sshd's
privilege separation directory, /run/sshd, is made there and never on this machine).

`SshdRunner` is a Host runner for the checks' live path: it runs the check's own `sshd -T -f
/etc/ssh/sshd_config` with the test's file in place of /etc/ssh/sshd_config, through the real
sshd; every other command goes to the real runner unchanged.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from sentinelle.checks.ssh.sshd import CONFIG
from sentinelle.host import CommandResult, subprocess_runner

SSHD = "/usr/sbin/sshd"
WAIT_SECONDS = 10.0


def host_key(directory: Path) -> Path:
    """A fresh ed25519 host key (sshd -T refuses to run without one)."""
    key = directory / "ssh_host_ed25519_key"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                       check=True, timeout=30, capture_output=True)
    return key


def write_config(directory: Path, text: str, name: str = "sshd_config") -> Path:
    """`text` as an sshd_config with a HostKey line of its own in front."""
    path = directory / name
    path.write_text(f"HostKey {host_key(directory)}\n{text}", encoding="utf-8")
    return path


def in_private_run(argv: Sequence[str], privsep: bool = True) -> list[str]:
    """`argv` in a new mount namespace with an empty tmpfs on /run (and /run/sshd in it)."""
    mkdir = "mkdir -m 0755 /run/sshd && " if privsep else ""
    return ["unshare", "--mount", "sh", "-c",
            f'mount -t tmpfs tmpfs /run && {mkdir}exec "$@"', "sh", *argv]


def sshd_t(config: Path, privsep: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(in_private_run([SSHD, "-T", "-f", str(config)], privsep),
                          capture_output=True, text=True, timeout=30, check=False)


class SshdRunner:
    """The checks' `sshd -T -f /etc/ssh/sshd_config`, run by the real sshd on `config`."""

    def __init__(self, config: Path, privsep: bool = True) -> None:
        self.config = config
        self.privsep = privsep
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str], timeout: float,
                 env: Mapping[str, str] | None) -> CommandResult:
        self.calls.append(list(argv))
        if argv and argv[0] == "sshd":
            args = [str(self.config) if a == CONFIG else a for a in argv[1:]]
            return subprocess_runner(in_private_run([SSHD, *args], self.privsep), timeout, env)
        return subprocess_runner(argv, timeout, env)


def listening(proc_net_tcp: str, port: int) -> bool:
    """A TCP socket in state LISTEN on `port` in a /proc/net/tcp(6) text."""
    for line in proc_net_tcp.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[3] == "0A" and fields[1].endswith(f":{port:04X}"):
            return True
    return False


def start_sshd(config: Path, popen: Callable[[list[str]], subprocess.Popen[str]],
               read_tcp: Callable[[], str], port: int) -> subprocess.Popen[str]:
    """A running sshd (-D: in the foreground, -e: logs on stderr) on `config`, once its socket
    on `port` listens; `popen` starts it where the test wants (here or in a namespace)."""
    proc = popen(in_private_run([SSHD, "-D", "-e", "-f", str(config)]))
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited: {proc.stderr.read() if proc.stderr else ''}")
        if listening(read_tcp(), port):
            return proc
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"sshd did not listen on port {port} within {WAIT_SECONDS:g} s")
