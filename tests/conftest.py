"""Shared test helpers.

Integration tests need real tools (nmap, restic, borg, promtool, root for network namespaces).
Locally a missing tool skips them; in CI (`SENTINELLE_REQUIRE_INTEGRATION=1`, set by .ci/run) a
missing tool is a failure, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sentinelle.host import CommandResult, Host

REQUIRE = os.environ.get("SENTINELLE_REQUIRE_INTEGRATION") == "1"


def need(condition: bool, why: str) -> None:
    """Skip locally, fail in CI, when an integration prerequisite is missing."""
    if condition:
        return
    if REQUIRE:
        pytest.fail(f"integration prerequisite missing in CI: {why}")
    pytest.skip(why)


def need_tool(name: str) -> str:
    path = shutil.which(name)
    need(path is not None, f"{name} is not installed")
    assert path is not None
    return path


def need_root() -> None:
    need(os.geteuid() == 0, "needs root (network namespaces)")


FIXED_NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


def fixture_host(
    root: Path,
    now: datetime = FIXED_NOW,
    commands: Mapping[tuple[str, ...], CommandResult | Exception] | None = None,
) -> Host:
    """A Host on a fixture tree with a fixed clock.

    `commands` maps an argv prefix to a recorded result; a command with no recording raises, so a
    test never silently runs the real machine's tools against a fixture tree.
    """
    table = dict(commands or {})

    def runner(argv: Sequence[str], timeout: float, env: Mapping[str, str] | None) -> CommandResult:
        for prefix, result in table.items():
            if tuple(argv[: len(prefix)]) == prefix:
                if isinstance(result, Exception):
                    raise result
                return result
        raise AssertionError(f"unexpected command in fixture host: {list(argv)}")

    return Host(root=root, runner=runner, clock=lambda: now)


def recorded(
    stdout: str, returncode: int = 0, stderr: str = "", argv: Sequence[str] = ("recorded",)
) -> CommandResult:
    return CommandResult(tuple(argv), returncode, stdout, stderr, 0.01)


HostFactory = Callable[..., Host]


@pytest.fixture
def make_host() -> HostFactory:
    return fixture_host
