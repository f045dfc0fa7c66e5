"""Pending Debian/Ubuntu updates, computed by the real apt-get, and the age of its package lists.

The counts come from `apt-get -s upgrade` (a simulation: nothing is installed, no lock is taken),
so they agree with what an administrator sees when running the same command. On a fixture tree or
a mounted image, `-o Dir=ROOT` makes apt read that tree's dpkg status, sources and lists.

The agent may also keep its own copy of the package lists in its state directory
(`refresh_package_lists`): `apt-get update` then writes there, and the system's lists, caches and
update hooks are left alone. The pending-update count uses that copy when it is fresher.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sentinelle.checks.patching.commands import ToolFailed

if TYPE_CHECKING:
    from sentinelle.host import Host

SYSTEM_LISTS = "/var/lib/apt/lists"
# Written by apt's daily timer after each successful `apt-get update`: its mtime is the real
# fetch time, whereas apt gives list files the server's Last-Modified time.
UPDATE_SUCCESS_STAMP = "/var/lib/apt/periodic/update-success-stamp"
PKGCACHE = "/var/cache/apt/pkgcache.bin"
# Names of the index files whose mtime tells how fresh the lists are (Packages may be compressed).
LIST_PATTERNS = ("*_Packages", "*_Packages.*", "*_InRelease", "*_Release")
# Inside the agent's state directory.
AGENT_APT_DIR = "apt"
ROOT_STAMP = "lists.root"  # written after a successful refresh: which root the lists are for
REFRESH_CONF = "refresh.conf"

# Reading only: no lock (Debug::NoLocking) and no binary cache written next to the lists.
_READ_ONLY_OPTIONS = (
    "-o",
    "Debug::NoLocking=1",
    "-o",
    "Dir::Cache::pkgcache=",
    "-o",
    "Dir::Cache::srcpkgcache=",
)
# `apt-get update` runs the system's hooks (appstream, packagekit, command-not-found...), which
# write outside the agent's state directory; a config file given with -c is read after the
# system's, so it can clear them.
_REFRESH_CONF_TEXT = """\
// Written by sentinelle: refresh package lists into the agent's own state directory only.
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
#clear APT::Update::Post-Invoke-Stats;
"""

_PROXY_VARIABLES = ("http_proxy", "https_proxy", "no_proxy", "all_proxy")
_INST = re.compile(r"^Inst (?P<name>\S+)(?: \[(?P<old>[^\]]*)\])? \((?P<new>\S+)(?P<rest>[^)]*)\)")
_ARCH_SUFFIX = re.compile(r"\s*\[[^\]]*\]\s*$")
_SUMMARY = re.compile(
    r"^(\d+) upgraded, (\d+) newly installed, (\d+) to remove and (\d+) not upgraded\."
)


@dataclass(frozen=True)
class PendingPackage:
    """One `Inst` line of `apt-get -s upgrade`: a package and the version it would get."""

    name: str
    installed: str | None
    candidate: str
    origins: tuple[str, ...]

    @property
    def security(self) -> bool:
        return any(is_security_origin(o) for o in self.origins)


@dataclass(frozen=True)
class UpgradePlan:
    """What `apt-get -s upgrade` would do."""

    packages: tuple[PendingPackage, ...]
    kept_back: tuple[str, ...] = ()
    not_upgraded: int | None = None
    summary: str = ""

    @property
    def security(self) -> list[PendingPackage]:
        return [p for p in self.packages if p.security]

    @property
    def other(self) -> list[PendingPackage]:
        return [p for p in self.packages if not p.security]


def is_security_origin(release: str) -> bool:
    """True for an apt release description `Label:Version/Archive` of a security archive.

    Debian prints `Debian-Security:12/oldstable-security`, Ubuntu `Ubuntu:22.04/jammy-security`.
    """
    label, _, where = release.strip().rpartition(":")
    archive = where.rpartition("/")[2]
    return archive.lower().endswith("-security") or label.lower().endswith("-security")


def parse_upgrade_simulation(text: str) -> UpgradePlan:
    """Parse the output of `apt-get -s upgrade` (C locale)."""
    packages: list[PendingPackage] = []
    kept: list[str] = []
    not_upgraded: int | None = None
    summary = ""
    in_kept = False
    for line in text.splitlines():
        if in_kept:
            if line.startswith("  "):
                kept.extend(line.split())
                continue
            in_kept = False
        if line.startswith("The following packages have been kept back"):
            in_kept = True
            continue
        match = _INST.match(line)
        if match:
            rest = _ARCH_SUFFIX.sub("", match["rest"])
            origins = tuple(r.strip() for r in rest.split(",") if r.strip())
            packages.append(
                PendingPackage(match["name"], match["old"] or None, match["new"], origins)
            )
            continue
        counts = _SUMMARY.match(line)
        if counts:
            not_upgraded = int(counts[4])
            summary = line.strip()
    return UpgradePlan(tuple(packages), tuple(kept), not_upgraded, summary)


@dataclass(frozen=True)
class ListsState:
    """Where a set of package lists lives and how fresh it is."""

    source: str  # "system" or "agent"
    directory: Path  # real path on this machine
    updated: datetime | None  # None: no lists at all
    evidence_file: str = ""
    files: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)


def _newest(paths: Iterable[Path]) -> tuple[datetime | None, str, int]:
    best: tuple[float, str] | None = None
    count = 0
    for path in paths:
        try:
            mtime = path.stat().st_mtime
        except OSError:
            continue
        count += 1
        if best is None or mtime > best[0]:
            best = (mtime, str(path))
    if best is None:
        return None, "", 0
    return datetime.fromtimestamp(best[0], UTC), best[1], count


def _list_files(directory: Path) -> list[Path]:
    found: dict[str, Path] = {}
    if directory.is_dir():
        for pattern in LIST_PATTERNS:
            for path in directory.glob(pattern):
                if path.is_file():
                    found[path.name] = path
    return list(found.values())


def system_lists(host: Host) -> ListsState:
    """The inspected system's own lists: newest list file or update stamp, else pkgcache.bin."""
    directory = host.path(SYSTEM_LISTS)
    files = _list_files(directory)
    stamp = host.path(UPDATE_SUCCESS_STAMP)
    candidates = [*files, stamp] if stamp.is_file() else files
    updated, newest_file, _ = _newest(candidates)
    if updated is None:
        cache = host.path(PKGCACHE)
        updated, newest_file, _ = _newest([cache] if cache.is_file() else [])
    return ListsState("system", directory, updated, newest_file, len(files))


def agent_apt_dir(state_dir: str | Path) -> Path:
    return Path(state_dir) / AGENT_APT_DIR


def agent_lists(host: Host, state_dir: str | Path) -> ListsState | None:
    """The agent's own copy, when it was refreshed for this host's root; None otherwise."""
    apt_dir = agent_apt_dir(state_dir)
    stamp = apt_dir / ROOT_STAMP
    try:
        recorded_root = stamp.read_text(encoding="utf-8").strip()
        refreshed = datetime.fromtimestamp(stamp.stat().st_mtime, UTC)
    except OSError:
        return None
    if recorded_root != str(host.root.resolve()):
        return None
    lists = apt_dir / "lists"
    files = _list_files(lists)
    if not files:
        return None
    # The stamp's mtime is when the refresh succeeded: the lists hold what the mirrors had then.
    return ListsState("agent", lists, refreshed, str(stamp), len(files))


def lists_in_use(host: Host, state_dir: str | Path | None) -> ListsState:
    """The lists that `apt-get -s upgrade` is run with: the agent's copy when it is fresher."""
    system = system_lists(host)
    agent = agent_lists(host, state_dir) if state_dir else None
    if (
        agent is not None
        and agent.updated is not None
        and (system.updated is None or agent.updated >= system.updated)
    ):
        return agent
    return system


def simulate_argv(host: Host, lists: ListsState | None) -> list[str]:
    """The `apt-get -s upgrade` command line for this host and these lists."""
    argv = ["apt-get", "-s", *_READ_ONLY_OPTIONS]
    if not host.is_live:
        # Dir re-roots the sources, the dpkg status and the lists under the inspected tree
        # (apt has already read this machine's apt.conf.d by then: it does not change the plan).
        argv += ["-o", f"Dir={host.root.resolve()}"]
    if lists is not None and lists.source == "agent":
        argv += ["-o", f"Dir::State::Lists={lists.directory}"]
    argv.append("upgrade")
    return argv


def simulate_upgrade(
    host: Host, lists: ListsState | None, timeout: float, cache_dir: Path | None = None
) -> UpgradePlan:
    """Run `apt-get -s upgrade` and parse it; CommandError when apt fails.

    With `cache_dir`, the simulation's output is kept with a fingerprint of everything it
    depends on (dpkg status, package lists, apt configuration, apt itself): apt's resolver
    takes seconds on a large upgrade, and between two hourly cycles these inputs rarely change.
    """
    argv = simulate_argv(host, lists)
    fingerprint = _simulation_inputs(host, argv, lists) if cache_dir is not None else ""
    cache = cache_dir / SIMULATION_CACHE if cache_dir is not None else None
    if cache is not None:
        try:
            saved = json.loads(cache.read_text(encoding="utf-8"))
            if saved.get("inputs") == fingerprint and isinstance(saved.get("stdout"), str):
                return parse_upgrade_simulation(saved["stdout"])
        except (OSError, ValueError):
            pass  # no usable cache: simulate
    result = host.run(argv, timeout=timeout)
    if not result.ok:
        detail = " / ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
        raise ToolFailed("apt-get -s upgrade", result.returncode, detail)
    plan = parse_upgrade_simulation(result.stdout)
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(".tmp")
            tmp.write_text(
                json.dumps({"inputs": fingerprint, "stdout": result.stdout}), encoding="utf-8"
            )
            os.replace(tmp, cache)
        except OSError:
            pass  # a read-only state directory only costs speed
    return plan


SIMULATION_CACHE = "upgrade-simulation.json"
_SIMULATION_INPUTS = (
    "/var/lib/dpkg/status",
    "/etc/apt/sources.list",
    "/etc/apt/sources.list.d",
    "/etc/apt/preferences",
    "/etc/apt/preferences.d",
    "/etc/apt/apt.conf.d",
    "/etc/apt/trusted.gpg.d",
)


def _simulation_inputs(host: Host, argv: list[str], lists: ListsState | None) -> str:
    """A digest of the names, sizes and modification times of what apt's plan depends on."""
    digest = hashlib.sha256(json.dumps(argv).encode())
    paths = [host.path(p) for p in _SIMULATION_INPUTS]
    paths.append(lists.directory if lists is not None else host.path(SYSTEM_LISTS))
    apt_get = shutil.which("apt-get")
    if apt_get:
        paths.append(Path(apt_get))
    for path in paths:
        entries = sorted(path.iterdir()) if path.is_dir() else [path]
        for entry in entries:
            try:
                st = entry.stat()
            except OSError:
                continue
            digest.update(f"{entry}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class RefreshResult:
    """Outcome of `refresh_package_lists`."""

    lists_dir: Path
    argv: tuple[str, ...]
    warnings: tuple[str, ...]


def refresh_package_lists(
    state_dir: str | Path, host: Host | None = None, timeout: float = 600.0
) -> RefreshResult:
    """Run `apt-get update` into the agent's state directory, never into the system's lists.

    The lists go to STATE_DIR/apt/lists and apt's cache to STATE_DIR/apt/cache; the system's
    update hooks are cleared. Raises CommandError (a SentinelleError) when apt-get fails.
    """
    from sentinelle.host import Host

    host = host or Host()
    apt_dir = agent_apt_dir(state_dir)
    lists = apt_dir / "lists"
    cache = apt_dir / "cache"
    for directory in (lists / "partial", cache / "archives" / "partial"):
        directory.mkdir(parents=True, exist_ok=True)
    conf = apt_dir / REFRESH_CONF
    conf.write_text(_REFRESH_CONF_TEXT, encoding="utf-8")
    argv = ["apt-get", "-q", "-c", str(conf)]
    if not host.is_live:
        argv += ["-o", f"Dir={host.root.resolve()}"]
    argv += [
        "-o",
        f"Dir::State::Lists={lists}",
        "-o",
        f"Dir::Cache={cache}",
        "-o",
        "Dir::Cache::pkgcache=",
        "-o",
        "Dir::Cache::srcpkgcache=",
        "update",
    ]
    # Commands run with a minimal environment; a proxy given in the environment must follow.
    proxies = {k: v for k, v in os.environ.items() if k.lower() in _PROXY_VARIABLES}
    result = host.run(argv, timeout=timeout, env=proxies or None)
    warnings = tuple(
        line.strip() for line in result.stderr.splitlines() if line.startswith(("W:", "E:"))
    )
    if not result.ok or any(w.startswith("E:") for w in warnings):
        detail = " / ".join(warnings[-3:] or result.stdout.strip().splitlines()[-1:])
        raise ToolFailed("apt-get update", result.returncode, detail)
    (apt_dir / ROOT_STAMP).write_text(str(host.root.resolve()) + "\n", encoding="utf-8")
    return RefreshResult(lists, tuple(argv), warnings)
