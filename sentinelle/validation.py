"""Strict reading of YAML mappings: every error names the file, the key and what was expected."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from sentinelle.errors import ConfigError

T = TypeVar("T")
_MISSING = object()
# Aliases: Section has methods named str and bool, which shadow the builtins in its body.
_Str = str
_Bool = bool


def load_yaml_file(path: Path) -> Any:
    """Parse a YAML file; syntax errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), "(file)", "a readable YAML file", str(exc)) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(syntax)"
        raise ConfigError(str(path), where, "valid YAML", str(exc).splitlines()[0]) from exc


class Section:
    """A mapping read key by key; `done()` rejects the keys nobody asked for."""

    def __init__(self, source: _Str, prefix: _Str, data: Any) -> None:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(source, prefix or "(top level)", "a mapping", data)
        self.source = source
        self.prefix = prefix
        self.data: Mapping[_Str, Any] = data
        self._seen: set[_Str] = set()

    def key(self, name: _Str) -> _Str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def error(self, name: _Str, expected: str, got: object = None) -> ConfigError:
        return ConfigError(self.source, self.key(name), expected, got)

    def has(self, name: _Str) -> _Bool:
        return name in self.data

    def raw(self, name: _Str, default: Any = _MISSING) -> Any:
        self._seen.add(name)
        if name not in self.data:
            if default is _MISSING:
                raise self.error(name, "a value (this key is required)")
            return default
        return self.data[name]

    def str(self, name: _Str, default: Any = _MISSING) -> Any:
        value = self.raw(name, default)
        if value is default and name not in self.data:
            return value
        if not isinstance(value, str) or not value:
            raise self.error(name, "a non-empty string", value)
        return value

    def bool(self, name: _Str, default: Any = _MISSING) -> Any:
        value = self.raw(name, default)
        if name in self.data and not isinstance(value, bool):
            raise self.error(name, "true or false", value)
        return value

    def number(
        self,
        name: _Str,
        default: Any = _MISSING,
        minimum: float | None = None,
        maximum: float | None = None,
        integer: _Bool = False,
    ) -> Any:
        value = self.raw(name, default)
        if name not in self.data:
            return value
        kind = "an integer" if integer else "a number"
        ok_type = int if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok_type):
            raise self.error(name, kind, value)
        if minimum is not None and value < minimum:
            raise self.error(name, f"{kind} >= {minimum:g}", value)
        if maximum is not None and value > maximum:
            raise self.error(name, f"{kind} <= {maximum:g}", value)
        return value

    def str_list(self, name: _Str, default: Any = _MISSING) -> Any:
        value = self.raw(name, default)
        if name not in self.data:
            return value
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(name, "a list of non-empty strings", value)
        return list(value)

    def choice(self, name: _Str, choices: tuple[_Str, ...], default: Any = _MISSING) -> Any:
        value = self.raw(name, default)
        if name in self.data and value not in choices:
            raise self.error(name, "one of " + ", ".join(choices), value)
        return value

    def section(self, name: _Str) -> Section:
        return Section(self.source, self.key(name), self.raw(name, None))

    def sections(self, name: _Str) -> list[Section]:
        value = self.raw(name, None) or []
        if not isinstance(value, list):
            raise self.error(name, "a list of mappings", value)
        return [
            Section(self.source, f"{self.key(name)}[{i}]", item) for i, item in enumerate(value)
        ]

    def done(self) -> None:
        """Raise on the first key that no reader asked for: unknown keys are errors."""
        for name in self.data:
            if name not in self._seen:
                raise ConfigError(self.source, self.key(_Str(name)), "no such key (unknown key)")
