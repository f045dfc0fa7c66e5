"""Every finding a check makes in these tests is recorded (its check, status, message id and
arguments), so that test_messages.py can render each message with the arguments the checks
really pass, and see that every declared message was reached."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sentinelle.checks.base import Check
from sentinelle.model import Finding
from tests.checks.texts import SAID, Said


@pytest.fixture(autouse=True)
def record_findings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    original = Check.say

    def say(self: Check, *args: Any, **kwargs: Any) -> Finding:
        finding = original(self, *args, **kwargs)
        SAID.append(Said(finding.check, finding.status, str(finding.message),
                         dict(finding.args)))
        return finding

    monkeypatch.setattr(Check, "say", say)
    yield


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Some tests were left out: test_messages.py cannot expect every message reached."""
    if items:
        items[0].config._checks_deselected = True  # type: ignore[attr-defined]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """test_messages.py judges what every other test said: it runs last, also after the
    families whose names sort after it (time, updates)."""
    items.sort(key=lambda item: item.nodeid.startswith("tests/checks/test_messages.py"))
