"""File sharing on Windows: the SMBv1 protocol and shares open to everybody."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sentinelle.checks.base import register
from sentinelle.model import Finding, Severity, Status
from sentinelle.windows.checking import WindowsCheck
from sentinelle.windows.sharing import open_shares, smb1_feature_state, smb1_server_enabled

if TYPE_CHECKING:
    from sentinelle.host import Host


@register
class WindowsSmb1(WindowsCheck):
    """SMBv1, the protocol WannaCry spread through, is neither served nor installed."""

    id = "sharing.windows_smb1"

    def run(self, host: Host) -> Iterable[Finding]:
        server = self.parsed(host, "smb_server", smb1_server_enabled)
        if isinstance(server, Finding):
            yield server
            return
        feature = self.parsed(host, "smb1_feature", smb1_feature_state)
        state = None if isinstance(feature, Finding) else feature
        evidence = {"server_smb1": server, "feature": state}
        installed = state is not None and state.lower().startswith("enable")
        if server:
            yield self.say(Status.FAIL, "served", {}, evidence)
        elif installed:
            yield self.say(Status.WARN, "installed", {}, evidence, severity=Severity.MEDIUM)
        else:
            yield self.say(Status.PASS, "disabled", {}, evidence)


@register
class WindowsOpenShares(WindowsCheck):
    """No shared folder lets Everyone, anonymous users or Guest in."""

    id = "sharing.windows_shares"

    def run(self, host: Host) -> Iterable[Finding]:
        result = self.parsed(host, "smb_shares", open_shares)
        if isinstance(result, Finding):
            yield result
            return
        total, shares = result
        evidence = {"shares": total, "open": [
            {"name": s.name, "path": s.path, "accounts": list(s.accounts), "writable": s.writable}
            for s in shares]}
        writable = [s.name for s in shares if s.writable]
        if writable:
            yield self.say(Status.FAIL, "open_writable", {"shares": writable}, evidence)
        elif shares:
            yield self.say(Status.WARN, "open_read", {"shares": [s.name for s in shares]},
                           evidence, severity=Severity.MEDIUM)
        else:
            yield self.say(Status.PASS, "closed", {"count": total}, evidence)
