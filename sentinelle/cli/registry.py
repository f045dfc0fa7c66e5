"""How a command group plugs into `sentinelle`: the contract every `sentinelle.cli.<group>` keeps.

A group module defines `register(subparsers) -> None`. It adds its parser(s) with `group()` for a
node that only holds sub-commands and `command()` for a runnable leaf; `command()` stores the
leaf's handler and the leaf's own parser in the parsed namespace, so `main` runs every command
the same way (`args.handler(args)`) and prints a usage error with the leaf's usage line.

At import time a group module imports only the standard library, this package and light modules
the agent loads anyway (`sentinelle.model` for the severity names): `main` builds the whole
parser, the collector's and the report's included, before the agent daemon starts, and the
daemon must not pay for aiohttp, msgspec, Babel or the collector's and report's code
(tests/cli/test_registry.py holds that line). Handlers import what they run.

Exit statuses, the same for every command: 0 done; 1 the command ran and found or met a failure
(`--fail-on`, a commune not written or sent, stale dashboards); 2 a usage error (argparse's) or a
`ConfigError`, and by default any other SentinelleError, which stops a command before it has
done its work (the store cannot be opened, Chromium cannot start, the enrollment is refused).
A group whose documented contract says otherwise passes `error_status` when it registers.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sentinelle.errors import SentinelleError

if TYPE_CHECKING:
    from sentinelle.i18n import Catalog

    # typeshed makes the action generic; at run time it is a plain class.
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

Handler = Callable[[argparse.Namespace], int]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class UsageError(SentinelleError):
    """A value argparse accepted that turns out not to be usable, found by a handler before it
    does anything: `main` turns it into the command's `parser.error()` (usage line, exit 2).

    Values are checked by argparse types where possible; this is for the checks that must run
    after parsing (the report's `--month`, whose library keeps raising ConfigError for callers
    that build their own parser)."""

    def __init__(self, argument: str, message: str) -> None:
        self.argument = argument
        self.message = message
        # The wording argparse uses for its own type errors, so both read alike.
        super().__init__(f"argument {argument}: {message}")


def group(
    subparsers: Subparsers, name: str, dest: str, **kwargs: Any
) -> tuple[argparse.ArgumentParser, Subparsers]:
    """A node such as `agent` or `collector token`: a parser whose sub-command is required.

    `dest` names the attribute the chosen sub-command is stored in (`agent_command`…): code
    such as `run_collector` dispatches on it."""
    parser = subparsers.add_parser(name, **kwargs)
    return parser, parser.add_subparsers(dest=dest, required=True)


def command(
    subparsers: Subparsers,
    name: str,
    handler: Handler,
    *,
    error_status: int = EXIT_USAGE,
    **kwargs: Any,
) -> argparse.ArgumentParser:
    """A runnable command: its parser, with the handler `main` calls on the parsed arguments
    and the exit status of a SentinelleError other than a ConfigError (always 2)."""
    parser = subparsers.add_parser(name, **kwargs)
    parser.set_defaults(handler=handler, command_parser=parser, error_status=error_status)
    return parser


def add_config(parser: argparse.ArgumentParser) -> None:
    """The agent's `--config FILE`, shared by the commands that read the agent configuration."""
    parser.add_argument("--config", metavar="FILE", help="YAML configuration (default: embedded)")


def say(msg_id: str, /, lang: str | None = None, **args: object) -> str:
    """A catalog message (rules/messages/) for a person's screen, in `lang`: the command's
    `--lang` when it has one, else the reader's (`sentinelle.console.default_lang`).

    Called when there is something to say (an error, what a command did): the catalogs and
    Babel are loaded then, once, never while a command only parses its arguments, nor in the
    agent's daemon."""
    from sentinelle.console import default_lang

    return messages().render(msg_id, args, lang or default_lang())


_CATALOGS: dict[str, Catalog] = {}


def messages() -> Catalog:
    """The message catalogs of the rules directory in use, loaded on its first use."""
    from sentinelle.rules import default_rules_dir, load_catalog

    directory = default_rules_dir()
    catalog = _CATALOGS.get(str(directory))
    if catalog is None:
        catalog = _CATALOGS[str(directory)] = load_catalog(directory)
    return catalog


def name_required_subcommands(parser: argparse.ArgumentParser) -> None:
    """Show the choices, not the attribute name, when a sub-command is missing.

    argparse names a missing positional by its `dest` ("required: agent_command"); a metavar of
    the choices gives "required: {run,enroll}", the words a person can type."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            if action.metavar is None:
                action.metavar = "{" + ",".join(action.choices) + "}"
            for child in action.choices.values():
                name_required_subcommands(child)


def walk(parser: argparse.ArgumentParser) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every parser under `parser` with the words that reach it: ((), top), (("agent",), …)…"""
    found: list[tuple[tuple[str, ...], argparse.ArgumentParser]] = [((), parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found.extend(((name, *path), p) for path, p in walk(child))
    return found
