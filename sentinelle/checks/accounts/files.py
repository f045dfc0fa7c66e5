"""The account databases as shadow-utils writes them: /etc/passwd, /etc/group, /etc/shadow,
/etc/login.defs (passwd(5), group(5), shadow(5), login.defs(5)).

A line that does not have the fields its file needs is not guessed at: it is counted, with its
file and line number, in `unparsed`, and the checks put it in their evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sentinelle.host import Host

PASSWD = "/etc/passwd"
GROUP = "/etc/group"
SHADOW = "/etc/shadow"
LOGIN_DEFS = "/etc/login.defs"
# Bounds: a town hall has tens of accounts; a directory-backed host lists them elsewhere.
MAX_LINES = 20000
MAX_UNPARSED_LISTED = 16


@dataclass(frozen=True)
class Account:
    """One line of /etc/passwd."""

    name: str
    uid: int
    gid: int
    home: str
    shell: str


@dataclass(frozen=True)
class Group:
    """One line of /etc/group."""

    name: str
    gid: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class Shadow:
    """One line of /etc/shadow: the hash field and the day (since 1970) it last changed."""

    name: str
    hash: str
    last_change_day: int | None  # None: empty field (aging off); 0: must change at next login
    expire_day: int | None = None  # the day the account expires (None: never)


@dataclass
class Parsed:
    """Lines that did not parse, as `file:line` (bounded), and how many in all."""

    where: list[str] = field(default_factory=list)
    count: int = 0

    def add(self, path: str, number: int) -> None:
        self.count += 1
        if len(self.where) < MAX_UNPARSED_LISTED:
            self.where.append(f"{path}:{number}")


def _records(host: Host, path: str, fields: int, unparsed: Parsed) -> list[tuple[int, list[str]]]:
    """The colon-separated records of a file with at least `fields` fields, numbered."""
    out = []
    text = host.read_text(path)
    for number, line in enumerate(text.splitlines()[:MAX_LINES], start=1):
        if not line.strip() or line.startswith("#"):
            continue
        if line[0] in "+-":
            continue  # NIS compat entries (+user, -@netgroup): accounts defined elsewhere
        parts = line.split(":")
        if len(parts) < fields or not parts[0]:
            unparsed.add(path, number)
            continue
        out.append((number, parts))
    return out


def read_passwd(host: Host, unparsed: Parsed) -> list[Account]:
    """Accounts of /etc/passwd; FileNotFoundError when there is none."""
    accounts = []
    for number, parts in _records(host, PASSWD, 7, unparsed):
        try:
            uid, gid = int(parts[2]), int(parts[3])
        except ValueError:
            unparsed.add(PASSWD, number)
            continue
        accounts.append(Account(parts[0], uid, gid, parts[5], parts[6].strip()))
    return accounts


def read_group(host: Host, unparsed: Parsed) -> list[Group]:
    """Groups of /etc/group ([] when there is no such file)."""
    if not host.exists(GROUP):
        return []
    groups = []
    for number, parts in _records(host, GROUP, 4, unparsed):
        try:
            gid = int(parts[2])
        except ValueError:
            unparsed.add(GROUP, number)
            continue
        members = tuple(m.strip() for m in parts[3].split(",") if m.strip())
        groups.append(Group(parts[0], gid, members))
    return groups


def read_shadow(host: Host, unparsed: Parsed) -> dict[str, Shadow]:
    """Hashes of /etc/shadow by account; OSError when it cannot be read (root only)."""
    found: dict[str, Shadow] = {}
    for number, parts in _records(host, SHADOW, 2, unparsed):
        try:
            day, expire = (_day(parts, 2), _day(parts, 7))
        except ValueError:
            unparsed.add(SHADOW, number)
            continue
        found.setdefault(parts[0], Shadow(parts[0], parts[1], day, expire))
    return found


def _day(parts: list[str], index: int) -> int | None:
    """A day-count field of shadow(5); None when empty or absent."""
    if len(parts) > index and parts[index].strip():
        return int(parts[index])
    return None


def read_login_defs(host: Host) -> dict[str, tuple[str, int]]:
    """login.defs settings: KEY -> (value, line); the last line of a key wins, as getdef.c."""
    settings: dict[str, tuple[str, int]] = {}
    text = host.read_text(LOGIN_DEFS, default="")
    for number, line in enumerate(text.splitlines()[:MAX_LINES], start=1):
        words = line.split("#", 1)[0].split()
        if len(words) >= 2:
            settings[words[0].upper()] = (words[1].strip('"'), number)
    return settings


def is_locked(hash_field: str) -> bool:
    """No password can match: `!`/`*` prefixes (passwd -l, no password set), `!!` (RHEL)."""
    return hash_field.startswith(("!", "*"))


def hash_scheme(hash_field: str) -> str:
    """crypt(5)'s scheme of a usable hash: "1" (MD5), "5", "6", "y", "2b"...; "des" for the
    13-character traditional DES, "bsdi" for `_`, "unknown" otherwise."""
    if hash_field.startswith("$"):
        return hash_field.split("$")[1] or "unknown"
    if hash_field.startswith("_"):
        return "bsdi"
    if len(hash_field) == 13:
        return "des"
    return "unknown"


def uid_min(defs: dict[str, tuple[str, int]], fallback: int) -> int:
    """The first UID of a person's account (login.defs UID_MIN; `fallback` when unset)."""
    value = defs.get("UID_MIN", (str(fallback), 0))[0]
    return int(value) if value.isdigit() else fallback
