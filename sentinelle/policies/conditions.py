"""The conditions of a declarative check, their parsing and their evaluation on a `Host`.

A condition is a mapping with one kind (`file_mode: {...}`, `all: [...]`). Evaluation is
three-valued: true, false, or unknown when a condition could not look (a file unreadable, a
command missing, not the live system); `all` / `any` / `none` combine them as Kleene logic does
(`any` is true as soon as one part is, whatever the others; `all` is false as soon as one part
is), so an unknown part makes the check skip only when it could change the answer. A value
found that the condition cannot compare (a number expected) is a `ConditionError`: an `error`
finding for that check only.

Every leaf gives its finding the arguments its sentences may use (`path`, `value`…); the
policy's messages may use only those (checked when it is loaded). Leaves that share a name
are told apart with `as: NAME`, which prefixes their arguments (`NAME_path`).
"""

from __future__ import annotations

import dataclasses
import re
import socket
import stat as stat_module
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, ClassVar

from sentinelle.errors import expect, problem, word
from sentinelle.facts import parse_dpkg_status
from sentinelle.host import Host
from sentinelle.policies import files
from sentinelle.policies.commands import CommandSpec, check_args, run_command
from sentinelle.policies.files import Unseen
from sentinelle.validation import Section

MAX_DEPTH = 4  # levels of all / any / none
MAX_LEAVES = 32  # conditions in one policy
MAX_EVIDENCE_TEXT = 200
MAX_LINE = 8192  # a line longer than this is not matched (a regex's time grows with it)
PACKAGE_DB_MAX_BYTES = 64 << 20
PROC_NET_MAX_BYTES = 16 << 20

DPKG_STATUS = "/var/lib/dpkg/status"
SYSTEMD_SYSTEM = "/etc/systemd/system"
PROC_SYS = "/proc/sys"
PROC_NET = ("/proc/net/tcp", "/proc/net/tcp6")

SYSCTL_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")  # interfaces may be upper-case
PACKAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9+._-]*$")
UNIT_NAME = re.compile(r"^[A-Za-z0-9@_:.-]+$")
UNIT_SUFFIXES = (".service", ".socket", ".timer", ".target", ".mount", ".path", ".slice")
PREFIX = re.compile(r"^[a-z][a-z0-9_]*$")
MODE = re.compile(r"^0?[0-7]{3,4}$")


class ConditionError(Exception):
    """A value found that the condition cannot judge: a case of the catalog's
    `policy.error.*`, its arguments, and the reason in plain words for the evidence."""

    def __init__(self, case: str, values: dict[str, Any], reason: str) -> None:
        super().__init__(reason)
        self.case = case
        self.values = values
        self.reason = reason


@dataclass
class Outcome:
    """A condition's answer: True, False or None (unknown, `unseen` says why), the arguments
    for the finding's sentence and what each leaf saw, for the evidence."""

    result: bool | None
    args: dict[str, Any]
    evidence: list[dict[str, Any]] = field(default_factory=list)
    unseen: Unseen | None = None


def _shown(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_EVIDENCE_TEXT:
        return value[: MAX_EVIDENCE_TEXT - 1] + "…"
    if isinstance(value, list):
        return [_shown(v) for v in value[:20]]
    return value


class Condition(ABC):
    """A node of the condition tree."""

    kind: ClassVar[str]

    @abstractmethod
    def evaluate(self, host: Host) -> Outcome:
        """The answer on `host`; raises ConditionError for a value it cannot judge."""

    @abstractmethod
    def arg_names(self) -> set[str]:
        """The arguments this condition gives the finding's sentence."""

    def leaves(self) -> Iterator[Leaf]:
        yield from ()

    def bind(self, params: Mapping[str, Any]) -> Condition:
        """The condition with the check's parameters in place of their references."""
        return self


class Leaf(Condition):
    """A condition that looks at one thing. Subclasses give their fixed arguments
    (`static`), the defaults of those they observe (`OBSERVED`), and `observe`."""

    OBSERVED: ClassVar[dict[str, Any]] = {}
    prefix: str = ""

    def static(self) -> dict[str, Any]:
        return {}

    @abstractmethod
    def observe(self, host: Host) -> tuple[bool, dict[str, Any]]:
        """Whether the condition holds and what was seen; raises Unseen when it cannot look."""

    def _named(self, args: dict[str, Any]) -> dict[str, Any]:
        return {f"{self.prefix}_{k}" if self.prefix else k: v for k, v in args.items()}

    def arg_names(self) -> set[str]:
        return set(self._named({**self.OBSERVED, **self.static()}))

    def leaves(self) -> Iterator[Leaf]:
        yield self

    def bind(self, params: Mapping[str, Any]) -> Condition:
        comparison = getattr(self, "comparison", None)
        if isinstance(comparison, Comparison) and comparison.refs:
            return dataclasses.replace(self, comparison=comparison.bind(params))  # type: ignore[type-var]
        return self

    def evaluate(self, host: Host) -> Outcome:
        args = {**self.OBSERVED, **self.static()}
        try:
            ok: bool | None
            ok, seen = self.observe(host)
            args.update(seen)
            unseen = None
        except Unseen as exc:
            ok, unseen = None, exc
        evidence = {"condition": self.kind, **{k: _shown(v) for k, v in args.items()},
                    "result": ok}
        if unseen is not None:
            evidence["reason"] = unseen.reason
        return Outcome(ok, self._named(args), [evidence], unseen)


@dataclass
class Combination(Condition):
    """`all`, `any` or `none` of its parts (every part is evaluated: the evidence shows each).
    An argument two parts give comes from the first part that decided the answer."""

    kind: ClassVar[str] = "combination"
    op: str
    parts: tuple[Condition, ...]

    def arg_names(self) -> set[str]:
        return set().union(*(p.arg_names() for p in self.parts))

    def leaves(self) -> Iterator[Leaf]:
        for part in self.parts:
            yield from part.leaves()

    def bind(self, params: Mapping[str, Any]) -> Condition:
        return dataclasses.replace(self, parts=tuple(p.bind(params) for p in self.parts))

    def evaluate(self, host: Host) -> Outcome:
        outcomes = [p.evaluate(host) for p in self.parts]
        results = [o.result for o in outcomes]
        found_true = True in results
        found_false = False in results
        unknown = None in results
        result: bool | None
        if self.op == "all":
            result = False if found_false else (None if unknown else True)
        elif self.op == "any":
            result = True if found_true else (None if unknown else False)
        else:  # none
            result = False if found_true else (None if unknown else True)
        # The parts that decided the answer name the arguments first (the package found
        # installed, the setting that failed), then the others, each in order.
        deciding = {"all": False, "any": True, "none": True}[self.op]
        ordered = [o for o in outcomes if o.result is deciding]
        ordered += [o for o in outcomes if o.result is not deciding]
        args: dict[str, Any] = {}
        for o in ordered:
            for k, v in o.args.items():
                args.setdefault(k, v)
        evidence = [e for o in outcomes for e in o.evidence]
        unseen = next((o.unseen for o in outcomes if o.unseen is not None), None)
        return Outcome(result, args, evidence, unseen if result is None else None)


# Comparisons of a value found (a setting, a sysctl, a command's output)


def _fold(text: str, ignore_case: bool) -> str:
    return text.casefold() if ignore_case else text


def _number(text: str) -> float | None:
    try:
        return float(text) if any(c in text for c in ".eE") else int(text, 10)
    except ValueError:
        return None


@dataclass(frozen=True)
class Comparison:
    """equals / one_of / min and max / present, on a text value."""

    op: str
    expected: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    present: bool = True
    ignore_case: bool = True
    # (field, parameter): values the check's parameters give (`equals: {param: NAME}`).
    refs: tuple[tuple[str, str], ...] = ()

    def bind(self, params: Mapping[str, Any]) -> Comparison:
        changes: dict[str, Any] = {}
        for name, param in self.refs:
            value = params[param]
            if name == "expected":
                changes[name] = tuple(str(v) for v in value) if isinstance(
                    value, list | tuple) else (str(value),)
            else:
                changes[name] = value
        return dataclasses.replace(self, refs=(), **changes)

    def args(self) -> dict[str, Any]:
        if self.op == "equals":
            return {"expected": self.expected[0]}
        if self.op == "one_of":
            return {"expected": list(self.expected)}
        out: dict[str, Any] = {}
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        return out

    def holds(self, value: str | None, key: str) -> bool:
        if self.op == "present":
            return (value is not None) == self.present
        if value is None:
            return False
        if self.op in ("equals", "one_of"):
            ic = self.ignore_case
            return _fold(value, ic) in {_fold(e, ic) for e in self.expected}
        number = _number(value)
        if number is None:
            raise ConditionError("not_a_number", {"key": key, "value": value},
                                 f"{key} = {value!r}: not a number")
        return (self.minimum is None or number >= self.minimum) and (
            self.maximum is None or number <= self.maximum)


COMPARISONS = ("equals", "one_of", "min", "max", "present")


def _scalar(sec: Section, name: str) -> str:
    """A value to compare with: a string or a number, never YAML's bare yes/no (a boolean)."""
    value = sec.raw(name)
    if isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
        raise sec.error(name, expect("policy_value"), value)
    return str(value)


def _ref(sec: Section, name: str, params: Mapping[str, Any], kind: str) -> str | None:
    """`{param: NAME}` in place of a value: the name of one of the check's parameters whose
    default is of the kind the value needs (scalar, number, list); None for a plain value."""
    raw = sec.raw(name)
    if not isinstance(raw, Mapping):
        return None
    ref = Section(sec.source, sec.key(name), raw, sec.line_of(name))
    param = ref.str("param")
    ref.done()
    if param not in params:
        raise ref.error("param", expect("policy_param", known=sorted(params) or "-"), param)
    default = params[param]
    fits = {
        "scalar": isinstance(default, str | int | float) and not isinstance(default, bool),
        "number": isinstance(default, int | float) and not isinstance(default, bool),
        "list": isinstance(default, list) and all(isinstance(v, str) for v in default),
    }[kind]
    if not fits:
        words = {"scalar": word("param_scalar"), "number": word("param_number"),
                 "list": word("param_list")}
        raise ref.error("param", expect("policy_param_kind", kind=words[kind]), param)
    return str(param)


def parse_comparison(sec: Section, params: Mapping[str, Any] | None = None) -> Comparison:
    params = params or {}
    given = [op for op in COMPARISONS if sec.has(op)]
    if not given or (len(given) > 1 and set(given) != {"min", "max"}):
        raise sec.error("", expect("one_comparison", choices=list(COMPARISONS)), given or None)
    ignore_case = sec.choice("value_case", ("insensitive", "sensitive"),
                             "insensitive") == "insensitive"
    op = given[0]
    if op == "equals":
        ref = _ref(sec, "equals", params, "scalar")
        if ref is not None:
            return Comparison("equals", (str(params[ref]),), ignore_case=ignore_case,
                              refs=(("expected", ref),))
        return Comparison("equals", (_scalar(sec, "equals"),), ignore_case=ignore_case)
    if op == "one_of":
        ref = _ref(sec, "one_of", params, "list")
        if ref is not None:
            return Comparison("one_of", tuple(params[ref]), ignore_case=ignore_case,
                              refs=(("expected", ref),))
        values = sec.raw("one_of")
        if not isinstance(values, list) or not values:
            raise sec.error("one_of", expect("policy_values"), values)
        items = Section(sec.source, sec.key("one_of"), {str(i): v for i, v in
                                                       enumerate(values)}, sec.line_of("one_of"))
        return Comparison("one_of", tuple(_scalar(items, str(i)) for i in range(len(values))),
                          ignore_case=ignore_case)
    if op == "present":
        return Comparison("present", present=sec.bool("present"))
    bounds: dict[str, Any] = {}
    refs: list[tuple[str, str]] = []
    for key, name in (("min", "minimum"), ("max", "maximum")):
        if not sec.has(key):
            continue
        ref = _ref(sec, key, params, "number")
        if ref is not None:
            bounds[name] = params[ref]
            refs.append((name, ref))
        else:
            bounds[name] = sec.number(key)
    return Comparison("range", refs=tuple(refs), **bounds)


# Paths


def parse_path(sec: Section, name: str, glob: bool = False) -> str:
    """An absolute path of the inspected system, without `..` (and, when `glob`, a pattern in
    its last part only)."""
    path: str = sec.str(name)
    parts = PurePosixPath(path).parts
    bad = (not path.startswith("/") or ".." in parts or "\x00" in path
           or any(c in "".join(parts[:-1]) for c in "*?[")
           or (not glob and any(c in parts[-1] for c in "*?[")))
    if bad:
        raise sec.error(name, expect("policy_path_glob") if glob else expect("policy_path"),
                        path)
    return path


def parse_paths(sec: Section) -> tuple[str, ...]:
    if sec.has("path") == sec.has("paths"):
        raise sec.error("path", expect("path_or_paths"))
    if sec.has("path"):
        return (parse_path(sec, "path", glob=True),)
    raw = sec.raw("paths")
    if not isinstance(raw, list) or not raw:
        raise sec.error("paths", expect("policy_paths"), raw)
    items = Section(sec.source, sec.key("paths"), {str(i): v for i, v in enumerate(raw)},
                    sec.line_of("paths"))
    return tuple(parse_path(items, str(i), glob=True) for i in range(len(raw)))


# Regular expressions: bounded by the size of what they read, and refused when nested
# repetition could make their time explode on one line (`(a+)+`, `(a|aa)*`).


def _explosive(items: Any, repeated: bool) -> bool:
    from re import _constants as c  # type: ignore[attr-defined]

    for op, av in items:
        if op in (c.MAX_REPEAT, c.MIN_REPEAT):
            _low, high, sub = av
            many = high is c.MAXREPEAT or high > 1
            if repeated and many:
                return True
            if _explosive(sub, repeated or many):
                return True
        elif op == c.SUBPATTERN:
            if _explosive(av[3], repeated):
                return True
        elif op == c.BRANCH:
            if repeated:
                return True
            if any(_explosive(b, repeated) for b in av[1]):
                return True
        elif op in (c.ASSERT, c.ASSERT_NOT):
            if _explosive(av[1], repeated):
                return True
        elif op == c.GROUPREF_EXISTS:
            if any(b is not None and _explosive(b, repeated) for b in av[1:]):
                return True
        elif op == getattr(c, "ATOMIC_GROUP", None) or op == getattr(c, "POSSESSIVE_REPEAT",
                                                                       None):
            continue  # they never backtrack
    return False


def parse_regex(sec: Section, name: str) -> re.Pattern[str]:
    text = sec.str(name)
    try:
        pattern = re.compile(text)
        from re import _parser  # type: ignore[attr-defined]

        parsed = _parser.parse(text)
    except re.error as exc:
        raise sec.error(name, expect("regex"), text) from exc
    if _explosive(parsed.data, False):
        raise sec.error(name, problem("regex_nested_repeat"), text)
    return pattern


def _lines(text: str, path: str) -> list[str]:
    lines = text.splitlines()
    if any(len(line) > MAX_LINE for line in lines):
        raise Unseen("long_line", {"path": path, "limit": MAX_LINE},
                     f"{path}: a line longer than {MAX_LINE} characters")
    return lines


def _search(pattern: re.Pattern[str], lines: Sequence[str]) -> list[str]:
    return [line for line in lines if pattern.search(line)]


# Leaves: files


@dataclass
class FileExists(Leaf):
    kind: ClassVar[str] = "file_exists"
    path: str
    want: bool = True
    prefix: str = ""

    def static(self) -> dict[str, Any]:
        return {"path": self.path}

    def observe(self, host: Host) -> tuple[bool, dict[str, Any]]:
        return (files.status(host, self.path) is not None) == self.want, {}


@dataclass
class FileMode(Leaf):
    """Not more permissive than `max_mode`: no permission bit outside it."""

    kind: ClassVar[str] = "file_mode"
    OBSERVED: ClassVar[dict[str, Any]] = {"mode": ""}
    path: str
    max_mode: int
    prefix: str = ""

    def static(self) -> dict[str, Any]:
        return {"path": self.path, "max_mode": f"{self.max_mode:04o}"}

    def observe(self, host: Host) -> tuple[bool, dict[str, Any]]:
        st = files.status(host, self.path)
        if st is None:
            raise Unseen("not_found", {"path": self.path}, f"no {self.path}")
        mode = stat_module.S_IMODE(st.st_mode)
        return mode & ~self.max_mode == 0, {"mode": f"{mode:04o}"}


@dataclass
class FileOwner(Leaf):
    """Owned by one of `owners` and/or group one of `groups` (names from the inspected
    system's /etc/passwd and /etc/group, or numeric ids)."""

    kind: ClassVar[str] = "file_owner"
    OBSERVED: ClassVar[dict[str, Any]] = {"owner": "", "group": ""}
    path: str
    owners: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    prefix: str = ""

    def static(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path}
        if self.owners:
            out["expected_owner"] = list(self.owners)
        if self.groups:
            out["expected_group"] = list(self.groups)
        return out

    def observe(self, host: Host) -> tuple[bool, dict[str, Any]]:
        st = files.status(host, self.path)
        if st is None:
            raise Unseen("not_found", {"path": self.path}, f"no {self.path}")
        owner = files.account_names(host, "/etc/passwd").get(st.st_uid, str(st.st_uid))
        group = files.account_names(host, "/etc/group").get(st.st_gid, str(st.st_gid))
        ok = (not self.owners or owner in self.owners or str(st.st_uid) in self.owners) and (
            not self.groups or group in self.groups or str(st.st_gid) in self.groups)
        return ok, {"owner": owner, "group": group}


@dataclass
class FileContent(Leaf):
    """A line of the file matches (or, `want` False, no line matches) the regex; the file is
    read up to `max_bytes` and a larger one is not judged."""

    kind: ClassVar[str] = "file_content"
    OBSERVED: ClassVar[dict[str, Any]] = {"line": "", "count": 0}
    path: str
    pattern: re.Pattern[str]
    want: bool = True
    max_bytes: int = files.DEFAULT_MAX_BYTES
    prefix: str = ""

    def static(self) -> dict[str, Any]:
        return {"path": self.path, "pattern": self.pattern.pattern}

    def observe(self, host: Host) -> tuple[bool, dict[str, Any]]:
        text = files.read_bounded(host, self.path, self.max_bytes)
        found = _search(self.pattern, _lines(text, self.path))
        seen = {"line": found[0].strip()[:MAX_EVIDENCE_TEXT] if found else "",
                "count": len(found)}
        return bool(found) == self.want, seen


# Leaves: settings (key value, key=value, INI)


@dataclass(frozen=True)
class SettingsFormat:
    """How a settings file is written, and how its keys are found."""

    syntax: str = "space"  # space: `Key value` (sshd); equals: `key = value`; ini
    section: str | None = None  # ini: the [section] the key is in
    repeated: str = "first"  # first (sshd) or last (most key=value readers) value wins
    ignore_key_case: bool = True  # sshd's keywords are case-insensitive

    def find(self, text: str, key: str) -> tuple[str, int] | None:
        """The key's value (quotes around it removed) and its line number."""
        comments = "#;" if self.syntax == "ini" else "#"
        ic = self.ignore_key_case
        wanted, wanted_section = _fold(key, ic), _fold(self.section or "", ic)
        current = ""
        found: tuple[str, int] | None = None
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line[0] in comments:
                continue
            if self.syntax == "ini" and line.startswith("[") and line.endswith("]"):
                current = _fold(line[1:-1].strip(), ic)
                continue
            if self.syntax == "space":
                parts = line.split(None, 1)
                name, value = parts[0], (parts[1] if len(parts) > 1 else "")
            else:
                name, sep, value = line.partition("=")
                if not sep:
                    continue
            if _fold(name.strip(), ic) != wanted:
                continue
            if self.syntax == "ini" and current != wanted_section:
                continue
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            found = (value, number)
            if self.repeated == "first":
                return found
        return found


def parse_format(sec: Section) -> SettingsFormat:
    syntax = sec.choice("format", ("space", "equals", "ini"), "space")
    section = sec.str("section", None)
    if (syntax == "ini") != (section is not None):
        raise sec.error("section", expect("ini_section"), section)
    return SettingsFormat(
        syntax=syntax,
        section=section,
        repeated=sec.choice("repeated", ("first", "last"), "first"),
        ignore_key_case=sec.choice("key_case", ("insensitive", "sensitive"),
                                   "insensitive") == "insensitive",
    )


@dataclass
class Setting(Leaf):
    """A key's value in settings files, read in order (a glob in the order of its names):
    with `repeated: first` the first file and line that set it win, as sshd reads its
    drop-ins before sshd_config. `default`: the value when no file sets it."""

    kind: ClassVar[str] = "setting"
    OBSERVED: ClassVar[dict[str, Any]] = {"value": "", "file": ""}
    paths: tuple[str, ...]
    key: str
    comparison: Comparison
    syntax: SettingsFormat = SettingsFormat()
    default: str | None = None
    max_bytes: int = files.DEFAULT_MAX_BYTES
    prefix: str = ""

    def static(self) -> dict[str, Any]:
        return {"key": self.key, **self.comparison.args()}

    def observe(self, host: Host) -> tuple[bool, dict[str, Any]]:
        found: tuple[str, str] | None = None
        read_any = False
        for pattern in self.paths:
            for path in files.expand(host, pattern):
                try:
                    text = files.read_bounded(host, path, self.max_bytes)
                except Unseen as exc:
                    if exc.case == "not_found":
                        continue
                    raise
                read_any = True
                hit = self.syntax.find(text, self.key)
                if hit is not None:
                    found = (hit[0], path)
                    if self.syntax.repeated == "first":
                        break
            if found is not None and self.syntax.repeated == "first":
                break
        if not read_any:
            raise Unseen("not_found", {"path": self.paths[-1]}, f"no {', '.join(self.paths)}")
        if found is None:
            value = self.default
            where = self.paths[-1] if self.default is not None else ""
        else:
            value, where = found
        if self.comparison.op == "present":
            ok = self.comparison.holds(found[0] if found else None, self.key)
        else:
            ok = self.comparison.holds(value, self.key)
        return ok, {"value": value if value is not None else "", "file": where}


@dataclass
class Sysctl(Leaf):
    """A kernel parameter, read from /proc/sys under the root (`kernel.randomize_va_space`
    is /proc/sys/kernel/randomize_va_space); whitespace inside the value is one space."""

    kind: ClassVar[str] = "sysctl"
    OBSERVED: ClassVar[dict[str, Any]] = {"value": ""}
    key: str
    comparison: Comparison
    prefix: str = ""

    def static(self) -> dict[str, Any]:
        return {"key": self.key, **self.comparison.args()}

    def observe(self, host: Host) -> tuple[bool, dict[str, Any]]:
        path = f"{PROC_SYS}/{self.key.replace('.', '/')}"
        try:
            value: str | None = " ".join(files.read_bounded(host, path, 65536).split())
        except Unseen as exc:
            if exc.case != "not_found" or self.comparison.op != "present":
                raise Unseen(exc.case, {**exc.values, "key": self.key}, exc.reason) from exc
            value = None
        return self.comparison.holds(value, self.key), {"value": value or ""}


# Leaves: packages, services, ports


@dataclass
class Package(Leaf):
    """A package installed (or absent): dpkg's status file under the root, else `rpm -q` on
    the live system."""

    kind: ClassVar[str] = "package"
    OBSERVED: ClassVar[dict[str, Any]] = {"manager": ""}
    name: str
    want: bool = True
    manager: str = "auto"
    prefix: str = ""

    def static(self) -> dict[str, Any]:
        return {"package": self.name}

    def observe(self, host: Host) -> tuple[bool, dict[str, Any]]:
        if self.manager in ("auto", "dpkg"):
            try:
                text = files.read_bounded(host, DPKG_STATUS, PACKAGE_DB_MAX_BYTES)
            except Unseen as exc:
                if exc.case != "not_found" or self.manager == "dpkg":
                    raise
            else:
                return (self.name in parse_dpkg_status(text)) == self.want, {"manager": "dpkg"}
        if not host.is_live:
            raise Unseen("no_package_db", {"root": str(host.root)},
                         f"no {DPKG_STATUS} under {host.root}, and rpm reads only this machine")
        spec = CommandSpec("rpm", ("rpm", "-q", "{name}"), timeout_seconds=30)
        try:
            result = run_command(host, spec, ("rpm", "-q", self.name))
        except Unseen as exc:
            if exc.case == "command_missing":
                raise Unseen("no_package_db", {"root": str(host.root)},
                             "neither dpkg's status file nor rpm") from exc
            raise
        if result.returncode not in (0, 1):
            raise Unseen("command_failed", {"command": f"rpm -q {self.name}"},
                         f"rpm -q exited {result.returncode}")
        return (result.returncode == 0) == self.want, {"manager": "rpm"}


@dataclass
class Service(Leaf):
    """A systemd unit enabled (a symlink in /etc/systemd/system/*.wants or *.requires, read
    under the root; masked is not enabled) and/or active (`systemctl is-active`, on the live
    system only)."""

    kind: ClassVar[str] = "service"
    OBSERVED: ClassVar[dict[str, Any]] = {"state": ""}
    unit: str
    enabled: bool | None = None
    active: bool | None = None
    prefix: str = ""

    def static(self) -> dict[str, Any]:
        return {"unit": self.unit}

    def is_enabled(self, host: Host) -> bool:
        base = files.resolve(host, SYSTEMD_SYSTEM)
        if not base.is_dir():
            raise Unseen("not_systemd", {"path": SYSTEMD_SYSTEM}, f"no {SYSTEMD_SYSTEM}")
        own = base / self.unit
        if own.is_symlink() and str(own.readlink()) == "/dev/null":
            return False  # masked
        # The links point at /lib/systemd/system: on a tree they may lead nowhere; they
        # are not followed, their presence is what enables.
        return any((d / self.unit).is_symlink() or (d / self.unit).exists()
                   for pattern in ("*.wants", "*.requires") for d in base.glob(pattern))

    def observe(self, host: Host) -> tuple[bool, dict[str, Any]]:
        ok = True
        seen: dict[str, Any] = {}
        if self.enabled is not None:
            ok = self.is_enabled(host) == self.enabled
        if self.active is not None:
            spec = CommandSpec("systemctl", ("systemctl", "is-active", "{unit}"))
            result = run_command(host, spec, ("systemctl", "is-active", self.unit))
            state = (result.stdout.split() or ["unknown"])[0]
            seen["state"] = state
            ok = ok and (state == "active") == self.active
        return ok, seen


def _address(hex_addr: str) -> str:
    raw = bytes.fromhex(hex_addr)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)


def listening_tcp(host: Host) -> list[tuple[str, int]]:
    """(address, port) of the TCP sockets listening, from /proc/net/tcp and tcp6."""
    found: list[tuple[str, int]] = []
    read_any = False
    for path in PROC_NET:
        try:
            text = files.read_bounded(host, path, PROC_NET_MAX_BYTES)
        except Unseen as exc:
            if exc.case == "not_found":
                continue
            raise
        read_any = True
        for line in text.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 4 or fields[3] != "0A":  # 0A: TCP_LISTEN
                continue
            addr, _, port = fields[1].partition(":")
            try:
                found.append((_address(addr), int(port, 16)))
            except ValueError:
                continue
    if not read_any:
        raise Unseen("no_proc_net", {"path": PROC_NET[0]}, "no /proc/net/tcp nor tcp6")
    return found


@dataclass
class Port(Leaf):
    """A TCP port listening (or not), on any address."""

    kind: ClassVar[str] = "port"
    OBSERVED: ClassVar[dict[str, Any]] = {"addresses": []}
    port: int
    want: bool = True
    prefix: str = ""

    def static(self) -> dict[str, Any]:
        return {"port": self.port}

    def observe(self, host: Host) -> tuple[bool, dict[str, Any]]:
        addresses = sorted({a for a, p in listening_tcp(host) if p == self.port})
        return bool(addresses) == self.want, {"addresses": addresses}


# Leaves: an allowed command's output


@dataclass
class Command(Leaf):
    """An allowed command's output: a line matches (or none does), the whole output equals a
    text, a key's value in it compared (`sshd -T` prints `key value` lines), and/or its exit
    status. Without `exit_code`, a command that fails is not judged (skip)."""

    kind: ClassVar[str] = "command"
    OBSERVED: ClassVar[dict[str, Any]] = {"output": "", "line": "", "count": 0,
                                          "exit_code": 0}
    spec: CommandSpec
    argv: tuple[str, ...]
    matches: re.Pattern[str] | None = None
    not_matches: re.Pattern[str] | None = None
    equals: str | None = None
    key: str | None = None
    comparison: Comparison | None = None
    syntax: SettingsFormat = SettingsFormat()
    exit_code: int | None = None
    prefix: str = ""

    def static(self) -> dict[str, Any]:
        out: dict[str, Any] = {"command": " ".join(self.argv)}
        if self.key is not None and self.comparison is not None:
            out.update({"key": self.key, "value": "", **self.comparison.args()})
        if self.equals is not None:
            out["expected"] = self.equals
        return out

    def observe(self, host: Host) -> tuple[bool, dict[str, Any]]:
        result = run_command(host, self.spec, self.argv)
        if self.exit_code is None and not result.ok:
            raise Unseen("command_failed", {"command": " ".join(self.argv)},
                         f"{' '.join(self.argv)} exited {result.returncode}")
        output = result.stdout
        lines = _lines(output, " ".join(self.argv))
        ok = True
        seen: dict[str, Any] = {"exit_code": result.returncode,
                                "output": output.strip()[:MAX_EVIDENCE_TEXT]}
        if self.exit_code is not None:
            ok = ok and result.returncode == self.exit_code
        for pattern, want in ((self.matches, True), (self.not_matches, False)):
            if pattern is not None:
                found = _search(pattern, lines)
                seen.update(line=found[0].strip()[:MAX_EVIDENCE_TEXT] if found else "",
                            count=len(found))
                ok = ok and bool(found) == want
        if self.equals is not None:
            ok = ok and output.strip() == self.equals
        if self.key is not None and self.comparison is not None:
            hit = self.syntax.find(output, self.key)
            value = hit[0] if hit else None
            seen["value"] = value or ""
            ok = ok and self.comparison.holds(value, self.key)
        return ok, seen


# Parsing


@dataclass
class ParseContext:
    source: str
    commands: dict[str, CommandSpec]
    params: Mapping[str, Any] = field(default_factory=dict)  # the check's, with defaults
    leaves: int = 0


COMBINATIONS = ("all", "any", "none")
LEAVES = ("file_exists", "file_absent", "file_mode", "file_owner", "file_content", "setting",
          "sysctl", "package", "service", "port", "command")
KINDS = (*COMBINATIONS, *LEAVES)


def _max_bytes(sec: Section) -> int:
    value: int = sec.number("max_bytes", files.DEFAULT_MAX_BYTES, minimum=1,
                            maximum=files.MAX_BYTES, integer=True)
    return value


def _names(sec: Section, name: str) -> tuple[str, ...]:
    value = sec.raw(name, None)
    if value is None:
        return ()
    if isinstance(value, str | int) and not isinstance(value, bool):
        return (str(value),)
    if isinstance(value, list) and value and all(
            isinstance(v, str | int) and not isinstance(v, bool) for v in value):
        return tuple(str(v) for v in value)
    raise sec.error(name, expect("account_names"), value)


def _leaf(kind: str, sec: Section, ctx: ParseContext, prefix: str) -> Leaf:
    leaf: Leaf
    if kind in ("file_exists", "file_absent"):
        leaf = FileExists(parse_path(sec, "path"), kind == "file_exists", prefix)
    elif kind == "file_mode":
        raw = sec.raw("max")
        if not isinstance(raw, str) or not MODE.match(raw):
            raise sec.error("max", expect("octal_mode"), raw)
        leaf = FileMode(parse_path(sec, "path"), int(raw, 8), prefix)
    elif kind == "file_owner":
        owners, groups = _names(sec, "owner"), _names(sec, "group")
        if not owners and not groups:
            raise sec.error("owner", expect("owner_or_group"))
        leaf = FileOwner(parse_path(sec, "path"), owners, groups, prefix)
    elif kind == "file_content":
        if sec.has("matches") == sec.has("not_matches"):
            raise sec.error("matches", expect("matches_or_not"))
        name = "matches" if sec.has("matches") else "not_matches"
        leaf = FileContent(parse_path(sec, "path"), parse_regex(sec, name), name == "matches",
                           _max_bytes(sec), prefix)
    elif kind == "setting":
        paths = parse_paths(sec)
        key = sec.str("key")
        syntax = parse_format(sec)
        default = _scalar(sec, "default") if sec.has("default") else None
        leaf = Setting(paths, key, parse_comparison(sec, ctx.params), syntax, default,
                       _max_bytes(sec), prefix)
    elif kind == "sysctl":
        key = sec.str("key")
        if not SYSCTL_KEY.match(key) or ".." in key:
            raise sec.error("key", expect("sysctl_key"), key)
        leaf = Sysctl(key, parse_comparison(sec, ctx.params), prefix)
    elif kind == "package":
        name = sec.str("name")
        if not PACKAGE_NAME.match(name):
            raise sec.error("name", expect("package_name"), name)
        leaf = Package(name, sec.bool("installed"), sec.choice("manager", ("auto", "dpkg", "rpm"),
                                                              "auto"), prefix)
    elif kind == "service":
        unit = sec.str("unit")
        if not UNIT_NAME.match(unit) or unit.startswith("-") or ".." in unit:
            raise sec.error("unit", expect("unit_name"), unit)
        if not unit.endswith(UNIT_SUFFIXES):
            unit += ".service"
        enabled, active = sec.bool("enabled", None), sec.bool("active", None)
        if enabled is None and active is None:
            raise sec.error("enabled", expect("enabled_or_active"))
        leaf = Service(unit, enabled, active, prefix)
    elif kind == "port":
        leaf = Port(sec.number("port", minimum=1, maximum=65535, integer=True),
                    sec.bool("listening"), prefix)
    else:  # command
        name = sec.str("name")
        spec = ctx.commands.get(name)
        if spec is None:
            raise sec.error("name", expect("allowed_command", known=sorted(ctx.commands) or
                                           "-"), name)
        argv = spec.fill(check_args(spec, sec, "args"))
        comparison = None
        key = sec.str("key", None)
        syntax = SettingsFormat()
        if key is not None:
            syntax = parse_format(sec)
            comparison = parse_comparison(sec, ctx.params)
        elif any(sec.has(op) for op in COMPARISONS if op != "equals"):
            raise sec.error("key", expect("required"))
        matches = parse_regex(sec, "matches") if sec.has("matches") else None
        not_matches = parse_regex(sec, "not_matches") if sec.has("not_matches") else None
        equals = _scalar(sec, "equals") if sec.has("equals") and key is None else None
        exit_code = sec.number("exit_code", None, minimum=0, maximum=255, integer=True)
        if matches is None and not_matches is None and equals is None and key is None \
                and exit_code is None:
            raise sec.error("", expect("command_test"))
        leaf = Command(spec, argv, matches, not_matches, equals, key, comparison, syntax,
                       exit_code, prefix)
    sec.done()
    return leaf


def parse_condition(data: Any, source: str, key: str, line: int | None, ctx: ParseContext,
                    depth: int = 0) -> Condition:
    """One condition as written: a mapping with one kind; a leaf's own mapping may say
    `as: NAME` to prefix its arguments."""
    sec = Section(source, key, data, line)
    kinds = [k for k in sec.data if k in KINDS]
    if len(kinds) != 1:
        raise sec.error("", expect("one_condition", kinds=list(KINDS)),
                        [str(k) for k in sec.data] or None)
    kind = str(kinds[0])
    if kind in COMBINATIONS:
        if depth >= MAX_DEPTH:
            raise sec.error(kind, expect("condition_depth", maximum=MAX_DEPTH))
        parts = sec.sections(kind)
        if not parts:
            raise sec.error(kind, expect("condition_list"), sec.raw(kind))
        sec.done()
        return Combination(kind, tuple(
            parse_condition(p.data, source, p.prefix, p.line, ctx, depth + 1) for p in parts))
    ctx.leaves += 1
    if ctx.leaves > MAX_LEAVES:
        raise sec.error(kind, expect("condition_count", maximum=MAX_LEAVES))
    body = sec.section(kind)
    sec.done()
    prefix = body.str("as", "")
    if prefix and not PREFIX.match(prefix):
        raise body.error("as", expect("lowercase_name"), prefix)
    return _leaf(kind, body, ctx, prefix)
