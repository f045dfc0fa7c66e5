"""ConvertTo-Json as Windows PowerShell 5.1 and PowerShell 7 print it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sentinelle.windows import psjson


def test_one_object_none_or_an_array_are_all_lists() -> None:
    assert psjson.records(psjson.loads('{"Name": "a"}')) == [{"Name": "a"}]
    assert psjson.records(psjson.loads('[{"Name": "a"}, {"Name": "b"}]'))[1] == {"Name": "b"}
    assert psjson.records(psjson.loads("")) == []
    assert psjson.records(psjson.loads("\r\n")) == []
    with pytest.raises(psjson.PsJsonError, match="expected an object"):
        psjson.records(psjson.loads("3"))


def test_the_byte_order_mark_of_51_is_stripped() -> None:
    assert psjson.loads('\ufeff{\r\n    "A":  1\r\n}\r\n') == {"A": 1}


def test_broken_output_names_the_problem() -> None:
    with pytest.raises(psjson.PsJsonError, match="line 2"):
        psjson.loads('{"A": 1,\n  oops\n}')


@pytest.mark.parametrize(("text", "expected"), [
    ("/Date(1741657938000)/", datetime(2025, 3, 11, 1, 52, 18, tzinfo=UTC)),  # 5.1
    ("\\/Date(1741657938000)\\/", datetime(2025, 3, 11, 1, 52, 18, tzinfo=UTC)),  # raw escape
    ("/Date(1741657938000+0100)/", datetime(2025, 3, 11, 1, 52, 18, tzinfo=UTC)),
    ("2025-03-11T02:52:18.1234567+01:00", datetime(2025, 3, 11, 1, 52, 18, 123456, tzinfo=UTC)),
    ("2025-03-11T01:52:18Z", datetime(2025, 3, 11, 1, 52, 18, tzinfo=UTC)),  # 7, UTC kind
    ("2025-03-11T01:52:18", datetime(2025, 3, 11, 1, 52, 18, tzinfo=UTC)),  # unspecified kind
    ("20250311015218.000000+000", datetime(2025, 3, 11, 1, 52, 18, tzinfo=UTC)),  # WMI
    ("20250311025218.000000+060", datetime(2025, 3, 11, 1, 52, 18, tzinfo=UTC)),
])
def test_dates_of_both_editions_and_wmi(text: str, expected: datetime) -> None:
    assert psjson.timestamp(text) == expected


def test_never_is_none_and_nonsense_is_an_error() -> None:
    assert psjson.timestamp(None) is None and psjson.timestamp("") is None
    assert psjson.timestamp("/Date(-11644473600000)/") is None  # 1601-01-01: "never"
    assert psjson.timestamp("16010101000000.000000+000") is None
    assert psjson.timestamp({"value": "/Date(0)/", "DateTime": "jeudi 1 janvier 1970"}) == (
        datetime(1970, 1, 1, tzinfo=UTC))
    with pytest.raises(psjson.PsJsonError):
        psjson.timestamp("jeudi 28 novembre 2026")


def test_enums_as_numbers_or_names() -> None:
    names = {0: "NotConfigured", 2: "Allow", 4: "Block"}
    assert psjson.enum(4, names) == "Block"
    assert psjson.enum("Block", names) == "Block"
    assert psjson.enum("block", names) == "Block"
    assert psjson.enum("4", names) == "Block"
    assert psjson.enum(9, names) == "9"  # an unknown value is kept, not guessed
    assert psjson.enum(None, names) is None


def test_booleans_and_numbers() -> None:
    assert psjson.boolean("TRUE") is True and psjson.boolean(0) is False
    assert psjson.boolean(None) is None
    with pytest.raises(psjson.PsJsonError):
        psjson.boolean("oui")
    assert psjson.integer("3389") == 3389 and psjson.integer(7.0) == 7
    with pytest.raises(psjson.PsJsonError):
        psjson.integer(True)
