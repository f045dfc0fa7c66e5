"""The help pages are catalog text too: every `help=` and `description=` of the command line is a
`cli.help.*` entry (rules/messages/cli.yaml), rendered in the reader's language (a `--lang X` on
the command line, else SENTINELLE_LANG, LC_ALL or LANG, French by default), never a word of one
language in the other. argparse's own words (usage:, options:, -h's help) stay argparse's."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import pytest

from sentinelle.cli import build_parser, main
from sentinelle.cli.registry import HelpText, help_lang, walk
from tests.cli.speech import CATALOG, foreign_in, other, say
from tests.source_text import written_text

ROOT = Path(__file__).resolve().parents[2]
# The modules that define the command line's arguments.
DEFINERS = sorted([*(ROOT / "sentinelle/cli").glob("*.py"), ROOT / "sentinelle/collector/cli.py",
                   ROOT / "sentinelle/report/cli.py", ROOT / "sentinelle/report/arguments.py"])
HELP_IDS = [m.id for m in CATALOG if m.id.startswith("cli.help.")]
PAGES = [(), ("check",), ("collector",), ("collector", "token", "create"), ("dashboards", "push"),
         ("report", "monthly")]


def _texts(parser: argparse.ArgumentParser) -> list[HelpText]:
    """The catalog texts a parser's help page shows: its description, its options' and its
    sub-commands' help."""
    found = [parser.description] if isinstance(parser.description, HelpText) else []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.extend(a.help for a in action._choices_actions if isinstance(a.help, HelpText))
        elif isinstance(action.help, HelpText):
            found.append(action.help)
    return found


def _page(path: tuple[str, ...], capsys: pytest.CaptureFixture[str],
          *extra: str) -> tuple[str, argparse.ArgumentParser]:
    assert main([*path, *extra, "--help"]) == 0
    parser = dict(walk(build_parser([])))[path]
    return capsys.readouterr().out, parser


# argparse's own words, which stay English (its gettext is not ours).
ARGPARSE = ("show this help message and exit", "show program's version number and exit",
            "usage:", "options:", "positional arguments:")


def _typed(parser: argparse.ArgumentParser) -> list[str]:
    """What a help page has that is no catalog text but what one types: the command's words,
    the options' names, metavars and choices."""
    typed = [*ARGPARSE, *parser.prog.split()]
    for action in parser._actions:
        typed += action.option_strings
        typed += [str(action.metavar)] if action.metavar else []
        typed += [str(c) for c in action.choices or ()]
        if isinstance(action, argparse._SubParsersAction):
            typed.append(action.dest)
    return typed


@pytest.mark.parametrize("lang", ("fr", "en"))
@pytest.mark.parametrize("path", PAGES)
def test_help_pages_speak_the_readers_language(
    path: tuple[str, ...], lang: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SENTINELLE_LANG", lang)
    monkeypatch.setenv("COLUMNS", "1000")  # one line per help: the texts can be looked for whole
    out, parser = _page(path, capsys)
    texts = _texts(parser)
    assert texts, path
    flat = " ".join(out.split())
    for text in texts:
        assert text.msg_id in CATALOG, text.msg_id
        assert text.msg_id not in out  # rendered, not shown as its id
        own, theirs = text.render(lang), text.render(other(lang))
        assert " ".join(own.split()) in flat, (text.msg_id, own)
        if theirs != own:
            assert " ".join(theirs.split()) not in flat, (text.msg_id, theirs)
    # No word of the other language's help entries, once argparse's words and what one types
    # (option names, metavars, choices, command names) are taken out.
    assert foreign_in(out, HELP_IDS, lang, _typed(parser)) == set(), path


@pytest.mark.parametrize("lang", ("fr", "en"))
def test_lang_on_the_command_line_chooses_the_help_language(
    lang: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SENTINELLE_LANG", other(lang))
    monkeypatch.setenv("COLUMNS", "1000")
    out, _ = _page(("check",), capsys, "--lang", lang)
    assert say("cli.help.check.only", lang) in out
    assert say("cli.help.check.only", other(lang)) not in out
    out, _ = _page(("check",), capsys, f"--lang={lang}")
    assert say("cli.help.check", lang) in out


def test_help_lang_prescan() -> None:
    assert help_lang(["check", "--lang", "en", "--help"]) == "en"
    assert help_lang(["check", "--lang=fr"]) == "fr"
    assert help_lang(["check", "--lang", "de"]) is None
    assert help_lang(["check", "--", "--lang", "en"]) is None
    assert help_lang(["check", "--lang"]) is None
    assert help_lang([]) is None


def test_french_is_the_default_help_language(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    for var in ("SENTINELLE_LANG", "LC_ALL", "LANG"):
        monkeypatch.delenv(var, raising=False)
    out, _ = _page((), capsys)
    assert say("cli.help.sentinelle", "fr") in out


def _literal_help(tree: ast.AST) -> list[tuple[int, str]]:
    """The `help=` and `description=` given as text written in the code: a string, an f-string,
    either side of a `+` or of an `… if … else …`, or parenthesized pieces (one Constant)."""

    return [(k.value.lineno, k.arg or "") for n in ast.walk(tree) if isinstance(n, ast.Call)
            for k in n.keywords if k.arg in ("help", "description") and written_text(k.value)]


def test_no_help_or_description_is_written_in_the_code() -> None:
    """Every help= and description= of the modules that define the command line is a call to
    helptext() with a catalog id (or argparse.SUPPRESS), never a sentence in the code."""
    found = []
    for path in DEFINERS:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [f"{path.relative_to(ROOT)}:{line}: {arg}=" for line, arg in _literal_help(tree)]
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)
                     and isinstance(n.func, ast.Name) and n.func.id == "helptext"):
            first = call.args[0] if call.args else None
            if not (isinstance(first, ast.Constant) and first.value in HELP_IDS):
                found.append(f"{path.relative_to(ROOT)}:{call.lineno}: helptext() of no "
                             "cli.help.* entry")
    assert found == []


def test_the_help_scan_sees_what_it_looks_for() -> None:
    tree = ast.parse('p.add_argument("--x", help="do it")\n'
                     'p.add_parser("y", description=f"the {thing}")\n'
                     'p.add_argument("--z", help="a " + b)\n'
                     'p.add_argument("--w", help=helptext("cli.help.check"))\n'
                     'p.add_argument("--v", help=argparse.SUPPRESS)\n')
    assert _literal_help(tree) == [(1, "help"), (2, "description"), (3, "help")]


def test_every_help_entry_is_shown_by_some_page() -> None:
    shown = {t.msg_id for _, p in walk(build_parser([])) for t in _texts(p)}
    assert set(HELP_IDS) - shown == set()
