"""Packages built once per test session by packaging/build-packages, as a release would be."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.packaging.system import build, need_packaging_tools, purge


@dataclass(frozen=True)
class AgentBuilds:
    deb: Path  # 0.1.0-1
    newer_deb: Path  # 0.1.0-2: the upgrade
    rpm: Path | None  # only where rpmbuild is installed


@pytest.fixture(scope="session")
def agent_builds(tmp_path_factory: pytest.TempPathFactory) -> AgentBuilds:
    need_packaging_tools()
    out = tmp_path_factory.mktemp("agent-packages")
    formats = "all" if shutil.which("rpmbuild") else "deb"
    first = build(out, "agent", formats, "1")
    (newer,) = build(out, "agent", "deb", "2")
    debs = [p for p in first if p.suffix == ".deb"]
    rpms = [p for p in first if p.suffix == ".rpm"]
    return AgentBuilds(debs[0], newer, rpms[0] if rpms else None)


@pytest.fixture(scope="session")
def collector_deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_packaging_tools()
    (deb,) = build(tmp_path_factory.mktemp("collector-package"), "collector", "deb", "1")
    return deb


@pytest.fixture
def clean_agent() -> Iterator[None]:
    """No sentinelle-agent before the test (an aborted run may have left one), none after."""
    purge("sentinelle-agent")
    yield
    purge("sentinelle-agent")
