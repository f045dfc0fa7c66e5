"""Network namespaces with a veth pair, for tests that need a real "LAN host" to talk to.

`veth_namespace()` creates a uniquely named namespace, a veth pair (one end in the root namespace,
the other inside the new namespace) and a private /30 picked in 10.213.0.0/16 that overlaps no
address or route of this machine; it checks that the namespace's address is routed through the
new veth, so traffic to it can go nowhere else. On exit it stops the processes started in the
namespace, deletes the veth and the namespace, and checks that both are gone.

Namespace names carry the creating process id (`sntl-test-<pid>-<hex>`), so a run can delete the
leftovers of an earlier run that crashed (its pid is dead) without touching a concurrent one.

    with veth_namespace() as ns:
        ns.start_tcp_listener(5901)
        ... scan ns.ns_address ...
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

PREFIX = "sntl-test"
POOL = ipaddress.ip_network("10.213.0.0/16")
COMMAND_TIMEOUT = 10.0
SUBNET_TRIES = 32
STOP_WAIT = 3.0

# A tiny TCP server for inside the namespace: accepts and closes connections until its lifetime
# is over, so it stops by itself even if the test that started it dies.
TCP_LISTENER = r"""
import socket, sys, time
host, port, lifetime = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port))
s.listen(16)
s.settimeout(0.2)
print("ready", flush=True)
end = time.monotonic() + lifetime
while time.monotonic() < end:
    try:
        conn, _ = s.accept()
    except TimeoutError:
        continue
    conn.close()
"""


class NetnsError(RuntimeError):
    """A namespace could not be set up or torn down."""


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `ip ARGS...` (no shell, bounded)."""
    proc = subprocess.run(
        ["ip", *args],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if check and proc.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {proc.stderr.strip() or proc.returncode}")
    return proc


def list_namespaces() -> list[str]:
    out = ip("netns", "list").stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cleanup_stale(prefix: str = PREFIX) -> list[str]:
    """Delete namespaces named `<prefix>-<pid>-<hex>` whose creating process is gone.

    Their veth goes with them (a veth pair dies with either end). Processes left inside were
    started with a bounded lifetime by an earlier run and end by themselves.
    """
    pattern = re.compile(rf"^{re.escape(prefix)}-(\d+)-[0-9a-f]+$")
    removed = []
    for name in list_namespaces():
        m = pattern.match(name)
        if m and not _pid_alive(int(m.group(1))):
            ip("netns", "del", name, check=False)
            removed.append(name)
    return removed


def _used_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 network this machine has an address in or a route to."""
    used: list[ipaddress.IPv4Network] = []
    for iface in json.loads(ip("-j", "-4", "addr", "show").stdout or "[]"):
        for a in iface.get("addr_info", []):
            used.append(ipaddress.IPv4Network(f"{a['local']}/{a['prefixlen']}", strict=False))
    for route in json.loads(ip("-j", "-4", "route", "show", "table", "all").stdout or "[]"):
        dst = route.get("dst", "")
        if dst and dst != "default":
            try:
                used.append(ipaddress.IPv4Network(dst, strict=False))
            except ValueError:
                continue
    return used


def _free_subnet() -> ipaddress.IPv4Network:
    used = [n for n in _used_networks() if n.prefixlen > 0]
    for _ in range(SUBNET_TRIES):
        index = secrets.randbelow(POOL.num_addresses // 4)
        subnet = ipaddress.IPv4Network((int(POOL.network_address) + 4 * index, 30))
        if not any(subnet.overlaps(n) for n in used):
            return subnet
    raise NetnsError(f"no free /30 found in {POOL} after {SUBNET_TRIES} tries")


@dataclass
class VethNamespace:
    """A live namespace: `ns_address` answers inside it, `host_address` is the root side."""

    name: str
    host_ifname: str
    ns_ifname: str
    host_address: str
    ns_address: str
    prefixlen: int
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def argv(self, argv: Sequence[str]) -> list[str]:
        """`argv` run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, argv: Sequence[str], timeout: float = COMMAND_TIMEOUT) -> str:
        """Run a command inside the namespace and return its output; raises on failure."""
        proc = subprocess.run(
            self.argv(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if proc.returncode != 0:
            raise NetnsError(f"{' '.join(argv)} in {self.name}: {proc.stderr.strip()}")
        return proc.stdout

    def popen(self, argv: Sequence[str]) -> subprocess.Popen[str]:
        """Start a process inside the namespace; it is stopped when the namespace is torn down."""
        proc = subprocess.Popen(
            self.argv(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(proc)
        return proc

    def start_tcp_listener(
        self, port: int, address: str = "0.0.0.0", lifetime: float = 30.0
    ) -> subprocess.Popen[str]:
        """A TCP server on `address:port` inside the namespace, ready when this returns."""
        proc = self.popen([sys.executable, "-c", TCP_LISTENER, address, str(port), str(lifetime)])
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], COMMAND_TIMEOUT)
        line = proc.stdout.readline() if ready else ""
        if line.strip() != "ready":
            proc.kill()
            err = proc.stderr.read() if proc.stderr and proc.poll() is not None else ""
            raise NetnsError(f"listener on {address}:{port} in {self.name} did not start: {err}")
        return proc

    def _stop_processes(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + STOP_WAIT
        for proc in self.processes:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(STOP_WAIT)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        # Anything else still inside was started by this test in its own fresh namespace: a
        # process left there would keep the namespace, and its veth and route, alive.
        pids = ip("netns", "pids", self.name, check=False).stdout.split()
        for pid in pids:
            if pid.isdigit():
                with suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)


def _wait_link_up(ifname: str, netns: str | None = None) -> None:
    deadline = time.monotonic() + COMMAND_TIMEOUT
    while time.monotonic() < deadline:
        args = (["-n", netns] if netns else []) + ["-j", "link", "show", "dev", ifname]
        info = json.loads(ip(*args).stdout or "[]")
        if info and info[0].get("operstate") == "UP":
            return
        time.sleep(0.05)
    raise NetnsError(f"{ifname} did not come up within {COMMAND_TIMEOUT:g} s")


def _teardown(ns: VethNamespace) -> None:
    ns._stop_processes()
    ip("link", "del", ns.host_ifname, check=False)  # takes the peer inside the namespace along
    ip("netns", "del", ns.name, check=False)
    deadline = time.monotonic() + COMMAND_TIMEOUT
    while time.monotonic() < deadline:
        gone_ns = ns.name not in list_namespaces()
        gone_link = ip("link", "show", "dev", ns.host_ifname, check=False).returncode != 0
        if gone_ns and gone_link:
            return
        time.sleep(0.05)
    raise NetnsError(f"namespace {ns.name} or veth {ns.host_ifname} still present after teardown")


@contextmanager
def veth_namespace(prefix: str = PREFIX) -> Iterator[VethNamespace]:
    """Create a namespace joined to the root namespace by a veth pair; always tear it down."""
    cleanup_stale(prefix)
    token = secrets.token_hex(3)
    subnet = _free_subnet()
    host_addr, ns_addr = (str(a) for a in subnet.hosts())
    ns = VethNamespace(
        name=f"{prefix}-{os.getpid()}-{token}",
        host_ifname=f"st{token}h",  # interface names are limited to 15 characters
        ns_ifname=f"st{token}p",
        host_address=host_addr,
        ns_address=ns_addr,
        prefixlen=subnet.prefixlen,
    )
    ip("netns", "add", ns.name)
    try:
        # Created with its peer already inside the namespace: no half-made pair can be left over.
        veth = ["type", "veth", "peer", "name", ns.ns_ifname, "netns", ns.name]
        ip("link", "add", ns.host_ifname, *veth)
        ip("addr", "add", f"{host_addr}/{subnet.prefixlen}", "dev", ns.host_ifname)
        ip("-n", ns.name, "addr", "add", f"{ns_addr}/{subnet.prefixlen}", "dev", ns.ns_ifname)
        ip("-n", ns.name, "link", "set", "lo", "up")
        ip("-n", ns.name, "link", "set", ns.ns_ifname, "up")
        ip("link", "set", ns.host_ifname, "up")
        _wait_link_up(ns.host_ifname)
        _wait_link_up(ns.ns_ifname, ns.name)
        route = json.loads(ip("-j", "route", "get", ns_addr).stdout or "[{}]")[0]
        if route.get("dev") != ns.host_ifname:
            raise NetnsError(f"{ns_addr} is routed via {route.get('dev')}, not {ns.host_ifname}")
        yield ns
    finally:
        _teardown(ns)
