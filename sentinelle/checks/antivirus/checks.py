"""Antivirus: an engine runs on a file server, and ClamAV's signatures are fresh (ANSSI 14).

A file server is where ransomware drops and spreads files: a machine that shares folders over
Samba (smbd installed, a share section in smb.conf) or NFS (the NFS server installed, a path in
/etc/exports). The engines known are data
(processes and packages in rules/checks/antivirus.yaml). The age of ClamAV's signatures is the
build time written in each database's header, not the file's date nor "freshclam runs" (what
Lynis checks): a freshclam that runs and fails leaves old signatures.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sentinelle.checks.antivirus.clamav import (
    FRESHCLAM_CONF,
    PATTERNS,
    Database,
    HeaderError,
    database_directory,
    read_database,
)
from sentinelle.checks.base import Check, register
from sentinelle.facts import dpkg_installed, running_programs
from sentinelle.model import Finding, Status
from sentinelle.params import param

if TYPE_CHECKING:
    from sentinelle.host import Host

DAY = 86400.0
SMB_CONF = "/etc/samba/smb.conf"
EXPORTS = "/etc/exports"
EXPORTS_DIR = "/etc/exports.d"
# A share in a file is not a file server without the server that serves it (Debian's
# samba-common ships an smb.conf with [homes] even where smbd is not installed).
SMBD = ("/usr/sbin/smbd",)
NFSD = ("/usr/sbin/rpc.nfsd",)
CLAMAV_PROGRAMS = ("/usr/bin/clamscan", "/usr/sbin/clamd", "/usr/bin/freshclam")
MAX_DATABASES = 64


def samba_shares(host: Host, ignored: Iterable[str]) -> list[str]:
    """Share sections of smb.conf (not [global] nor the ignored ones)."""
    skip = {s.lower() for s in ignored} | {"global"}
    shares: list[str] = []
    for line in host.read_text(SMB_CONF, default="").splitlines():
        text = line.strip()
        if text.startswith("[") and "]" in text:
            name = text[1:text.index("]")].strip()
            if name.lower() not in skip:
                shares.append(name)
    return shares


def nfs_exports(host: Host) -> list[str]:
    """Exported paths of /etc/exports and /etc/exports.d/*.exports."""
    texts = [host.read_text(EXPORTS, default="")]
    texts += [p.read_text(encoding="utf-8", errors="replace")
              for p in sorted(host.glob(EXPORTS_DIR, "*.exports"))[:64]]
    return [line.split()[0] for text in texts for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


@register
class AntivirusEngine(Check):
    """An antivirus engine runs on a machine that shares files."""

    id = "antivirus.engine"
    platforms = frozenset({"linux"})

    @dataclass(frozen=True)
    class Params:
        engine_processes: tuple[str, ...] = param(doc="process names of known engines")
        engine_packages: tuple[str, ...] = param(doc="package names of known engines")
        ignored_samba_sections: tuple[str, ...] = param(
            doc="smb.conf sections that do not make a file server (printers)")
        required_everywhere: bool = param(doc="ask for an engine on every server")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        running = running_programs(host)
        if running is None:
            yield self.say(Status.SKIP, "no_proc", {}, {"reason": f"no /proc under {host.root}"})
            return
        engines = sorted(set(self.params.engine_processes) & running)
        packages = sorted(set(self.params.engine_packages) & (dpkg_installed(host) or set()))
        smbd = any(host.exists(p) for p in SMBD)
        nfsd = any(host.exists(p) for p in NFSD)
        shares = samba_shares(host, self.params.ignored_samba_sections) if smbd else []
        exports = nfs_exports(host) if nfsd else []
        file_server = bool(shares or exports)
        evidence: dict[str, Any] = {"running": engines, "installed": packages,
                                    "samba_shares": shares[:32], "nfs_exports": exports[:32],
                                    "file_server": file_server}
        if engines:
            yield self.say(Status.PASS, "running", {"engines": engines}, evidence)
        elif not file_server and not self.params.required_everywhere:
            yield self.say(Status.PASS, "not_file_server", {}, evidence)
        elif packages:
            yield self.say(Status.FAIL, "stopped", {"packages": packages}, evidence)
        elif file_server:
            yield self.say(Status.FAIL, "missing_on_file_server",
                           {"shares": (shares + exports)[:8]}, evidence)
        else:
            yield self.say(Status.FAIL, "missing", {}, evidence)


@register
class AntivirusSignatures(Check):
    """ClamAV's signature databases were built recently (their header's build time)."""

    id = "antivirus.signatures"
    platforms = frozenset({"linux"})

    @dataclass(frozen=True)
    class Params:
        max_age_days: float = param(minimum=0.1, maximum=365, doc="signatures at most this old")
        databases: tuple[str, ...] = param(
            doc="databases whose age counts (main is rebuilt rarely, on purpose)")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        conf = host.read_text(FRESHCLAM_CONF, default="")
        directory = database_directory(conf)
        if not conf and not any(host.exists(p) for p in CLAMAV_PROGRAMS) \
                and not host.path(directory).is_dir():
            yield self.say(Status.SKIP, "no_clamav", {},
                           {"reason": "ClamAV is not installed (no freshclam.conf, no clamscan)"})
            return
        found: dict[str, Database] = {}
        for count, path in enumerate(sorted(p for pattern in PATTERNS
                                            for p in host.glob(directory, pattern))):
            if count >= MAX_DATABASES:
                break
            shown = f"{directory.rstrip('/')}/{path.name}"
            try:
                db = read_database(path, shown)
            except (HeaderError, OSError) as exc:
                yield self.say(Status.ERROR, "unreadable", {"path": shown},
                               {"path": shown, "error": str(exc)}, key=path.stem)
                continue
            # A .cld and a .cvd of the same name: freshclam uses the newer.
            if path.stem not in found or db.built > found[path.stem].built:
                found[path.stem] = db
        evidence: dict[str, Any] = {
            "directory": directory,
            "databases": {name: {"file": db.file, "built": _iso(db), "version": db.version,
                                 "signatures": db.signatures} for name, db in found.items()},
        }
        if not found:
            yield self.say(Status.FAIL, "none", {"directory": directory}, evidence)
            return
        limit = self.params.max_age_days * DAY
        for name in self.params.databases:
            wanted = found.get(name)
            if wanted is None:
                yield self.say(Status.FAIL, "missing", {"database": name,
                                                        "directory": directory},
                               evidence, key=name)
                continue
            age = max(0.0, (host.now() - wanted.built).total_seconds())
            args = {"database": name, "built": _iso(wanted), "age": age, "limit": limit,
                    "version": wanted.version}
            case = "stale" if age > limit else "fresh"
            yield self.say(Status.FAIL if case == "stale" else Status.PASS, case, args,
                           evidence, key=name)


def _iso(db: Database) -> str:
    return db.built.isoformat(timespec="seconds").replace("+00:00", "Z")
