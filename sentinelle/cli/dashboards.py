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

from sentinelle.cli.registry import EXIT_FAILURE, EXIT_OK, command, group, helptext, say
from sentinelle.cli.values import seconds
from sentinelle.dashboards import DEFAULT_FOLDER, DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from sentinelle.cli.registry import Subparsers


def register(subparsers: Subparsers) -> None:
    _, sub = group(subparsers, "dashboards", "dashboards_command",
                   help=helptext("cli.help.dashboards"))
    build = command(sub, "build", build_dashboards, error_status=EXIT_FAILURE,
                    help=helptext("cli.help.dashboards.build"))
    build.add_argument("--output", metavar="DIR", type=Path,
                       help=helptext("cli.help.dashboards.build.output"))
    check = command(sub, "check", check_dashboards, error_status=EXIT_FAILURE,
                    help=helptext("cli.help.dashboards.check"))
    check.add_argument("--output", metavar="DIR", type=Path,
                       help=helptext("cli.help.dashboards.check.output"))
    push = command(
        sub, "push", push_to_grafana, error_status=EXIT_FAILURE,
        help=helptext("cli.help.dashboards.push"),
        description=helptext("cli.help.dashboards.push.description"))
    push.add_argument("--grafana-url", required=True, metavar="URL",
                      help=helptext("cli.help.dashboards.push.grafana_url"))
    push.add_argument("--folder", default=DEFAULT_FOLDER, metavar="NAME",
                      help=helptext("cli.help.dashboards.push.folder", folder=DEFAULT_FOLDER))
    push.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                      help=helptext("cli.help.dashboards.push.timeout",
                                    timeout=f"{DEFAULT_TIMEOUT:g}"))


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
