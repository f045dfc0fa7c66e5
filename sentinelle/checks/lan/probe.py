"""What a device leaves open: an nmap TCP connect scan of its usual ports (run through the Host
runner, with a hard timeout, like ports.network_scan), then a word with the web and RTSP
services found, to tell a clear-text admin page and a camera stream open to anyone."""

from __future__ import annotations

import socket
from collections.abc import Sequence

MAX_ANSWER_BYTES = 4096


def probe_argv(ips: Sequence[str], ports: str, host_timeout_seconds: float, rate: int) -> list[str]:
    """A TCP connect scan (no raw socket needed) of exactly `ips`, nothing else: -Pn (the ARP
    answer already proved them alive), -n (no DNS), bounded per host and in packet rate."""
    timeout_ms = max(1000, int(host_timeout_seconds * 1000))
    return ["nmap", "-sT", "-Pn", "-n", "--max-retries", "1", "--max-rate", str(rate),
            "--host-timeout", f"{timeout_ms}ms", "-p", ports, "-oX", "-", "--", *ips]


def _exchange(ip: str, port: int, request: bytes, timeout: float) -> bytes:
    """Send `request` and read the answer's first bytes ('' when nothing comes back)."""
    try:
        with socket.create_connection((ip, port), timeout=timeout) as sock:
            sock.sendall(request)
            chunks: list[bytes] = []
            size = 0
            while size < MAX_ANSWER_BYTES and b"\r\n\r\n" not in b"".join(chunks):
                chunk = sock.recv(1024)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            return b"".join(chunks)
    except OSError:
        return b""


def _status(answer: bytes, protocol: str) -> tuple[int, dict[str, str]]:
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1", "replace").split("\r\n")
    words = head[0].split() if head else []
    if len(words) < 2 or not words[0].upper().startswith(protocol) or not words[1].isdigit():
        return 0, {}
    headers = {}
    for line in head[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(words[1]), headers


def http_cleartext(ip: str, port: int, timeout: float) -> bool:
    """True when the port answers HTTP in clear without sending the browser to HTTPS."""
    request = f"GET / HTTP/1.0\r\nHost: {ip}\r\nUser-Agent: sentinelle\r\n\r\n".encode()
    status, headers = _status(_exchange(ip, port, request, timeout), "HTTP/")
    if status == 0:
        return False
    redirected = 300 <= status < 400 and headers.get("location", "").lower().startswith("https:")
    return not redirected


def rtsp_open(ip: str, port: int, timeout: float) -> bool:
    """True when an RTSP DESCRIBE of the stream root is answered 200 with no password asked."""
    url = f"rtsp://{ip}:{port}/"
    request = (f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n"
               "User-Agent: sentinelle\r\n\r\n").encode()
    status, headers = _status(_exchange(ip, port, request, timeout), "RTSP/")
    return status == 200 and "www-authenticate" not in headers
