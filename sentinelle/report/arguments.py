"""The `sentinelle report` command-line arguments, apart from the code that runs them (the agent
builds the whole parser and must not load the report's modules)."""

from __future__ import annotations

from typing import Any


def add_report_parser(sub: Any) -> None:
    """`report monthly …` under the top-level `sentinelle` parser."""
    rep = sub.add_parser("report", help="the mayors' monthly risk summary")
    rsub = rep.add_subparsers(dest="report_command", required=True)
    m = rsub.add_parser(
        "monthly",
        help="build the monthly summaries; review them (--out) or email them (--send)",
    )
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
