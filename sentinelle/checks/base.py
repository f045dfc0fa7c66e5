"""The check contract and its registry.

A check is a small class with an id `family.name`, registered with `@register`. It reads the
system only through `Host` and yields `Finding`s. Its text for people and its thresholds live in
rules/checks/FAMILY.yaml; `self.params` holds those thresholds merged with the config overrides.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from sentinelle.model import Finding, Measurement, Severity, Status

if TYPE_CHECKING:
    from sentinelle.config import Config
    from sentinelle.host import Host
    from sentinelle.rules import CheckMeta, RuleSet

CHECK_ID = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
_REGISTRY: dict[str, type[Check]] = {}


@dataclass(frozen=True)
class CheckContext:
    """What a check may know besides the host: the agent's config and the loaded rules."""

    config: Config
    rules: RuleSet


class Check(ABC):
    """Base class of every check; subclasses set `id` and implement `run`."""

    id: ClassVar[str]

    def __init__(self, meta: CheckMeta, params: Mapping[str, Any], context: CheckContext) -> None:
        self.meta = meta
        self.params = dict(params)
        self.context = context

    @property
    def family(self) -> str:
        return self.id.split(".", 1)[0]

    @abstractmethod
    def run(self, host: Host) -> Iterable[Finding]:
        """Inspect the host and yield findings. Raising turns into one `error` finding."""

    def finding(
        self,
        status: Status,
        summary: str,
        evidence: Mapping[str, Any] | None = None,
        *,
        severity: Severity | None = None,
        measurements: Iterable[Measurement] = (),
        **remediation_vars: Any,
    ) -> Finding:
        """A finding of this check with its metadata's severity, remediation and references.

        `remediation_vars` fill `{placeholders}` of the remediation texts in rules/.
        """
        remediation = {
            lang: _format(text, remediation_vars) for lang, text in self.meta.remediation.items()
        }
        return Finding(
            check=self.id,
            status=status,
            severity=severity or self.meta.severity,
            summary=summary,
            evidence=dict(evidence or {}),
            remediation=remediation,
            references={"anssi": list(self.meta.anssi)} if self.meta.anssi else {},
            measurements=tuple(measurements),
        )


    def say(
        self,
        status: Status,
        case: str,
        args: Mapping[str, Any] | None = None,
        evidence: Mapping[str, Any] | None = None,
        *,
        severity: Severity | None = None,
        measurements: Iterable[Measurement] = (),
    ) -> Finding:
        """A finding whose sentence is this check's catalog message `case` (rules/checks:
        `messages: {case: {fr:, en:}}`), with typed `args` (counts, seconds, sizes, dates as
        RFC 3339 or Unix times, names) that also fill its remediation. Nothing is rendered
        here: the reader's screen renders it in the reader's language (schema 2)."""
        msg_id = f"{self.id}.{case}"
        if msg_id not in self.meta.messages:
            raise ValueError(f"{self.id}: no message {case!r} in {self.meta.source}")
        return Finding(
            check=self.id,
            status=status,
            severity=severity or self.meta.severity,
            evidence=dict(evidence or {}),
            references={"anssi": list(self.meta.anssi)} if self.meta.anssi else {},
            measurements=tuple(measurements),
            message=msg_id,
            args=dict(args or {}),
        )


class _Placeholders(dict[str, Any]):
    """Format values where a placeholder the finding did not fill shows as "?" rather than as
    a raw {name} (a pass or an error has no value for what a failure would name)."""

    def __missing__(self, key: str) -> str:
        return "?"


def _format(text: str, values: Mapping[str, Any]) -> str:
    try:
        return text.format_map(_Placeholders(values))
    except (IndexError, ValueError, AttributeError):
        return text


def register(cls: type[Check]) -> type[Check]:
    """Class decorator: add a check to the registry under its id."""
    check_id = getattr(cls, "id", None)
    if not isinstance(check_id, str) or not CHECK_ID.match(check_id):
        raise ValueError(f"{cls.__name__}: check id must look like 'family.name', got {check_id!r}")
    if check_id in _REGISTRY and _REGISTRY[check_id] is not cls:
        raise ValueError(f"check id {check_id} registered twice")
    _REGISTRY[check_id] = cls
    return cls


def registry() -> dict[str, type[Check]]:
    """All registered checks by id, after importing the built-in check modules."""
    import sentinelle.checks  # noqa: F401  (imports register the built-in checks)

    return dict(sorted(_REGISTRY.items()))
