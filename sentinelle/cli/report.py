"""`sentinelle report monthly`: the mayors' monthly risk summary (sentinelle.report.cli runs it).

Exit statuses as documented in docs/monthly-report.md: 0 done, 1 a commune failed (the others
were written and sent), 2 a usage or configuration error.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from sentinelle.cli.registry import UsageError, command, group, say

if TYPE_CHECKING:
    from sentinelle.cli.registry import Subparsers


def register(subparsers: Subparsers) -> None:
    """`report monthly …` under the top-level `sentinelle` parser."""
    _, rsub = group(subparsers, "report", "report_command",
                    help="the mayors' monthly risk summary")
    m = command(
        rsub, "monthly", run_monthly,
        help="build the monthly summaries; review them (--out) or email them (--send)",
    )
    # Checked by run_monthly, not by an argparse type: tools and tests build this parser and
    # hand the namespace to MonthlyRun, whose contract is a ConfigError for a bad month.
    m.add_argument("--month", metavar="YYYY-MM", help="the month (default: the previous one)")
    m.add_argument(
        "--commune", action="append", default=[], metavar="CODE",
        help="only this commune (repeatable; default: every commune)",
    )
    m.add_argument("--out", metavar="DIR", help="write CODE-YYYY-MM.html/.pdf/.txt for review")
    m.add_argument("--send", action="store_true", help="email each commune's mayor addresses")
    m.add_argument("--lang", choices=("fr", "en"), help="language (default: the settings')")
    m.add_argument(
        "--force", action="store_true", help="send again a month that was already sent"
    )
    m.add_argument(
        "--config", metavar="FILE",
        help="collector YAML: store URL and silence delay (may hold a report: section)",
    )
    m.add_argument("--report-config", metavar="FILE", help="report YAML (mail, contacts, …)")
    m.add_argument("--store", metavar="URL", help="override the store URL")
    m.add_argument(
        "--from-first-working-day", action="store_true",
        help="for timers: do nothing before this month's first working day (weekends and "
        "French public holidays skipped)",
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
