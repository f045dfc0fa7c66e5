"""The check that runs one declarative policy: its condition evaluated on the host, turned
into one finding.

True is a `pass` with the policy's `pass` sentence, false a `fail` (or `warn`, `on_fail`) with
its `fail` sentence, both filled with the arguments the conditions gave. Unknown is a `skip`
whose sentence says what could not be seen (`policy.skip.*`, rules/messages/policy.yaml), and a
value the condition cannot judge an `error` (`policy.error.*`): never a pass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from sentinelle.checks.base import Check, CheckContext
from sentinelle.model import Finding, Status
from sentinelle.params import as_dict, inferred_specs, param
from sentinelle.policies.conditions import ConditionError

if TYPE_CHECKING:
    from sentinelle.host import Host
    from sentinelle.policies.loader import Policy
    from sentinelle.rules import CheckMeta

MAX_EVIDENCE = 32


class PolicyCheck(Check):
    """A declarative check (rules/policies): one subclass per policy, `policy_check` makes it."""

    id: ClassVar[str] = "policy.check"
    policy: ClassVar[Policy]

    def __init__(self, meta: CheckMeta, params: Any, context: CheckContext) -> None:
        super().__init__(meta, params, context)
        # The condition with this check's parameters (defaults and the config's overrides).
        self.condition = self.policy.condition.bind(as_dict(self.params))

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
            outcome = self.condition.evaluate(host)
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
    """The check class of a policy (not in the Python registry: policies come with rules),
    its Params a frozen dataclass of the types of its defaults."""
    name = "Policy_" + policy.meta.id.replace(".", "_")
    fields = [(str(n), spec.kind, param()) for n, spec in inferred_specs(
        policy.meta.params).items()]
    params = dataclasses.make_dataclass(name + "_Params", fields, frozen=True)
    return type(name, (PolicyCheck,), {"id": policy.meta.id, "policy": policy,
                                       "Params": params, "__doc__": policy.meta.title["en"]})
