"""What the kernel's packet filter does with incoming traffic, read from the effective ruleset.

On Debian 12 nftables, iptables-nft and ufw all end up in the kernel's nftables ruleset, so
`nft -j list ruleset` shows what really filters, whoever wrote it. A machine still on the legacy
iptables back-end shows nothing there; its rules come from `iptables-legacy-save` (and
`ip6tables-legacy-save`).

Netfilter's rule: every base chain on the input hook sees the packet in turn; `accept` only ends
that chain, `drop` (or `reject`) ends it all. So input is default-deny for an address family when
one of its input chains ends in drop: its policy is drop, or an unconditional drop/reject rule
comes before any unconditional accept.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Address families of the packets a table's chains see ("inet" is both).
IPV4 = "ipv4"
IPV6 = "ipv6"
_TABLE_FAMILIES = {"ip": (IPV4,), "ip6": (IPV6,), "inet": (IPV4, IPV6)}
# Expressions that match nothing: a rule made only of these (and a verdict) is unconditional.
_NEUTRAL = frozenset({"counter", "log", "comment", "notrack"})
_DENY = frozenset({"drop", "reject"})


@dataclass(frozen=True)
class InputChain:
    """One base chain on the input hook and what it does with a packet no rule matched."""

    source: str  # "nftables" or "iptables-legacy"
    table: str  # "inet filter", "ip filter"...
    name: str
    families: tuple[str, ...]
    policy: str  # "accept" or "drop"
    verdict: str  # what an unmatched packet gets: the first unconditional verdict, else policy
    rules: int

    @property
    def denies(self) -> bool:
        return self.verdict in _DENY

    def describe(self) -> str:
        return f"{self.table} {self.name}"


class RulesetError(ValueError):
    """The ruleset could not be understood (not nft's JSON, not iptables-save's text)."""


def _unconditional_verdict(expr: Sequence[Any]) -> str | None:
    """The verdict of a rule that matches every packet (only counters, logs and a verdict)."""
    if not expr:
        return None
    *before, last = expr
    if not isinstance(last, Mapping) or len(last) != 1:
        return None
    (verdict,) = last.keys()
    if verdict not in {"accept", "drop", "reject"}:
        return None
    for item in before:
        if not isinstance(item, Mapping) or not set(item) <= _NEUTRAL:
            return None
    return str(verdict)


def parse_nft_json(text: str) -> list[InputChain]:
    """The input-hook filter chains of `nft -j list ruleset`, with their effective verdict."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise RulesetError(f"nft -j list ruleset: not JSON ({exc})") from exc
    items = data.get("nftables") if isinstance(data, Mapping) else None
    if not isinstance(items, list):
        raise RulesetError("nft -j list ruleset: no 'nftables' list")
    chains: dict[tuple[str, str, str], dict[str, Any]] = {}
    rules: dict[tuple[str, str, str], list[Sequence[Any]]] = {}
    for item in items:
        if not isinstance(item, Mapping):
            continue
        if isinstance(item.get("chain"), Mapping):
            c = item["chain"]
            key = (str(c.get("family")), str(c.get("table")), str(c.get("name")))
            if c.get("hook") == "input" and c.get("type", "filter") == "filter":
                chains[key] = dict(c)
        elif isinstance(item.get("rule"), Mapping):
            r = item["rule"]
            key = (str(r.get("family")), str(r.get("table")), str(r.get("chain")))
            expr = r.get("expr")
            rules.setdefault(key, []).append(expr if isinstance(expr, list) else [])
    found: list[InputChain] = []
    for key, c in chains.items():
        family, table, name = key
        if family not in _TABLE_FAMILIES:
            continue  # arp, bridge, netdev: not the machine's own IP traffic
        policy = str(c.get("policy", "accept"))
        chain_rules = rules.get(key, [])
        found.append(
            InputChain("nftables", f"{family} {table}", name, _TABLE_FAMILIES[family], policy,
                       _first_verdict((_unconditional_verdict(e) for e in chain_rules), policy),
                       len(chain_rules))
        )
    return found


def _first_verdict(verdicts: Iterable[str | None], policy: str) -> str:
    for verdict in verdicts:
        if verdict is not None:
            return verdict
    return policy


def parse_iptables_save(text: str, family: str) -> list[InputChain]:
    """The INPUT chain of `iptables-legacy-save` (family ipv4) or `ip6tables-legacy-save`."""
    table = ""
    policy: str | None = None
    verdicts: list[str | None] = []
    count = 0
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("*"):
            table = line[1:]
        elif table == "filter" and line.startswith(":INPUT "):
            policy = line.split()[1].lower()
        elif table == "filter" and line.startswith("-A INPUT "):
            count += 1
            words = line.split()[2:]
            # Unconditional: nothing but the target (and its options, for REJECT).
            target = words[1].lower() if len(words) >= 2 and words[0] in ("-j", "--jump") else ""
            verdicts.append(target if target in {"accept", "drop", "reject"} else None)
    if policy is None:
        return []
    return [InputChain("iptables-legacy", f"{family} filter", "INPUT", (family,), policy,
                       _first_verdict(verdicts, policy), count)]


def open_families(chains: Iterable[InputChain]) -> list[str]:
    """The address families for which no input chain denies by default."""
    denied = {f for c in chains if c.denies for f in c.families}
    return [f for f in (IPV4, IPV6) if f not in denied]
