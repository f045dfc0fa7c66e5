"""Files of the inspected system as policies read them: under the host's root, bounded in
size, and never outside the root.

A path in a policy is an absolute path of the inspected system (`/etc/shadow`). On a root other
than `/` (a fixture tree, a mounted image) it is resolved with its symlinks, and a path that
ends outside the root is refused: a policy file must not make the agent read the machine it
runs on in place of the tree it inspects. `..` is refused earlier, when the policy is loaded.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

from sentinelle.host import Host

# What a policy may read of one file unless it says less; a policy may not ask for more.
DEFAULT_MAX_BYTES = 1 << 20
MAX_BYTES = 16 << 20
# Files one glob may name (a drop-in directory), as checks bound their listings.
MAX_GLOB = 64


class Unseen(Exception):
    """What a condition could not look at: a case of the catalog's `policy.skip.*`, the
    arguments its sentence needs (`values`), and the reason in plain words for the evidence."""

    def __init__(self, case: str, values: dict[str, Any] | None = None,
                 reason: str = "") -> None:
        super().__init__(reason or case)
        self.case = case
        self.values = dict(values or {})
        self.reason = reason


def _os_unseen(exc: OSError, path: str) -> Unseen:
    if isinstance(exc, FileNotFoundError) or exc.errno == errno.ENOTDIR:
        return Unseen("not_found", {"path": path}, f"no {path}")
    if isinstance(exc, PermissionError):
        return Unseen("permission_denied", {"path": path}, f"{path}: permission denied")
    if isinstance(exc, IsADirectoryError):
        return Unseen("not_a_file", {"path": path}, f"{path}: a directory")
    return Unseen("unreadable", {"path": path}, f"{path}: {exc.strerror or type(exc).__name__}")


def resolve(host: Host, path: str) -> Path:
    """The real path of `path` under the host's root; Unseen("outside_root") when its
    symlinks lead out of a root that is not `/`."""
    mapped = host.path(path)
    if host.is_live:
        return mapped
    root = host.root.resolve()
    try:
        real = mapped.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise Unseen("unreadable", {"path": path}, f"{path}: {exc}") from exc
    if real != root and not real.is_relative_to(root):
        raise Unseen("outside_root", {"path": path},
                     f"{path} leads to {real}, outside the inspected root {root}")
    return real


def status(host: Host, path: str) -> os.stat_result | None:
    """The file's stat (its symlinks followed), None when it does not exist."""
    real = resolve(host, path)
    try:
        return real.stat()
    except OSError as exc:
        unseen = _os_unseen(exc, path)
        if unseen.case == "not_found":
            return None
        raise unseen from exc


def read_bounded(host: Host, path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """A regular file's text (UTF-8, undecodable bytes replaced); Unseen when it is absent,
    unreadable, not a regular file (a FIFO would block) or larger than `max_bytes`."""
    real = resolve(host, path)
    try:
        st = real.stat()
        if not stat.S_ISREG(st.st_mode):
            raise Unseen("not_a_file", {"path": path}, f"{path}: not a regular file")
        with real.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise _os_unseen(exc, path) from exc
    if len(data) > max_bytes:
        raise Unseen("too_large", {"path": path, "limit": max_bytes},
                     f"{path}: larger than {max_bytes} bytes")
    return data.decode("utf-8", errors="replace")


def expand(host: Host, pattern: str) -> list[str]:
    """The system paths a path names: itself, or when its last part is a glob (`*.conf`), the
    files it matches, sorted, at most MAX_GLOB of them."""
    directory, _, name = pattern.rpartition("/")
    if not any(c in name for c in "*?["):
        return [pattern]
    base = resolve(host, directory or "/")
    # Files only (a directory named like a drop-in is not one); links are judged when read.
    found = sorted(p.name for p in base.glob(name)
                   if p.is_symlink() or p.is_file()) if base.is_dir() else []
    return [f"{directory}/{n}" for n in found[:MAX_GLOB]]


def account_names(host: Host, database: str) -> dict[int, str]:
    """Numeric ids to names from the inspected system's /etc/passwd or /etc/group (empty when
    it cannot be read: the ids then stand for themselves)."""
    try:
        text = read_bounded(host, database)
    except Unseen:
        return {}
    names: dict[int, str] = {}
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[2].isdigit():
            names.setdefault(int(parts[2]), parts[0])
    return names
