"""`sentinelle collector …`: serve, and manage communes, enrollment tokens and agents.

The arguments are defined here; `sentinelle.collector.cli.run_collector` runs every one of these
commands (it dispatches on `collector_command` and the sub-command attributes itself).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

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

    _register_policy(csub)
    _register_devices(csub)


def _register_devices(csub: Any) -> None:
    """`collector device …`: the commune's LAN inventory, and the SOC's approvals."""
    _, dsub = group(csub, "device", "device_command", help=helptext("cli.help.collector.device"))
    dlist = command(dsub, "list", run, help=helptext("cli.help.collector.device.list"))
    dlist.add_argument("--commune", required=True, metavar="INSEE",
                       help=helptext("cli.help.collector.device.commune"))
    dlist.add_argument("--format", choices=("text", "json"), default="text",
                       help=helptext("cli.help.collector.device.format"))
    dapprove = command(dsub, "approve", run, help=helptext("cli.help.collector.device.approve"))
    dapprove.add_argument("--commune", required=True, metavar="INSEE",
                          help=helptext("cli.help.collector.device.commune"))
    dapprove.add_argument("--mac", required=True, help=helptext("cli.help.collector.device.mac"))
    dapprove.add_argument("--label", required=True,
                          help=helptext("cli.help.collector.device.label"))
    dapprove.add_argument("--by", required=True, metavar="NAME",
                          help=helptext("cli.help.collector.by"))
    dforget = command(dsub, "forget", run, help=helptext("cli.help.collector.device.forget"))
    dforget.add_argument("--commune", required=True, metavar="INSEE",
                         help=helptext("cli.help.collector.device.commune"))
    dforget.add_argument("--mac", required=True, help=helptext("cli.help.collector.device.mac"))
    dforget.add_argument("--by", required=True, metavar="NAME",
                         help=helptext("cli.help.collector.by"))


def _register_policy(csub: Any) -> None:
    """`collector policy …` and `collector waiver …`: the syndicate's choices, recorded."""
    _, psub = group(csub, "policy", "policy_command", help=helptext("cli.help.collector.policy"))
    pset = command(psub, "set", run, help=helptext("cli.help.collector.policy.set"))
    pset.add_argument("--scope", required=True, help=helptext("cli.help.collector.scope"))
    pset.add_argument("--file", required=True, metavar="FILE",
                      help=helptext("cli.help.collector.policy.file"))
    pset.add_argument("--by", required=True, metavar="NAME",
                      help=helptext("cli.help.collector.by"))
    pclear = command(psub, "clear", run, help=helptext("cli.help.collector.policy.clear"))
    pclear.add_argument("--scope", required=True, help=helptext("cli.help.collector.scope"))
    pclear.add_argument("--by", required=True, metavar="NAME",
                        help=helptext("cli.help.collector.by"))
    pshow = command(psub, "show", run, help=helptext("cli.help.collector.policy.show"))
    pshow.add_argument("--agent", metavar="AGENT_ID",
                       help=helptext("cli.help.collector.policy.agent"))
    phist = command(psub, "history", run, help=helptext("cli.help.collector.policy.history"))
    phist.add_argument("--limit", type=whole_number(1), default=50, metavar="N",
                       help=helptext("cli.help.collector.policy.limit"))

    _, wsub = group(csub, "waiver", "waiver_command", help=helptext("cli.help.collector.waiver"))
    wadd = command(wsub, "add", run, help=helptext("cli.help.collector.waiver.add"))
    wadd.add_argument("--check", required=True, help=helptext("cli.help.collector.waiver.check"))
    wadd.add_argument("--key", help=helptext("cli.help.collector.waiver.key"))
    wadd.add_argument("--scope", required=True, help=helptext("cli.help.collector.scope"))
    wadd.add_argument("--reason", required=True, help=helptext("cli.help.collector.waiver.reason"))
    wadd.add_argument("--by", required=True, metavar="NAME",
                      help=helptext("cli.help.collector.by"))
    wadd.add_argument("--expires", required=True, metavar="YYYY-MM-DD",
                      help=helptext("cli.help.collector.waiver.expires"))
    wlist = command(wsub, "list", run, help=helptext("cli.help.collector.waiver.list"))
    wlist.add_argument("--expiring-within", type=whole_number(0), metavar="DAYS",
                       help=helptext("cli.help.collector.waiver.expiring"))
    wrevoke = command(wsub, "revoke", run, help=helptext("cli.help.collector.waiver.revoke"))
    wrevoke.add_argument("waiver_id", help=helptext("cli.help.collector.waiver.waiver_id"))
    wrevoke.add_argument("--by", required=True, metavar="NAME",
                         help=helptext("cli.help.collector.by"))


def run(args: argparse.Namespace) -> int:
    from sentinelle.collector.cli import run_collector

    return run_collector(args)
