"""Debian version ordering, as `dpkg --compare-versions` does it, without running dpkg.

Kernel release strings (6.1.0-28-amd64) are ordered the same way: a fixture tree or a mounted
image has no dpkg of its own to ask, and the algorithm is short (dpkg's lib/dpkg/version.c).
"""

from __future__ import annotations

from functools import cmp_to_key


def _order(char: str) -> int:
    # dpkg's order(): digits sort as 0 here (they are compared numerically elsewhere), letters
    # before other characters, and '~' before everything, even the end of the string.
    if char.isdigit():
        return 0
    if char.isalpha():
        return ord(char)
    if char == "~":
        return -1
    return ord(char) + 256


def _verrevcmp(a: str, b: str) -> int:
    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _order(a[i]) if i < len(a) else 0
            bc = _order(b[j]) if j < len(b) else 0
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        while i < len(a) and a[i].isdigit() and j < len(b) and b[j].isdigit():
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < len(a) and a[i].isdigit():
            return 1
        if j < len(b) and b[j].isdigit():
            return -1
        if first_diff:
            return first_diff
    return 0


def _split(version: str) -> tuple[int, str, str]:
    version = version.strip()
    epoch = 0
    head, sep, rest = version.partition(":")
    if sep and head.isdigit():
        epoch, version = int(head), rest
    upstream, sep, revision = version.rpartition("-")
    if not sep:
        return epoch, version, ""
    return epoch, upstream, revision


def compare_versions(a: str, b: str) -> int:
    """Negative, zero or positive as `a` sorts before, equal to or after `b` for dpkg."""
    ea, ua, ra = _split(a)
    eb, ub, rb = _split(b)
    if ea != eb:
        return ea - eb
    return _verrevcmp(ua, ub) or _verrevcmp(ra, rb)


def newest(versions: list[str]) -> str | None:
    """The highest version of a list in dpkg order, or None for an empty list."""
    if not versions:
        return None
    return max(versions, key=cmp_to_key(compare_versions))
