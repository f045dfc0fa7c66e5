"""`sentinelle collector …`: serve, and manage communes, enrollment tokens and agents.

The arguments are defined here; `sentinelle.collector.cli.run_collector` runs every one of these
commands (it dispatches on `collector_command` and the sub-command attributes itself).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from sentinelle.cli.registry import command, group, helptext
from sentinelle.cli.values import email, insee_code, lifetime, whole_number

if TYPE_CHECKING:
    from sentinelle.cli.registry import Subparsers


def register(subparsers: Subparsers) -> None:
    col, csub = group(subparsers, "collector", "collector_command",
                      help=helptext("cli.help.collector"))
    col.add_argument("--config", metavar="FILE", help=helptext("cli.help.collector.config"))
    col.add_argument("--store", metavar="URL", help=helptext("cli.help.collector.store"))
    command(csub, "serve", run, help=helptext("cli.help.collector.serve"))

    _, comsub = group(csub, "commune", "commune_command",
                      help=helptext("cli.help.collector.commune"))
    add = command(comsub, "add", run, help=helptext("cli.help.collector.commune.add"))
    add.add_argument("code", type=insee_code, help=helptext("cli.help.collector.commune.code"))
    add.add_argument("--name", required=True,
                     help=helptext("cli.help.collector.commune.name"))
    add.add_argument("--population", type=whole_number(0), metavar="N",
                     help=helptext("cli.help.collector.commune.population"))
    add.add_argument("--mayor-email", action="append", default=[], dest="emails", type=email,
                     metavar="ADDRESS", help=helptext("cli.help.collector.commune.mayor_email"))
    command(comsub, "list", run, help=helptext("cli.help.collector.commune.list"))
    show = command(comsub, "show", run, help=helptext("cli.help.collector.commune.show"))
    show.add_argument("code", type=insee_code,
                      help=helptext("cli.help.collector.commune.code"))

    _, tsub = group(csub, "token", "token_command", help=helptext("cli.help.collector.token"))
    create = command(tsub, "create", run, help=helptext("cli.help.collector.token.create"))
    create.add_argument("--commune", required=True, type=insee_code, metavar="CODE",
                        help=helptext("cli.help.collector.token.commune"))
    create.add_argument("--expires", default="7d", type=lifetime, metavar="DURATION",
                        help=helptext("cli.help.collector.token.expires"))
    create.add_argument("--uses", type=whole_number(1), default=None, metavar="N",
                        help=helptext("cli.help.collector.token.uses"))
    tlist = command(tsub, "list", run, help=helptext("cli.help.collector.token.list"))
    tlist.add_argument("--commune", type=insee_code, metavar="CODE",
                       help=helptext("cli.help.collector.only_commune"))
    trevoke = command(tsub, "revoke", run, help=helptext("cli.help.collector.token.revoke"))
    trevoke.add_argument("token_id",
                         help=helptext("cli.help.collector.token.token_id"))

    _, asub = group(csub, "agent", "agent_command", help=helptext("cli.help.collector.agent"))
    alist = command(asub, "list", run, help=helptext("cli.help.collector.agent.list"))
    alist.add_argument("--commune", type=insee_code, metavar="CODE",
                       help=helptext("cli.help.collector.only_commune"))
    revoke = command(asub, "revoke", run,
                     help=helptext("cli.help.collector.agent.revoke"))
    revoke.add_argument("agent_id",
                        help=helptext("cli.help.collector.agent.agent_id"))


def run(args: argparse.Namespace) -> int:
    from sentinelle.collector.cli import run_collector

    return run_collector(args)
