"""What a command printed, against the catalog entries it says it with: the words of the other
language's texts must not be in it (tests of the command line and of the monthly report)."""

from __future__ import annotations

import re
import string
from collections.abc import Iterable

from sentinelle.i18n import LANGS, Message
from sentinelle.rules import default_rules_dir, load_catalog

CATALOG = load_catalog(default_rules_dir())
_FORMATTER = string.Formatter()
_WORD = re.compile(r"[^\W\d_]{4,}")  # a word of four letters or more


def other(lang: str) -> str:
    return next(lo for lo in LANGS if lo != lang)


def words(message: Message, lang: str) -> set[str]:
    """The words of a message's texts in `lang`, over its plural forms, placeholders aside."""
    text = message.texts[lang]
    forms = [text] if isinstance(text, str) else list(text.values())
    return {w.casefold() for form in forms for literal, _, _, _ in _FORMATTER.parse(form)
            for w in _WORD.findall(literal)}


def foreign_words(msg_ids: Iterable[str], lang: str) -> set[str]:
    """The words the other language's texts of these messages have and `lang`'s have not."""
    ids = list(msg_ids)
    own = set().union(*(words(CATALOG.get(m), lang) for m in ids))
    theirs = set().union(*(words(CATALOG.get(m), other(lang)) for m in ids))
    return theirs - own


def foreign_in(printed: str, msg_ids: Iterable[str], lang: str,
               values: Iterable[str] = ()) -> set[str]:
    """The other language's words found in `printed`, once the values the command was given
    (names: their words are no language's) and the paths and addresses are taken out."""
    for value in sorted(values, key=len, reverse=True):
        printed = printed.replace(value, " ")
    printed = re.sub(r"\S*/\S*", " ", printed)
    found = {w.casefold() for w in _WORD.findall(printed)}
    return found & foreign_words(msg_ids, lang)


def say(msg_id: str, lang: str, **args: object) -> str:
    return CATALOG.render(msg_id, args, lang, strict=True)
