"""The `sentinelle collector` command-line arguments, apart from the code that runs them.

The agent builds the whole `sentinelle` parser at start: this module imports nothing else, so
the agent does not load the collector's modules (or msgspec) just to parse its arguments.
"""

from __future__ import annotations

from typing import Any


def add_collector_parser(sub: Any) -> None:
    col = sub.add_parser("collector", help="the syndicate's collector")
    col.add_argument("--config", metavar="FILE", help="collector YAML configuration")
    col.add_argument("--store", metavar="URL", help="override the store URL (sqlite:///…)")
    csub = col.add_subparsers(dest="collector_command", required=True)
    csub.add_parser("serve", help="run the collector service")

    commune = csub.add_parser("commune", help="the registry of communes")
    comsub = commune.add_subparsers(dest="commune_command", required=True)
    add = comsub.add_parser("add", help="add or update a commune")
    add.add_argument("code", help="INSEE code, e.g. 01001, 2A004, 97411")
    add.add_argument("--name", required=True)
    add.add_argument("--population", type=int)
    add.add_argument("--mayor-email", action="append", default=[], dest="emails")
    comsub.add_parser("list", help="list communes")
    show = comsub.add_parser("show", help="one commune with its agents")
    show.add_argument("code")

    token = csub.add_parser("token", help="enrollment tokens")
    tsub = token.add_subparsers(dest="token_command", required=True)
    create = tsub.add_parser("create", help="create a commune's enrollment token")
    create.add_argument("--commune", required=True)
    create.add_argument("--expires", default="7d", help="lifetime: 12h, 7d, 2w (default 7d)")
    create.add_argument("--uses", type=int, default=None, help="number of enrollments allowed")
    tlist = tsub.add_parser("list", help="list tokens (never their secret)")
    tlist.add_argument("--commune")
    trevoke = tsub.add_parser("revoke", help="revoke a token by id")
    trevoke.add_argument("token_id")

    agent = csub.add_parser("agent", help="enrolled agents")
    asub = agent.add_subparsers(dest="agent_command", required=True)
    alist = asub.add_parser("list", help="list agents")
    alist.add_argument("--commune")
    revoke = asub.add_parser("revoke", help="revoke an agent: its key is refused from now on")
    revoke.add_argument("agent_id")
