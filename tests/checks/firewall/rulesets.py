"""Real rulesets loaded into a network namespace of the test's own, for the firewall tests.

`ruleset_namespace(name)` creates a fresh namespace (`ip netns add`), loads
fixtures/rulesets/NAME.nft with `nft -f` (or runs NAME.sh, iptables commands, with `sh -e`)
inside it, and yields a runner that runs a Host's commands inside it (`ip netns exec`). The
machine's own ruleset is never touched: a new namespace starts with an empty one.
`python3 -m tests.checks.firewall.rulesets` records each ruleset's outputs into
fixtures/recorded/ (what the fixture tests replay).
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from sentinelle.host import CommandResult, Runner, subprocess_runner
from tests.checks.netns import ip

HERE = Path(__file__).parent
RULESETS = HERE / "fixtures" / "rulesets"
RECORDED = HERE / "fixtures" / "recorded"
PREFIX = "sntl-fw"
COMMAND_TIMEOUT = 20.0
RECORDED_COMMANDS = (
    ("nft", "-j", "list", "ruleset"),
    ("iptables-legacy-save",),
    ("ip6tables-legacy-save",),
)


def ruleset_names() -> list[str]:
    return sorted(p.stem for p in RULESETS.iterdir() if p.suffix in (".nft", ".sh"))


@contextmanager
def ruleset_namespace(name: str) -> Iterator[Runner]:
    """A namespace holding ruleset NAME; its runner runs argv inside it."""
    ns = f"{PREFIX}-{os.getpid()}-{secrets.token_hex(3)}"
    ip("netns", "add", ns)
    try:
        nft = RULESETS / f"{name}.nft"
        script = nft if nft.exists() else RULESETS / f"{name}.sh"
        loader = ["nft", "-f", str(script)] if nft.exists() else ["sh", "-e", str(script)]
        proc = subprocess.run(["ip", "netns", "exec", ns, *loader], capture_output=True,
                              text=True, timeout=COMMAND_TIMEOUT, stdin=subprocess.DEVNULL,
                              check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"loading {script.name} failed: {proc.stderr.strip()}")

        def runner(argv: Sequence[str], timeout: float,
                   env: Mapping[str, str] | None) -> CommandResult:
            result = subprocess_runner(["ip", "netns", "exec", ns, *argv], timeout, env)
            return CommandResult(tuple(argv), result.returncode, result.stdout, result.stderr,
                                 result.duration_seconds)

        yield runner
    finally:
        ip("netns", "del", ns, check=False)


def record() -> None:
    """Record each ruleset's command outputs (run as root on Debian 12)."""
    RECORDED.mkdir(parents=True, exist_ok=True)
    for name in ruleset_names():
        with ruleset_namespace(name) as runner:
            for argv in RECORDED_COMMANDS:
                result = runner(argv, COMMAND_TIMEOUT, None)
                out = RECORDED / f"{name}.{argv[0]}.out"
                out.write_text(result.stdout, encoding="utf-8")


if __name__ == "__main__":
    record()
