"""The `sentinelle` command line. SentinelleError is caught here, and only here.

Each command group is a module of this package with a `register(subparsers)` function (the
contract is in `sentinelle.cli.registry`); `build_parser` calls them in the order of `GROUPS`,
and `main` runs the handler the chosen command registered. Usage errors are argparse's: the
usage line and exit status 2, whichever command it is.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sentinelle import __version__
from sentinelle.cli import agent, backup, check, collector, dashboards, demo, policy, report
from sentinelle.cli.registry import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    Handler,
    UsageError,
    help_formatter,
    help_lang,
    helptext,
    name_required_subcommands,
    walk,
)
from sentinelle.errors import ConfigError, SentinelleError

__all__ = ["GROUPS", "build_parser", "main"]

# The order of `sentinelle --help`.
GROUPS = (check, agent, policy, backup, demo, collector, dashboards, report)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole `sentinelle` parser: every group registered, nothing of theirs imported.

    Its help pages are the catalog's `cli.help.*` texts, rendered when one is printed: in the
    language of a `--lang X` in `argv` (the command line, sys.argv by default), else the
    reader's."""
    parser = argparse.ArgumentParser(
        prog="sentinelle", description=helptext("cli.help.sentinelle"),
        formatter_class=help_formatter(None),
    )
    parser.add_argument("--version", action="version", version=f"sentinelle {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in GROUPS:
        module.register(sub)
    name_required_subcommands(parser)
    lang = help_lang(sys.argv[1:] if argv is None else argv)
    if lang is not None:
        formatter = help_formatter(lang)
        for _, each in walk(parser):
            each.formatter_class = formatter
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit status; it never raises SystemExit, so tests and
    `sys.exit(main())` see the same status for `--help`, a usage error or a failure."""
    parser = build_parser(argv)
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown:
            # What parse_args() says, but under the command's usage line, not the top one.
            args.command_parser.error("unrecognized arguments: " + " ".join(unknown))
    except SystemExit as done:  # --help, --version, or a usage error already printed
        return _status(done)
    handler: Handler = args.handler
    try:
        return handler(args)
    except UsageError as exc:
        return _usage_error(args.command_parser, exc)
    except ConfigError as exc:
        exc.lang = getattr(args, "lang", None)  # the command's --lang, if it has one
        _print_error(exc, exc.lang)
        return EXIT_USAGE
    except SentinelleError as exc:
        _print_error(exc, getattr(args, "lang", None))
        status: int = args.error_status
        return status
    except BrokenPipeError:  # `sentinelle checks | head`: the reader had enough
        return EXIT_OK


def _usage_error(parser: argparse.ArgumentParser, exc: UsageError) -> int:
    """The command's usage line and the message on stderr, as argparse prints its own."""
    try:
        parser.error(str(exc))
    except SystemExit as done:
        return _status(done)


def _print_error(exc: SentinelleError, lang: str | None) -> None:
    """`sentinelle : erreur : …` in the command's language (its --lang, else the reader's);
    the words after it are the error's own."""
    from sentinelle.cli.registry import say

    print(say("cli.error", lang, message=str(exc)), file=sys.stderr)


def _status(done: SystemExit) -> int:
    code = done.code
    if code is None:
        return EXIT_OK
    return code if isinstance(code, int) else EXIT_FAILURE  # sys.exit("text") exits 1
