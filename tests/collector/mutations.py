"""Seeded mutations of real Reports, for the collector's fuzz campaign (issue 8).

`MutationEngine(seed).mutation(i)` is a pure function of (seed, i, the bases, generated_at): the
same mutation comes back on every machine and in every run, so a failure is reproduced from the
seed and the index it prints:

    python3 -m tests.collector.mutations --seed 8 --index 1234 --out /tmp/body.bin

Each mutation is (name, headers, body bytes). It starts from a real Report: the two recorded
outputs of `sentinelle check --format json` in `fixtures/` (see fixtures/README.md), and
`sample_reports.make_report` Reports of 12 and 60 results carrying the agent's health (as the
agent sends them). Its `report_id` is made unique and its
`generated_at` is the time the caller gives, then one family of mutations applies:

- `type`: a value at any path swapped for another JSON type (object, array, string, number,
  null, bool), the root included; `delete`: a key (or list item) removed; `unknown-key`: a key
  the schema does not know added to an object;
- `string`, `number`, `deep`, `many`: huge values: long strings (up to past the decompressed
  limit), big or non-finite numbers (1e308, 2**70, 1e309, NaN), nesting of 100 to 50,000
  levels, thousands of items (check runs, findings, measurements, labels, and a series bomb of
  80,000 distinct series);
- `bytes`, `bytes-key`: raw bytes inside a string or a key (0xff, overlong and surrogate UTF-8,
  lone `\\ud800` escapes, NUL raw and escaped, control characters);
- `dup-key`: a key twice in one object (`{"score": {...}, "score": "x"}`); `dup-item`: the same
  check id twice in `checks[]`, the same measurement twice (same name and labels), a finding
  without a check run;
- `date`: `generated_at` (or a date the monthly report reads in evidence) written in other
  ways: lowercase t/z, no time zone, year 1 and 9999, offsets of +-23:59, leap seconds, ...;
- `trailing`: a newline (or another trailing character) after an id or a name;
- `semantic`: well-typed values out of their range or meaning (negative durations, NaN values,
  unknown grades, reserved label names, odd evidence shapes for the backups checks);
- `encoding`: UTF-16 and UTF-32, a BOM, invalid UTF-8, gzip with a second member (empty,
  JSON, garbage, a 16 MiB bomb), gzip with trailing garbage, truncated gzip, a bad CRC, a
  Content-Encoding that does not match the body, deflate, a wrong Content-Type;
- `http`: Content-Length lies and chunked framing (the sender writes these requests on a raw
  socket, as given, see `needs_raw_socket`);
- `auth`: broken Authorization headers (non-UTF-8 bytes, no key, another scheme, the agent's
  real key followed by a NUL) that replace the agent's own;
- `valid`: the unmutated Report (a control: it must be stored).

A third of the indexes walk a systematic list over the backups fixture (every path swapped to
every other type, every key deleted, an unknown key in every object, 0xff in every string, a
newline after every id and name: 3,759 steps), in a seeded order, so a campaign of 11,300 or
more mutations covers every path of a real Report; the others draw a family at random.
"""

from __future__ import annotations

import argparse
import codecs
import copy
import gzip
import json
import random
import re
import sys
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CHECK_FIXTURES = ("check_report_debian12.json", "check_report_debian12_backups.json")
DEFAULT_GENERATED_AT = "2026-12-01T20:30:20Z"
SYSTEMATIC_EVERY = 3  # one index in three walks the systematic list

JsonPath = tuple[str | int, ...]
KINDS = ("object", "array", "string", "number", "null", "bool")


class Mutation(NamedTuple):
    """One request body to push: what was done, the headers to send, the exact bytes."""

    name: str
    headers: dict[str, str]
    body: bytes


AGENT_CREDENTIALS = "@@AGENT_ID:KEY@@"  # in a header value: the sending agent's own


def needs_raw_socket(headers: dict[str, str]) -> bool:
    """True when the mutation sets its own framing (Content-Length, Transfer-Encoding): the
    sender must write the request byte for byte on a fresh socket and close it afterwards."""
    return any(h.lower() in ("content-length", "transfer-encoding") for h in headers)


def path_text(path: JsonPath) -> str:
    """`("results", 3, "status")` as `$.results[3].status` (the collector's notation)."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += "." + part
        else:
            out += "[" + json.dumps(part) + "]"
    return out


def kind_of(value: Any) -> str:
    """The JSON type of a decoded value."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "null"


def walk(value: Any, path: JsonPath = ()) -> Iterator[tuple[JsonPath, Any]]:
    """Every node of a decoded JSON document, the root first, depth first."""
    yield path, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from walk(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from walk(child, (*path, i))


def get_at(doc: Any, path: JsonPath) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def set_at(doc: Any, path: JsonPath, value: Any) -> Any:
    """Set the value at `path` (the root too); returns the new document."""
    if not path:
        return value
    get_at(doc, path[:-1])[path[-1]] = value
    return doc


def delete_at(doc: Any, path: JsonPath) -> None:
    parent = get_at(doc, path[:-1])
    del parent[path[-1]]


@dataclass(frozen=True)
class Base:
    """A Report the mutations start from, with every path of its tree."""

    name: str
    text: str  # compact JSON
    paths: tuple[JsonPath, ...]
    kinds: tuple[str, ...]  # the JSON type at each path

    @classmethod
    def of(cls, name: str, doc: dict[str, Any]) -> Base:
        nodes = list(walk(doc))
        return cls(
            name,
            json.dumps(doc, ensure_ascii=False, separators=(",", ":")),
            tuple(p for p, _ in nodes),
            tuple(kind_of(v) for _, v in nodes),
        )

    def paths_of(self, *kinds: str) -> list[JsonPath]:
        return [p for p, k in zip(self.paths, self.kinds, strict=True) if k in kinds]


@lru_cache(maxsize=1)
def default_bases() -> tuple[Base, ...]:
    """The recorded check outputs and two realistic sample Reports."""
    from dataclasses import replace

    from sentinelle.model import AgentHealth
    from tests.collector.sample_reports import make_report

    # What an agent (not `sentinelle check`) sends: its own health rides along.
    health = AgentHealth(spool_reports=3, spool_bytes=48_213, reports_dropped_total=1,
                         push_consecutive_failures=2, state_dir_writable=False)
    bases = [
        Base.of("check", json.loads((FIXTURES / CHECK_FIXTURES[0]).read_text("utf-8"))),
        Base.of("check-backups", json.loads((FIXTURES / CHECK_FIXTURES[1]).read_text("utf-8"))),
        Base.of("sample12", replace(make_report(n_results=12, seed=1, hostname="mairie"),
                                    agent_health=health).to_dict()),
        Base.of("sample60", replace(make_report(n_results=60, seed=2, hostname="mairie"),
                                    agent_health=AgentHealth()).to_dict()),
    ]
    return tuple(bases)


BASE_WEIGHTS = (35, 35, 20, 10)


def gz(data: bytes, level: int = 1) -> bytes:
    """gzip with a fixed mtime, so the same input gives the same bytes."""
    return gzip.compress(data, level, mtime=0)


@lru_cache(maxsize=1)
def gzip_bomb_member() -> bytes:
    """A gzip member of 16 MiB of zeros (16 KiB compressed): past any decompressed limit."""
    return gz(bytes(16 << 20), 9)


SWAP_VALUES: dict[str, tuple[Any, ...]] = {
    "object": ({}, {"x": 1}, {"value": "x", "grade": 3}),
    "array": ([], [1, "x"], [None], [{}]),
    "string": ("", "x", "1", "null", "2026-12-01T20:30:20Z"),
    "number": (0, -1, 1.5, 1e308, 2**70),
    "null": (None,),
    "bool": (True, False),
}

HUGE_NUMBERS: tuple[bytes, ...] = (
    b"1e308",
    b"-1e308",
    b"1.7976931348623157e308",
    b"1e309",
    b"-1e309",
    str(2**70).encode(),
    str(-(2**70)).encode(),
    str(2**64).encode(),
    str(2**63).encode(),
    str(-(2**63) - 1).encode(),
    b"1" + b"0" * 400,
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"-0",
    b"1e-400",
    b"5e-324",
    b"1E+2",
    b"0x10",
    b"01",
    b".5",
    b"+1",
)

BAD_BYTES: tuple[bytes, ...] = (
    b"\xff",
    b"\xfe\xff",
    b"\xc0\xaf",  # overlong "/"
    b"\xed\xa0\x80",  # a UTF-16 surrogate encoded as UTF-8
    b"\xf4\x90\x80\x80",  # past U+10FFFF
    b"\x80",
    b"\xc3",  # a truncated two-byte sequence
    b"\x00",  # raw NUL: not allowed in a JSON string
    b"\x1f",
    b"\n",
    b"\\ud800",  # a lone high surrogate, escaped: valid JSON, not a Unicode string
    b"\\udfff",
    b"\\ud800\\u0041",
    b"\\udbff\\udfff",  # a valid pair: U+10FFFF
    b"\\u0000",
    b"\\u001b[31m",
    b"\\u2028",
    b"\\ufeff",
    b"\\ufffe",
    b"\\x41",  # not a JSON escape
    "é".encode(),
    "🏛".encode(),
)

TRAILING = ("\n", "\r\n", "\r", " ", "\t", "\u2028", "\u0085", "\x00", "\n\n", "\x0b")

_NOW = datetime(2026, 12, 1, 20, 30, 20, tzinfo=UTC)


def date_variants(stamp: str) -> list[str]:
    """Other ways of writing (or of breaking) the RFC 3339 time `stamp`."""
    try:
        t = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        t = _NOW
    iso = t.strftime("%Y-%m-%dT%H:%M:%S")
    day = t.strftime("%Y-%m-%d")
    return [
        iso.replace("T", "t") + "Z",
        iso + "z",
        iso.replace("T", "t") + "z",
        iso,
        iso.replace("T", " ") + "Z",
        day,
        iso + "+00:00",
        iso + "-00:00",
        iso + "+0000",
        iso + "+23:59",
        iso + "-23:59",
        iso + "+24:00",
        iso + "+99:99",
        iso + "+14:00",
        iso + ".5Z",
        iso + ".123456789Z",
        iso + ".1234567890123Z",
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+23:59",
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59-23:59",
        "0000-01-01T00:00:00Z",
        "10000-01-01T00:00:00Z",
        "2016-12-31T23:59:60Z",
        iso[:-2] + "60Z",
        "2026-02-29T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-12-32T00:00:00Z",
        day + "T24:00:00Z",
        "1970-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "1900-01-01T00:00:00Z",
        "2262-04-12T00:00:00Z",
        "2038-01-19T03:14:08Z",
        (t + timedelta(days=3650)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        (t - timedelta(days=3650)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        (t + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "",
        "now",
        iso + "Z\n",
        " " + iso + "Z",
        iso.translate(str.maketrans("0123456789", "０１２３４５６７８９")) + "Z",
        "2026-W49-2T00:00:00Z",
    ]


class _Draft:
    """A Report being mutated: the decoded document, and byte substitutions applied after
    serialization (for what `json.dumps` cannot write: raw bytes, duplicate keys, deep nesting,
    non-finite numbers)."""

    def __init__(self, rng: random.Random, base: Base, doc: Any) -> None:
        self.rng = rng
        self.base = base
        self.doc = doc
        self.subs: list[tuple[bytes, bytes]] = []
        self.raw: bytes | None = None  # a whole body built by the family itself
        self.headers: dict[str, str] = {}
        self.encoding: str | None = None  # "identity" or "gzip"; None: drawn at random

    def _marker(self) -> str:
        return f"@@fz{len(self.subs)}@@"

    def token(self, raw: bytes) -> str:
        """A string value that becomes the JSON text `raw` (a number, a nested array...)."""
        m = self._marker()
        self.subs.append((f'"{m}"'.encode(), raw))
        return m

    def infix(self, raw: bytes) -> str:
        """Text that becomes the bytes `raw` inside a JSON string."""
        m = self._marker()
        self.subs.append((m.encode(), raw))
        return m

    def serialize(self) -> bytes:
        ascii_only = self.rng.random() < 0.5
        separators = self.rng.choice(((",", ":"), (", ", ": ")))
        data = json.dumps(self.doc, ensure_ascii=ascii_only, separators=separators).encode()
        for marker, raw in self.subs:
            data = data.replace(marker, raw, 1)
        return data


def _short(value: Any, limit: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= limit else text[:limit] + f"...({len(text)})"


# Families: each takes a draft (and, for the systematic walk, a path), mutates it and returns
# the name of what it did.


def type_swap(d: _Draft, path: JsonPath | None = None, target: str | None = None) -> str:
    path = path if path is not None else d.rng.choice(d.base.paths)
    current = kind_of(get_at(d.doc, path))
    target = target or d.rng.choice([k for k in KINDS if k != current])
    value = copy.deepcopy(d.rng.choice(SWAP_VALUES[target]))
    d.doc = set_at(d.doc, path, value)
    return f"type:{path_text(path)}:{current}->{target}={_short(value)}"


def delete(d: _Draft, path: JsonPath | None = None) -> str:
    path = path if path is not None else d.rng.choice(d.base.paths[1:])
    delete_at(d.doc, path)
    return f"delete:{path_text(path)}"


UNKNOWN_KEYS = ("x_fuzz", "extra", "__proto__", "", "Check", "score ", "é", "constructor")


def unknown_key(d: _Draft, path: JsonPath | None = None) -> str:
    path = path if path is not None else d.rng.choice(d.base.paths_of("object"))
    target = get_at(d.doc, path)
    key = next(k for k in (*d.rng.sample(UNKNOWN_KEYS, len(UNKNOWN_KEYS)), "x_fuzz_2")
               if k not in target)
    choice = d.rng.randrange(6)
    value: Any
    if choice == 0:
        value = "v" + d.infix(b"\xff") + "v"  # the issue's case: 0xff in an unknown field
    else:
        value = [1, "v", None, {"a": [1, {"b": None}]}, [1, 2]][choice - 1]
    target[key] = value
    shown = "0xff-string" if choice == 0 else _short(value)
    return f"unknown-key:{path_text((*path, key))}={shown}"


def huge_string(d: _Draft) -> str:
    path = d.rng.choice(d.base.paths_of("string"))
    size = d.rng.choices((4097, 70_000, 1_000_000, 9_000_000), (4, 3, 2, 1))[0]
    unit = d.rng.choice(("x", "é", "\\", '"'))
    d.doc = set_at(d.doc, path, unit * size)
    return f"string:{path_text(path)}={unit!r}x{size}"


def huge_number(d: _Draft) -> str:
    numbers = d.base.paths_of("number")
    path = d.rng.choice(numbers) if d.rng.random() < 0.8 else d.rng.choice(d.base.paths)
    raw = d.rng.choice(HUGE_NUMBERS)
    d.doc = set_at(d.doc, path, d.token(raw))
    return f"number:{path_text(path)}={raw[:24].decode()}"


def deep_nesting(d: _Draft) -> str:
    depth = d.rng.choice((100, 999, 1000, 1001, 1500, 5000, 50_000))
    shape = d.rng.choice(("array", "object", "mixed"))
    if shape == "array":
        raw = b"[" * depth + b"]" * depth
    elif shape == "object":
        raw = b'{"a":' * depth + b"1" + b"}" * depth
    else:
        raw = b'[{"a":' * (depth // 2) + b"null" + b"}]" * (depth // 2)
    if d.rng.random() < 0.7:
        path = d.rng.choice(d.base.paths)
        d.doc = set_at(d.doc, path, d.token(raw))
    else:  # under a new key of some object: nothing reads it, the parser still must
        obj = d.rng.choice(d.base.paths_of("object"))
        path = (*obj, "x_deep")
        get_at(d.doc, obj)["x_deep"] = d.token(raw)
    return f"deep:{path_text(path)}:{shape}x{depth}"


def _finding_paths(d: _Draft, with_measurements: bool = False) -> list[int]:
    results = d.doc.get("results") if isinstance(d.doc, dict) else None
    if not isinstance(results, list):
        return []
    return [i for i, f in enumerate(results)
            if isinstance(f, dict) and (not with_measurements or f.get("measurements"))]


def many_items(d: _Draft) -> str:
    n = d.rng.choice((100, 1000, 2001, 5000, 20_000))
    # A series bomb costs 50 ms to build and seconds to render if accepted: one draw in 100.
    target = "series-bomb" if d.rng.random() < 0.01 else d.rng.choice(
        ("checks", "results", "measurements", "labels", "evidence", "references", "host",
         "open_by_severity"))
    doc = d.doc
    if target == "checks":
        same = d.rng.random() < 0.3
        doc["checks"] += [{"check": "fuzz.many" if same else f"fuzz.many_{k:05d}",
                           "status": "pass", "duration_seconds": 0.001} for k in range(n)]
        target += "-same-id" if same else ""
    elif target == "results":
        same = d.rng.random() < 0.3
        doc["results"] += [{"check": "fuzz.many" if same else f"fuzz.many_{k:05d}",
                            "status": "warn", "severity": "low", "summary": "s"}
                           for k in range(n)]
        target += "-same-id" if same else ""
    elif target == "measurements":
        i = d.rng.choice(_finding_paths(d, with_measurements=True) or [0])
        doc["results"][i]["measurements"] = [
            {"name": "pending_updates", "value": k, "labels": {"kind": f"k{k}"}}
            for k in range(n)
        ]
        target += f"@results[{i}]"
    elif target == "labels":
        i = d.rng.choice(_finding_paths(d, with_measurements=True) or [0])
        ms = doc["results"][i].setdefault("measurements", [])
        if not ms:
            ms.append({"name": "pending_updates", "value": 1, "labels": {}})
        ms[0]["labels"] = {f"l{k}": "v" for k in range(n)}
        target += f"@results[{i}]"
    elif target == "evidence":
        i = d.rng.choice(_finding_paths(d) or [0])
        doc["results"][i]["evidence"] = {"items": [f"e{k}" for k in range(n)]}
        target += f"@results[{i}]"
    elif target == "references":
        i = d.rng.choice(_finding_paths(d) or [0])
        doc["results"][i]["references"] = {"anssi": list(range(n))}
        target += f"@results[{i}]"
    elif target == "host":
        doc["host"] = {**doc["host"], **{f"fact_{k}": "x" for k in range(n)}}
    elif target == "open_by_severity":
        doc["score"]["open_by_severity"] = {f"sev_{k}": 1 for k in range(n)}
    else:  # 2,000 findings x 40 distinct measurements: 80,000 series from one push
        n = 2000
        doc["checks"] = [{"check": f"fuzz.bomb_{k:04d}", "status": "pass",
                          "duration_seconds": 0.001} for k in range(n)]
        doc["results"] = [
            {"check": f"fuzz.bomb_{k:04d}", "status": "pass", "severity": "info",
             "summary": "", "measurements": [
                 {"name": "backup_age_seconds", "value": j, "labels": {"location": f"{k}-{j}"}}
                 for j in range(40)]}
            for k in range(n)
        ]
        return "many:series-bomb:2000x40"
    return f"many:{target}x{n}"


def bytes_in_string(d: _Draft, path: JsonPath | None = None, raw: bytes | None = None) -> str:
    path = path if path is not None else d.rng.choice(d.base.paths_of("string"))
    value = get_at(d.doc, path)
    raw = raw if raw is not None else (
        d.rng.choice(BAD_BYTES) if d.rng.random() < 0.85 else d.rng.randbytes(d.rng.randint(1, 8))
    )
    where = d.rng.choice(("start", "middle", "end"))
    cut = {"start": 0, "middle": len(value) // 2, "end": len(value)}[where]
    d.doc = set_at(d.doc, path, value[:cut] + d.infix(raw) + value[cut:])
    return f"bytes:{path_text(path)}@{where}={raw!r}"


def bytes_in_key(d: _Draft) -> str:
    objects = [p for p in d.base.paths_of("object") if get_at(d.doc, p)]
    path = d.rng.choice(objects)
    obj = get_at(d.doc, path)
    key = d.rng.choice(list(obj))
    raw = d.rng.choice(BAD_BYTES)
    renamed = {(k + d.infix(raw) if k == key else k): v for k, v in obj.items()}
    d.doc = set_at(d.doc, path, renamed)
    return f"bytes-key:{path_text((*path, key))}={raw!r}"


def dup_key(d: _Draft) -> str:
    objects = [p for p in d.base.paths_of("object") if get_at(d.doc, p)]
    if d.rng.random() < 0.3:
        objects = [()]  # the Report's own keys: score, generated_at, results...
    path = d.rng.choice(objects)
    obj = get_at(d.doc, path)
    key = d.rng.choice(list(obj))
    original = obj[key]
    how = d.rng.choice(("same", "swapped", "empty-object"))
    other: Any = (copy.deepcopy(original) if how == "same"
                  else {} if how == "empty-object"
                  else d.rng.choice(SWAP_VALUES[d.rng.choice(
                      [k for k in KINDS if k != kind_of(original)])]))
    marker = d.token(json.dumps(key).encode())
    order = d.rng.choice(("after", "before"))
    items = list(obj.items())
    items = [*items, (marker, other)] if order == "after" else [(marker, other), *items]
    d.doc = set_at(d.doc, path, dict(items))
    return f"dup-key:{path_text((*path, key))}:{how}:{order}"


def dup_item(d: _Draft) -> str:
    doc = d.doc
    what = d.rng.choice(("check-run", "check-run-other-status", "finding", "measurement",
                         "measurement-other-finding", "orphan-finding", "run-without-finding"))
    if what.startswith("check-run"):
        i = d.rng.randrange(len(doc["checks"]))
        twin = copy.deepcopy(doc["checks"][i])
        if what.endswith("other-status"):
            twin["status"] = "fail" if twin["status"] != "fail" else "pass"
        doc["checks"].insert(d.rng.randrange(len(doc["checks"]) + 1), twin)
        return f"dup-item:{what}:$.checks[{i}]"
    if what == "finding":
        i = d.rng.randrange(len(doc["results"]))
        doc["results"].append(copy.deepcopy(doc["results"][i]))
        return f"dup-item:finding:$.results[{i}]"
    with_ms = _finding_paths(d, with_measurements=True)
    if what.startswith("measurement") and with_ms:
        i = d.rng.choice(with_ms)
        m = copy.deepcopy(d.rng.choice(doc["results"][i]["measurements"]))
        m["value"] = d.rng.choice((m.get("value"), 7, 0))
        j = i if what == "measurement" else d.rng.choice(_finding_paths(d))
        doc["results"][j].setdefault("measurements", []).append(m)
        return f"dup-item:{what}:$.results[{i}]->$.results[{j}]"
    if what == "run-without-finding":
        doc["checks"].append({"check": "fuzz.run_only", "status": "pass",
                              "duration_seconds": 0.01})
        return "dup-item:run-without-finding"
    doc["results"].append({"check": "fuzz.finding_only", "status": "fail", "severity": "high",
                           "summary": "orphan", "evidence": {}, "remediation": {},
                           "references": {}, "measurements": []})
    return "dup-item:orphan-finding"


DATE_KEYS = re.compile(r"(time|last_test|last_upgrade|updated|end|_at)$")


def date(d: _Draft) -> str:
    evidence_dates = [
        p for p in d.base.paths_of("string")
        if "evidence" in p and isinstance(p[-1], str) and DATE_KEYS.search(p[-1])
    ]
    if evidence_dates and d.rng.random() < 0.3:
        path = d.rng.choice(evidence_dates)
    else:
        path = ("generated_at",)
    value = d.rng.choice(date_variants(d.doc["generated_at"]))
    d.doc = set_at(d.doc, path, value)
    return f"date:{path_text(path)}={_short(value)}"


ID_KEYS = ("check", "name", "report_id", "hostname", "version", "status", "severity", "grade",
           "kind", "location")


def _id_paths(base: Base) -> list[JsonPath]:
    return [p for p in base.paths_of("string")
            if p and isinstance(p[-1], str) and (p[-1] in ID_KEYS or "labels" in p)]


def trailing(d: _Draft, path: JsonPath | None = None, suffix: str | None = None) -> str:
    if path is None:
        ids = _id_paths(d.base)
        label_keys = [p for p in d.base.paths_of("object") if p and p[-1] == "labels"
                      and get_at(d.doc, p)]
        if label_keys and d.rng.random() < 0.15:  # a label *name* with a newline
            lp = d.rng.choice(label_keys)
            labels = get_at(d.doc, lp)
            key = d.rng.choice(list(labels))
            suffix = suffix or d.rng.choice(TRAILING)
            set_at(d.doc, lp, {(k + suffix if k == key else k): v for k, v in labels.items()})
            return f"trailing:{path_text((*lp, key))}(key)+{suffix!r}"
        path = d.rng.choice(ids)
    suffix = suffix if suffix is not None else d.rng.choice(TRAILING)
    value = get_at(d.doc, path)
    before = d.rng.random() < 0.15
    d.doc = set_at(d.doc, path, suffix + value if before else value + suffix)
    return f"trailing:{path_text(path)}{'-' if before else '+'}{suffix!r}"


def _backups_finding(d: _Draft) -> int:
    for i, f in enumerate(d.doc["results"]):
        if f.get("check") == "backups.freshness":
            return i
    d.doc["results"].append({"check": "backups.freshness", "status": "pass", "severity": "high",
                             "summary": "sauvegarde récente", "evidence": {}, "remediation": {},
                             "references": {"anssi": [37]}, "measurements": []})
    d.doc["checks"].append({"check": "backups.freshness", "status": "pass",
                            "duration_seconds": 0.01})
    return len(d.doc["results"]) - 1


def semantic(d: _Draft) -> str:
    doc = d.doc
    rng = d.rng
    results = doc["results"]
    i = rng.randrange(len(results))
    nan = rng.choice((b"NaN", b"Infinity", b"-Infinity"))
    choices: list[tuple[JsonPath, Callable[[], Any]]] = [
        (("score", "value"), lambda: rng.choice((-1, 101, 1e308, d.token(nan)))),
        (("score", "grade"), lambda: rng.choice(("F", "", "a", "AA", "E\n"))),
        (("score", "open_by_severity"), lambda: rng.choice(
            ({"critical": -1}, {"critical": 1.5}, {"bogus": 1}, {"critical": "1"},
             {"critical": 2**70}))),
        (("score", "capped_by"), lambda: rng.choice((3, {}, "x" * 5000))),
        (("checks", rng.randrange(len(doc["checks"])), "duration_seconds"),
         lambda: rng.choice((-1, 1e308, d.token(nan)))),
        (("schema_version",), lambda: rng.choice((0, 2, 1.0, "1", True))),
        (("results", i, "status"), lambda: rng.choice(("PASS", "ok", "", "pass "))),
        (("results", i, "severity"), lambda: rng.choice(("CRITICAL", "urgent", ""))),
        (("results", i, "summary"), lambda: rng.choice(("", "{0} %s %n {}", "x" * 2001))),
        (("results", i, "references"), lambda: rng.choice(
            ({"anssi": 34}, {"anssi": None}, {"anssi": "34"}, {"anssi": [[]]}, {"nis2": [1]},
             {"anssi": [{}]}))),
        (("results", i, "remediation"), lambda: rng.choice(
            ({"fr": 3}, {"fr": {"x": 1}}, {"xx": "y"}, {"fr": None}))),
        (("results", i, "evidence"), lambda: rng.choice(({"": None}, {"a": d.token(nan)}))),
        (("agent", "version"), lambda: rng.choice(("", "v" * 65, None))),
        (("report_id",), lambda: rng.choice(("", "-x", "r" * 65, "a/b", "../..", "é"))),
        (("host",), lambda: rng.choice(({}, {"hostname": None}, {"hostname": {"a": 1}},
                                        {"os_id": ["debian"]}))),
    ]
    with_ms = _finding_paths(d, with_measurements=True)
    if with_ms:
        j = rng.choice(with_ms)
        k = rng.randrange(len(results[j]["measurements"]))
        choices += [
            (("results", j, "measurements", k, "value"),
             lambda: rng.choice((d.token(nan), 1e308, -0.0, 2**70))),
            (("results", j, "measurements", k, "name"),
             lambda: rng.choice(("made_up_metric", "__name__", "", "Pending_Updates",
                                 "check_status", "host_risk_score", "collector_reports"))),
            (("results", j, "measurements", k, "labels"),
             lambda: rng.choice(({"__name__": "x"}, {"le": "1"}, {"commune": "75056"},
                                 {"host": "other"}, {"": "x"}, {"kind": "v" * 257},
                                 {"kind": ""}, {"kind": 3}, {"kind": None}))),
        ]
    if rng.random() < 0.25:  # the evidence the monthly report reads, in shapes it did not expect
        b = _backups_finding(d)
        shapes: tuple[Any, ...] = (
            {"newest": "x"}, {"newest": {"time": 3}}, {"newest": []}, {"newest": None},
            {"locations": "0"}, {"newest": {"time": "garbage"}}, {"newest": {"time": None}},
            {"newest": {"time": "0001-01-01T00:00:00+23:59"}}, {"locations": []},
            {"newest": {"time": ["2026-12-01T00:00:00Z"]}}, [], "x", {"newest": {"time": {}}},
            {"newest": {"time": "9999-12-31T23:59:59-23:59"}},
        )
        shape = copy.deepcopy(rng.choice(shapes))
        path: JsonPath = ("results", b, "evidence")
        results[b]["evidence"] = shape
        return f"semantic:backups-evidence:{path_text(path)}={_short(shape)}"
    path, make = rng.choice(choices)
    value = make()
    d.doc = set_at(d.doc, path, value)
    shown = value if not (isinstance(value, str) and value.startswith("@@fz")) else nan.decode()
    return f"semantic:{path_text(path)}={_short(shown)}"


def encoding(d: _Draft) -> str:
    rng = d.rng
    doc_text = json.dumps(d.doc, ensure_ascii=False, separators=(",", ":"))
    body = doc_text.encode()
    variant = rng.choice((
        "utf-16-le-bom", "utf-16-be-bom", "utf-16-le", "utf-32", "utf-8-bom", "latin-1",
        "invalid-utf8", "gzip-second-empty", "gzip-second-json", "gzip-second-whitespace",
        "gzip-second-garbage", "gzip-second-bomb", "gzip-trailing-garbage", "gzip-trailing-zeros",
        "gzip-truncated", "gzip-no-trailer", "gzip-bad-crc", "gzip-bad-size", "gzip-fname",
        "gzip-twice", "gzip-twice-declared", "gzip-declared-identity-body",
        "gzip-body-no-header", "gzip-body-identity-header", "deflate-zlib", "deflate-raw",
        "br", "gzip-uppercase", "x-gzip", "gzip-params", "gzip-spaces", "empty-encoding",
        "gzip-identity-list", "identity-gzip-list", "content-type-text", "content-type-utf16",
        "content-type-form", "empty-body", "empty-gzip", "whitespace-only", "json-then-garbage",
        "two-documents", "trailing-nul", "leading-whitespace",
    ))
    headers = {"Content-Type": "application/json"}
    g = gz(body)
    if variant == "utf-16-le-bom":
        raw = codecs.BOM_UTF16_LE + doc_text.encode("utf-16-le")
    elif variant == "utf-16-be-bom":
        raw = codecs.BOM_UTF16_BE + doc_text.encode("utf-16-be")
    elif variant == "utf-16-le":
        raw = doc_text.encode("utf-16-le")
    elif variant == "utf-32":
        raw = doc_text.encode("utf-32")
    elif variant == "utf-8-bom":
        raw = codecs.BOM_UTF8 + body
    elif variant == "latin-1":
        raw = (doc_text + "").encode("latin-1", errors="replace")
        if raw == body:  # no accent in this base: put one in the host's name
            raw = body.replace(b'"hostname":"', b'"hostname":"\xe9', 1)
    elif variant == "invalid-utf8":
        at = rng.randrange(len(body))
        raw = body[:at] + rng.choice((b"\xff", b"\xc3", b"\xed\xa0\x80")) + body[at + 1 :]
        variant += f"@{at}"
    elif variant.startswith("gzip-second-"):
        second = {
            "gzip-second-empty": gz(b""),
            "gzip-second-json": gz(body),
            "gzip-second-whitespace": gz(b"\n \n"),
            "gzip-second-garbage": gz(b"\xff\x00garbage"),
            "gzip-second-bomb": gzip_bomb_member(),
        }[variant]
        raw, headers["Content-Encoding"] = g + second, "gzip"
    elif variant == "gzip-trailing-garbage":
        raw, headers["Content-Encoding"] = g + rng.randbytes(rng.randint(1, 64)), "gzip"
    elif variant == "gzip-trailing-zeros":
        raw, headers["Content-Encoding"] = g + bytes(rng.choice((1, 8, 512))), "gzip"
    elif variant == "gzip-truncated":
        cut = rng.randrange(1, len(g) - 1)
        raw, headers["Content-Encoding"] = g[:cut], "gzip"
        variant += f"@{cut}/{len(g)}"
    elif variant == "gzip-no-trailer":
        raw, headers["Content-Encoding"] = g[:-8], "gzip"
    elif variant == "gzip-bad-crc":
        raw, headers["Content-Encoding"] = g[:-8] + bytes(b ^ 0xFF for b in g[-8:-4]) + g[-4:], \
            "gzip"
    elif variant == "gzip-bad-size":
        raw, headers["Content-Encoding"] = g[:-4] + b"\x00\x00\x00\x00", "gzip"
    elif variant == "gzip-fname":  # a valid member with FNAME and FCOMMENT set
        flagged = bytearray(g[:10])
        flagged[3] |= 0x08 | 0x10
        raw = bytes(flagged) + b"rapport.json\x00commentaire \xff\x00" + g[10:]
        headers["Content-Encoding"] = "gzip"
    elif variant == "gzip-twice":
        raw, headers["Content-Encoding"] = gz(g), "gzip"
    elif variant == "gzip-twice-declared":
        raw, headers["Content-Encoding"] = gz(g), "gzip, gzip"
    elif variant == "gzip-declared-identity-body":
        raw, headers["Content-Encoding"] = body, "gzip"
    elif variant == "gzip-body-no-header":
        raw = g
    elif variant == "gzip-body-identity-header":
        raw, headers["Content-Encoding"] = g, "identity"
    elif variant == "deflate-zlib":
        raw, headers["Content-Encoding"] = zlib.compress(body, 1), "deflate"
    elif variant == "deflate-raw":
        c = zlib.compressobj(1, zlib.DEFLATED, -15)
        raw, headers["Content-Encoding"] = c.compress(body) + c.flush(), "deflate"
    elif variant == "br":
        raw, headers["Content-Encoding"] = body, "br"
    elif variant in ("gzip-uppercase", "x-gzip", "gzip-params", "gzip-spaces",
                     "gzip-identity-list", "identity-gzip-list"):
        raw = g
        headers["Content-Encoding"] = {
            "gzip-uppercase": "GZIP", "x-gzip": "x-gzip", "gzip-params": "gzip;q=1",
            "gzip-spaces": "  gzip  ", "gzip-identity-list": "gzip, identity",
            "identity-gzip-list": "identity, gzip",
        }[variant]
    elif variant == "empty-encoding":
        raw, headers["Content-Encoding"] = body, ""
    elif variant == "content-type-text":
        raw, headers["Content-Type"] = body, "text/plain"
    elif variant == "content-type-utf16":
        raw = codecs.BOM_UTF16_LE + doc_text.encode("utf-16-le")
        headers["Content-Type"] = "application/json; charset=utf-16"
    elif variant == "content-type-form":
        raw, headers["Content-Type"] = body, "application/x-www-form-urlencoded"
    elif variant == "empty-body":
        raw = b""
    elif variant == "empty-gzip":
        raw, headers["Content-Encoding"] = gz(b""), "gzip"
    elif variant == "whitespace-only":
        raw = b" \n\t "
    elif variant == "json-then-garbage":
        raw = body + b"xyz"
    elif variant == "two-documents":
        raw = body + b"\n" + body
    elif variant == "trailing-nul":
        raw = body + b"\x00"
    else:  # leading-whitespace: valid JSON
        raw = b" \r\n\t" + body
    d.raw, d.headers = raw, headers
    return f"encoding:{variant}"


def http_framing(d: _Draft) -> str:
    """Content-Length lies and chunked framing; the sender writes these on a raw socket."""
    body = gz(json.dumps(d.doc, separators=(",", ":")).encode())
    n = len(body)
    variant = d.rng.choice(("cl-short-1", "cl-short-half", "cl-long-1", "cl-long-100",
                            "cl-long-1M", "cl-zero", "cl-negative", "cl-non-numeric", "cl-huge",
                            "cl-twice-differing", "cl-and-chunked", "chunked", "chunked-bad-size",
                            "chunked-unterminated", "cl-leading-space"))
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    raw = body
    if variant == "cl-short-1":
        headers["Content-Length"] = str(n - 1)
    elif variant == "cl-short-half":
        headers["Content-Length"] = str(n // 2)
    elif variant == "cl-long-1":
        headers["Content-Length"] = str(n + 1)
    elif variant == "cl-long-100":
        headers["Content-Length"] = str(n + 100)
    elif variant == "cl-long-1M":
        headers["Content-Length"] = str(n + 1_000_000)
    elif variant == "cl-zero":
        headers["Content-Length"] = "0"
    elif variant == "cl-negative":
        headers["Content-Length"] = "-1"
    elif variant == "cl-non-numeric":
        headers["Content-Length"] = f"{n}abc"
    elif variant == "cl-huge":
        headers["Content-Length"] = "99999999999999999999"
    elif variant == "cl-twice-differing":
        headers["Content-Length"] = str(n)
        headers["content-length"] = str(n + 5)
    elif variant == "cl-leading-space":
        headers["Content-Length"] = f" {n}"
    else:
        if variant == "cl-and-chunked":
            headers["Content-Length"] = str(n)
        headers["Transfer-Encoding"] = "chunked"
        half = n // 2
        size = f"{half:x}" if variant != "chunked-bad-size" else "zz"
        raw = (f"{size}\r\n".encode() + body[:half] + b"\r\n" + f"{n - half:x}\r\n".encode()
               + body[half:] + b"\r\n")
        if variant != "chunked-unterminated":
            raw += b"0\r\n\r\n"
    d.raw, d.headers = raw, headers
    return f"http:{variant}"


def auth(d: _Draft) -> str:
    variant = d.rng.choice(("non-utf8", "non-utf8-key", "latin1-id", "empty-bearer", "no-colon",
                            "basic", "scheme-only", "colon-only", "no-key", "long", "nul",
                            "unknown-agent", "tab-separated", "own-key-nul", "own-key-ctl",
                            "own-key-non-utf8"))
    value = {
        "non-utf8": "Bearer \xff\xfe:\xff",  # sent as latin-1: the raw bytes 0xff 0xfe
        "non-utf8-key": "Bearer agt_x:key\xff\xe9",
        "latin1-id": "Bearer agt_\xe9t\xe9:key",
        "empty-bearer": "Bearer ",
        "no-colon": "Bearer agtkey",
        "basic": "Basic dXNlcjpwYXNz",
        "scheme-only": "Bearer",
        "colon-only": "Bearer :",
        "no-key": "Bearer agt_x:",
        "long": "Bearer agt_x:" + "k" * 6000,
        "nul": "Bearer agt_x\x00:key\x00",
        "unknown-agent": "Bearer agt_doesnotexist:" + "k" * 43,
        "tab-separated": "Bearer\tagt_x:key",
        # The agent's real credentials (the sender puts them in place of AGENT_CREDENTIALS)
        # with one byte too many: refused, and the key must not be written to any log.
        "own-key-nul": f"Bearer {AGENT_CREDENTIALS}\x00",
        "own-key-ctl": f"Bearer {AGENT_CREDENTIALS}\x01",
        "own-key-non-utf8": f"Bearer {AGENT_CREDENTIALS}\xff",
    }[variant]
    d.headers["Authorization"] = value
    return f"auth:{variant}"


def valid(d: _Draft) -> str:
    return "valid"


FAMILIES: tuple[tuple[str, Callable[[_Draft], str], int], ...] = (
    ("type", type_swap, 14),
    ("delete", delete, 5),
    ("unknown-key", unknown_key, 6),
    ("string", huge_string, 3),
    ("number", huge_number, 5),
    ("deep", deep_nesting, 4),
    ("many", many_items, 3),
    ("bytes", bytes_in_string, 10),
    ("bytes-key", bytes_in_key, 3),
    ("dup-key", dup_key, 6),
    ("dup-item", dup_item, 6),
    ("date", date, 8),
    ("trailing", trailing, 6),
    ("semantic", semantic, 7),
    ("encoding", encoding, 8),
    ("http", http_framing, 2),
    ("auth", auth, 2),
    ("valid", valid, 2),
)
_WEIGHTS = tuple(w for _, _, w in FAMILIES)


@dataclass(frozen=True)
class Spec:
    """One step of the systematic walk over the backups fixture."""

    family: str
    path: JsonPath
    arg: str = ""


def systematic_specs(base: Base) -> list[Spec]:
    """Every path to every other type, every key deleted, an unknown key in every object, 0xff
    in every string, a newline after every id and name."""
    specs: list[Spec] = []
    for path, kind in zip(base.paths, base.kinds, strict=True):
        specs += [Spec("type", path, k) for k in KINDS if k != kind]
        if path:
            specs.append(Spec("delete", path))
        if kind == "object":
            specs.append(Spec("unknown-key", path))
        if kind == "string":
            specs.append(Spec("bytes", path))
    specs += [Spec("trailing", p) for p in _id_paths(base)]
    return specs


class MutationEngine:
    """Deterministic mutations: `mutation(i)` depends only on the seed, i and the bases."""

    def __init__(self, seed: int, bases: Sequence[Base] | None = None,
                 generated_at: str = DEFAULT_GENERATED_AT) -> None:
        self.seed = seed
        self.bases = tuple(bases) if bases is not None else default_bases()
        self.generated_at = generated_at
        self._systematic_base = next((b for b in self.bases if b.name == "check-backups"),
                                     self.bases[0])
        specs = systematic_specs(self._systematic_base)
        random.Random(f"sentinelle-fuzz-order:{seed}").shuffle(specs)
        self.systematic = specs

    def systematic_covered(self, count: int) -> int:
        """How many systematic specs a campaign of `count` mutations from index 0 walks."""
        return min(len(self.systematic), (count + SYSTEMATIC_EVERY - 1) // SYSTEMATIC_EVERY)

    def mutation(self, index: int, generated_at: str | None = None) -> Mutation:
        rng = random.Random(f"sentinelle-fuzz:{self.seed}:{index}")
        spec: Spec | None = None
        if index % SYSTEMATIC_EVERY == 0 and index // SYSTEMATIC_EVERY < len(self.systematic):
            spec = self.systematic[index // SYSTEMATIC_EVERY]
            base = self._systematic_base
        else:
            base = rng.choices(self.bases, BASE_WEIGHTS[: len(self.bases)])[0]
        doc = json.loads(base.text)
        doc["report_id"] = f"fz{self.seed}-{index}"
        doc["generated_at"] = generated_at or self.generated_at
        d = _Draft(rng, base, doc)
        if spec is not None:
            name = self._apply(d, spec)
        else:
            name = rng.choices(FAMILIES, _WEIGHTS)[0][1](d)
        if d.raw is not None:
            return Mutation(f"{base.name}/{name}", d.headers, d.raw)
        body = d.serialize()
        headers = {"Content-Type": "application/json", **d.headers}
        if (d.encoding or ("gzip" if rng.random() < 0.65 else "identity")) == "gzip":
            body = gz(body)
            headers["Content-Encoding"] = "gzip"
            name += " [gzip]"
        return Mutation(f"{base.name}/{name}", headers, body)

    @staticmethod
    def _apply(d: _Draft, spec: Spec) -> str:
        if spec.family == "type":
            return type_swap(d, spec.path, spec.arg)
        if spec.family == "delete":
            return delete(d, spec.path)
        if spec.family == "unknown-key":
            return unknown_key(d, spec.path)
        if spec.family == "bytes":
            return bytes_in_string(d, spec.path, b"\xff")
        return trailing(d, spec.path, "\n")

    def campaign(self, count: int, start: int = 0,
                 generated_at: str | None = None) -> Iterator[tuple[int, Mutation]]:
        for i in range(start, start + count):
            yield i, self.mutation(i, generated_at)


_ENGINES: dict[int, MutationEngine] = {}


def build_batch(seed: int, start: int, stop: int, generated_at: str) -> list[Mutation]:
    """Mutations start..stop-1 of the seed's campaign (for a builder process: pickles well)."""
    engine = _ENGINES.get(seed)
    if engine is None:
        engine = _ENGINES[seed] = MutationEngine(seed)
    return [engine.mutation(i, generated_at) for i in range(start, stop)]


ENROLL_HOSTNAMES_REFUSED = (
    "mairie\n", "mairie\r\n", "mairie ", " mairie", "mairie\t", "mairie\x00", "mairie\u2028",
    "mairie\u0085", "a" * 64, "-mairie", ".", "", "mairié", "mai rie", "mairie/..", "\ud800",
    "mairie\n\n", "x\ny",
)
ENROLL_HOSTNAMES_ACCEPTED = ("MAIRIE-Srv", "a" * 63, "srv_01.mairie", "0mairie")


def enrollment_mutations(token: str) -> list[Mutation]:
    """Enrollment bodies with a valid `token` and bad (or good) host names, and bad tokens:
    the name says which; those starting with `refused:` must never enroll."""
    out: list[Mutation] = []
    json_ct = {"Content-Type": "application/json"}
    for host in ENROLL_HOSTNAMES_REFUSED:
        body = json.dumps({"token": token, "hostname": host}).encode()
        out.append(Mutation(f"refused:hostname={host!r}", json_ct, body))
    for host in ENROLL_HOSTNAMES_ACCEPTED:
        body = json.dumps({"token": token, "hostname": host}).encode()
        out.append(Mutation(f"accepted:hostname={host!r}", json_ct, body))
    tokens: list[tuple[str, bytes]] = [
        ("non-utf8", b'"' + token.encode()[:10] + b'\xff\xfe"'),
        ("lone-surrogate", b'"\\ud800' + token.encode() + b'"'),
        ("nul", b'"' + token.encode() + b'\\u0000"'),
        ("raw-nul", b'"' + token.encode() + b'\x00"'),
        ("trailing-newline", b'"' + token.encode() + b'\\n"'),
        ("number", b"12345"),
        ("null", b"null"),
        ("object", b'{"token": "x"}'),
        ("deep", b"[" * 5000 + b"]" * 5000),
        ("long", b'"' + b"t" * 100_000 + b'"'),
        ("empty", b'""'),
    ]
    for name, raw in tokens:
        body = b'{"token": ' + raw + b', "hostname": "fuzz-token"}'
        out.append(Mutation(f"refused:token={name}", json_ct, body))
    whole: list[tuple[str, dict[str, str], bytes]] = [
        ("not-json", json_ct, b"token=x&hostname=y"),
        ("array", json_ct, b"[]"),
        ("empty", json_ct, b""),
        ("utf-16", json_ct, codecs.BOM_UTF16_LE
         + json.dumps({"token": token, "hostname": "fuzz-utf16"}).encode("utf-16-le")),
        ("gzip-garbage", {**json_ct, "Content-Encoding": "gzip"}, b"\x1f\x8b\x08garbage"),
        ("dup-key-hostname", json_ct,
         json.dumps({"token": token, "hostname": "fuzz-dup"}).encode()[:-1]
         + b', "hostname": "fuzz\\n"}'),
        ("deep", json_ct, b'{"token": "x", "hostname": "y", "z": ' + b"[" * 5000
         + b"]" * 5000 + b"}"),
        ("huge", json_ct, b'{"token": "x", "hostname": "y", "z": "' + b"z" * 900_000 + b'"}'),
    ]
    out += [Mutation(f"refused:body={n}", h, b) for n, h, b in whole]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Print one mutation (name and headers) and write its body, to reproduce a failure."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--generated-at", default=DEFAULT_GENERATED_AT)
    parser.add_argument("--out", help="write the body here (default: a repr on stdout)")
    args = parser.parse_args(argv)
    name, headers, body = MutationEngine(args.seed).mutation(args.index, args.generated_at)
    print(name)
    print(json.dumps(headers, ensure_ascii=True))
    if args.out:
        Path(args.out).write_bytes(body)
        print(f"{len(body)} bytes written to {args.out}")
    else:
        print(repr(body[:2000]) + (f"... ({len(body)} bytes)" if len(body) > 2000 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
