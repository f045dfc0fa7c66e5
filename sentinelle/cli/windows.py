"""`sentinelle agent record` (a capture of every Windows collector, redacted) and `sentinelle
agent service install|start|stop|remove` (the agent as a Windows service, through pywin32).

Registered under the `agent` group by sentinelle.cli.agent; like every group module it imports
nothing heavy when the parser is built."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sentinelle.cli.registry import EXIT_OK, add_config, command, helptext, say
from sentinelle.errors import SentinelleError

if TYPE_CHECKING:
    from sentinelle.cli.registry import Subparsers

SERVICE_ACTIONS = ("install", "start", "stop", "remove")


class NotOnWindows(SentinelleError):
    """A Windows-only command run elsewhere, or without pywin32: says which, in words."""


def register_agent_commands(agent: Subparsers) -> None:
    record = command(agent, "record", record_capture, help=helptext("cli.help.agent.record"))
    record.add_argument("--out", required=True, metavar="DIR",
                        help=helptext("cli.help.agent.record.out"))
    record.add_argument("--source", metavar="TEXT",
                        help=helptext("cli.help.agent.record.source"))
    service = command(agent, "service", service_command,
                      help=helptext("cli.help.agent.service"))
    service.add_argument("action", choices=SERVICE_ACTIONS,
                         help=helptext("cli.help.agent.service.action"))
    add_config(service)


def record_capture(args: argparse.Namespace) -> int:
    if sys.platform != "win32":
        raise NotOnWindows(say("cli.windows.not_windows", command="agent record"))
    from sentinelle.host import Host
    from sentinelle.windows.capture import record

    out = Path(args.out)
    source = args.source or say("cli.windows.recorded_here")
    manifest = record(Host(), out, source)
    failed = sorted(n for n, s in manifest["collectors"].items() if s["status"] != "ok")
    print(say("cli.windows.recorded", path=str(out), count=len(manifest["collectors"]),
              build=str(manifest["os_build"]), powershell=str(manifest["powershell"])))
    if failed:
        print(say("cli.windows.recorded_missing", names=failed))
    return EXIT_OK


def service_command(args: argparse.Namespace) -> int:
    from sentinelle.windows import service

    if sys.platform != "win32":
        raise NotOnWindows(say("cli.windows.not_windows", command="agent service"))
    if not service.available():
        raise NotOnWindows(say("cli.windows.no_pywin32"))
    config = str(Path(args.config).resolve()) if args.config else service.default_config()
    if args.action == "install":
        service.install(config)
        print(say("cli.windows.service_installed", name=service.SERVICE_NAME, config=config))
    elif args.action == "start":
        service.start()
        print(say("cli.windows.service_started", name=service.SERVICE_NAME))
    elif args.action == "stop":
        service.stop()
        print(say("cli.windows.service_stopped", name=service.SERVICE_NAME))
    else:
        service.remove()
        print(say("cli.windows.service_removed", name=service.SERVICE_NAME))
    return EXIT_OK
