"""The check that runs one declarative policy: its condition evaluated on the host, turned
into one finding.

True is a `pass` with the policy's `pass` sentence, false a `fail` (or `warn`, `on_fail`) with
its `fail` sentence, both filled with the arguments the conditions gave. Unknown is a `skip`
whose sentence says what could not be seen (`policy.skip.*`, rules/messages/policy.yaml), and a
value the condition cannot judge an `error` (`policy.error.*`): never a pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from sentinelle.checks.base import Check
from sentinelle.model import Finding, Status
from sentinelle.policies.conditions import ConditionError

if TYPE_CHECKING:
    from sentinelle.host import Host
    from sentinelle.policies.loader import Policy

MAX_EVIDENCE = 32


class PolicyCheck(Check):
    """A declarative check (rules/policies): one subclass per policy, `policy_check` makes it."""

    id: ClassVar[str] = "policy.check"
    policy: ClassVar[Policy]

    def _finding(self, status: Status, message: str, args: dict[str, Any],
                 evidence: dict[str, Any]) -> Finding:
        """A finding whose sentence is a shared policy message (policy.skip.*, policy.error.*)."""
        return Finding(
            check=self.id,
            status=status,
            severity=self.meta.severity,
            evidence=evidence,
            references={"anssi": list(self.meta.anssi)} if self.meta.anssi else {},
            message=message,
            args=args,
        )

    def run(self, host: Host) -> Iterable[Finding]:
        try:
            outcome = self.policy.condition.evaluate(host)
        except ConditionError as exc:
            yield self._finding(Status.ERROR, f"policy.error.{exc.case}", exc.values,
                                {"error": exc.reason})
            return
        evidence: dict[str, Any] = {"conditions": outcome.evidence[:MAX_EVIDENCE]}
        if outcome.result is None:
            unseen = outcome.unseen
            assert unseen is not None
            evidence["reason"] = unseen.reason
            yield self._finding(Status.SKIP, f"policy.skip.{unseen.case}", dict(unseen.values),
                                evidence)
        elif outcome.result:
            yield self.say(Status.PASS, "pass", outcome.args, evidence)
        else:
            yield self.say(self.policy.on_fail, "fail", outcome.args, evidence)


def policy_check(policy: Policy) -> type[PolicyCheck]:
    """The check class of a policy (not in the Python registry: policies come with rules)."""
    name = "Policy_" + policy.meta.id.replace(".", "_")
    return type(name, (PolicyCheck,), {"id": policy.meta.id, "policy": policy,
                                       "__doc__": policy.meta.title["en"]})
