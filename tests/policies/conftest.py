"""Every finding a policy makes in these tests is recorded, so that test_wording.py can see
that every sentence of the shipped policies and of rules/messages/policy.yaml was reached and
renders in both languages with the arguments really given."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pytest

from sentinelle.host import Host
from sentinelle.model import Finding
from sentinelle.policies.check import PolicyCheck
from tests.policies.helpers import SAID


@pytest.fixture(autouse=True)
def record_findings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    original = PolicyCheck.run

    def run(self: PolicyCheck, host: Host) -> Iterable[Finding]:
        for finding in original(self, host):
            SAID.append(finding)
            yield finding

    monkeypatch.setattr(PolicyCheck, "run", run)
    yield


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        items[0].config._policies_deselected = True  # type: ignore[attr-defined]
