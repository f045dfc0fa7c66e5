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
    from collections.abc import Sequence

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
    parser = subparsers.add_parser(name, **_help_kwargs(kwargs))
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
    parser = subparsers.add_parser(name, **_help_kwargs(kwargs))
    parser.set_defaults(handler=handler, command_parser=parser, error_status=error_status)
    return parser


def add_config(parser: argparse.ArgumentParser) -> None:
    """The agent's `--config FILE`, shared by the commands that read the agent configuration."""
    parser.add_argument("--config", metavar="FILE", help=helptext("cli.help.config"))


class HelpText(str):
    """A help or description text of the command line, as a catalog id: `CatalogHelpFormatter`
    renders it when `--help` is printed, in the language of `help_lang`. As a plain str it is
    the id itself, which shows any parser that prints it without that formatter."""

    msg_id: str
    args: dict[str, object]

    def __new__(cls, msg_id: str, args: dict[str, object]) -> HelpText:
        text = super().__new__(cls, msg_id)
        text.msg_id = msg_id
        text.args = args
        return text

    def render(self, lang: str | None) -> str:
        return say(self.msg_id, lang, **self.args)


def helptext(msg_id: str, /, **args: object) -> str:
    """The `help=` or `description=` of a command or option: a `cli.help.*` catalog entry,
    rendered only if a help page is printed, so that parsing (the agent's daemon) loads no
    catalog and no Babel."""
    return HelpText(msg_id, dict(args))


class CatalogHelpFormatter(argparse.HelpFormatter):
    """argparse's formatter with the catalog's help texts in `lang`, or when it is None in the
    reader's language (`sentinelle.console.default_lang`). argparse's own words (usage:,
    options:, -h's help) stay argparse's."""

    lang: str | None = None

    def _expand_help(self, action: argparse.Action) -> str:
        if isinstance(action.help, HelpText):
            return action.help.render(self.lang)
        return super()._expand_help(action)

    def _format_text(self, text: str) -> str:
        if isinstance(text, HelpText):
            text = text.render(self.lang)
        return super()._format_text(text)


def help_formatter(lang: str | None) -> type[CatalogHelpFormatter]:
    """The formatter of a help page in `lang` (None: the reader's language)."""
    if lang is None:
        return CatalogHelpFormatter
    return type("CatalogHelpFormatter", (CatalogHelpFormatter,), {"lang": lang})


def help_lang(argv: Sequence[str]) -> str | None:
    """The `--lang X` (or `--lang=X`) of a command line, looked for before argparse parses it:
    `--help` prints the page as soon as it is met, maybe before `--lang` is parsed. None when
    there is none (or not a language the catalogs have): the reader's language then."""
    from sentinelle.i18n import LANGS

    words = list(argv)
    if "--" in words:
        words = words[: words.index("--")]
    found: str | None = None
    for i, word in enumerate(words):
        value = None
        if word == "--lang" and i + 1 < len(words):
            value = words[i + 1]
        elif word.startswith("--lang="):
            value = word.partition("=")[2]
        if value in LANGS:
            found = value
    return found


def _help_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """A command's parser: the catalog's formatter, and its help as the description of its own
    help page unless it has one."""
    kwargs.setdefault("formatter_class", CatalogHelpFormatter)
    if kwargs.get("help") is not None:
        kwargs.setdefault("description", kwargs["help"])
    return kwargs


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
