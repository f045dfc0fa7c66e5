"""Messages for people: catalogs in French and English, plurals and locale formatting by Babel.

Every sentence a person reads is a catalog entry rendered here, French by default. A template
is `str.format` text whose placeholders name an argument and, after a colon, how to format it:

    "{count} mises à jour de sécurité en attente depuis {age:duration}"

Kinds: `number` (grouped digits, the default for numbers), `duration` (seconds: "143 jours",
"5 heures", "1 h 56 min", cut by `duration_parts`), `ago` ("il y a 3 jours"), `date`
(an RFC 3339 date or a Unix time: "11 juillet 2026"), `size` (bytes: "1,9 Mio"), `percent`
(a ratio: "45 %"), `list` (joined: "a, b et c"), `text` (as is). An entry may have plural
forms (CLDR categories `one`, `other`…) chosen by the argument its `plural` key names.

Babel costs about 9 MB of memory once imported: it is imported on the first rendering only, so
the agent's daemon, which builds Reports with message ids and arguments and renders nothing,
never pays for it.
"""

from __future__ import annotations

import math
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

LANGS = ("fr", "en")
DEFAULT_LANG = "fr"
PLURAL_FORMS = ("zero", "one", "two", "few", "many", "other")
KINDS = ("number", "duration", "ago", "date", "size", "percent", "list", "text")
MISSING = "?"  # what an argument that was not given shows as (tests fail on it)

_FORMATTER = string.Formatter()


class MessageError(ValueError):
    """A catalog entry is missing, malformed or cannot be filled with its arguments."""


@dataclass(frozen=True)
class Message:
    """One catalog entry: per language a template, or plural forms chosen by `plural`."""

    id: str
    texts: Mapping[str, str | Mapping[str, str]]
    plural: str | None = None
    source: str = ""

    def placeholders(self, lang: str) -> set[tuple[str, str]]:
        """(argument, kind) pairs the entry uses in a language, over all its plural forms."""
        found: set[tuple[str, str]] = set()
        for template in _forms(self.texts[lang]):
            for _, name, spec, _ in _FORMATTER.parse(template):
                if name is not None:
                    found.add((name, spec or ""))
        return found


def _forms(text: str | Mapping[str, str]) -> list[str]:
    return [text] if isinstance(text, str) else list(text.values())


def parse_message(msg_id: str, data: Any, source: str) -> Message:
    """An entry as written in YAML: {fr: ..., en: ...} or {plural: count, fr: {one:, other:}}."""
    where = f"{source}: message {msg_id}"
    if not isinstance(data, Mapping):
        raise MessageError(f"{where}: expected a mapping of languages to texts")
    plural = data.get("plural")
    if plural is not None and not isinstance(plural, str):
        raise MessageError(f"{where}: plural: expected the name of a numeric argument")
    unknown = set(data) - {"plural", *LANGS}
    if unknown:
        raise MessageError(f"{where}: unknown key(s) {sorted(unknown)}; expected fr, en, plural")
    texts: dict[str, str | Mapping[str, str]] = {}
    for lang in LANGS:
        text = data.get(lang)
        if isinstance(text, str) and text:
            texts[lang] = text
        elif isinstance(text, Mapping) and plural and "other" in text and all(
            k in PLURAL_FORMS and isinstance(v, str) for k, v in text.items()
        ):
            texts[lang] = dict(text)
        else:
            expected = "plural forms (one, other…)" if plural else "a non-empty string"
            raise MessageError(f"{where}: {lang}: expected {expected}")
    message = Message(msg_id, texts, plural, source)
    for lang in LANGS:
        for template in _forms(texts[lang]):
            try:
                fields = list(_FORMATTER.parse(template))
            except ValueError as exc:
                raise MessageError(f"{where}: {lang}: {exc}") from exc
            for _, name, spec, conversion in fields:
                if name is None:
                    continue
                if not name.isidentifier() or conversion or (spec and spec not in KINDS):
                    raise MessageError(
                        f"{where}: {lang}: placeholder {{{name}:{spec}}}: expected "
                        f"{{name}} or {{name:kind}} with kind one of {', '.join(KINDS)}"
                    )
    return message


class Catalog:
    """Messages by id; `render` gives the text in one language."""

    def __init__(self, messages: Iterable[Message] = ()) -> None:
        self._messages: dict[str, Message] = {}
        for message in messages:
            self.add(message)

    def add(self, message: Message) -> None:
        if message.id in self._messages:
            first = self._messages[message.id].source
            raise MessageError(f"{message.source}: message {message.id} already in {first}")
        self._messages[message.id] = message

    def __contains__(self, msg_id: object) -> bool:
        return msg_id in self._messages

    def __iter__(self) -> Any:
        return iter(self._messages.values())

    def get(self, msg_id: str) -> Message:
        try:
            return self._messages[msg_id]
        except KeyError:
            raise MessageError(f"no message {msg_id!r} in the catalogs") from None

    def render(self, msg_id: str, args: Mapping[str, Any] | None = None,
               lang: str = DEFAULT_LANG, strict: bool = False) -> str:
        """The message in `lang`. Not strict (people's screens): an absent argument shows as
        `?`; strict (tests): it raises MessageError."""
        return render_message(self.get(msg_id), args or {}, lang, strict)


def render_message(message: Message, args: Mapping[str, Any], lang: str,
                   strict: bool = False) -> str:
    lang = lang if lang in message.texts else DEFAULT_LANG
    text = message.texts[lang]
    if not isinstance(text, str):
        count = args.get(message.plural or "")
        form = plural_form(count, lang) if isinstance(count, int | float) else "other"
        text = text.get(form) or text["other"]
    parts: list[str] = []
    for literal, name, spec, _ in _FORMATTER.parse(text):
        parts.append(literal)
        if name is None:
            continue
        if name not in args or args[name] is None:
            if strict:
                raise MessageError(f"message {message.id} ({lang}): no value for {{{name}}}")
            parts.append(MISSING)
            continue
        parts.append(format_value(args[name], spec or "", lang))
    return "".join(parts)


# Formatting (Babel, imported on first use)


def plural_form(count: float, lang: str) -> str:
    from babel import Locale

    return str(Locale.parse(lang).plural_form(abs(count)))


def format_value(value: Any, kind: str, lang: str) -> str:
    """One argument as a person reads it in `lang`."""
    if kind in ("", "number") and isinstance(value, bool):
        return str(value)
    if kind == "text" or (kind == "" and isinstance(value, str)):
        return str(value)
    if kind == "list" or (kind == "" and isinstance(value, list | tuple)):
        return format_list([str(v) for v in value] if isinstance(value, Sequence) else
                           [str(value)], lang)
    if kind == "date":
        return format_when(value, lang)
    number = _number(value)
    if number is None:
        return str(value)
    if kind == "duration":
        return format_duration(number, lang)
    if kind == "ago":
        return format_ago(number, lang)
    if kind == "size":
        return format_size(number, lang)
    if kind == "percent":
        from babel.numbers import format_percent

        return str(format_percent(number, locale=lang))
    from babel.numbers import format_decimal

    return str(format_decimal(number, format="#,##0.##", locale=lang))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# Duration units from largest to smallest with the seconds each holds.
_UNITS = (("day", 86400.0), ("hour", 3600.0), ("minute", 60.0), ("second", 1.0))
# The units shown as one of them and the rest in the next smaller unit between one and two of
# them ("1 h 56 min"): below two days a duration counts in hours ("36 heures", "26 heures
# admises"), which people say and the rules' limits are written in.
_COMPOUND = ("hour", "minute")


def duration_parts(seconds: float) -> list[tuple[float, str]]:
    """A duration as (amount, unit) pairs, largest unit first, the way `format_duration` shows it.

    The rule, at every scale:

    - below 10 seconds, seconds to the tenth: "0,3 seconde", "4,5 secondes";
    - otherwise the largest unit that counts at least two of it, rounded to a whole number:
      "45 secondes", "5 heures", "26 heures", "143 jours";
    - between one and two hours (or minutes), one of it and the rest in minutes (or seconds),
      rounded to the minute (second): "1 h 56 min", "1 min 30 s", never "116 minutes"; a rest
      of zero is left out ("1 heure"), and what rounds up to two is two ("2 heures").

    Days are the largest unit: no weeks, months or years, because a person compares an age with
    a limit ("143 jours", "limite : 30 jours"), and the rules and the monthly report count days.
    Babel's own `format_timedelta` rounds to one unit from 85 % of it (its `threshold`):
    116 minutes read "2 heures" and 26 hours "1 jour", too loose for an age set against a limit;
    its unit names and plural forms are the ones used here.
    """
    seconds = abs(seconds)
    if seconds < 10:
        return [(round(seconds, 1), "second")]
    for i, (unit, size) in enumerate(_UNITS):
        if seconds >= 2 * size or unit == "second":
            amount = round(seconds / size)
            if amount * size != seconds:  # cut as it rounds: 59,6 s is 1 minute, 47,7 h 2 days
                return duration_parts(amount * size)
            return [(amount, unit)]
        if unit in _COMPOUND and seconds >= size:
            smaller, step = _UNITS[i + 1]
            total = round(seconds / step)
            if total * step != seconds:  # 119,6 s is 2 minutes
                return duration_parts(total * step)
            whole, rest = divmod(total, round(size / step))
            return [(whole, unit), (rest, smaller)] if rest else [(whole, unit)]
    raise AssertionError("unreachable")


def format_duration(seconds: float, lang: str) -> str:
    """The duration as `duration_parts` cuts it: one unit in full words ("5 heures"), two in
    their short forms joined as the language joins units ("1 h 56 min", "1 hr 56 min")."""
    from babel.lists import format_list as babel_list
    from babel.units import format_unit

    parts = duration_parts(seconds)
    if len(parts) == 1:
        amount, unit = parts[0]
        return str(format_unit(amount, f"duration-{unit}", length="long", locale=lang))
    return str(babel_list([str(format_unit(amount, f"duration-{unit}", length="short",
                                           locale=lang)) for amount, unit in parts],
                          style="unit-narrow", locale=lang))


def _relative(amount: float, unit: str, lang: str) -> str:
    from babel.dates import format_timedelta

    size = dict(_UNITS)[unit]
    return str(format_timedelta(timedelta(seconds=-amount * size), granularity=unit,  # type: ignore[arg-type]
                                threshold=1e9, add_direction=True, locale=lang))


def _spaces(text: str) -> str:
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def format_ago(seconds: float, lang: str) -> str:
    """How long ago, cut as `format_duration` cuts it: "il y a 3 jours", "il y a 1 h 56 min".

    Babel words the direction per unit ("il y a 2 heures", "2 hours ago"); for two units the
    words around the largest one's amount are kept and the amount becomes the two units."""
    parts = duration_parts(seconds)
    amount, unit = parts[0]
    relative = _relative(amount, unit, lang)
    if len(parts) == 1:
        return relative
    from babel.units import format_unit

    alone = str(format_unit(amount, f"duration-{unit}", length="long", locale=lang))
    # Babel spaces the two texts differently (no-break or not): found space-blind, one
    # character for one, so the index holds in the text as Babel wrote it.
    at = _spaces(relative).find(_spaces(alone))
    if at < 0:  # a language whose direction words split the amount from its unit
        return _relative(round(seconds / dict(_UNITS)[unit]), unit, lang)
    return relative[:at] + format_duration(seconds, lang) + relative[at + len(alone):]


def format_size(size: float, lang: str) -> str:
    """Binary multiples, as storage tools print them: "1,9 Mio" / "1.9 MiB"."""
    from babel.numbers import format_decimal

    units = ("o", "Kio", "Mio", "Gio", "Tio") if lang == "fr" else ("B", "KiB", "MiB", "GiB",
                                                                    "TiB")
    value, step = float(abs(size)), 0
    while value >= 1024 and step < len(units) - 1:
        value, step = value / 1024, step + 1
    digits = "#,##0" if step == 0 or value >= 100 else "#,##0.#"
    space = "\u00a0" if lang == "fr" else " "  # French sets a no-break space before a unit
    return f"{format_decimal(value, format=digits, locale=lang)}{space}{units[step]}"


def format_when(value: Any, lang: str) -> str:
    from babel.dates import format_date

    when: date | None = None
    if isinstance(value, datetime):
        when = value.date()
    elif isinstance(value, date):
        when = value
    elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        try:
            when = datetime.fromtimestamp(value, UTC).date()
        except (OverflowError, OSError, ValueError):
            when = None
    elif isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        except ValueError:
            when = None
    if when is None:
        return str(value)
    return str(format_date(when, format="long", locale=lang))


def format_list(items: Sequence[str], lang: str) -> str:
    from babel.lists import format_list as babel_list

    return str(babel_list(list(items), locale=lang)) if items else ""
