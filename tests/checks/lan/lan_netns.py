"""A small town-hall LAN in network namespaces, for the lan checks and bench/lan.py.

One namespace is the server (`sntl-lan-<pid>-<hex>-srv`): it holds a bridge with the LAN's
address; each device is a namespace joined to that bridge by a veth pair whose device end has
a MAC address with a real vendor prefix, and small listeners on its usual ports (an HTTP admin
page, an RTSP server answering without a password, telnet, SMB, JetDirect). The subnet lies in
10.214.0.0/16 and exists only inside these namespaces. The agent runs inside the server
namespace (`ip netns exec`), so nothing it sends can reach another network. Everything is torn
down on exit, also when the test fails; a crashed run's leftovers are deleted by the next one.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import select
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from tests.checks.netns import NetnsError, ip, list_namespaces

PREFIX = "sntl-lan"
COMMAND_TIMEOUT = 10.0
LIFETIME = 120.0

# A listener for inside a device namespace: `kind` is tcp (accept and close), http (a login
# page in clear), rtsp (answers OPTIONS and DESCRIBE with 200, no password asked) or
# rtsp_auth (answers 401 with a challenge). Stops by itself after its lifetime.
LISTENER = r"""
import socket, sys, time, threading
kind, port, lifetime = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port))
s.listen(32)
s.settimeout(0.2)
print("ready", flush=True)
def serve(conn):
    conn.settimeout(2)
    try:
        if kind == "http":
            conn.recv(4096)
            body = b"<html><form>mot de passe</form></html>"
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
        elif kind.startswith("rtsp"):
            data = conn.recv(4096).decode("latin-1")
            cseq = "1"
            for line in data.split("\r\n"):
                if line.lower().startswith("cseq:"):
                    cseq = line.split(":", 1)[1].strip()
            if kind == "rtsp":
                sdp = "v=0\r\ns=camera\r\n"
                conn.sendall(("RTSP/1.0 200 OK\r\nCSeq: " + cseq + "\r\nContent-Type: "
                              "application/sdp\r\nContent-Length: " + str(len(sdp)) + "\r\n\r\n"
                              + sdp).encode())
            else:
                conn.sendall(("RTSP/1.0 401 Unauthorized\r\nCSeq: " + cseq + "\r\n"
                              'WWW-Authenticate: Digest realm="cam", nonce="x"\r\n\r\n').encode())
    except OSError:
        pass
    finally:
        conn.close()
end = time.monotonic() + lifetime
while time.monotonic() < end:
    try:
        conn, _ = s.accept()
    except TimeoutError:
        continue
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""


@dataclass(frozen=True)
class DeviceSpec:
    """A device to plug in: its MAC, and listeners as (kind, port)."""

    name: str
    mac: str
    listeners: tuple[tuple[str, int], ...] = ()


# Real vendor prefixes (IEEE registry, as netaddr ships it).
CAMERA = DeviceSpec("cam", "44:19:b6:10:00:01", (("http", 80), ("rtsp", 554), ("tcp", 23)))
NAS = DeviceSpec("nas", "00:11:32:10:00:02", (("tcp", 445), ("http", 5000), ("tcp", 5001)))
PRINTER = DeviceSpec("prn", "3c:d9:2b:10:00:03", (("tcp", 9100), ("tcp", 443)))
PC = DeviceSpec("pc", "00:14:22:10:00:04", ())
STANDARD = (CAMERA, NAS, PRINTER, PC)


@dataclass
class Lan:
    """A live LAN: the server namespace and the devices' addresses by name."""

    server: str
    subnet: ipaddress.IPv4Network
    server_address: str
    bridge: str
    devices: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (ns, ip)
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def ip_of(self, name: str) -> str:
        return self.devices[name][1]

    def argv(self, argv: Sequence[str], ns: str | None = None) -> list[str]:
        return ["ip", "netns", "exec", ns or self.server, *argv]

    def run(self, argv: Sequence[str], ns: str | None = None,
            timeout: float = COMMAND_TIMEOUT, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
        """Run a command in the server namespace (or `ns`)."""
        return subprocess.run(self.argv(argv, ns), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, check=False, env=env)

    def popen(self, argv: Sequence[str], env: dict[str, str] | None = None
              ) -> subprocess.Popen[str]:
        """A process in the server namespace, stopped at teardown."""
        proc = subprocess.Popen(self.argv(argv), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env)
        self.processes.append(proc)
        return proc

    def listen(self, ns: str, kind: str, port: int) -> None:
        proc = subprocess.Popen(
            self.argv([sys.executable, "-c", LISTENER, kind, str(port), str(LIFETIME)], ns),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.processes.append(proc)
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], COMMAND_TIMEOUT)
        if not ready or proc.stdout.readline().strip() != "ready":
            proc.kill()
            raise NetnsError(f"{kind} listener on {port} in {ns} did not start")

    def ping_from_server(self, name: str) -> None:
        """Real traffic from the server to a device (a TCP connection attempt, answered by a
        reset when nothing listens): fills the server's neighbour table as any use would."""
        code = ("import socket; s = socket.socket(); s.settimeout(2)\n"
                f"try: s.connect(({self.ip_of(name)!r}, 9))\n"
                "except ConnectionRefusedError: pass\n")
        out = self.run([sys.executable, "-c", code])
        if out.returncode != 0:
            raise NetnsError(f"no answer from {name}: {out.stderr}")


def cleanup_stale() -> None:
    pattern = re.compile(rf"^{PREFIX}-(\d+)-[0-9a-f]+-")
    for name in list_namespaces():
        m = pattern.match(name)
        if m:
            pid = int(m.group(1))
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                ip("netns", "del", name, check=False)
            except PermissionError:
                pass


@contextmanager
def namespace_lan(devices: Sequence[DeviceSpec] = STANDARD, prefixlen: int = 24) -> Iterator[Lan]:
    """Build the LAN, yield it, and always tear it down."""
    cleanup_stale()
    token = secrets.token_hex(3)
    base = f"{PREFIX}-{os.getpid()}-{token}"
    third = secrets.randbelow(250)
    subnet = ipaddress.IPv4Network((f"10.214.{third}.0", prefixlen), strict=False)
    hosts = subnet.hosts()
    server_address = str(next(hosts))
    lan = Lan(f"{base}-srv", subnet, server_address, "br0")
    made: list[str] = []
    try:
        ip("netns", "add", lan.server)
        made.append(lan.server)
        srv = ["-n", lan.server]
        ip(*srv, "link", "set", "lo", "up")
        ip(*srv, "link", "add", "br0", "type", "bridge")
        ip(*srv, "addr", "add", f"{server_address}/{prefixlen}", "dev", "br0")
        ip(*srv, "link", "set", "br0", "up")
        for i, spec in enumerate(devices):
            ns = f"{base}-{spec.name}"
            address = str(next(hosts))
            ip("netns", "add", ns)
            made.append(ns)
            port = f"vp{i}"
            ip(*srv, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
            ip(*srv, "link", "set", port, "master", "br0")
            ip(*srv, "link", "set", port, "up")
            ip("-n", ns, "link", "set", "eth0", "address", spec.mac)
            ip("-n", ns, "addr", "add", f"{address}/{prefixlen}", "dev", "eth0")
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "link", "set", "eth0", "up")
            lan.devices[spec.name] = (ns, address)
            for kind, listen_port in spec.listeners:
                lan.listen(ns, kind, listen_port)
        yield lan
    finally:
        for proc in lan.processes:
            if proc.poll() is None:
                proc.kill()
            with suppress(subprocess.TimeoutExpired):
                proc.wait(3)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        for ns in reversed(made):
            for pid in ip("netns", "pids", ns, check=False).stdout.split():
                with suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), 9)
            ip("netns", "del", ns, check=False)
        left = [n for n in list_namespaces() if n in made]
        if left:
            raise NetnsError(f"namespaces still present after teardown: {left}")
