"""`sentinelle dashboards build|check|push`: the Grafana dashboards as code.

The Grafana libraries are imported by the handlers only: registering the command costs nothing.
A failure (Grafana unreachable, no credentials) exits 1, as `python -m sentinelle.dashboards`
always did and tests/dashboards/test_push.py expects, where other groups exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sentinelle.cli.registry import EXIT_FAILURE, EXIT_OK, command, group, say
from sentinelle.cli.values import seconds
from sentinelle.dashboards import DEFAULT_FOLDER, DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from sentinelle.cli.registry import Subparsers


def register(subparsers: Subparsers) -> None:
    _, sub = group(subparsers, "dashboards", "dashboards_command",
                   help="Grafana dashboards: build the JSON, check it, push it to Grafana")
    build = command(sub, "build", build_dashboards, error_status=EXIT_FAILURE,
                    help="write dashboards/*.json from the code")
    build.add_argument("--output", metavar="DIR", type=Path,
                       help="directory to write (default: dashboards/ of the source checkout)")
    check = command(sub, "check", check_dashboards, error_status=EXIT_FAILURE,
                    help="exit 1 when dashboards/*.json differ from the code")
    check.add_argument("--output", metavar="DIR", type=Path,
                       help="directory to compare (default: dashboards/ of the source checkout)")
    push = command(
        sub, "push", push_to_grafana, error_status=EXIT_FAILURE,
        help="create or update the dashboards in Grafana (token in GRAFANA_TOKEN)",
        description="Creates the folder if missing, then creates or updates every dashboard "
                    "by uid. Credentials: GRAFANA_TOKEN (service-account token), or "
                    "GRAFANA_USER and GRAFANA_PASSWORD.")
    push.add_argument("--grafana-url", required=True, metavar="URL",
                      help="https://grafana.example.org/ (with its sub-path, if any)")
    push.add_argument("--folder", default=DEFAULT_FOLDER, metavar="NAME",
                      help=f"Grafana folder to put the dashboards in (default: {DEFAULT_FOLDER})")
    push.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                      help=f"timeout of each HTTP request (default: {DEFAULT_TIMEOUT:g})")


def build_dashboards(args: argparse.Namespace) -> int:
    from sentinelle.dashboards.build import default_output_dir, write_all

    for path in write_all(args.output or default_output_dir()):
        print(path)
    return EXIT_OK


def check_dashboards(args: argparse.Namespace) -> int:
    from sentinelle.dashboards.build import default_output_dir, stale_files

    directory = args.output or default_output_dir()
    stale = stale_files(directory)
    for name in stale:
        print(say("cli.dashboards_stale", path=str(directory / name)), file=sys.stderr)
    return EXIT_FAILURE if stale else EXIT_OK


def push_to_grafana(args: argparse.Namespace) -> int:
    from sentinelle.dashboards.build import build_all
    from sentinelle.dashboards.push import push_dashboards

    result = push_dashboards(args.grafana_url, list(build_all().values()),
                             folder=args.folder, env=os.environ, timeout=args.timeout)
    print(result.summary())
    return EXIT_OK
