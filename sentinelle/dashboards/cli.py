"""`add_dashboards_parser` and `run_dashboards`, for callers that build the parser themselves.

The `dashboards` command group is defined in `sentinelle.cli.dashboards`, registered the way
every group is; these names run it from any parser that `add_dashboards_parser` filled.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from sentinelle.cli.dashboards import register

if TYPE_CHECKING:
    from sentinelle.cli.registry import Handler, Subparsers


def add_dashboards_parser(subparsers: Subparsers) -> None:
    """Add `dashboards` and its sub-commands to the `sentinelle` sub-parsers."""
    register(subparsers)


def run_dashboards(args: argparse.Namespace) -> int:
    """Run the chosen sub-command; SentinelleError goes up to the caller's handler."""
    handler: Handler = args.handler
    return handler(args)
