"""Local accounts: who is an administrator (Get-LocalGroupMember on the group's well-known SID),
the Guest account, dormant accounts (Get-LocalUser's LastLogon), and the password and lockout
policy from `secedit /export` (keys that are the same in every language, where `net accounts`
prints translated labels)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sentinelle.windows import psjson

PRINCIPAL_SOURCE = {0: "Unknown", 1: "Local", 2: "ActiveDirectory", 3: "AzureAD",
                    4: "MicrosoftAccount"}


@dataclass(frozen=True)
class LocalUser:
    name: str
    enabled: bool
    sid: str
    last_logon: datetime | None
    password_required: bool | None

    @property
    def rid(self) -> int | None:
        tail = self.sid.rsplit("-", 1)[-1]
        return int(tail) if tail.isdigit() else None


def parse_users(raw: str) -> list[LocalUser]:
    return [
        LocalUser(
            name=str(u.get("Name") or "?"),
            enabled=bool(psjson.boolean(u.get("Enabled"))),
            sid=str(u.get("SID") or ""),
            last_logon=psjson.timestamp(u.get("LastLogon")),
            password_required=psjson.boolean(u.get("PasswordRequired")),
        )
        for u in psjson.records(psjson.loads(raw))
    ]


@dataclass(frozen=True)
class Member:
    name: str
    sid: str
    source: str

    @property
    def is_group(self) -> bool:
        # Domain groups (Domain Admins …-512) and local groups: by SID, the class name is
        # translated ("Groupe").
        return self.sid.startswith("S-1-5-32-") or self.sid.endswith("-512") or (
            self.sid.endswith("-519"))


def parse_admins(raw: str) -> list[Member]:
    return [
        Member(str(m.get("Name") or "?"), str(m.get("SID") or ""),
               psjson.enum(m.get("PrincipalSource"), PRINCIPAL_SOURCE) or "Unknown")
        for m in psjson.records(psjson.loads(raw))
    ]


def parse_secedit(text: str) -> dict[str, str]:
    """The [System Access] section of a secedit export: `{key: value}`."""
    out: dict[str, str] = {}
    section = ""
    for line in text.lstrip("\ufeff").splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip().lower()
            continue
        if section == "system access" and "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip().strip('"')
    if not out:
        raise psjson.PsJsonError("no [System Access] section in the secedit export")
    return out
