"""firewall.default_deny: recorded rulesets replayed, and the same rulesets loaded for real with
`nft -f` in a network namespace the test creates, the check's commands run inside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sentinelle.checks.base import CheckContext
from sentinelle.checks.firewall import checks as firewall
from sentinelle.checks.firewall.checks import LEGACY_ARGV, NFT_ARGV, FirewallDefaultDeny
from sentinelle.config import Config
from sentinelle.errors import CommandError, CommandNotFound, CommandTimeout
from sentinelle.host import CommandResult, Host
from sentinelle.model import Finding, Status
from sentinelle.rules import load_rules
from tests.checks.firewall.rulesets import RECORDED, ruleset_names, ruleset_namespace
from tests.checks.texts import remedy, rendered, summary
from tests.conftest import fixture_host, need_root, need_tool, recorded

RULES = load_rules()

# What each ruleset of fixtures/rulesets must give: (message case, families left open).
EXPECTED = {
    "debian-default": ("accepts", ["ipv4", "ipv6"]),
    "inet-drop": ("default_deny", []),
    "ipv4-only-drop": ("family_open", ["ipv6"]),
    "final-reject": ("default_deny", []),
    "accept-before-drop": ("accepts", ["ipv4", "ipv6"]),
    "nat-only": ("none", ["ipv4", "ipv6"]),
    "two-chains": ("default_deny", []),
    "empty": ("none", ["ipv4", "ipv6"]),
    "iptables-nft": ("default_deny", []),
    "iptables-legacy": ("family_open", ["ipv6"]),
}


def check(**params: Any) -> FirewallDefaultDeny:
    meta = RULES.checks[FirewallDefaultDeny.id]
    return FirewallDefaultDeny(meta, {**meta.params, **params}, CheckContext(Config(), RULES))


def run(host: Host, **params: Any) -> Finding:
    (finding,) = check(**params).run(host)
    rendered(finding, RULES)
    return finding


def replay(name: str) -> Host:
    """The live machine's view (root /), its commands answered by ruleset NAME's recording."""
    commands: dict[tuple[str, ...], CommandResult | Exception] = {
        argv: recorded((RECORDED / f"{name}.{argv[0]}.out").read_text(), argv=argv)
        for argv in (NFT_ARGV, *LEGACY_ARGV.values())
    }
    return fixture_host(Path("/"), commands=commands)


def test_every_ruleset_has_an_expectation() -> None:
    assert sorted(EXPECTED) == ruleset_names()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_rulesets(name: str) -> None:
    case, still_open = EXPECTED[name]
    f = run(replay(name))
    assert f.message == f"firewall.default_deny.{case}"
    assert f.status is (Status.PASS if case == "default_deny" else Status.FAIL)
    assert f.evidence["open_families"] == still_open


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_rulesets_in_a_network_namespace(name: str) -> None:
    need_root()
    need_tool("nft")
    need_tool("iptables-legacy")
    case, still_open = EXPECTED[name]
    with ruleset_namespace(name) as runner:
        f = run(Host("/", runner=runner))
    assert f.message == f"firewall.default_deny.{case}", f.evidence
    assert f.evidence["open_families"] == still_open


def test_the_legacy_back_end_is_read_when_nftables_is_empty() -> None:
    f = run(replay("iptables-legacy"))
    assert f.args == {"source": "iptables-legacy", "families": ["IPv6"]}
    (v4,) = [c for c in f.evidence["input_chains"] if c["families"] == ["ipv4"]]
    assert v4["policy"] == "accept" and v4["verdict"] == "reject"
    assert "mais pas en IPv6" in summary(f, "fr", RULES)


def test_ipv6_is_a_parameter() -> None:
    assert run(replay("ipv4-only-drop"), require_ipv6=False).status is Status.PASS
    assert run(replay("ipv4-only-drop")).status is Status.FAIL


def test_a_later_chain_that_drops_still_drops() -> None:
    # accept ends only its own chain: the "late" table's drop policy decides.
    f = run(replay("two-chains"))
    assert f.args["chains"] == ["inet late input"]
    assert "refuse par défaut le trafic entrant : inet late input" in summary(f, "fr", RULES)


def test_accepting_everything_names_the_chains_and_says_what_to_do() -> None:
    f = run(replay("debian-default"))
    assert f.args == {"source": "nftables", "chains": ["inet filter input"]}
    assert remedy(f, "fr", RULES).startswith("Faites refuser par défaut le trafic entrant")


def test_without_net_admin_it_skips_and_says_which_privilege(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(firewall, "missing", lambda *names: list(names))
    err = (RECORDED / "nobody.nft.err").read_text()
    host = fixture_host(Path("/"), commands={NFT_ARGV: recorded("", 1, err, NFT_ARGV)})
    f = run(host)
    assert f.status is Status.SKIP and f.message == "firewall.default_deny.no_privilege"
    assert f.args["capabilities"] == ["CAP_NET_ADMIN"]
    assert "CAP_NET_ADMIN" in f.evidence["reason"]
    assert "Operation not permitted" in f.evidence["error"]


def test_nft_failing_otherwise_is_an_error() -> None:
    host = fixture_host(Path("/"), commands={NFT_ARGV: recorded("", 1, "Error: boom\n")})
    f = run(host)
    assert f.status is Status.ERROR and f.args["detail"] == "Error: boom"


@pytest.mark.parametrize(
    ("error", "case"),
    [(CommandTimeout("nft: no answer after 20 s"), "timeout"),
     (CommandError("nft: [Errno 8] Exec format error"), "failed")],
)
def test_nft_that_cannot_run_is_an_error(error: Exception, case: str) -> None:
    f = run(fixture_host(Path("/"), commands={NFT_ARGV: error}))
    assert f.status is Status.ERROR and f.message == f"firewall.default_deny.{case}"


def test_output_that_is_not_nfts_json_is_an_error() -> None:
    f = run(fixture_host(Path("/"), commands={NFT_ARGV: recorded("table inet filter {\n")}))
    assert f.status is Status.ERROR and f.message == "firewall.default_deny.unreadable"


def test_no_tool_at_all_is_a_skip() -> None:
    missing_tool = CommandNotFound("nft: not installed")
    commands: dict[tuple[str, ...], CommandResult | Exception] = {
        argv: missing_tool for argv in (NFT_ARGV, *LEGACY_ARGV.values())}
    f = run(fixture_host(Path("/"), commands=commands))
    assert f.status is Status.SKIP and f.message == "firewall.default_deny.no_tool"


def test_only_legacy_installed_is_read() -> None:
    commands: dict[tuple[str, ...], CommandResult | Exception] = {
        NFT_ARGV: CommandNotFound("nft: not installed"),
        **{argv: recorded((RECORDED / f"iptables-legacy.{argv[0]}.out").read_text())
           for argv in LEGACY_ARGV.values()}}
    f = run(fixture_host(Path("/"), commands=commands))
    assert f.message == "firewall.default_deny.family_open"


def test_a_fixture_tree_is_a_skip(tmp_path: Path) -> None:
    f = run(fixture_host(tmp_path))
    assert f.status is Status.SKIP and f.message == "firewall.default_deny.not_live"
