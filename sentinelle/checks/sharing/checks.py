"""Samba file sharing: no SMB1 dialect, no guest access to a writable share.

Both read Samba's effective configuration through testparm (samba), so Samba's own parser
decides: synonyms (`public`, `writable`, `min protocol`), the order of the lines and the
installed version's defaults.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sentinelle.checks.base import Check, register
from sentinelle.checks.sharing.samba import (
    SambaConfig,
    SambaUnseen,
    protocol_rank,
    read_samba,
)
from sentinelle.model import Finding, Status
from sentinelle.params import param

if TYPE_CHECKING:
    from sentinelle.host import Host

# testparm's spelling of booleans.
YES = {"yes", "true", "1", "on"}
MAX_LISTED_SHARES = 64


def _unseen(check: Check, exc: SambaUnseen) -> Finding:
    status = Status.ERROR if exc.case == "testparm_failed" else Status.SKIP
    return check.say(status, exc.case, exc.values, {"reason": exc.reason})


def _yes(value: str) -> bool:
    return value.strip().lower() in YES


@register
class SambaProtocol(Check):
    """Samba refuses the SMB1 dialect (NT1 and older): its "server min protocol"."""

    id = "sharing.samba_protocol"
    platforms = frozenset({"linux"})

    @dataclass(frozen=True)
    class Params:
        minimum: str = param(doc="the oldest SMB dialect that passes (Samba's name: SMB2_02)")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        minimum = protocol_rank(self.params.minimum)
        if minimum is None:
            raise ValueError(f"{self.id}: minimum {self.params.minimum!r} is not a Samba "
                             "protocol name")
        try:
            config = read_samba(host)
        except SambaUnseen as exc:
            yield _unseen(self, exc)
            return
        value = config.globals.get("server min protocol") or config.globals.get(
            "min protocol", "")
        rank = protocol_rank(value)
        args = {"value": value, "minimum": self.params.minimum, "path": config.path}
        evidence = {**args, "source": "testparm -s -v",
                    "server_max_protocol": config.globals.get("server max protocol", "")}
        if rank is None:
            yield self.say(Status.ERROR, "unknown_value", args,
                           {**evidence, "reason": f"testparm printed {value!r}"})
        elif rank < minimum:
            yield self.say(Status.FAIL, "legacy", args, evidence)
        else:
            yield self.say(Status.PASS, "modern", args, evidence)


@register
class SambaGuest(Check):
    """No Samba share that guests (no account, no password) may write to."""

    id = "sharing.samba_guest"
    platforms = frozenset({"linux"})

    def run(self, host: Host) -> Iterable[Finding]:
        try:
            config = read_samba(host)
        except SambaUnseen as exc:
            yield _unseen(self, exc)
            return
        map_to_guest = config.globals.get("map to guest", "")
        open_shares = [share for share in config.shares if self._guest_writable(config, share)]
        for share in open_shares[:MAX_LISTED_SHARES]:
            args = {"share": share, "share_path": config.share_value(share, "path"),
                    "path": config.path}
            evidence: dict[str, Any] = {
                **args, "guest_ok": config.share_value(share, "guest ok"),
                "guest_only": config.share_value(share, "guest only"),
                "read_only": config.share_value(share, "read only"),
                "guest_account": config.globals.get("guest account", ""),
                "map_to_guest": map_to_guest, "source": "testparm -s -v"}
            yield self.say(Status.FAIL, "guest_writable", args, evidence, key=share)
        if not open_shares:
            yield self.say(Status.PASS, "none", {"count": len(config.shares),
                                                 "path": config.path},
                           {"shares": sorted(config.shares)[:MAX_LISTED_SHARES],
                            "map_to_guest": map_to_guest, "source": "testparm -s -v"})

    @staticmethod
    def _guest_writable(config: SambaConfig, share: str) -> bool:
        """Guests may connect (guest ok; `guest only` does nothing without it, smb.conf(5))
        and the share is not read-only; a printer queue is left out (guests may only spool
        print jobs there)."""
        value = config.share_value
        return _yes(value(share, "guest ok")) and not _yes(value(share, "read only")) and not _yes(
            value(share, "printable"))
