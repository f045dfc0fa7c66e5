"""The SSH server's effective settings, as `sshd -T` prints them.

On this machine the checks run `sshd -T -f CONFIG`: sshd's own parser applies the drop-ins, the
first-value-wins rule, the aliases and the compiled-in defaults, so what the checks judge is
what the server does. On a fixture tree or a mounted image (a Host root that is not `/`), and on
this machine when sshd has never been started (it refuses `-T` without its privilege separation
directory, /run/sshd, which its service creates), sshd cannot be asked (on a tree, its
`Include` lines name absolute paths that sshd would resolve on this machine). There the files are
read the way sshd reads them (`read_files`), for the few keys the checks use, with OpenSSH's
defaults; evidence says which source answered (`sshd -T` or `files`).
tests/checks/ssh/test_sshd_real.py holds the two to the same answers on the same configuration.

Match blocks: sshd -T without -C prints the global settings only, and a Match block applies
to some users or addresses only. So the global settings are judged, and what Match blocks set
is read from the files (`SshdSettings.overrides`, on this machine too): a check whose global
value passes fails when a Match block loosens it for someone.
"""

from __future__ import annotations

import fnmatch
import shlex
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from sentinelle.errors import CommandError, CommandNotFound

if TYPE_CHECKING:
    from sentinelle.host import Host

CONFIG = "/etc/ssh/sshd_config"
SSHD_TIMEOUT_SECONDS = 10.0
# Bounds: sshd -T prints about a hundred lines; a tree's Include chain is followed this deep.
MAX_OUTPUT_LINES = 4096
MAX_INCLUDE_DEPTH = 16
MAX_INCLUDED_FILES = 256
MAX_OVERRIDES = 64
# sshd's error when its service never started: Debian creates /run/sshd when ssh.service starts
# (RuntimeDirectory=sshd), so a stopped server cannot even print its settings.
PRIVSEP_MISSING = "privilege separation directory"

# OpenSSH's defaults (sshd_config(5), servconf.c: fill_default_server_options) for the keys the
# checks read, in the words sshd -T prints them.
DEFAULTS: dict[str, list[str]] = {
    "port": ["22"],
    "permitrootlogin": ["without-password"],
    "passwordauthentication": ["yes"],
    "kbdinteractiveauthentication": ["yes"],
    "usepam": ["no"],
    "permitemptypasswords": ["no"],
    "authenticationmethods": ["any"],
}
# Keys whose every line adds values (the others: the first line wins).
LISTS = frozenset({"port", "listenaddress", "allowusers", "allowgroups", "include"})
NAME_LISTS = frozenset({"allowusers", "allowgroups", "authenticationmethods"})
# Keys whose one line holds several values (the first line still wins).
MULTI_VALUED = frozenset({"authenticationmethods"})
# Old spellings sshd accepts, and the name sshd -T prints.
ALIASES = {
    "challengeresponseauthentication": "kbdinteractiveauthentication",
}
# Values sshd -T prints differently from how they may be written.
VALUE_ALIASES = {("permitrootlogin", "prohibit-password"): "without-password"}
# Keys whose value is a keyword (case-insensitive in sshd), not a name.
KEYWORDS = frozenset(DEFAULTS) - {"port"}


@dataclass(frozen=True)
class MatchOverride:
    """A setting of a Match block: its criteria (`User bob`, `Address 10.0.0.0/8`), the key,
    the value in sshd -T's words, and the file."""

    criteria: str
    key: str
    value: str
    file: str


class SshdUnavailable(Exception):
    """sshd cannot tell its settings: `case` names why (a catalog case), `reason` for the SOC."""

    def __init__(self, case: str, reason: str) -> None:
        super().__init__(reason)
        self.case = case
        self.reason = reason


@dataclass(frozen=True)
class SshdSettings:
    """sshd's effective settings: lower-case keys, each with its values in order."""

    values: dict[str, list[str]]
    source: str  # "sshd -T" or "files"
    # Where each key was set (files only; sshd -T does not say).
    origin: dict[str, str] = field(default_factory=dict)
    # Why sshd -T was not the source on this machine (its own words), when it was refused.
    refused: str | None = None
    # What Match blocks set for some users or addresses (read in the files: sshd -T without -C
    # prints only the global settings).
    overrides: tuple[MatchOverride, ...] = ()

    def conditional(self, key: str) -> list[MatchOverride]:
        return [o for o in self.overrides if o.key == key]

    def first(self, key: str) -> str:
        found = self.values.get(key) or DEFAULTS.get(key) or [""]
        return found[0]

    def all(self, key: str) -> list[str]:
        return list(self.values.get(key) or DEFAULTS.get(key) or [])

    def where(self, key: str) -> str:
        """The file that sets `key`, or what decided it (sshd -T, or sshd's default)."""
        if self.source == "sshd -T":
            return "sshd -T"
        return self.origin.get(key, "default")

    def ports(self) -> set[int]:
        """The TCP ports sshd listens on: those of its ListenAddress lines (sshd -T prints one
        per address, Port lines included), else its Port lines."""
        found: set[int] = set()
        for address in self.values.get("listenaddress", []):
            head, sep, port = address.rpartition(":")
            if sep and port.isdigit() and (head.endswith("]") or ":" not in head):
                found.add(int(port))
            elif ":" not in address or address.endswith("]"):
                found.update(int(p) for p in self.all("port") if p.isdigit())
        if not found:
            found.update(int(p) for p in self.all("port") if p.isdigit())
        return found


def parse_sshd_t(text: str) -> dict[str, list[str]]:
    """`sshd -T` output: one `key value` line per setting, a repeated key once per value."""
    values: dict[str, list[str]] = {}
    for line in text.splitlines()[:MAX_OUTPUT_LINES]:
        key, _, value = line.strip().partition(" ")
        if not key:
            continue
        key = key.lower()
        # Name lists may come on one line or one per line: one value per name either way.
        parts = value.split() if key in NAME_LISTS else [value.strip()]
        values.setdefault(key, []).extend(parts)
    return values


def effective_settings(host: Host) -> SshdSettings | None:
    """sshd's settings on this host; None when no SSH server is installed or configured.

    Raises SshdUnavailable when sshd is there but cannot print its settings (a configuration
    it refuses, a timeout)."""
    if not host.is_live:
        if not host.exists(CONFIG):
            return None
        return read_files(host)
    try:
        result = host.run(["sshd", "-T", "-f", CONFIG], timeout=SSHD_TIMEOUT_SECONDS)
    except CommandNotFound:
        return None
    except CommandError as exc:
        raise SshdUnavailable("sshd_failed", str(exc)) from exc
    if not result.ok:
        said = (result.stderr.strip() or result.stdout.strip()).splitlines()
        reason = said[0][:300] if said else f"sshd -T exited with {result.returncode}"
        if not host.exists(CONFIG) and "no such file" in reason.lower():
            return None  # sshd is installed but this host has no server configuration
        if PRIVSEP_MISSING in reason.lower():
            # Never started since boot: sshd cannot print its settings until its service makes
            # /run/sshd (and the agent must not make it). What it would apply at its next start
            # is read from its files, as on a tree, and the evidence says why.
            if not host.exists(CONFIG):
                return None
            return replace(read_files(host), refused=reason)
        raise SshdUnavailable("sshd_failed", reason)
    # sshd -T printed the global settings; what Match blocks change comes from the files.
    overrides = read_files(host).overrides if host.exists(CONFIG) else ()
    return SshdSettings(parse_sshd_t(result.stdout), "sshd -T", overrides=overrides)


def read_files(host: Host) -> SshdSettings:
    """A tree's sshd_config and its Includes read as sshd reads them, for the checks' keys."""
    values: dict[str, list[str]] = {}
    origin: dict[str, str] = {}
    budget = [MAX_INCLUDED_FILES]

    overrides: list[MatchOverride] = []

    def read(path: str, depth: int) -> None:
        if depth > MAX_INCLUDE_DEPTH or budget[0] <= 0:
            return
        budget[0] -= 1
        criteria: str | None = None  # inside a Match block (it ends with its file)
        for raw in host.read_text(path, default="").splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            try:
                words = shlex.split(line.replace("=", " ", 1), comments=True)
            except ValueError:
                continue  # an unbalanced quote: sshd refuses the file, -T on the live host says so
            if not words:
                continue
            key = ALIASES.get(words[0].lower(), words[0].lower())
            if key == "match":
                criteria = " ".join(words[1:])
                continue
            if criteria is not None:
                # Conditional: not a global setting; kept for the keys the checks judge.
                if key in KEYWORDS and len(words) > 1 and len(overrides) < MAX_OVERRIDES:
                    value = VALUE_ALIASES.get((key, words[1].lower()), words[1].lower())
                    overrides.append(MatchOverride(criteria, key, value, path))
                continue
            if key == "include":
                for pattern in words[1:]:
                    for included in _expand(host, pattern):
                        read(included, depth + 1)
                continue
            args = words[1:]
            if key in KEYWORDS:
                args = [VALUE_ALIASES.get((key, a.lower()), a.lower()) for a in args]
            if key in LISTS:
                values.setdefault(key, []).extend(args)
                origin.setdefault(key, path)
            elif key not in values and args:
                values[key] = args if key in MULTI_VALUED else [args[0]]
                origin[key] = path

    read(CONFIG, 0)
    return SshdSettings(values, "files", origin, overrides=tuple(overrides))


def _expand(host: Host, pattern: str) -> list[str]:
    """An Include pattern as sshd expands it: relative to /etc/ssh, glob, sorted."""
    absolute = pattern if pattern.startswith("/") else f"/etc/ssh/{pattern}"
    directory, _, name = absolute.rpartition("/")
    if not any(c in name for c in "*?["):
        return [absolute] if host.exists(absolute) else []
    names = sorted(p.name for p in host.glob(directory or "/", "*")
                   if p.is_file() and fnmatch.fnmatchcase(p.name, name))
    return [f"{directory}/{n}" for n in names[:MAX_INCLUDED_FILES]]
