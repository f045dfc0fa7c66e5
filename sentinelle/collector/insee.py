"""INSEE commune codes: five characters, département first.

Metropolitan départements 01-95 (Corsica as 2A/2B, never 20), overseas départements 971-976 and
overseas collectivities 975, 977, 978, 984-989 (three-character prefix, two-digit commune).
"""

from __future__ import annotations

import re

_METRO = re.compile(r"^(?:0[1-9]|1\d|2[1-9AB]|[3-8]\d|9[0-5])\d{3}$")
_OVERSEAS = re.compile(r"^(?:97[1-8]|98[4-9])\d{2}$")


def is_valid_insee(code: str) -> bool:
    """True for a syntactically valid commune code such as 01001, 2A004 or 97411."""
    return bool(_METRO.match(code) or _OVERSEAS.match(code))


def departement_of(code: str) -> str:
    """The département (or overseas collectivity) part of a valid commune code."""
    if not is_valid_insee(code):
        raise ValueError(f"not an INSEE commune code: {code!r}")
    return code[:3] if code.startswith(("97", "98")) else code[:2]
