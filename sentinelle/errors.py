"""One error hierarchy, caught only at the CLI boundary."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentinelle.i18n import Message


class SentinelleError(Exception):
    """Base of every error Sentinelle raises on purpose."""


@dataclass(frozen=True)
class Expected:
    """What a configuration value should have been, as words of rules/messages/config.yaml:
    a message id and its arguments (numbers, names, lists of choices, other Expected)."""

    id: str
    args: Mapping[str, Any] = field(default_factory=dict)


def expect(name: str, **args: Any) -> Expected:
    """`config.expected.NAME`: a phrase read after "expected" ("a non-empty string")."""
    return Expected(f"config.expected.{name}", args)


def problem(name: str, **args: Any) -> Expected:
    """`config.problem.NAME`: a whole statement of what is wrong ("unknown key")."""
    return Expected(f"config.problem.{name}", args)


def word(name: str) -> Expected:
    """`config.word.NAME`: a word used as an argument ("none" for an empty list)."""
    return Expected(f"config.word.{name}")


class ConfigError(SentinelleError):
    """A configuration or rules file is invalid: names the file, the line and the key, and what
    was expected, rendered in the reader's language when shown.

    `expected` is an Expected (catalog words; every error of sentinelle.validation is one), or
    plain text, shown as it is in every language (callers not yet moved to the catalog).
    `got` is the value found (data, quoted as it is); None shows nothing."""

    def __init__(
        self,
        source: str,
        key: str,
        expected: str | Expected,
        got: object = None,
        *,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(source, key, expected, got)
        self.source = source
        self.key = key
        self.got = got
        self.line = line
        self.column = column
        self.expectation = expected
        self.lang: str | None = None  # of str(): None follows the reader (the environment)

    @property
    def message_id(self) -> str | None:
        """The catalog id of what was expected (None for plain text)."""
        return self.expectation.id if isinstance(self.expectation, Expected) else None

    @property
    def message_args(self) -> Mapping[str, Any]:
        return self.expectation.args if isinstance(self.expectation, Expected) else {}

    @property
    def where(self) -> str:
        """`file:line`, or the file alone when the line is unknown."""
        return f"{self.source}:{self.line}" if self.line else self.source

    @property
    def expected(self) -> str:
        """What was expected, in the reader's language."""
        return self.expected_in(None)

    def expected_in(self, lang: str | None) -> str:
        return _words(self.expectation, _lang(lang))

    def render(self, lang: str | None = None) -> str:
        """`file:line: key 'a.b': expected …, got …` in `lang` (default: the reader's)."""
        lang = _lang(lang)
        is_problem = self.message_id is not None and self.message_id.startswith("config.problem.")
        words = _words(self.expectation, lang)
        if self.got is None:
            body = words if is_problem else _say("config.frame.expected", lang, expected=words)
        else:
            got = show_value(self.got, lang)
            frame = "config.frame.problem_got" if is_problem else "config.frame.expected_got"
            body = _say(frame, lang, problem=words, expected=words, got=got)
        if not self.key:
            return f"{self.where}: {body}"
        return _say("config.frame.at_key", lang, where=self.where, key=self.key, body=body)

    def __str__(self) -> str:
        return self.render(self.lang)

    def __reduce__(self) -> Any:
        return (_rebuild, (self.source, self.key, self.expectation, self.got, self.line,
                           self.column))


def _rebuild(source: str, key: str, expected: str | Expected, got: object, line: int | None,
             column: int | None) -> ConfigError:
    return ConfigError(source, key, expected, got, line=line, column=column)


# Rendering: the words of rules/messages/config.yaml only (no other catalog, no Babel), so an
# error costs the agent's daemon nothing until it is shown.


def _lang(lang: str | None) -> str:
    if lang in ("fr", "en"):
        return lang
    from sentinelle.console import default_lang

    return default_lang()


def _catalog_paths() -> list[Path]:
    from sentinelle.rules import default_rules_dir

    here = Path(__file__).resolve().parent
    dirs = [default_rules_dir(), here / "_rules", here.parent / "rules"]
    return [d / "messages" / "config.yaml" for d in dirs]


@lru_cache(maxsize=8)
def _load_messages(path: Path) -> dict[str, Message] | None:
    import yaml

    from sentinelle.i18n import MessageError, parse_message

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            return None
        return {str(k): parse_message(str(k), v, str(path)) for k, v in data.items()}
    except (OSError, UnicodeError, yaml.YAMLError, MessageError):
        return None


def config_messages() -> dict[str, Message]:
    """The entries of rules/messages/config.yaml (of the rules directory in use, else of the
    package's own copy); empty when none can be read."""
    for path in _catalog_paths():
        messages = _load_messages(path)
        if messages is not None:
            return messages
    return {}


def _say(msg_id: str, lang: str, **args: str) -> str:
    from sentinelle.i18n import render_message

    message = config_messages().get(msg_id)
    if message is None:  # an installation without its catalog: ids and values, no sentence
        return f"{msg_id} " + " ".join(f"{k}={v}" for k, v in args.items())
    return render_message(message, args, lang)


def _words(expected: str | Expected, lang: str) -> str:
    if isinstance(expected, str):
        return expected
    return _say(expected.id, lang, **{k: _argument(v, lang) for k, v in expected.args.items()})


def _argument(value: Any, lang: str) -> str:
    """An argument of an Expected as the reader sees it: numbers as they are written in the
    file (a bound of 0.5 is typed 0.5, in French too), lists joined."""
    if isinstance(value, Expected):
        return _words(value, lang)
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return ", ".join(_argument(v, lang) for v in items)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


_MAX_SHOWN = 200


def show_value(value: Any, lang: str = "fr") -> str:
    """A value found in a file, quoted as YAML writes it: "text", 5, true, null, [a, b]."""
    text = _show(value, lang)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def _show(value: Any, lang: str) -> str:
    if isinstance(value, Expected):
        return _words(value, lang)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_show(k, lang)}: {_show(v, lang)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(v, lang) for v in value) + "]"
    return repr(value)


class CommandError(SentinelleError):
    """A command run through the Host failed to start or timed out."""


class CommandNotFound(CommandError):
    """The program is not installed on the inspected host."""


class CommandTimeout(CommandError):
    """The program did not finish within its timeout."""
