"""`sentinelle agent run|enroll`: the long-running agent of a town-hall server.

`agent run` is the daemon: it is parsed by the same parser as every other command, so nothing
here (or in the other groups' modules) may import the collector, the report or Babel at import
time.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING, Any

from sentinelle.cli.registry import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    add_config,
    command,
    group,
    helptext,
    say,
)

if TYPE_CHECKING:
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


def isolated_agent(config_path: str | None) -> Agent:
    """The agent whose cycles run in a child (sentinelle.agent.cycle): this process never
    imports the checks. The configuration is validated once, in a child, before anything
    starts; this process reads only its agent and push settings."""
    from sentinelle.agent.cycle import ChildCycle, cycle_deadline
    from sentinelle.agent.daemon import Agent
    from sentinelle.config import load_config

    config = load_config(config_path)  # its checks: section is the child's to validate
    child = ChildCycle(config_path, cycle_deadline(config.agent.interval_seconds,
                                                   config.agent.check_timeout_seconds))
    child.validate()
    return Agent(None, config=config, run_cycle=child)


def in_process_agent(config_path: str | None) -> Agent:
    """The agent that runs its checks itself (Windows service), with the syndicate's policy
    applied before each cycle when it pushes."""
    from sentinelle.agent.daemon import Agent
    from sentinelle.runner import build_setup

    setup = build_setup(config_path)
    if not setup.config.push.enabled:
        return Agent(setup)
    from sentinelle.agent.policy import policy_applier  # the policy comes from the collector

    source = policy_applier(config_path, setup)
    return Agent(source.setup, setup_source=source)


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
    from sentinelle.agent.cycle import ConfigRefused, isolated_by_default
    from sentinelle.agent.push import build_pusher

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        agent = isolated_agent(args.config) if isolated_by_default() else in_process_agent(
            args.config)
    except ConfigRefused as exc:  # the child's ConfigError, already in the reader's words
        print(say("cli.error", message=str(exc)), file=sys.stderr)
        return EXIT_USAGE
    config = agent.config
    agent.install_signal_handlers()
    pusher = build_pusher(config, stop_event=agent.stop_event)
    if pusher is not None:
        agent.hooks.append(pusher.on_report)
        agent.state.extra.append(pusher.collector())
    try:
        if args.once:
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
