"""A finding's sentences as a reader sees them, rendered strictly from the catalogs (a missing
argument fails), for the checks' tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sentinelle.model import Finding, Status
from sentinelle.rules import RuleSet, load_rules

RULES: RuleSet = load_rules()


@dataclass(frozen=True)
class Said:
    """One finding a check made during the tests: what test_messages.py renders again."""

    check: str
    status: Status
    message: str
    args: dict[str, Any]


SAID: list[Said] = []  # filled by the recorder in conftest.py, in test order


def spaced(text: str) -> str:
    """French typography's no-break spaces as plain ones, for readable assertions."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def summary(f: Finding, lang: str = "en", rules: RuleSet = RULES) -> str:
    """The finding's sentence; it must be a catalog message, with no English summary beside."""
    assert f.message is not None and not f.summary, "a catalog message, no English summary"
    return spaced(rules.catalog.render(f.message, f.args, lang, strict=True))


def remedy(f: Finding, lang: str = "en", rules: RuleSet = RULES) -> str:
    """What to do, filled with the finding's own arguments."""
    return spaced(rules.catalog.render(f"{f.check}.remediation", f.args, lang, strict=True))


def rendered(f: Finding, rules: RuleSet = RULES) -> None:
    """Both languages render with the arguments the finding carries (the remediation too when
    the finding asks somebody to act)."""
    for lang in ("fr", "en"):
        summary(f, lang, rules)
        if f.status.is_open:
            remedy(f, lang, rules)
