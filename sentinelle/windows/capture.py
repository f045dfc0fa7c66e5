"""Captures: every Windows collector's raw output saved in a directory (`sentinelle agent
record --out DIR`), redacted, and replayed later through a Host (`sentinelle check --capture
DIR`, the tests).

A capture directory holds one file per collector (`<name>.json` or `<name>.txt`, exactly what
the collector printed, after redaction) and `capture.json`: when and on what it was recorded
(OS build, PowerShell version, culture), where it comes from (`source`), each collector's exit
status, and what was redacted. A collector that failed at recording has no file but its error
in `capture.json`, so its replay fails the same way.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentinelle.errors import CommandError, CommandNotFound, SentinelleError
from sentinelle.host import CommandResult, Host, Runner
from sentinelle.windows import psjson
from sentinelle.windows.collectors import COLLECTORS, collect

if TYPE_CHECKING:
    from sentinelle.checks.base import Check

MANIFEST = "capture.json"
FORMAT = 1
HOST_PLACEHOLDER = "HOST"
# Sids of a machine or a domain: S-1-5-21-<three numbers>-<RID>; the three numbers say which
# machine or domain, the RID (500 Administrator, 501 Guest, 512 Domain Admins) what it is.
_DOMAIN_SID = re.compile(r"S-1-5-21-\d+-\d+-\d+")
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")
_IPV6 = re.compile(r"(?<![0-9A-Za-z:])([0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})"
                   r"(?:%\d+)?(?![0-9A-Za-z:])")
_MAC = re.compile(r"\b[0-9A-Fa-f]{2}(?:[-:][0-9A-Fa-f]{2}){5}\b")


class CaptureError(SentinelleError, ValueError):
    """A capture directory that cannot be replayed (missing or broken capture.json)."""


@dataclass
class Redactor:
    """Replaces what names a town hall or a person: the host and domain names, user names,
    machine SIDs, addresses (each distinct one by its own documentation address, so that
    "listening on an address of the network" survives), MAC addresses."""

    names: dict[str, str]

    @classmethod
    def for_machine(cls, hostnames: Iterable[str], users: Iterable[str]) -> Redactor:
        names: dict[str, str] = {}
        for host in hostnames:
            if host and len(host) >= 2:
                names[host] = HOST_PLACEHOLDER
        for n, user in enumerate(sorted({u for u in users if u and len(u) >= 2}), start=1):
            names.setdefault(user, f"user{n}")
        return cls(names)

    def __post_init__(self) -> None:
        self._v4: dict[str, str] = {}
        self._v6: dict[str, str] = {}

    def _address(self, match: re.Match[str]) -> str:
        text = match.group(1)
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return match.group(0)
        if address.is_loopback or address.is_unspecified:
            return match.group(0)
        table, base = (self._v4, "192.0.2.") if address.version == 4 else (self._v6,
                                                                          "2001:db8::")
        if text not in table:
            table[text] = f"{base}{len(table) + 1}"
        return match.group(0).replace(text, table[text])

    def __call__(self, text: str) -> str:
        # Longest first: "MAIRIE-SRV01" before "MAIRIE".
        for name in sorted(self.names, key=len, reverse=True):
            text = re.sub(rf"(?<![0-9A-Za-z]){re.escape(name)}(?![0-9A-Za-z])",
                          self.names[name].replace("\\", "\\\\"), text, flags=re.IGNORECASE)
        text = _DOMAIN_SID.sub("S-1-5-21-0-0-0", text)
        text = _MAC.sub("00-00-5E-00-53-00", text)
        text = _IPV4.sub(self._address, text)
        return _IPV6.sub(self._address, text)


def _names_to_redact(host: Host) -> tuple[list[str], list[str]]:
    """The host, domain and user names the live machine's own collectors print."""
    hostnames: list[str] = []
    users: list[str] = []
    try:
        env = psjson.loads(collect(host, "environment"))
        if isinstance(env, dict):
            hostnames += [str(env.get(k) or "") for k in ("ComputerName", "Domain")]
    except (CommandError, psjson.PsJsonError):
        pass
    # People's accounts (RID 1000 and up); the built-in ones (Administrateur, Invité…) name
    # nobody and stay, so a replay still knows which is which.
    try:
        for user in psjson.records(psjson.loads(collect(host, "local_users"))):
            if _personal(user.get("SID")):
                users.append(str(user.get("Name") or ""))
    except (CommandError, psjson.PsJsonError):
        pass
    try:
        for member in psjson.records(psjson.loads(collect(host, "local_admins"))):
            name = str(member.get("Name") or "")
            if "\\" in name:
                hostnames.append(name.split("\\")[0])
            if _personal(member.get("SID")):
                users += name.split("\\")[-1:]
    except (CommandError, psjson.PsJsonError):
        pass
    import os
    import socket

    if host.is_live:
        hostnames += [socket.gethostname(), os.environ.get("COMPUTERNAME", ""),
                      os.environ.get("USERDOMAIN", "")]
        users.append(os.environ.get("USERNAME", ""))
    return hostnames, users


def _personal(sid: Any) -> bool:
    tail = str(sid or "").rsplit("-", 1)[-1]
    return str(sid or "").startswith("S-1-5-21-") and tail.isdigit() and int(tail) >= 1000


def record(host: Host, out: Path, source: str,
           names: Sequence[str] = tuple(COLLECTORS)) -> dict[str, Any]:
    """Run every collector on `host`, redact and write each output under `out`; returns the
    manifest written to `out/capture.json`."""
    out.mkdir(parents=True, exist_ok=True)
    hostnames, users = _names_to_redact(host)
    redact = Redactor.for_machine(hostnames, users)
    results: dict[str, Any] = {}
    outputs: dict[str, str] = {}
    for name in names:
        collector = COLLECTORS[name]
        try:
            raw = collect(host, name)
        except CommandNotFound as exc:
            results[name] = {"status": "not_found", "error": redact(str(exc))}
            continue
        except CommandError as exc:
            results[name] = {"status": "failed", "error": redact(str(exc))}
            continue
        outputs[name] = raw
        (out / collector.filename).write_text(redact(raw), encoding="utf-8")
        results[name] = {"status": "ok"}
    env = _parsed(outputs.get("environment"))
    os_info = _parsed(outputs.get("os"))
    version = (os_info or {}).get(r"SOFTWARE\Microsoft\Windows NT\CurrentVersion", {})
    values = version.get("values", {}) if isinstance(version, dict) else {}
    manifest = {
        "format": FORMAT,
        "source": source,
        "recorded_at": host.now().astimezone(UTC).isoformat(timespec="seconds"),
        "os_build": ".".join(str(values[k]) for k in ("CurrentBuildNumber", "UBR")
                             if k in values) or None,
        "os_edition": values.get("EditionID"),
        "powershell": (env or {}).get("PSVersion"),
        "culture": (env or {}).get("Culture"),
        "redacted": ["host and domain names", "user names", "machine SIDs",
                     "IP and MAC addresses"],
        "collectors": results,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                encoding="utf-8")
    return manifest


def _parsed(raw: str | None) -> Any:
    try:
        value = psjson.loads(raw or "")
    except psjson.PsJsonError:
        return None
    return value if isinstance(value, dict) else None


def load_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CaptureError(f"{path}: no capture here (no {MANIFEST})") from exc
    except json.JSONDecodeError as exc:
        raise CaptureError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("collectors"), dict):
        raise CaptureError(f"{path}: key 'collectors': expected a mapping of collector names")
    if not isinstance(data.get("recorded_at"), str):
        raise CaptureError(f"{path}: key 'recorded_at': expected an RFC 3339 time")
    return data


def replay_runner(directory: Path, strict: bool = False) -> Runner:
    """A runner that answers each collector's exact command with its recorded output. Any
    other command raises: CommandNotFound (what was not recorded cannot be seen), or with
    `strict` an AssertionError (a test must not ask for what nobody recorded)."""
    manifest = load_manifest(directory)
    by_argv = {c.argv(): c for c in COLLECTORS.values()}

    def run(argv: Sequence[str], timeout: float, env: Mapping[str, str] | None) -> CommandResult:
        collector = by_argv.get(tuple(argv))
        if collector is None:
            if strict:
                raise AssertionError(f"command not in the capture: {list(argv)[:3]}")
            raise CommandNotFound(f"{argv[0]}: not in the capture")
        state = manifest["collectors"].get(collector.name)
        path = directory / collector.filename
        if not isinstance(state, dict) or state.get("status") == "not_found":
            raise CommandNotFound(f"{collector.name}: not recorded in this capture")
        if state.get("status") == "failed":
            return CommandResult(tuple(argv), 1, "", str(state.get("error", "")), 0.0)
        try:
            stdout = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise CommandNotFound(f"{collector.name}: {path.name} missing") from exc
        return CommandResult(tuple(argv), 0, stdout, "", 0.0)

    return run


def answers_from_capture(check: Check) -> bool:
    """Whether a capture can answer the check: the Windows-only checks, and the end of
    support (from the build it recorded); not the ports or backup locations, which look at
    the machine the command runs on."""
    return check.platforms == frozenset({"windows"}) or check.id == "patching.os_support"


def replay_host(directory: Path, strict: bool = False,
                clock: Callable[[], datetime] | None = None) -> Host:
    """A Windows Host on a capture: its collectors answered from the files, its clock the
    time of the recording (ages are judged as they were then), unless `clock` says."""
    manifest = load_manifest(directory)
    recorded_at = psjson.timestamp(manifest["recorded_at"])
    if recorded_at is None:
        raise CaptureError(f"{directory / MANIFEST}: key 'recorded_at': not a time")
    return Host(root=directory, runner=replay_runner(directory, strict),
                clock=clock or (lambda: recorded_at), platform="windows")
