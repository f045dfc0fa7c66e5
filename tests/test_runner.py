"""A check that raises or hangs becomes one error finding; every check reports its duration."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

import pytest

from sentinelle.checks.base import Check, CheckContext
from sentinelle.config import Config
from sentinelle.host import Host
from sentinelle.model import Finding, Severity, Status
from sentinelle.rules import CheckMeta, load_rules
from sentinelle.runner import assemble_report, run_check
from sentinelle.scoring import ScoringPolicy
from sentinelle.texts import summary_text
from tests.conftest import fixture_host

META = CheckMeta(
    id="test.sample",
    family="test",
    category={"fr": "Test", "en": "Test"},
    severity=Severity.HIGH,
    anssi=(34,),
    title={"fr": "t", "en": "t"},
    rationale={"fr": "r", "en": "r"},
    remediation={"fr": "Faire {what}", "en": "Do {what}"},
    messages=("test.sample.bad", "test.sample.remediation"),
)
RELEASE = threading.Event()


class Raising(Check):
    id = "test.sample"

    def run(self, host: Host) -> Iterable[Finding]:
        raise RuntimeError("disk on fire")


class Hanging(Check):
    id = "test.sample"

    def run(self, host: Host) -> Iterable[Finding]:
        RELEASE.wait(10)  # bounded: the test releases it
        return []


class Good(Check):
    id = "test.sample"

    def run(self, host: Host) -> Iterable[Finding]:
        yield self.say(Status.FAIL, "bad", {"what": "the thing", "n": 1}, {"n": 1})


@pytest.fixture
def context() -> CheckContext:
    return CheckContext(config=Config(), rules=load_rules())


def test_raising_check_becomes_one_error_finding(context: CheckContext, tmp_path: Path) -> None:
    findings, duration = run_check(Raising(META, {}, context), fixture_host(tmp_path), 5)
    assert len(findings) == 1
    assert findings[0].status == Status.ERROR
    assert findings[0].message == "runner.failed"
    assert "disk on fire" in findings[0].args["error"]
    catalog = load_rules().catalog
    assert summary_text(findings[0], catalog, "fr").startswith("Le contrôle a échoué : ")
    assert "disk on fire" in summary_text(findings[0], catalog, "en")
    assert findings[0].check == "test.sample"
    assert duration >= 0


def test_hanging_check_times_out_as_error(context: CheckContext, tmp_path: Path) -> None:
    RELEASE.clear()
    try:
        findings, duration = run_check(Hanging(META, {}, context), fixture_host(tmp_path), 0.3)
    finally:
        RELEASE.set()
    assert [f.status for f in findings] == [Status.ERROR]
    assert findings[0].message == "runner.timeout" and findings[0].args == {"seconds": 0.3}
    text = summary_text(findings[0], load_rules().catalog, "fr")
    assert text.replace("\u00a0", " ") == "Le contrôle n'a pas fini dans le délai de 0,3 seconde."
    assert 0.25 < duration < 5


def test_finding_carries_metadata(context: CheckContext, tmp_path: Path) -> None:
    findings, _ = run_check(Good(META, {}, context), fixture_host(tmp_path), 5)
    (f,) = findings
    assert f.severity == Severity.HIGH
    assert f.message == "test.sample.bad" and f.args == {"what": "the thing", "n": 1}
    assert f.summary == "" and f.remediation == {}  # rendered where a person reads it
    assert f.references == {"anssi": [34]}


def test_report_round_trips_through_json(context: CheckContext, tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/hostname").write_text("mairie-srv\n")
    (tmp_path / "etc/os-release").write_text(
        'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian 12"\n'
    )
    host = fixture_host(tmp_path)
    findings, _ = run_check(Good(META, {}, context), host, 5)
    from sentinelle.model import CheckRun, Report

    policy = ScoringPolicy.from_data(load_rules().scoring)
    report = assemble_report(host, [CheckRun("test.sample", Status.FAIL, 0.1)], findings, policy)
    assert report.host["hostname"] == "mairie-srv"
    assert report.host["os_id"] == "debian"
    assert report.generated_at == "2026-11-28T12:00:00Z"
    again = Report.from_dict(report.to_dict())
    assert again == report
    assert again.score.grade == "E"  # its one check fails: no point earned (docs/scoring.md)


def test_a_finding_names_only_declared_messages_with_typed_args(context: CheckContext) -> None:
    check = Good(META, {}, context)
    with pytest.raises(ValueError, match="no message 'fine'"):
        check.say(Status.PASS, "fine")
    with pytest.raises(TypeError, match="not a number, a string"):
        check.say(Status.PASS, "bad", {"when": object()})
    assert check.say(Status.PASS, "bad", {"names": ("a", "b")}).args == {"names": ["a", "b"]}


class WindowsOnly(Good):
    platforms = frozenset({"windows"})


def test_a_check_runs_only_on_its_platforms(context: CheckContext, tmp_path: Path) -> None:
    from sentinelle.runner import Setup, run_checks

    rules = load_rules()
    setup = Setup(rules, Config(), ScoringPolicy.from_data(rules.scoring, "scoring.yaml"),
                  (WindowsOnly(META, {}, context),))
    on_linux = run_checks(setup, Host(root=tmp_path, platform="linux"))
    assert on_linux.checks == () and on_linux.results == ()
    on_windows = run_checks(setup, Host(root=tmp_path, platform="windows"))
    assert [f.status for f in on_windows.results] == [Status.FAIL]
    with pytest.raises(ValueError, match="platform must be one of"):
        Host(root=tmp_path, platform="macos")
