"""The check contract and its registry.

A check is a small class with an id `family.name`, registered with `@register`. It reads the
system only through `Host` and yields `Finding`s. Its text for people and the defaults of its
parameters live in rules/checks/FAMILY.yaml; it declares its parameters as a frozen dataclass
`Params` (sentinelle.params), and `self.params` is that struct filled with the defaults and the
config's overrides, validated. docs/checks.md says how to write one.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from sentinelle.model import Finding, Measurement, Severity, Status
from sentinelle.params import NoParams, build_params

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
    # The check's parameters: a frozen dataclass of `param()` fields, defaults in rules/.
    Params: ClassVar[type[Any]] = NoParams
    params: Any  # an instance of Params (subclasses annotate `params: Params`)
    # The systems the question is asked of: the runner does not run a check on a host of
    # another platform (an sshd_config question means nothing on Windows; it is not a skip).
    platforms: ClassVar[frozenset[str]] = frozenset({"linux", "windows"})

    def __init__(self, meta: CheckMeta, params: Any, context: CheckContext) -> None:
        """`params`: an instance of `Params`, or a mapping of every parameter's value
        (validated against `Params`; errors name the metadata file)."""
        self.meta = meta
        if isinstance(params, Mapping):
            params = build_params(type(self).Params, self.id, params, meta.source)
        elif not isinstance(params, type(self).Params):
            raise TypeError(f"{self.id}: params must be a {type(self).Params.__qualname__}")
        self.params = params
        self.context = context

    @property
    def family(self) -> str:
        return self.id.split(".", 1)[0]

    @abstractmethod
    def run(self, host: Host) -> Iterable[Finding]:
        """Inspect the host and yield findings. Raising turns into one `error` finding."""

    def say(
        self,
        status: Status,
        case: str,
        args: Mapping[str, Any] | None = None,
        evidence: Mapping[str, Any] | None = None,
        *,
        severity: Severity | None = None,
        measurements: Iterable[Measurement] = (),
        key: str | None = None,
    ) -> Finding:
        """A finding whose sentence is this check's catalog message `case` (rules/checks:
        `messages: {case: {fr:, en:}}`), with typed `args` (counts, seconds, sizes, dates as
        RFC 3339 or Unix times, names) that also fill its remediation. Nothing is rendered
        here: the reader's screen renders it in the reader's language (schema 2). `key` names
        what the finding is about within the check (a service, a backup location), so that a
        waiver can accept that one and not the others."""
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
            args={name: _typed(self.id, name, value) for name, value in (args or {}).items()},
            key=key,
        )


def _typed(check_id: str, name: str, value: Any) -> Any:
    """An argument as the Report carries it: a number, a string, a boolean or a list of
    strings (a date as RFC 3339 text or Unix time, a duration in seconds, a size in bytes)."""
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    raise TypeError(f"{check_id}: argument {name}={value!r} is not a number, a string, a "
                    "boolean or a list of strings")


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
