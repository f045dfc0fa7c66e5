"""Local accounts of a Windows machine: administrators, Guest, password and lockout policy,
dormant accounts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sentinelle.checks.base import register
from sentinelle.model import Finding, Status
from sentinelle.params import param
from sentinelle.windows.accounts import parse_admins, parse_secedit, parse_users
from sentinelle.windows.checking import DAY, WindowsCheck

if TYPE_CHECKING:
    from sentinelle.host import Host


@register
class WindowsAdministrators(WindowsCheck):
    """Few accounts are members of the local Administrators group."""

    id = "accounts.windows_admins"

    @dataclass(frozen=True)
    class Params:
        max_admins: int = param(minimum=1, maximum=50, doc="members beyond this warn")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        members = self.parsed(host, "local_admins", parse_admins)
        if isinstance(members, Finding):
            yield members
            return
        names = [m.name for m in members]
        evidence = {"members": [{"name": m.name, "source": m.source, "group": m.is_group}
                                for m in members], "max": self.params.max_admins}
        args = {"count": len(members), "names": names[:10], "max": self.params.max_admins}
        if len(members) > self.params.max_admins:
            yield self.say(Status.WARN, "too_many", args, evidence)
        else:
            yield self.say(Status.PASS, "few", args, evidence)


@register
class WindowsGuest(WindowsCheck):
    """The built-in Guest account is disabled."""

    id = "accounts.windows_guest"

    def run(self, host: Host) -> Iterable[Finding]:
        users = self.parsed(host, "local_users", parse_users)
        if isinstance(users, Finding):
            yield users
            return
        guests = [u for u in users if u.rid == 501]
        if not guests:
            yield self.say(Status.PASS, "absent", {}, {"users": len(users)})
            return
        guest = guests[0]
        evidence = {"name": guest.name, "enabled": guest.enabled}
        if guest.enabled:
            yield self.say(Status.FAIL, "enabled", {"name": guest.name}, evidence)
        else:
            yield self.say(Status.PASS, "disabled", {"name": guest.name}, evidence)


@register
class WindowsPasswordPolicy(WindowsCheck):
    """Local passwords are long enough and repeated wrong guesses lock the account."""

    id = "accounts.windows_password_policy"

    @dataclass(frozen=True)
    class Params:
        min_length: int = param(minimum=1, maximum=128, doc="shortest acceptable minimum")
        max_lockout: int = param(minimum=1, maximum=999,
                                 doc="most failed attempts acceptable before lockout")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        policy = self.parsed(host, "security_policy", parse_secedit)
        if isinstance(policy, Finding):
            yield policy
            return
        try:
            length = int(policy.get("MinimumPasswordLength", "0"))
            lockout = int(policy.get("LockoutBadCount", "0"))
        except ValueError as exc:
            yield self.unreadable("security_policy", exc).finding
            return
        evidence = {"min_length": length, "lockout_threshold": lockout,
                    "complexity": policy.get("PasswordComplexity"),
                    "max_age_days": policy.get("MaximumPasswordAge")}
        args = {"length": length, "lockout": lockout, "min_length": self.params.min_length,
                "max_lockout": self.params.max_lockout}
        short = length < self.params.min_length
        no_lockout = lockout == 0 or lockout > self.params.max_lockout
        if short and no_lockout:
            yield self.say(Status.FAIL, "weak_both", args, evidence)
        elif short:
            yield self.say(Status.FAIL, "short", args, evidence)
        elif lockout == 0:
            yield self.say(Status.FAIL, "no_lockout", args, evidence)
        elif no_lockout:
            yield self.say(Status.WARN, "lockout_high", args, evidence)
        else:
            yield self.say(Status.PASS, "strong", args, evidence)


@register
class WindowsDormantAccounts(WindowsCheck):
    """No enabled local account has gone unused for months."""

    id = "accounts.windows_dormant"

    @dataclass(frozen=True)
    class Params:
        max_days: int = param(minimum=7, maximum=3650,
                              doc="an enabled account unused this long is dormant")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        users = self.parsed(host, "local_users", parse_users)
        if isinstance(users, Finding):
            yield users
            return
        now = host.now()
        limit = self.params.max_days * DAY
        dormant = sorted(u.name for u in users if u.enabled and (
            u.last_logon is None or (now - u.last_logon).total_seconds() > limit))
        enabled = sum(1 for u in users if u.enabled)
        evidence = {"enabled": enabled, "dormant": dormant, "max_days": self.params.max_days}
        args = {"count": len(dormant), "names": dormant[:10], "days": self.params.max_days}
        if dormant:
            yield self.say(Status.WARN, "dormant", args, evidence)
        else:
            yield self.say(Status.PASS, "active", {"count": enabled,
                                                   "days": self.params.max_days}, evidence)
