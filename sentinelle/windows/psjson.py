"""What `ConvertTo-Json` prints, read the same way from Windows PowerShell 5.1 and PowerShell 7.

The differences that matter (learn.microsoft.com, ConvertTo-Json and "about_PowerShell_Editions"):

- A pipeline of one object serializes as that object, not as an array of one; of none, as
  nothing at all (an empty output). `records()` always gives a list.
- Windows PowerShell 5.1 writes a DateTime as `"\\/Date(1732788000000)\\/"` (milliseconds since
  1970, UTC), PowerShell 7 as ISO 8601 text (`"2026-11-28T12:00:00+01:00"`, or with seven
  fractional digits and no offset for an unspecified kind). `timestamp()` reads both, and the
  WMI form `20250311015218.000000+000` too.
- Enumerations are numbers (`"Enabled": 1`) unless the script asked for strings
  (`-EnumsAsStrings`, 7 only) or a property is already text; `enum()` reads either.
- Windows PowerShell 5.1 redirected to a file or a pipe may start with a UTF-8 byte-order mark,
  and a console code page may turn non-ASCII letters into replacement characters; `loads()`
  strips the mark and accepts the rest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

BOM = "\ufeff"
_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_WMI_DATE = re.compile(r"^(\d{14})\.(\d{6})([+-]\d{3})$")
# PowerShell 7 writes up to seven fractional digits; Python reads six.
_FRACTION = re.compile(r"(\.\d{6})\d+")


class PsJsonError(ValueError):
    """The output is not what ConvertTo-Json prints."""


def loads(text: str) -> Any:
    """The value ConvertTo-Json printed; None for an empty output (an empty pipeline)."""
    text = text.lstrip(BOM).strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PsJsonError(f"not ConvertTo-Json output: {exc.msg} at line {exc.lineno}") from exc


def records(value: Any) -> list[dict[str, Any]]:
    """A list of objects whether PowerShell printed one object, an array or nothing."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        if not all(isinstance(v, dict) for v in value):
            raise PsJsonError("expected objects in the array")
        return list(value)
    raise PsJsonError(f"expected an object or an array, got {type(value).__name__}")


def timestamp(value: Any) -> datetime | None:
    """A DateTime as either edition prints it (None for null, empty or year 1/1601 "never")."""
    if value is None or value == "":
        return None
    if isinstance(value, dict) and "DateTime" in value and "value" in value:
        value = value["value"]  # Windows PowerShell 5.1 on a PSObject-wrapped date
    if not isinstance(value, str):
        raise PsJsonError(f"not a date: {value!r}")
    text = value.strip()
    ms = _MS_DATE.match(text.replace("\\/", "/"))
    if ms:
        stamp = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(ms.group(1)))
        return None if stamp.year <= 1601 else stamp
    wmi = _WMI_DATE.match(text)
    if wmi:
        offset = timezone(timedelta(minutes=int(wmi.group(3))))
        stamp = datetime.strptime(wmi.group(1), "%Y%m%d%H%M%S").replace(tzinfo=offset)
        return None if stamp.year <= 1601 else stamp.astimezone(UTC)
    text = _FRACTION.sub(r"\1", text)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError as exc:
        raise PsJsonError(f"not a date: {value!r}") from exc
    if stamp.tzinfo is None:  # DateTimeKind.Unspecified: the machine's local time, taken as UTC
        stamp = stamp.replace(tzinfo=UTC)
    return None if stamp.year <= 1601 else stamp.astimezone(UTC)


def enum(value: Any, names: Mapping[int, str]) -> str | None:
    """An enumeration's name whether it was printed as its number or as its name."""
    if value is None:
        return None
    if isinstance(value, bool):
        return names.get(int(value))
    if isinstance(value, int):
        return names.get(value, str(value))
    if isinstance(value, str):
        by_name = {n.lower(): n for n in names.values()}
        if value.lower() in by_name:
            return by_name[value.lower()]
        if value.lstrip("-").isdigit():
            return names.get(int(value), value)
        return value
    raise PsJsonError(f"not an enumeration value: {value!r}")


def boolean(value: Any) -> bool | None:
    """A Boolean as PowerShell or WMI prints it (true, "True", "TRUE", 1)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise PsJsonError(f"not a Boolean: {value!r}")


def integer(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise PsJsonError(f"not a number: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise PsJsonError(f"not a number: {value!r}")


def text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value)
