"""docs/checks.md's worked example is true: its check, its metadata and its tests, added to the
real ssh family in a copy of rules/, pass the metadata rules and their own tests."""

from __future__ import annotations

import re
import shutil
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from sentinelle.checks import base
from sentinelle.rules import load_rules

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "checks.md"
BLOCK = re.compile(r"<!-- example: (\S+) -->\n```\w+\n(.*?)\n```", re.S)
MODULE = "sentinelle.checks.ssh.checks"
EXAMPLE = "ssh.root_login_files"


def examples() -> dict[str, str]:
    return dict(BLOCK.findall(DOC.read_text(encoding="utf-8")))


@pytest.fixture
def example_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of rules/ with the example's check added to the real ssh family's metadata,
    measure 8 pointing at it, and the example check registered beside the real ones (the
    registry and the modules are put back afterwards)."""
    blocks = examples()
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    family = rules / "checks" / "ssh.yaml"
    real = yaml.safe_load(family.read_text(encoding="utf-8"))
    example = yaml.safe_load(blocks["rules/checks/ssh.yaml"])
    # The page's file is the family's heading and the example's entry: the same family.
    assert example["family"] == real["family"] and example["category"] == real["category"]
    assert set(example["checks"]) == {EXAMPLE} and EXAMPLE not in real["checks"]
    real["checks"].update(example["checks"])
    family.write_text(yaml.safe_dump(real, allow_unicode=True), encoding="utf-8")
    anssi = rules / "frameworks" / "anssi.yaml"
    data = yaml.safe_load(anssi.read_text(encoding="utf-8"))
    (measure,) = [m for m in data["measures"] if m["id"] == 8]
    measure["checks"] = [*measure["checks"], EXAMPLE]
    anssi.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("SENTINELLE_RULES_DIR", str(rules))

    saved = dict(base._REGISTRY)
    package = types.ModuleType("sentinelle.checks.ssh")
    package.__path__ = []
    module = types.ModuleType(MODULE)
    monkeypatch.setitem(sys.modules, "sentinelle.checks.ssh", package)
    monkeypatch.setitem(sys.modules, MODULE, module)
    try:
        exec(compile(blocks["sentinelle/checks/ssh/checks.py"], MODULE, "exec"), module.__dict__)
        yield rules
    finally:
        base._REGISTRY.clear()
        base._REGISTRY.update(saved)


def test_the_page_holds_the_three_files() -> None:
    assert set(examples()) == {
        "sentinelle/checks/ssh/checks.py",
        "rules/checks/ssh.yaml",
        "tests/checks/ssh/test_ssh.py",
    }


def test_the_example_check_meets_the_metadata_rules(example_rules: Path) -> None:
    rules = load_rules(example_rules)
    cls = base.registry()[EXAMPLE]
    meta = rules.checks[EXAMPLE]
    assert cls.__doc__ and meta.family == "ssh" and meta.anssi == (8,)
    assert set(base.registry()) | set(rules.policies) == set(rules.checks)
    for msg_id in meta.messages:
        message = rules.catalog.get(msg_id)
        assert message.texts["fr"] != message.texts["en"], msg_id


def test_the_example_tests_pass(example_rules: Path, tmp_path: Path) -> None:
    namespace: dict[str, object] = {"__name__": "tests.checks.ssh.test_ssh"}
    exec(compile(examples()["tests/checks/ssh/test_ssh.py"], "test_ssh.py", "exec"), namespace)
    tests = {name: fn for name, fn in namespace.items() if name.startswith("test_")}
    assert len(tests) == 5
    for name, fn in tests.items():
        where = tmp_path / name
        where.mkdir()
        fn(where)  # type: ignore[operator]
