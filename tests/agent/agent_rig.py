"""A real Agent and Pusher wired exactly as `sentinelle agent run` wires them (cli.py), with a
fast check selection (the backup family: milliseconds per cycle) and push backoffs of a tenth
of a second, for the fault tests of the agent."""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sentinelle.agent.daemon import Agent
from sentinelle.agent.push import Pusher
from sentinelle.agent.spool import Spool
from sentinelle.config import PushSettings
from sentinelle.runner import Setup, build_setup
from tests.agent.standin_collector import REPORTS, StandinCollector

FAST_PUSH = PushSettings(
    timeout_seconds=5.0,
    spool_max_reports=50,
    spool_max_bytes=1_000_000,
    backoff_initial_seconds=0.05,
    backoff_max_seconds=0.2,
)


def agent_yaml(directory: Path, state_dir: Path) -> Path:
    """A config file keeping only the backup checks (no apt, no nmap: a fast cycle)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "agent.yaml"
    path.write_text(
        f"agent:\n  listen_address: 127.0.0.1:9\n  state_dir: {state_dir}\n"
        "  interval_seconds: 600\n"
        "checks:\n  patching:\n    enabled: false\n  ports:\n    enabled: false\n"
    )
    return path


def fast_setup(config_dir: Path, state_dir: Path, push: PushSettings = FAST_PUSH) -> Setup:
    # `only`, so that a family added to the catalog later does not slow these tests down.
    setup = build_setup(agent_yaml(config_dir, state_dir), only=("backups",))
    # The config file's minimums are for people; the dataclass takes test-sized backoffs.
    return dataclasses.replace(setup, config=dataclasses.replace(setup.config, push=push))


def wired_agent(
    setup: Setup,
    monotonic: Callable[[], float] = time.monotonic,
    wait: Callable[[float], bool] | None = None,
    pusher_clock: Callable[[], float] = time.time,
    pusher_monotonic: Callable[[], float] = time.monotonic,
) -> tuple[Agent, Pusher]:
    """An Agent with its Pusher registered the way cli.py does it (a hook and a collector)."""
    agent = Agent(setup, monotonic=monotonic, wait=wait)
    push = setup.config.push
    state_dir = Path(setup.config.agent.state_dir)
    spool = Spool(state_dir / "spool", push.spool_max_reports, push.spool_max_bytes)
    pusher = Pusher(
        spool,
        state_dir,
        push,
        stop_event=agent.stop_event,
        rng=random.Random(3),
        clock=pusher_clock,
        monotonic=pusher_monotonic,
    )
    agent.hooks.append(pusher.on_report)
    agent.state.extra.append(pusher.collector())
    return agent, pusher


def pushed(standin: StandinCollector) -> list[dict[str, Any]]:
    """Every Report body the stand-in received, in arrival order."""
    return [r.json() for r in standin.requests(REPORTS)]


def stored_health(standin: StandinCollector, report_id: str) -> dict[str, Any]:
    """`agent.health` of the Report the stand-in stored under `report_id`."""
    for body in pushed(standin):
        if body["report_id"] == report_id:
            health = body["agent"]["health"]
            assert isinstance(health, dict)
            return health
    raise AssertionError(f"Report {report_id} never reached the stand-in")
