"""`add_report_parser`, for callers that build the report's parser themselves (tests, bench/).

The arguments are defined once, in `sentinelle.cli.report`: this name stays so that a namespace
built here is the one `sentinelle report monthly` hands to `MonthlyRun`.
"""

from __future__ import annotations

from sentinelle.cli.report import register as add_report_parser

__all__ = ["add_report_parser"]
