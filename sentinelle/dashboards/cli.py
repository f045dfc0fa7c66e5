"""`sentinelle dashboards build|check|push`: the lead wires these into sentinelle/cli.py."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from sentinelle.dashboards import DEFAULT_FOLDER, DEFAULT_TIMEOUT
from sentinelle.errors import SentinelleError


def add_dashboards_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `dashboards` and its sub-commands to the `sentinelle` sub-parsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "dashboards", help="Grafana dashboards: build the JSON, check it, push it to Grafana")
    sub = parser.add_subparsers(dest="dashboards_command", required=True)
    build = sub.add_parser("build", help="write dashboards/*.json from the code")
    build.add_argument("--output", metavar="DIR", type=Path,
                       help="directory to write (default: dashboards/ of the source checkout)")
    check = sub.add_parser("check", help="exit 1 when dashboards/*.json differ from the code")
    check.add_argument("--output", metavar="DIR", type=Path,
                       help="directory to compare (default: dashboards/ of the source checkout)")
    push = sub.add_parser(
        "push", help="create or update the dashboards in Grafana (token in GRAFANA_TOKEN)",
        description="Creates the folder if missing, then creates or updates every dashboard "
                    "by uid. Credentials: GRAFANA_TOKEN (service-account token), or "
                    "GRAFANA_USER and GRAFANA_PASSWORD.")
    push.add_argument("--grafana-url", required=True, metavar="URL",
                      help="https://grafana.example.org/ (with its sub-path, if any)")
    push.add_argument("--folder", default=DEFAULT_FOLDER, metavar="NAME",
                      help=f"Grafana folder to put the dashboards in (default: {DEFAULT_FOLDER})")
    push.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                      help=f"timeout of each HTTP request (default: {DEFAULT_TIMEOUT:g})")
    return parser


def run_dashboards(args: argparse.Namespace) -> int:
    """Run the chosen sub-command; SentinelleError goes up to the caller's handler."""
    # Imported here: the Grafana libraries load only when a dashboards command runs.
    from sentinelle.dashboards.build import (
        build_all,
        default_output_dir,
        stale_files,
        write_all,
    )
    from sentinelle.dashboards.push import push_dashboards

    command = args.dashboards_command
    if command == "build":
        for path in write_all(args.output or default_output_dir()):
            print(path)
        return 0
    if command == "check":
        directory = args.output or default_output_dir()
        stale = stale_files(directory)
        for name in stale:
            print(f"{directory / name} : différent du code, lancez "
                  "« sentinelle dashboards build »", file=sys.stderr)
        return 1 if stale else 0
    if command == "push":
        result = push_dashboards(args.grafana_url, list(build_all().values()),
                                 folder=args.folder, env=os.environ, timeout=args.timeout)
        print(result.summary())
        return 0
    raise SentinelleError(f"unknown dashboards command: {command}")
