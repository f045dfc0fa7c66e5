"""Local accounts: a second UID 0, empty or weak password hashes, dormant accounts, who is an
administrator, and the password policy (PAM).

They read the account databases through the Host (files), the login records (logins) and the
sudo rules (sudoers). /etc/shadow and sudoers are readable by root only: without the privilege
to read them a check says `skip` and names what the agent lacks, never "nothing there".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentinelle.checks.accounts.files import (
    LOGIN_DEFS,
    PASSWD,
    SHADOW,
    Account,
    Parsed,
    Shadow,
    hash_scheme,
    is_locked,
    read_group,
    read_login_defs,
    read_passwd,
    read_shadow,
    uid_min,
)
from sentinelle.checks.accounts.logins import read_logins
from sentinelle.checks.accounts.pam import read_pam_policy
from sentinelle.checks.accounts.sudoers import read_sudoers
from sentinelle.checks.base import Check, register
from sentinelle.checks.privileges import lacking_args, lacking_reason, missing
from sentinelle.model import Finding, Severity, Status
from sentinelle.params import param

if TYPE_CHECKING:
    from sentinelle.host import Host

MAX_LISTED = 32
DAY = 86400
# The file the agent keeps its previous cycle's Report in (sentinelle.agent.daemon).
LAST_REPORT = "last-report.json"
MAX_LAST_REPORT_BYTES = 16 * 1024 * 1024
# nobody (65534) has a UID above UID_MIN but is no person.
NOBODY_UID = 65534
READ_CAPABILITY = "CAP_DAC_READ_SEARCH"
# The cases of accounts.admins's inventory finding, whose evidence a later cycle compares with.
INVENTORY_MESSAGES = tuple(f"accounts.admins.{case}" for case in
                           ("inventory", "none", "inventory_partial", "none_partial"))


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


class AccountsCheck(Check):
    """Shared by the family: Linux only, and how to say what could not be read."""

    platforms = frozenset({"linux"})

    def unreadable(self, path: str, exc: OSError) -> Finding:
        """A skip for a root-only file the agent could not read, naming what it lacks."""
        lacking = missing(READ_CAPABILITY)
        evidence = {"path": path, "error": exc.strerror or str(exc),
                    "reason": lacking_reason(lacking, f"read {path}") if lacking
                    else f"{path}: {exc.strerror or exc}"}
        if lacking:
            return self.say(Status.SKIP, "unreadable_privilege",
                            {"path": path, **lacking_args(lacking)}, evidence)
        return self.say(Status.SKIP, "unreadable", {"path": path}, evidence)

    def no_passwd(self) -> Finding:
        return self.say(Status.SKIP, "no_passwd", {}, {"reason": f"no {PASSWD}"})


def _unparsed(unparsed: Parsed) -> dict[str, Any]:
    return {"unparsed_lines": unparsed.count, "unparsed": unparsed.where} if unparsed.count else {}


@register
class SecondUidZero(AccountsCheck):
    """root is the only account with UID 0 (/etc/passwd)."""

    id = "accounts.uid0"

    def run(self, host: Host) -> Iterable[Finding]:
        unparsed = Parsed()
        try:
            accounts = read_passwd(host, unparsed)
        except FileNotFoundError:
            yield self.no_passwd()
            return
        others = [a.name for a in accounts if a.uid == 0 and a.name != "root"]
        evidence = {"uid0": [a.name for a in accounts if a.uid == 0][:MAX_LISTED],
                    **_unparsed(unparsed)}
        if others:
            yield self.say(Status.FAIL, "others",
                           {"count": len(others), "accounts": others[:MAX_LISTED]}, evidence)
        else:
            yield self.say(Status.PASS, "root_only", {}, evidence)


@register
class PasswordHashes(AccountsCheck):
    """No account has an empty password, and passwords are stored with a strong hash."""

    id = "accounts.password_hashes"

    @dataclass(frozen=True)
    class Params:
        weak_schemes: tuple[str, ...] = param(
            doc="crypt(5) schemes that are weak: des, bsdi, or the $id$ (1 is MD5)")
        strong_methods: tuple[str, ...] = param(doc="login.defs ENCRYPT_METHOD values that pass")
        weak_severity: str = param(doc="severity of a weak hash or method (an empty one: the "
                                       "check's own)")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        weak_severity = Severity(self.params.weak_severity)
        unparsed = Parsed()
        try:
            shadow = read_shadow(host, unparsed)
        except FileNotFoundError:
            yield self.say(Status.SKIP, "no_shadow", {}, {"reason": f"no {SHADOW}"})
            return
        except OSError as exc:
            yield self.unreadable(SHADOW, exc)
            return
        empty = sorted(n for n, s in shadow.items() if s.hash == "")
        usable = {n: s for n, s in shadow.items() if s.hash and not is_locked(s.hash)}
        schemes = {n: hash_scheme(s.hash) for n, s in usable.items()}
        weak = sorted(n for n, scheme in schemes.items() if scheme in self.params.weak_schemes)
        defs = read_login_defs(host)
        method = defs.get("ENCRYPT_METHOD", ("", 0))[0].upper()
        evidence: dict[str, Any] = {
            "accounts": len(shadow), "with_password": len(usable),
            "schemes": {scheme: sum(1 for s in schemes.values() if s == scheme)
                        for scheme in sorted(set(schemes.values()))},
            "encrypt_method": method or None, **_unparsed(unparsed),
        }
        opened = False
        if empty:
            opened = True
            yield self.say(Status.FAIL, "empty",
                           {"count": len(empty), "accounts": empty[:MAX_LISTED]},
                           evidence | {"empty": empty[:MAX_LISTED]}, key="empty")
        if weak:
            opened = True
            yield self.say(Status.FAIL, "weak_hashes",
                           {"count": len(weak), "accounts": weak[:MAX_LISTED]},
                           evidence | {"weak": weak[:MAX_LISTED]}, severity=weak_severity,
                           key="hashes")
        if not method:
            opened = True
            yield self.say(Status.FAIL, "method_unset", {"file": LOGIN_DEFS}, evidence,
                           severity=weak_severity, key="method")
        elif method not in {m.upper() for m in self.params.strong_methods}:
            opened = True
            yield self.say(Status.FAIL, "weak_method", {"file": LOGIN_DEFS, "method": method},
                           evidence, severity=weak_severity, key="method")
        if not opened:
            case = "strong" if usable else "none_set"
            yield self.say(Status.PASS, case, {"count": len(usable), "method": method},
                           evidence)


def _login_accounts(accounts: list[Account], shadow: dict[str, Shadow],
                    nologin: tuple[str, ...], today: int) -> list[tuple[Account, Shadow]]:
    """Accounts a person can log in with: a shell, a password, not locked, not expired."""
    out = []
    for account in accounts:
        entry = shadow.get(account.name)
        if entry is None or account.shell in nologin:
            continue
        if not entry.hash or is_locked(entry.hash):
            continue
        if entry.expire_day is not None and entry.expire_day <= today:
            continue
        out.append((account, entry))
    return out


@register
class DormantAccounts(AccountsCheck):
    """No unlocked login account with a password has gone unused for too long."""

    id = "accounts.dormant"

    @dataclass(frozen=True)
    class Params:
        max_idle_days: int = param(minimum=1, maximum=3650,
                                   doc="an account unused for longer is dormant")
        nologin_shells: tuple[str, ...] = param(doc="shells that refuse a login")
        exempt: tuple[str, ...] = param(doc="accounts not judged: root is used through su "
                                            "and sudo, which write no login record")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        unparsed = Parsed()
        try:
            accounts = read_passwd(host, unparsed)
        except FileNotFoundError:
            yield self.no_passwd()
            return
        try:
            shadow = read_shadow(host, unparsed)
        except FileNotFoundError:
            yield self.say(Status.SKIP, "no_shadow", {}, {"reason": f"no {SHADOW}"})
            return
        except OSError as exc:
            yield self.unreadable(SHADOW, exc)
            return
        now = host.now().timestamp()
        today = int(now // DAY)
        judged = [a for a in accounts if a.name not in self.params.exempt]
        candidates = _login_accounts(judged, shadow, self.params.nologin_shells, today)
        days = self.params.max_idle_days
        if not candidates:
            yield self.say(Status.PASS, "no_login_accounts", {"days": days},
                           {"login_accounts": 0, **_unparsed(unparsed)})
            return
        records = read_logins(host, {a.uid: a.name for a, _ in candidates})
        evidence: dict[str, Any] = {"sources": records.sources, **_unparsed(unparsed)}
        if records.unreadable:
            # What could not be read may hold the very logins that would clear an account.
            yield self.unreadable(records.unreadable[0],
                                  PermissionError(13, "Permission denied", records.unreadable[0]))
            return
        if not records.sources:
            yield self.say(Status.SKIP, "no_records", {"days": days},
                           evidence | {"reason": "no wtmp, lastlog or lastlog2"})
            return
        dormant, rows = [], []
        for account, entry in candidates:
            last = records.last.get(account.name)
            changed = entry.last_change_day * DAY if entry.last_change_day else None
            # Never logged in: dormant once its password has existed that long unused (an
            # unknown password age counts as long ago: nothing shows the account is in use).
            since = last if last is not None else changed
            idle = since is None or now - since > days * DAY
            rows.append({"account": account.name, "last_login": _iso(last) if last else None,
                         "password_changed": _iso(changed) if changed else None,
                         "dormant": idle})
            if idle:
                dormant.append(account.name)
        evidence |= {"login_accounts": len(candidates), "accounts": rows[:MAX_LISTED]}
        if dormant:
            yield self.say(Status.FAIL, "dormant",
                           {"count": len(dormant), "accounts": dormant[:MAX_LISTED],
                            "days": days}, evidence)
        else:
            yield self.say(Status.PASS, "active", {"count": len(candidates), "days": days},
                           evidence)


@dataclass(frozen=True)
class Baseline:
    """What the agent's previous Report said of this host's administrators: the inventory,
    that Report's time, and when each recently added administrator was first seen."""

    admins: frozenset[str]
    generated_at: str
    first_seen: dict[str, str]
    partial: bool = False  # some sudo rules could not be read then


def previous_baseline(state_dir: str, hostname: str) -> Baseline | None:
    """The previous Report's baseline (`<state_dir>/last-report.json`, written by the daemon
    after each cycle); None when there is none for this host, or it holds no inventory."""
    path = Path(state_dir) / LAST_REPORT
    try:
        if path.stat().st_size > MAX_LAST_REPORT_BYTES:
            return None
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or (data.get("host") or {}).get("hostname") != hostname:
        return None
    admins: list[str] | None = None
    partial = False
    first_seen: dict[str, str] = {}
    for result in data.get("results") or ():
        if not isinstance(result, dict) or result.get("check") != AdminAccounts.id:
            continue
        evidence = result.get("evidence") or {}
        if result.get("message") in INVENTORY_MESSAGES:
            found = evidence.get("admins")
            if isinstance(found, list) and all(isinstance(a, str) for a in found):
                admins = found
                partial = evidence.get("partial") is True
        elif result.get("message") == f"{AdminAccounts.id}.added":
            seen = evidence.get("first_seen")
            if isinstance(seen, dict):
                first_seen = {str(k): str(v) for k, v in seen.items() if isinstance(v, str)}
    if admins is None:
        return None
    return Baseline(frozenset(admins), str(data.get("generated_at", "")), first_seen, partial)


def _seconds(rfc3339: str) -> float | None:
    try:
        return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@register
class AdminAccounts(AccountsCheck):
    """Who administers the machine (sudo, adm, wheel, sudoers): an inventory, NOPASSWD rules
    for people, and administrators added since the agent's previous cycle."""

    id = "accounts.admins"

    @dataclass(frozen=True)
    class Params:
        groups: tuple[str, ...] = param(doc="groups whose members administer the machine")
        default_uid_min: int = param(minimum=1, doc="first UID of a person when login.defs "
                                                    "has no UID_MIN")
        added_open_days: int = param(minimum=1, maximum=365,
                                     doc="days a new administrator stays an open finding")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        from sentinelle.facts import host_facts

        unparsed = Parsed()
        try:
            accounts = read_passwd(host, unparsed)
        except FileNotFoundError:
            yield self.no_passwd()
            return
        groups = read_group(host, unparsed)
        by_gid = {g.gid: g for g in groups}
        members: dict[str, set[str]] = {g.name: set(g.members) for g in groups}
        for account in accounts:  # a primary group counts as membership
            group = by_gid.get(account.gid)
            if group is not None:
                members[group.name].add(account.name)
        names: set[str]
        first = uid_min(read_login_defs(host), self.params.default_uid_min)
        people = {a.name for a in accounts if first <= a.uid != NOBODY_UID}

        admins: dict[str, set[str]] = {}  # account -> how (group:sudo, sudoers)
        for name in self.params.groups:
            for member in members.get(name, ()):
                admins.setdefault(member, set()).add(f"group:{name}")
        sudoers = read_sudoers(host)
        nopasswd: dict[str, str] = {}  # person -> where the rule is
        everyone = False
        for rule in sudoers.rules if sudoers else ():
            for who in rule.who:
                if who == "ALL":
                    everyone = True
                    names = {a.name for a in accounts}
                elif who.startswith("%"):
                    names = members.get(who[1:].lstrip(":"), set())
                else:
                    names = {who}
                for member in names:
                    admins.setdefault(member, set()).add("sudoers")
                    if rule.nopasswd and member in people:
                        nopasswd.setdefault(member, rule.where)
        for rule in sudoers.no_authenticate if sudoers else ():
            # Defaults !authenticate: the sudo rules of these users ask no password.
            for who in rule.who:
                if who == "ALL":
                    names = set(admins)
                elif who.startswith("%"):
                    names = members.get(who[1:].lstrip(":"), set())
                else:
                    names = {who}
                for member in names:
                    if member in people and "sudoers" in admins.get(member, ()):
                        nopasswd.setdefault(member, rule.where)
        listed = sorted(admins)
        hostname = str(host_facts(host)["hostname"])
        before = previous_baseline(self.context.config.agent.state_dir, hostname)
        evidence: dict[str, Any] = {
            "admins": listed[:256],
            "how": {a: sorted(admins[a]) for a in listed[:MAX_LISTED]},
            "groups": list(self.params.groups),
            "sudoers_files": sudoers.files if sudoers else [],
            **({"sudoers_unreadable": sudoers.unreadable} if sudoers and sudoers.unreadable
               else {}),
            "everyone_in_sudoers": everyone,
            "previous_report": before.generated_at if before else None,
            **_unparsed(unparsed),
        }
        partial = bool(sudoers is not None and sudoers.unreadable)
        evidence["partial"] = partial
        args = {"count": len(listed), "accounts": listed[:MAX_LISTED]}
        if partial:  # some sudo rules unseen: say so in the sentence, not only in a skip
            case = "inventory_partial" if listed else "none_partial"
        else:
            case = "inventory" if listed else "none"
        yield self.say(Status.PASS, case, args, evidence, severity=Severity.INFO,
                       key="inventory")
        if sudoers is not None and sudoers.unreadable:
            path = sudoers.unreadable[0]
            yield self.unreadable(path, PermissionError(13, "Permission denied", path))
        if nopasswd:
            people_nopasswd = sorted(nopasswd)
            yield self.say(Status.FAIL, "nopasswd",
                           {"count": len(people_nopasswd),
                            "accounts": people_nopasswd[:MAX_LISTED]},
                           {"rules": {p: nopasswd[p] for p in people_nopasswd[:MAX_LISTED]}},
                           key="nopasswd")
        # An inventory with unseen sudo rules is no baseline, and is not compared with one.
        if before is not None and not partial and not before.partial:
            yield from self._added(host, set(listed), before)

    def _added(self, host: Host, current: set[str], before: Baseline) -> Iterator[Finding]:
        """Administrators absent from the previous Report's inventory, first seen now, and
        those first seen less than `added_open_days` ago that still are: the finding stays
        open that long, so that a daily cycle's alert and a person's dashboard both see it."""
        now = host.now().timestamp()
        first_seen = {name: _iso(now) for name in current - before.admins}
        for name, when in before.first_seen.items():
            seconds = _seconds(when)
            if (name in current and name not in first_seen and seconds is not None
                    and now - seconds < self.params.added_open_days * DAY):
                first_seen[name] = when
        if not first_seen:
            return
        added = sorted(first_seen)
        since = min(first_seen.values(), key=lambda t: _seconds(t) or now)
        yield self.say(Status.FAIL, "added",
                       {"count": len(added), "accounts": added[:MAX_LISTED], "since": since},
                       {"first_seen": {n: first_seen[n] for n in added[:MAX_LISTED]},
                        "previous_report": before.generated_at,
                        "open_days": self.params.added_open_days},
                       key="added")


@register
class PasswordPolicy(AccountsCheck):
    """PAM asks for long passwords (pwquality minlen) and locks an account after failed
    attempts (pam_faillock)."""

    id = "accounts.password_policy"

    @dataclass(frozen=True)
    class Params:
        min_length: int = param(minimum=1, maximum=128, doc="a shorter minimum length fails")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        policy = read_pam_policy(host)
        if policy is None:
            yield self.say(Status.SKIP, "no_pam", {}, {"reason": "no /etc/pam.d"})
            return
        yield from self._length(policy)
        yield from self._lockout(policy)

    def _length(self, policy: Any) -> Iterator[Finding]:
        wanted = self.params.min_length
        evidence = {"quality_module": policy.quality_module, "quality_file": policy.quality_file,
                    "minlen": policy.minlen, "minlen_from": policy.minlen_from,
                    "min_length": wanted}
        if policy.quality_module is None:
            yield self.say(Status.FAIL, "no_quality", {"min_length": wanted}, evidence,
                           key="length")
        elif policy.minlen < wanted:
            yield self.say(Status.FAIL, "too_short",
                           {"minlen": policy.minlen, "min_length": wanted,
                            "file": policy.quality_file}, evidence, key="length")
        else:
            yield self.say(Status.PASS, "long_enough",
                           {"minlen": policy.minlen, "min_length": wanted,
                            "file": policy.quality_file}, evidence, key="length")

    def _lockout(self, policy: Any) -> Iterator[Finding]:
        evidence = {"lockout_module": policy.lockout_module, "lockout_file": policy.lockout_file,
                    "deny": policy.deny, "deny_from": policy.deny_from}
        if policy.lockout_module is None:
            yield self.say(Status.FAIL, "no_lockout", {}, evidence, key="lockout")
        elif policy.deny == 0:
            yield self.say(Status.FAIL, "lockout_off", {"file": policy.lockout_file}, evidence,
                           key="lockout")
        else:
            yield self.say(Status.PASS, "lockout", {"deny": policy.deny,
                                                   "file": policy.lockout_file}, evidence,
                           key="lockout")
