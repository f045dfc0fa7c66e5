"""Who sudo lets act as root, read from /etc/sudoers and what it includes (sudoers(5)).

Enough of the grammar for an inventory: logical lines (a trailing backslash continues one),
`@include`/`#include` and `@includedir`/`#includedir` (a directory's files in order, skipping
names with a dot or ending in `~`, as sudo does), `User_Alias` definitions, and user
specifications `WHO HOSTS = [(RUNAS)] [TAGS:] COMMANDS`. Defaults and the other aliases do not
say who is an administrator and are skipped. A file sudo would refuse (a syntax error) is
still read line by line: `visudo -c` is the tool that judges syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sentinelle.host import Host

SUDOERS = "/etc/sudoers"
MAX_FILES = 128
MAX_DEPTH = 8
MAX_LINES = 20000
_INCLUDE = re.compile(r"^[@#](include|includedir)\s+(\S.*)$")
_ALIAS = re.compile(r"^(User|Runas|Host|Cmnd|Cmd)_Alias\s+(.*)$")
_TAG = re.compile(r"\b(NOPASSWD|PASSWD)\s*:")


@dataclass(frozen=True)
class Rule:
    """One user specification: who (users, %groups, ALL), where it is, NOPASSWD or not."""

    who: tuple[str, ...]
    nopasswd: bool
    where: str  # file:line


@dataclass
class Sudoers:
    """The rules of every file read, and the files that could not be read."""

    rules: list[Rule] = field(default_factory=list)
    # `Defaults[:WHO] !authenticate`: every rule of WHO (ALL: of everyone) asks no password.
    no_authenticate: list[Rule] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines()[:MAX_LINES], start=1):
        if not pending:
            start = number
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        out.append((start, (pending + raw).strip()))
        pending = ""
    if pending:
        out.append((start, pending.strip()))
    return out


def _split_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def read_sudoers(host: Host) -> Sudoers | None:
    """The sudo rules of this host; None when sudo is not configured (no /etc/sudoers)."""
    if not host.exists(SUDOERS):
        return None
    found = Sudoers()
    aliases: dict[str, list[str]] = {}

    def read(path: str, depth: int) -> None:
        if depth > MAX_DEPTH or len(found.files) + len(found.unreadable) >= MAX_FILES:
            return
        try:
            text = host.read_text(path)
        except OSError:
            found.unreadable.append(path)
            return
        found.files.append(path)
        for number, line in _logical_lines(text):
            include = _INCLUDE.match(line)
            if include:
                target = include.group(2).strip().strip('"')
                if not target.startswith("/"):
                    target = f"{path.rpartition('/')[0]}/{target}"
                if include.group(1) == "include":
                    read(target, depth + 1)
                else:
                    names = sorted(p.name for p in host.glob(target, "*") if p.is_file())
                    for name in names:
                        if "." not in name and not name.endswith("~"):
                            read(f"{target}/{name}", depth + 1)
                continue
            line = line.split("#", 1)[0].strip() if not line.startswith("#") else ""
            if line.startswith("Defaults"):
                _defaults(line, aliases, found, f"{path}:{number}")
                continue
            if not line:
                continue
            alias = _ALIAS.match(line)
            if alias:
                if alias.group(1) == "User":
                    for definition in alias.group(2).split(":"):
                        name, _, members = definition.partition("=")
                        aliases[name.strip()] = _split_list(members)
                continue
            left, equals, rest = line.partition("=")
            words = re.sub(r"\s*,\s*", ",", left.strip()).split()
            if not equals or len(words) < 2:
                continue
            who: list[str] = []
            for item in _split_list(words[0]):
                if item.startswith("!"):
                    continue  # an exception to the list: it adds nobody
                who.extend(aliases.get(item, [item]))
            found.rules.append(Rule(tuple(who), _nopasswd(rest), f"{path}:{number}"))

    read(SUDOERS, 0)
    return found


def _defaults(line: str, aliases: dict[str, list[str]], found: Sudoers, where: str) -> None:
    """`Defaults !authenticate` (everyone) or `Defaults:WHO !authenticate`: NOPASSWD for every
    rule of those users (it makes nobody an administrator by itself)."""
    head, _, settings = re.sub(r"\s*,\s*", ",", line).partition(" ")
    if not re.search(r"(^|[\s,])!\s*authenticate\b", settings):
        return
    kind, _, who = head.partition(":")
    if kind == "Defaults" and not who:
        found.no_authenticate.append(Rule(("ALL",), True, where))
    elif kind == "Defaults" and who:
        users: list[str] = []
        for item in _split_list(who):
            users.extend(aliases.get(item, [item]))
        found.no_authenticate.append(Rule(tuple(users), True, where))
    # Defaults@host, Defaults>runas, Defaults!cmnd: not about who authenticates as whom here.


def _nopasswd(commands: str) -> bool:
    """NOPASSWD applies from where it appears until a PASSWD tag turns it off again."""
    tags = _TAG.findall(commands)
    return "NOPASSWD" in tags
