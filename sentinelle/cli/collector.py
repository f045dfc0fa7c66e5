"""`sentinelle collector …`: serve, and manage communes, enrollment tokens and agents.

The arguments are defined here; `sentinelle.collector.cli.run_collector` runs every one of these
commands (it dispatches on `collector_command` and the sub-command attributes itself).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from sentinelle.cli.registry import command, group
from sentinelle.cli.values import email, insee_code, lifetime, whole_number

if TYPE_CHECKING:
    from sentinelle.cli.registry import Subparsers


def register(subparsers: Subparsers) -> None:
    col, csub = group(subparsers, "collector", "collector_command",
                      help="the syndicate's collector")
    col.add_argument("--config", metavar="FILE", help="collector YAML configuration")
    col.add_argument("--store", metavar="URL", help="override the store URL (sqlite:///…)")
    command(csub, "serve", run, help="run the collector service")

    _, comsub = group(csub, "commune", "commune_command", help="the registry of communes")
    add = command(comsub, "add", run, help="add or update a commune")
    add.add_argument("code", type=insee_code, help="INSEE code, e.g. 01001, 2A004, 97411")
    add.add_argument("--name", required=True)
    add.add_argument("--population", type=whole_number(0), metavar="N")
    add.add_argument("--mayor-email", action="append", default=[], dest="emails", type=email,
                     metavar="ADDRESS")
    command(comsub, "list", run, help="list communes")
    show = command(comsub, "show", run, help="one commune with its agents")
    show.add_argument("code", type=insee_code)

    _, tsub = group(csub, "token", "token_command", help="enrollment tokens")
    create = command(tsub, "create", run, help="create a commune's enrollment token")
    create.add_argument("--commune", required=True, type=insee_code, metavar="CODE")
    create.add_argument("--expires", default="7d", type=lifetime, metavar="DURATION",
                        help="lifetime: 12h, 7d, 2w (default 7d)")
    create.add_argument("--uses", type=whole_number(1), default=None, metavar="N",
                        help="number of enrollments allowed")
    tlist = command(tsub, "list", run, help="list tokens (never their secret)")
    tlist.add_argument("--commune", type=insee_code, metavar="CODE")
    trevoke = command(tsub, "revoke", run, help="revoke a token by id")
    trevoke.add_argument("token_id")

    _, asub = group(csub, "agent", "agent_command", help="enrolled agents")
    alist = command(asub, "list", run, help="list agents")
    alist.add_argument("--commune", type=insee_code, metavar="CODE")
    revoke = command(asub, "revoke", run,
                     help="revoke an agent: its key is refused from now on")
    revoke.add_argument("agent_id")


def run(args: argparse.Namespace) -> int:
    from sentinelle.collector.cli import run_collector

    return run_collector(args)
