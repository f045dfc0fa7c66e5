"""A real chronyd in a mount and network namespace of the test's own.

`chrony_namespace(with_server)` starts a holder process in fresh mount and network namespaces
(`unshare --mount --net`), with a tmpfs over /run there (chronyd's socket and pid files never
touch the machine's /run) and loopback up; a client chronyd (`-x`: it never sets the clock)
polls 127.0.0.1, where, `with_server`, a second chronyd serves its own clock (`local
stratum 8`). The yielded runner runs a Host's commands inside (`nsenter`). Everything started
is stopped on exit; every wait is bounded.
"""

from __future__ import annotations

import select
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from sentinelle.host import CommandResult, Runner, subprocess_runner

PORT = 11123
WAIT = 20.0
HOLDER = ("mount -t tmpfs tmpfs /run && mkdir -m 0750 /run/chrony && "
          "chown _chrony:_chrony /run/chrony && ip link set lo up && echo ready && exec sleep 120")
SERVER_CONF = f"""local stratum 8
allow 127.0.0.1
port {PORT}
cmdport 0
bindcmdaddress /
pidfile /run/chrony-server.pid
"""
CLIENT_CONF = f"""server 127.0.0.1 port {PORT} iburst minpoll -6 maxpoll -6
port 0
pidfile /run/chrony/chronyd.pid
"""


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


@contextmanager
def chrony_namespace(tmp: Path, with_server: bool) -> Iterator[Runner]:
    started: list[subprocess.Popen[str]] = []
    holder = subprocess.Popen(["unshare", "--mount", "--net", "--propagation", "private",
                               "--", "sh", "-c", HOLDER], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started.append(holder)
    try:
        assert holder.stdout is not None
        ready, _, _ = select.select([holder.stdout], [], [], WAIT)
        if not ready or holder.stdout.readline().strip() != "ready":
            raise RuntimeError("the namespace holder did not start")
        enter = ["nsenter", "--target", str(holder.pid), "--mount", "--net", "--"]
        confs = [("client", CLIENT_CONF)]
        if with_server:
            confs.insert(0, ("server", SERVER_CONF))
        for name, text in confs:
            conf = tmp / f"{name}.conf"
            conf.write_text(text)
            started.append(subprocess.Popen([*enter, "chronyd", "-d", "-x", "-f", str(conf)],
                                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, text=True))

        def runner(argv: Sequence[str], timeout: float,
                   env: Mapping[str, str] | None) -> CommandResult:
            result = subprocess_runner([*enter, *argv], timeout, env)
            return CommandResult(tuple(argv), result.returncode, result.stdout, result.stderr,
                                 result.duration_seconds)

        # Ready when the client answers, and (with a server) once it has selected it.
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            out = runner(["chronyc", "-n", "tracking"], 5.0, None).stdout
            if "Leap status" in out and (not with_server or "Normal" in out):
                break
            time.sleep(0.2)
        yield runner
    finally:
        for proc in reversed(started):
            _stop(proc)
