"""Firewall: incoming traffic is refused unless a rule lets it in (ANSSI measure 17).

The effective ruleset is read from the kernel (`nft -j list ruleset`; the legacy iptables
back-end when nftables holds nothing), never from a configuration file that claims it:
/etc/nftables.conf, ufw's files or a saved iptables script may well not be loaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sentinelle.checks.base import Check, register
from sentinelle.checks.firewall.ruleset import (
    IPV4,
    IPV6,
    InputChain,
    RulesetError,
    open_families,
    parse_iptables_save,
    parse_nft_json,
)
from sentinelle.checks.privileges import lacking_args, lacking_reason, missing
from sentinelle.errors import CommandError, CommandNotFound, CommandTimeout
from sentinelle.model import Finding, Status
from sentinelle.params import param

if TYPE_CHECKING:
    from sentinelle.host import Host

NFT_ARGV = ("nft", "-j", "list", "ruleset")
LEGACY_ARGV = {IPV4: ("iptables-legacy-save",), IPV6: ("ip6tables-legacy-save",)}
# Reading the ruleset over netlink needs CAP_NET_ADMIN, even only to list it.
NET_ADMIN = "CAP_NET_ADMIN"
# Chains named in evidence (a ruleset may have many).
MAX_CHAINS = 32


class _Unseen(Exception):
    """The ruleset could not be read: the finding that says why."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


@register
class FirewallDefaultDeny(Check):
    """An active firewall refuses incoming traffic by default, for IPv4 and IPv6."""

    id = "firewall.default_deny"
    platforms = frozenset({"linux"})

    @dataclass(frozen=True)
    class Params:
        require_ipv6: bool = param(doc="IPv6 must be refused by default too")
        timeout_seconds: float = param(minimum=1, maximum=600, doc="per nft/iptables command")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        if not host.is_live:
            yield self.say(Status.SKIP, "not_live", {"root": str(host.root)},
                           {"reason": f"the ruleset is the running kernel's, not the tree "
                                      f"{host.root}'s"})
            return
        try:
            source, chains = self._collect(host)
        except _Unseen as unseen:
            yield unseen.finding
            return
        wanted = [IPV4, IPV6] if self.params.require_ipv6 else [IPV4]
        still_open = [f for f in open_families(chains) if f in wanted]
        evidence: dict[str, Any] = {
            "source": source,
            "input_chains": [_chain_evidence(c) for c in chains[:MAX_CHAINS]],
            "open_families": still_open,
        }
        if not chains:
            yield self.say(Status.FAIL, "none", {"source": source}, evidence)
        elif not still_open:
            yield self.say(Status.PASS, "default_deny",
                           {"source": source, "chains": [c.describe() for c in chains
                                                         if c.denies][:MAX_CHAINS]}, evidence)
        elif still_open == wanted:
            yield self.say(Status.FAIL, "accepts",
                           {"source": source, "chains": [c.describe() for c in chains]
                            [:MAX_CHAINS]}, evidence)
        else:
            yield self.say(Status.FAIL, "family_open",
                           {"source": source, "families": [_LABEL[f] for f in still_open]},
                           evidence)

    def _collect(self, host: Host) -> tuple[str, list[InputChain]]:
        """("nftables" or "iptables-legacy", the input chains); nft first."""
        text = self._read(host, NFT_ARGV)
        if text is not None:
            try:
                chains = parse_nft_json(text)
            except RulesetError as exc:
                raise _Unseen(self.say(Status.ERROR, "unreadable", {"command": " ".join(NFT_ARGV)},
                                       {"error": str(exc)})) from exc
            if chains or '"table"' in text:
                return "nftables", chains
        legacy: list[InputChain] = []
        ran = False
        for family, argv in LEGACY_ARGV.items():
            out = self._read(host, argv)
            if out is not None:
                ran = True
                legacy += parse_iptables_save(out, family)
        if text is None and not ran:
            raise _Unseen(self.say(Status.SKIP, "no_tool", {},
                                   {"reason": "neither nft nor iptables-legacy-save is installed"}))
        return ("iptables-legacy" if legacy else "nftables"), legacy

    def _read(self, host: Host, argv: tuple[str, ...]) -> str | None:
        """The command's output; None when it is not installed."""
        shown = " ".join(argv)
        try:
            result = host.run(argv, timeout=self.params.timeout_seconds)
        except CommandNotFound:
            return None
        except CommandTimeout as exc:
            raise _Unseen(self.say(Status.ERROR, "timeout",
                                   {"command": shown, "seconds": self.params.timeout_seconds},
                                   {"error": str(exc)})) from exc
        except CommandError as exc:
            raise _Unseen(self.say(Status.ERROR, "failed", {"command": shown, "detail": str(exc)},
                                   {"error": str(exc)})) from exc
        if result.ok:
            return result.stdout
        detail = " / ".join(result.stderr.strip().splitlines()[-2:]) or f"exit {result.returncode}"
        lacking = missing(NET_ADMIN)
        if lacking or "Operation not permitted" in result.stderr:
            reason = lacking_reason(lacking or [NET_ADMIN], "read the kernel's firewall rules")
            raise _Unseen(self.say(Status.SKIP, "no_privilege",
                                   {"command": shown, **lacking_args(lacking or [NET_ADMIN])},
                                   {"reason": reason, "error": detail}))
        raise _Unseen(self.say(Status.ERROR, "failed", {"command": shown, "detail": detail},
                               {"error": detail, "returncode": result.returncode}))


# Address families as people name them (not words of any one language).
_LABEL = {IPV4: "IPv4", IPV6: "IPv6"}


def _chain_evidence(chain: InputChain) -> dict[str, Any]:
    return {"source": chain.source, "table": chain.table, "chain": chain.name,
            "families": list(chain.families), "policy": chain.policy,
            "verdict": chain.verdict, "rules": chain.rules}
