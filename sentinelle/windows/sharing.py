"""File sharing: SMBv1 (Get-SmbServerConfiguration, and the optional feature that installs
it) and the shares open to everybody (Get-SmbShareAccess, judged by SID: account names are
translated, "Tout le monde" on a French Windows)."""

from __future__ import annotations

from dataclasses import dataclass

from sentinelle.windows import psjson

# Well-known SIDs (learn.microsoft.com, "Well-known SIDs"): Everyone, Anonymous Logon,
# Guests; a machine's Guest account is S-1-5-21-…-501.
EVERYONE = "S-1-1-0"
ANONYMOUS = "S-1-5-7"
GUESTS = "S-1-5-32-546"
# Account names when the SID could not be resolved, in English and French.
OPEN_NAMES = {"everyone", "tout le monde", "anonymous logon", "ouverture de session anonyme",
              "guest", "invité", "guests", "invités"}
ACCESS_RIGHT = {0: "Full", 1: "Change", 2: "Read", 3: "Custom"}
ACCESS_CONTROL = {0: "Allow", 1: "Deny"}


def smb1_server_enabled(raw: str) -> bool | None:
    found = psjson.records(psjson.loads(raw))
    return psjson.boolean(found[0].get("EnableSMB1Protocol")) if found else None


def smb1_feature_state(raw: str) -> str | None:
    """Enabled, Disabled, DisabledWithPayloadRemoved, EnablePending… (None: not listed)."""
    found = psjson.records(psjson.loads(raw))
    return psjson.text(found[0].get("State")) if found else None


@dataclass(frozen=True)
class OpenShare:
    name: str
    path: str
    accounts: tuple[str, ...]
    writable: bool


def _is_open(account: str, sid: str | None) -> bool:
    if sid:
        return sid in (EVERYONE, ANONYMOUS, GUESTS) or (
            sid.startswith("S-1-5-21-") and sid.endswith("-501"))
    return account.split("\\")[-1].strip().lower() in OPEN_NAMES


def open_shares(raw: str) -> tuple[int, list[OpenShare]]:
    """How many shares there are, and those that allow Everyone, Anonymous or Guest."""
    shares = psjson.records(psjson.loads(raw))
    out = []
    for share in shares:
        accounts: list[str] = []
        writable = False
        for entry in psjson.records(share.get("Access")):
            if psjson.enum(entry.get("Control"), ACCESS_CONTROL) != "Allow":
                continue
            account = str(entry.get("Account") or "")
            if _is_open(account, psjson.text(entry.get("Sid"))):
                accounts.append(account)
                writable |= psjson.enum(entry.get("Right"), ACCESS_RIGHT) in ("Full", "Change")
        if accounts:
            out.append(OpenShare(str(share.get("Name") or "?"), str(share.get("Path") or ""),
                                 tuple(sorted(set(accounts))), writable))
    return len(shares), out
