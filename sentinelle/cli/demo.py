"""`sentinelle demo`: collector, this machine's agent and Prometheus on loopback, in one command."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sentinelle.cli.registry import command, helptext
from sentinelle.cli.values import seconds

if TYPE_CHECKING:
    from sentinelle.cli.registry import Subparsers


def register(subparsers: Subparsers) -> None:
    demo = command(
        subparsers, "demo", run,
        help=helptext("cli.help.demo"),
    )
    demo.add_argument(
        "--dir",
        default=None,
        metavar="DIR",
        help=helptext("cli.help.demo.dir"),
    )
    demo.add_argument(
        "--duration",
        type=seconds,
        metavar="SECONDS",
        help=helptext("cli.help.demo.duration"),
    )
    demo.add_argument(
        "--interval",
        type=seconds,
        default=300.0,
        metavar="SECONDS",
        help=helptext("cli.help.demo.interval"),
    )
    demo.add_argument("--lang", choices=("fr", "en"),
                      help=helptext("cli.help.demo.lang"))


def run(args: argparse.Namespace) -> int:
    from sentinelle.console import default_lang
    from sentinelle.demo import DemoOptions, run_demo

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    directory = Path(args.dir) if args.dir else Path.cwd() / "sentinelle-demo"
    return run_demo(
        DemoOptions(
            directory=directory.resolve(),
            interval_seconds=args.interval,
            duration_seconds=args.duration,
            lang=args.lang or default_lang(),
        )
    )
