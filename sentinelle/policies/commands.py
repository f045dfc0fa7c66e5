"""The commands a policy may run: an allow-list in `rules/policy_commands.yaml`.

Each entry is an argv template: a program and its arguments, some of them `{name}`
placeholders that a policy fills with values its entry's `args` patterns accept (checked when
the policy is loaded, never at run time). Commands run through `Host.run`: no shell, a
timeout, a fixed environment; their output is bounded. A policy naming a command that is not
on the list is a load error, and nothing runs.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentinelle.errors import CommandError, CommandNotFound, CommandTimeout, expect
from sentinelle.host import CommandResult, Host
from sentinelle.policies.files import Unseen
from sentinelle.validation import Section, load_yaml_file

COMMANDS_FILE = "policy_commands.yaml"
PROGRAM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
ARG_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_FORMATTER = string.Formatter()


@dataclass(frozen=True)
class CommandSpec:
    """One allowed command: its argv template, what each placeholder may be, its bounds."""

    name: str
    argv: tuple[str, ...]
    args: Mapping[str, re.Pattern[str]] = field(default_factory=dict)
    timeout_seconds: float = 10.0
    max_output_bytes: int = 1 << 20
    source: str = ""

    def fill(self, values: Mapping[str, str]) -> tuple[str, ...]:
        """The argv with its placeholders filled (values already checked by `check_args`)."""
        return tuple(item.format_map(values) for item in self.argv)


def placeholders(template: str) -> list[str]:
    return [name for _, name, _, _ in _FORMATTER.parse(template) if name is not None]


def load_commands(path: Path) -> dict[str, CommandSpec]:
    """The allow-list; an absent file allows nothing."""
    if not path.is_file():
        return {}
    src = str(path)
    top = Section(src, "", load_yaml_file(path))
    commands = top.section("commands")
    out: dict[str, CommandSpec] = {}
    for name in list(commands.data):
        sec = commands.section(str(name))
        if not ARG_NAME.match(str(name)):
            raise commands.error(str(name), expect("lowercase_name"), name)
        argv = sec.str_list("argv")
        if not argv or not PROGRAM.match(argv[0]):
            raise sec.error("argv", expect("command_argv"), argv)
        args_sec = sec.section("args")
        patterns: dict[str, re.Pattern[str]] = {}
        for arg in list(args_sec.data):
            text = args_sec.str(str(arg))
            if not ARG_NAME.match(str(arg)):
                raise args_sec.error(str(arg), expect("lowercase_name"), arg)
            if not text.startswith("^") or not text.endswith("$"):
                raise args_sec.error(str(arg), expect("anchored_pattern"), text)
            try:
                patterns[str(arg)] = re.compile(text)
            except re.error as exc:
                raise args_sec.error(str(arg), expect("regex"), text) from exc
        args_sec.done()
        used = {p for item in argv for p in placeholders(item)}
        if placeholders(argv[0]) or used != set(patterns):
            raise sec.error("argv", expect("command_placeholders", names=sorted(patterns)), argv)
        out[str(name)] = CommandSpec(
            name=str(name),
            argv=tuple(argv),
            args=patterns,
            timeout_seconds=sec.number("timeout_seconds", 10.0, minimum=1, maximum=120),
            max_output_bytes=sec.number("max_output_bytes", 1 << 20, minimum=1,
                                        maximum=16 << 20, integer=True),
            source=src,
        )
        sec.done()
    commands.done()
    top.done()
    return out


def check_args(spec: CommandSpec, sec: Section, name: str) -> dict[str, str]:
    """A policy's `args` for `spec`: every placeholder given, each matching its pattern and
    never an option (a leading `-`); errors name the policy's line."""
    given = sec.raw(name, {}) or {}
    args_sec = Section(sec.source, sec.key(name), given, sec.line_of(name))
    values: dict[str, str] = {}
    for arg, pattern in spec.args.items():
        value = args_sec.raw(arg)
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise args_sec.error(arg, expect("command_argument", pattern=pattern.pattern), value)
        text = str(value)
        if text.startswith("-") or not pattern.match(text):
            raise args_sec.error(arg, expect("command_argument", pattern=pattern.pattern), value)
        values[arg] = text
    args_sec.done()
    return values


def run_command(host: Host, spec: CommandSpec, argv: tuple[str, ...]) -> CommandResult:
    """Run an allowed command on the live host; Unseen when it cannot run, times out, or says
    more than its bound."""
    shown = " ".join(argv)
    if not host.is_live:
        raise Unseen("not_live", {"root": str(host.root), "command": shown},
                     f"{shown}: commands describe this machine, not the tree {host.root}")
    try:
        result = host.run(argv, timeout=spec.timeout_seconds)
    except CommandNotFound as exc:
        raise Unseen("command_missing", {"program": argv[0]}, str(exc)) from exc
    except CommandTimeout as exc:
        raise Unseen("command_timeout", {"command": shown, "seconds": spec.timeout_seconds},
                     str(exc)) from exc
    except CommandError as exc:
        raise Unseen("command_failed", {"command": shown}, str(exc)) from exc
    size = len(result.stdout.encode("utf-8", errors="replace"))
    if size > spec.max_output_bytes:
        raise Unseen("output_too_large", {"command": shown, "limit": spec.max_output_bytes},
                     f"{shown}: printed {size} bytes, more than {spec.max_output_bytes}")
    return result


def describe(spec: CommandSpec) -> dict[str, Any]:
    return {"name": spec.name, "argv": list(spec.argv)}
