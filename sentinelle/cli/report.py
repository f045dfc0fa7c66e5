"""`sentinelle report monthly`: the mayors' monthly risk summary (sentinelle.report.cli runs it).

Exit statuses as documented in docs/monthly-report.md: 0 done, 1 a commune failed (the others
were written and sent), 2 a usage or configuration error.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from sentinelle.cli.registry import UsageError, command, group, helptext, say

if TYPE_CHECKING:
    from sentinelle.cli.registry import Subparsers


def register(subparsers: Subparsers) -> None:
    """`report monthly …` under the top-level `sentinelle` parser."""
    _, rsub = group(subparsers, "report", "report_command",
                    help=helptext("cli.help.report"))
    m = command(
        rsub, "monthly", run_monthly,
        help=helptext("cli.help.report.monthly"),
    )
    # Checked by run_monthly, not by an argparse type: tools and tests build this parser and
    # hand the namespace to MonthlyRun, whose contract is a ConfigError for a bad month.
    m.add_argument("--month", metavar="YYYY-MM", help=helptext("cli.help.report.monthly.month"))
    m.add_argument(
        "--commune", action="append", default=[], metavar="CODE",
        help=helptext("cli.help.report.monthly.commune"),
    )
    m.add_argument("--out", metavar="DIR", help=helptext("cli.help.report.monthly.out"))
    m.add_argument("--send", action="store_true", help=helptext("cli.help.report.monthly.send"))
    m.add_argument("--lang", choices=("fr", "en"), help=helptext("cli.help.report.monthly.lang"))
    m.add_argument(
        "--force", action="store_true", help=helptext("cli.help.report.monthly.force")
    )
    m.add_argument(
        "--config", metavar="FILE",
        help=helptext("cli.help.report.monthly.config"),
    )
    m.add_argument("--report-config", metavar="FILE",
                   help=helptext("cli.help.report.monthly.report_config"))
    m.add_argument("--store", metavar="URL", help=helptext("cli.help.report.monthly.store"))
    m.add_argument(
        "--from-first-working-day", action="store_true",
        help=helptext("cli.help.report.monthly.from_first_working_day"),
    )


def run_monthly(args: argparse.Namespace) -> int:
    from sentinelle.errors import ConfigError
    from sentinelle.report.cli import run_report
    from sentinelle.report.content import Month

    if args.month is not None:
        try:
            Month.parse(args.month)
        except ConfigError:
            raise UsageError("--month", say("cli.bad_month", value=args.month)) from None
    return run_report(args)
