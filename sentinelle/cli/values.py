"""argparse types for the values people type: a bad one is a usage error (usage line, exit 2)
with the catalog's words, before any file or store is opened.

Each returns the text as typed (or the number) once it is known to be good: the code that runs
the command parses it again as it always did (`run_collector` takes the `--expires` text), so a
caller that builds the namespace itself keeps working. The collector's rules are imported inside
the functions: they run only when a collector command's arguments are parsed.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from sentinelle.cli.registry import say


def insee_code(text: str) -> str:
    """A commune's INSEE code: 01001, 2A004, 97411 (lower case accepted, as the registry does)."""
    from sentinelle.collector.insee import is_valid_insee

    if not is_valid_insee(text.upper()):
        raise argparse.ArgumentTypeError(say("cli.bad_insee", value=text))
    return text


def lifetime(text: str) -> str:
    """A token lifetime such as 12h, 7d or 2w."""
    from sentinelle.collector.cli import parse_lifetime
    from sentinelle.errors import ConfigError

    try:
        parse_lifetime(text)
    except ConfigError:
        raise argparse.ArgumentTypeError(say("cli.bad_duration", value=text)) from None
    return text


def email(text: str) -> str:
    """An email address, as the collector's registry accepts them."""
    from sentinelle.collector.cli import EMAIL

    if not EMAIL.match(text):
        raise argparse.ArgumentTypeError(say("cli.bad_email", value=text))
    return text


def whole_number(minimum: int) -> Callable[[str], int]:
    """A whole number of at least `minimum` (a population, a number of uses)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(say("cli.bad_count", value=text, minimum=minimum))
        return value

    return parse


def seconds(text: str) -> float:
    """A positive, finite number of seconds (a duration, an interval, a timeout)."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    # float() accepts "nan" and "inf": neither is a duration anyone means.
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(say("cli.bad_seconds", value=text))
    return value

