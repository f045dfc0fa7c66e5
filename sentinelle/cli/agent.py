"""`sentinelle agent run|enroll`: the long-running agent of a town-hall server.

`agent run` is the daemon: it is parsed by the same parser as every other command, so nothing
here (or in the other groups' modules) may import the collector, the report or Babel at import
time.
"""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING, Any

from sentinelle.cli.registry import (
    EXIT_FAILURE,
    EXIT_OK,
    add_config,
    command,
    group,
    helptext,
    say,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from sentinelle.agent.daemon import Agent
    from sentinelle.cli.registry import Subparsers


def register(subparsers: Subparsers) -> None:
    _, agent = group(subparsers, "agent", "agent_command", help=helptext("cli.help.agent"))
    run = command(agent, "run", run_agent, help=helptext("cli.help.agent.run"))
    add_config(run)
    run.add_argument("--once", action="store_true", help=helptext("cli.help.agent.run.once"))
    enroll = command(agent, "enroll", enroll_agent,
                     help=helptext("cli.help.agent.enroll"))
    add_config(enroll)
    enroll.add_argument("--collector", required=True, metavar="URL",
                        help=helptext("cli.help.agent.enroll.collector"))
    enroll.add_argument("--token", required=True, help=helptext("cli.help.agent.enroll.token"))
    enroll.add_argument("--hostname", help=helptext("cli.help.agent.enroll.hostname"))
    enroll.add_argument(
        "--ca-bundle",
        metavar="FILE",
        help=helptext("cli.help.agent.enroll.ca_bundle"),
    )
    enroll.add_argument(
        "--force",
        action="store_true",
        help=helptext("cli.help.agent.enroll.force"),
    )
    from sentinelle.cli.windows import register_agent_commands

    register_agent_commands(agent)


def enroll_agent(args: argparse.Namespace) -> int:
    from sentinelle.agent import enroll
    from sentinelle.config import load_config
    from sentinelle.rules import load_rules
    from sentinelle.runner import known_params

    config = load_config(args.config, known_params(load_rules()))
    creds = enroll.enroll(
        args.collector,
        args.token,
        args.hostname or enroll.default_hostname(),
        config.agent.state_dir,
        ca_bundle=args.ca_bundle or config.push.ca_bundle,
        timeout=config.push.timeout_seconds,
        replace=args.force,
    )
    print(say("cli.agent.enrolled", agent_id=creds.agent_id, commune=creds.commune,
              host=creds.host, path=str(enroll.credentials_path(config.agent.state_dir))))
    return EXIT_OK


def run_agent(args: argparse.Namespace) -> int:
    return serve_agent(args.config, once=args.once)


def serve_agent(config: str | None, once: bool = False,
                started: Callable[[Agent], None] | None = None) -> int:
    """The daemon: `sentinelle agent run`, and the Windows service's body (which gets the
    agent through `started` to stop it, where a signal handler cannot be installed)."""
    from sentinelle.agent.daemon import Agent
    from sentinelle.agent.push import build_pusher
    from sentinelle.runner import build_setup

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    setup = build_setup(config)
    source = None
    if setup.config.push.enabled:  # the policy comes from the collector the agent pushes to
        from sentinelle.agent.policy import policy_applier

        source = policy_applier(config, setup)
        setup = source.setup
    agent = Agent(setup, setup_source=source)
    if started is None:
        agent.install_signal_handlers()
    else:
        started(agent)
    pusher = build_pusher(setup.config, stop_event=agent.stop_event)
    if pusher is not None:
        agent.hooks.append(pusher.on_report)
        agent.state.extra.append(pusher.collector())
    try:
        if once:
            report = agent.cycle()
            if report is None:
                return EXIT_FAILURE
            said: dict[str, Any] = {"host": str(report.host.get("hostname")),
                                    "score": round(report.score.value),
                                    "grade": report.score.grade,
                                    "path": str(agent.state_dir / "last-report.json")}
            if pusher is not None and pusher.credentials() is not None:
                pusher.drain()
                print(say("cli.agent.cycle_spool", count=pusher.status().spool_depth, **said))
            else:
                print(say("cli.agent.cycle", **said))
            return EXIT_OK
        if pusher is not None:
            pusher.start()
        addr, port = agent.serve()
        logging.getLogger("sentinelle.agent").info(
            "serving /metrics on http://%s:%d/metrics", addr, port
        )
        agent.run_forever()
        return EXIT_OK
    finally:
        if pusher is not None:
            pusher.close()
