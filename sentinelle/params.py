"""Typed check parameters: each check declares its own as a frozen dataclass, `Params`.

The struct says each parameter's type and bounds; its default lives only in rules/ (the check's
`params:` in rules/checks/FAMILY.yaml), and the agent config may override it
(`checks: {<family or check id>: {name: value}}`). Both are validated against the struct: the
type, the bounds and the names (an unknown key is an error), and an error names the file, the
line and the key.

    @dataclass(frozen=True)
    class Params:
        max_age_hours: float = param(minimum=1, doc="older than this fails")

`param()` gives no default on purpose: a parameter missing from rules/ is an error, so a default
is never written twice. This module imports neither the checks nor the config, so the config
can validate overrides without loading any check.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sentinelle.errors import ConfigError, Expected, expect, word
from sentinelle.validation import Section, key_line, line_of, number_expected

# Types a parameter may have: what YAML writes as a scalar, or a list of strings; the words
# of each (rules/messages/config.yaml: config.expected.*).
_KINDS: dict[Any, str] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    tuple[str, ...]: "string_list",
}


def param(
    *, minimum: float | None = None, maximum: float | None = None, doc: str = ""
) -> Any:
    """A field of a check's Params: its bounds and what it means; the default is in rules/."""
    return dataclasses.field(metadata={"minimum": minimum, "maximum": maximum, "doc": doc})


@dataclass(frozen=True)
class NoParams:
    """The Params of a check that takes none."""


@dataclass(frozen=True)
class ParamSpec:
    """One declared parameter: its name, type and bounds."""

    name: str
    kind: Any  # bool, int, float, str or tuple[str, ...]
    minimum: float | None = None
    maximum: float | None = None
    doc: str = ""

    @property
    def expected(self) -> Expected:
        """What a valid value is, as catalog words ("a number from 0.01 to 1")."""
        if self.kind in (int, float):
            return number_expected(self.kind is int, self.minimum, self.maximum)
        return expect(_KINDS[self.kind])

    def convert(self, value: Any) -> Any:
        """The value as the struct holds it; InvalidParam (saying what was expected) if not."""
        if self.kind is bool:
            ok = isinstance(value, bool)
        elif self.kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif self.kind is float:
            ok = (isinstance(value, int | float) and not isinstance(value, bool)
                  and math.isfinite(value))
            value = float(value) if ok else value
        elif self.kind is str:
            ok = isinstance(value, str) and bool(value)
        else:  # tuple[str, ...]
            ok = isinstance(value, list | tuple) and all(isinstance(v, str) and v for v in value)
            value = tuple(value) if ok else value
        if not ok:
            raise InvalidParam(self.expected)
        if self.kind in (int, float) and (
            (self.minimum is not None and value < self.minimum)
            or (self.maximum is not None and value > self.maximum)
        ):
            raise InvalidParam(self.expected)
        return value


def specs_of(params_cls: type[Any]) -> dict[str, ParamSpec]:
    """The declared parameters of a check's Params dataclass, by name."""
    if not (isinstance(params_cls, type) and dataclasses.is_dataclass(params_cls)):
        raise TypeError(f"{params_cls!r}: a check's Params must be a dataclass")
    if not params_cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise TypeError(f"{params_cls.__qualname__}: a check's Params must be frozen")
    hints = typing.get_type_hints(params_cls)
    out: dict[str, ParamSpec] = {}
    for f in dataclasses.fields(params_cls):
        kind = hints[f.name]
        if kind not in _KINDS:
            raise TypeError(f"{params_cls.__qualname__}.{f.name}: type {kind!r} is not one of "
                            "bool, int, float, str, tuple[str, ...]")
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{params_cls.__qualname__}.{f.name}: no default in code; "
                            "defaults live in rules/checks/*.yaml")
        meta = f.metadata
        out[f.name] = ParamSpec(f.name, kind, meta.get("minimum"), meta.get("maximum"),
                                meta.get("doc", ""))
    return out


def inferred_specs(defaults: Mapping[str, Any]) -> dict[str, ParamSpec]:
    """Specs guessed from default values (a caller that only knows the defaults)."""
    out: dict[str, ParamSpec] = {}
    for name, value in defaults.items():
        if isinstance(value, bool):
            kind: Any = bool
        elif isinstance(value, int):
            kind = int
        elif isinstance(value, float):
            kind = float
        elif isinstance(value, list | tuple):
            kind = tuple[str, ...]
        else:
            kind = str
        out[str(name)] = ParamSpec(str(name), kind)
    return out


def as_specs(declared: Mapping[str, Any]) -> dict[str, ParamSpec]:
    """`declared` is either specs by name, or default values by name (their types inferred)."""
    if all(isinstance(v, ParamSpec) for v in declared.values()):
        return dict(declared)
    return inferred_specs(declared)


class InvalidParam(ValueError):
    """A value a parameter cannot take; `expected` says what it can."""

    def __init__(self, expected: Expected) -> None:
        super().__init__(expected.id)
        self.expected = expected


# Building a check's Params. The lines come with the values: the mappings that
# sentinelle.validation.load_yaml_file builds know where each key is written (rules/checks for
# the defaults, the agent config for the overrides); plain mappings name no line.


def validate(
    specs: Mapping[str, ParamSpec],
    values: Mapping[str, Any],
    source: str,
    keys: Sequence[str],
    what: str = "param_of_check",
    lines: Section | Mapping[Any, Any] | None = None,
) -> dict[str, Any]:
    """`values` checked against `specs` and converted; the error names `source`, the line and
    the key (`keys` lead to the mapping in that file; `lines`, the mapping or Section read from
    it, says where its keys are, when `values` is not that mapping itself). `what`: the words
    for an unknown name (config.expected.param_of_check, param_declared, param_of_family)."""
    where = lines if lines is not None else values

    def error(name: str, expected: Expected, got: object) -> ConfigError:
        line = where.line_of(name) if isinstance(where, Section) else (
            key_line(where, name) or line_of(where))
        return ConfigError(source, ".".join([*keys, name]), expected, got, line=line)

    out: dict[str, Any] = {}
    for name, value in values.items():
        spec = specs.get(str(name))
        if spec is None:
            allowed = sorted(specs) or word("no_parameter")
            raise error(str(name), expect(what, allowed=allowed), name)
        try:
            out[spec.name] = spec.convert(value)
        except InvalidParam as exc:
            raise error(spec.name, exc.expected, value) from None
    return out


def build_params(
    params_cls: type[Any],
    check_id: str,
    defaults: Mapping[str, Any],
    source: str,
    overrides: Mapping[str, Any] | None = None,
) -> Any:
    """The check's Params from its defaults in rules/ (`source`) and already validated
    `overrides`; every declared parameter needs a default there, and only those may appear."""
    specs = specs_of(params_cls)
    keys = ["checks", check_id, "params"]
    values = validate(specs, defaults, source, keys, "param_declared")
    missing = sorted(set(specs) - set(values))
    if missing:
        raise ConfigError(source, ".".join(keys if defaults else keys[:2]),
                          expect("param_defaults", missing=missing), line=line_of(defaults))
    values.update(validate(specs, overrides or {}, source, keys))
    return params_cls(**values)


def as_dict(params: Any) -> dict[str, Any]:
    """A Params instance as a plain mapping (evidence, the `checks` listing)."""
    return {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}


__all__ = [
    "InvalidParam",
    "NoParams",
    "ParamSpec",
    "as_dict",
    "as_specs",
    "build_params",
    "param",
    "specs_of",
    "validate",
]
