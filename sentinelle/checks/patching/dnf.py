"""Pending updates on RHEL-family systems (RHEL, Rocky, AlmaLinux, CentOS, Fedora), from dnf.

Two read-only dnf commands, both on the metadata already cached (`-C`: no download, no cache
write): `dnf -C check-update` lists every pending update, and `dnf -C updateinfo list --security
--available` the ones that fix a security advisory. Without `-q` on purpose: with `-C` and no
cached metadata, dnf exits 0 and says so only on stderr, which `-q` silences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sentinelle.checks.patching.commands import ToolFailed

if TYPE_CHECKING:
    from sentinelle.host import Host

DNF_CACHE = "/var/cache/dnf"
DNF_RPM_LOG = "/var/log/dnf.rpm.log"
# check-update: 0 = nothing pending, 100 = updates pending, anything else = failure.
CHECK_UPDATE_PENDING = 100
_STOP_SECTIONS = ("Obsoleting Packages", "Security:", "Upgraded Packages")
_METADATA_LINE = re.compile(r"^Last metadata expiration check: (?P<ago>\S+) ago on (?P<when>.+)\.$")
_ADVISORY = re.compile(r"^(?P<id>\S+)\s+(?P<kind>\S+)\s+(?P<nevra>\S+)\s*$")


@dataclass(frozen=True)
class DnfUpdates:
    """Pending updates as dnf reports them, by `name.arch`."""

    pending: tuple[str, ...]
    security: tuple[str, ...]
    advisories: tuple[str, ...]
    metadata_checked: str = ""  # dnf's "Last metadata expiration check" line, as printed

    @property
    def other(self) -> list[str]:
        sec = set(self.security)
        return [p for p in self.pending if p not in sec]


def nevra_name_arch(nevra: str) -> str:
    """`openssl-libs-1:3.0.7-27.el9.x86_64` -> `openssl-libs.x86_64`."""
    stem, _, arch = nevra.rpartition(".")
    name = stem.rsplit("-", 2)[0] if stem.count("-") >= 2 else stem
    return f"{name}.{arch}"


def _metadata_note(text: str) -> str:
    for line in text.splitlines():
        if _METADATA_LINE.match(line.strip()):
            return line.strip()
    return ""


def parse_check_update(text: str) -> list[str]:
    """`name.arch` of each update listed by `dnf check-update` (not the obsoleting section)."""
    found: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or _METADATA_LINE.match(line):
            continue
        if line.startswith(_STOP_SECTIONS):
            break
        fields = line.split()
        if len(fields) == 3 and "." in fields[0]:
            found.append(fields[0])
    return found


def parse_updateinfo(text: str) -> list[tuple[str, str, str]]:
    """(advisory, type/severity, `name.arch`) of each line of `dnf updateinfo list`."""
    rows: list[tuple[str, str, str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or _METADATA_LINE.match(line):
            continue
        match = _ADVISORY.match(line)
        if match and "." in match["nevra"]:
            rows.append((match["id"], match["kind"], nevra_name_arch(match["nevra"])))
    return rows


def _dnf_argv(host: Host, *args: str) -> list[str]:
    argv = ["dnf"]
    if not host.is_live:
        argv.append(f"--installroot={host.root.resolve()}")
    return [*argv, "-C", *args]


def _problems(stderr: str) -> list[str]:
    # dnf reports a missing cache or a broken repository on stderr, sometimes with exit 0.
    return [
        line.strip()
        for line in stderr.splitlines()
        if line.startswith(("Error:", "Ignoring repositories:"))
    ]


def query_dnf(host: Host, timeout: float) -> DnfUpdates:
    """Run both dnf commands and combine them; CommandError when dnf could not answer."""
    check = host.run(_dnf_argv(host, "check-update"), timeout=timeout)
    problems = _problems(check.stderr)
    if check.returncode not in (0, CHECK_UPDATE_PENDING) or problems:
        detail = " / ".join(problems or check.stderr.strip().splitlines()[-3:])
        raise ToolFailed("dnf check-update", check.returncode, detail)
    info = host.run(
        _dnf_argv(host, "updateinfo", "list", "--security", "--available"), timeout=timeout
    )
    problems = _problems(info.stderr)
    if not info.ok or problems:
        detail = " / ".join(problems or info.stderr.strip().splitlines()[-3:])
        raise ToolFailed("dnf updateinfo", info.returncode, detail)
    pending = list(dict.fromkeys(parse_check_update(check.stdout)))
    rows = parse_updateinfo(info.stdout)
    # An advisory may name a version that is not installable here (excluded, other stream):
    # only what check-update would install counts.
    pending_set = set(pending)
    security = list(dict.fromkeys(na for _, _, na in rows if na in pending_set))
    advisories = sorted({adv for adv, _, na in rows if na in pending_set})
    return DnfUpdates(
        tuple(pending), tuple(security), tuple(advisories), _metadata_note(check.stdout)
    )


def dnf_metadata_updated(host: Host) -> tuple[datetime | None, str]:
    """When dnf last downloaded repository metadata: newest cached repomd.xml."""
    best: tuple[float, Path] | None = None
    cache = host.path(DNF_CACHE)
    if cache.is_dir():
        for path in cache.glob("*/repodata/repomd.xml"):
            try:
                mtime = path.stat().st_mtime
            except OSError:
                continue
            if best is None or mtime > best[0]:
                best = (mtime, path)
    if best is None:
        return None, ""
    return datetime.fromtimestamp(best[0], UTC), str(best[1])
