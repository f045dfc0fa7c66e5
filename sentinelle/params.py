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
import re
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sentinelle.errors import ConfigError

# Types a parameter may have: what YAML writes as a scalar, or a list of strings.
_KINDS: dict[Any, str] = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "a non-empty string",
    tuple[str, ...]: "a list of non-empty strings",
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
    def expected(self) -> str:
        text = _KINDS[self.kind]
        if self.minimum is not None and self.maximum is not None:
            return f"{text} from {self.minimum:g} to {self.maximum:g}"
        if self.minimum is not None:
            return f"{text} >= {self.minimum:g}"
        if self.maximum is not None:
            return f"{text} <= {self.maximum:g}"
        return text

    def convert(self, value: Any) -> Any:
        """The value as the struct holds it; ValueError (saying what was expected) if invalid."""
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
            raise ValueError(self.expected)
        if self.kind in (int, float) and (
            (self.minimum is not None and value < self.minimum)
            or (self.maximum is not None and value > self.maximum)
        ):
            raise ValueError(self.expected)
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


# Errors that name the line


class LocatedConfigError(ConfigError):
    """A ConfigError that also names the line of the key in its file."""

    def __init__(
        self, source: str, line: int | None, key: str, expected: str, got: object = None
    ) -> None:
        super().__init__(f"{source}:{line}" if line else source, key, expected, got)
        self.source = source
        self.line = line


_INDEX = re.compile(r"\[(\d+)\]")


def yaml_line(path: str | Path, keys: Sequence[str]) -> int | None:
    """The line (from 1) of the deepest of `keys` found in a YAML file, read with PyYAML's node
    marks; None when the file or the first key cannot be found."""
    try:
        node = yaml.compose(Path(path).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeError, yaml.YAMLError):
        return None
    line: int | None = None
    for key in keys:
        if isinstance(node, yaml.SequenceNode) and key.isdigit() and int(key) < len(node.value):
            node = node.value[int(key)]
            line = node.start_mark.line + 1
            continue
        if not isinstance(node, yaml.MappingNode):
            break
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                line, node = key_node.start_mark.line + 1, value_node
                break
        else:
            break
    return line


def split_key(dotted_keys: Iterable[str], dotted: str) -> list[str]:
    """Split a dotted key of an error ("checks.patching.last_upgrade.max_days",
    "backups.locations[1].path") into the YAML keys it names; `dotted_keys` are the keys that
    themselves hold dots (check ids), kept whole."""
    known = sorted(set(dotted_keys), key=len, reverse=True)
    parts: list[str] = []
    rest = _INDEX.sub(r".\1", dotted)
    while rest:
        match = next((k for k in known if rest == k or rest.startswith(k + ".")), None)
        head = match if match is not None else rest.split(".", 1)[0]
        parts.append(head)
        rest = rest[len(head) + 1:]
    return parts


def locate(exc: ConfigError, path: str | Path, dotted_keys: Iterable[str] = ()) -> ConfigError:
    """The same error naming the line of its key in `path` (unchanged when it is not found)."""
    if isinstance(exc, LocatedConfigError) or exc.source != str(path):
        return exc
    line = yaml_line(path, split_key(dotted_keys, exc.key))
    if line is None:
        return exc
    return LocatedConfigError(exc.source, line, exc.key, exc.expected, exc.got)


# Building a check's Params


def _error(source: str, keys: Sequence[str], expected: str, got: object = None) -> ConfigError:
    return LocatedConfigError(source, yaml_line(source, keys), ".".join(keys), expected, got)


def validate(
    specs: Mapping[str, ParamSpec],
    values: Mapping[str, Any],
    source: str,
    keys: Sequence[str],
    what: str = "a parameter of this check",
) -> dict[str, Any]:
    """`values` checked against `specs` and converted; the error names `source`, the line and
    the key (`keys` lead to the mapping in that file)."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        spec = specs.get(str(name))
        if spec is None:
            allowed = ", ".join(sorted(specs)) or "none"
            raise _error(source, [*keys, str(name)], f"{what} ({allowed})", name)
        try:
            out[spec.name] = spec.convert(value)
        except ValueError as exc:
            raise _error(source, [*keys, spec.name], str(exc), value) from None
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
    values = validate(specs, defaults, source, keys, "a parameter declared by the check")
    missing = sorted(set(specs) - set(values))
    if missing:
        raise _error(source, keys if defaults else ["checks", check_id],
                     f"a default for each declared parameter (missing: {', '.join(missing)})")
    values.update(validate(specs, overrides or {}, source, keys))
    return params_cls(**values)


def as_dict(params: Any) -> dict[str, Any]:
    """A Params instance as a plain mapping (evidence, the `checks` listing)."""
    return {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}


__all__ = [
    "LocatedConfigError",
    "NoParams",
    "ParamSpec",
    "as_dict",
    "as_specs",
    "build_params",
    "locate",
    "param",
    "specs_of",
    "validate",
    "yaml_line",
]
