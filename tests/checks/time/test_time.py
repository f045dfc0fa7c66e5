"""time.sync: recorded answers of timedatectl and chronyc, and a real chronyd synchronised (or
not) to another one on loopback, in namespaces of the test's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinelle.checks.base import CheckContext
from sentinelle.checks.time import checks as timesync
from sentinelle.checks.time.checks import CHRONYC_ARGV, TIMEDATECTL_ARGV, TimeSync
from sentinelle.config import Config
from sentinelle.errors import CommandNotFound, CommandTimeout
from sentinelle.host import CommandResult, Host
from sentinelle.model import Finding, Status
from sentinelle.rules import load_rules
from tests.checks.texts import remedy, rendered, summary
from tests.checks.time.chrony import chrony_namespace
from tests.conftest import fixture_host, need_root, need_tool, recorded

RULES = load_rules()
FIXTURES = Path(__file__).parent / "fixtures"
NO_SYSTEMD = recorded("", 1, (FIXTURES / "timedatectl-no-systemd.err").read_text())
NO_CHRONYD = recorded("", 1, (FIXTURES / "chronyc-no-daemon.out").read_text())


def run(host: Host) -> Finding:
    meta = RULES.checks[TimeSync.id]
    (finding,) = TimeSync(meta, meta.params, CheckContext(Config(), RULES)).run(host)
    rendered(finding, RULES)
    return finding


def out(name: str) -> CommandResult:
    return recorded((FIXTURES / name).read_text())


@pytest.fixture(autouse=True)
def nothing_else(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No timesyncd, and a kernel that would say "not synchronised", unless a test says so."""
    monkeypatch.setattr(timesync, "running_programs", lambda host: frozenset({"sshd"}))
    monkeypatch.setattr(timesync, "TIMESYNCD_FLAG", str(tmp_path / "synchronized"))
    monkeypatch.setattr(timesync, "kernel_clock_synchronised", lambda: False)


def live(**commands: CommandResult | Exception) -> Host:
    table: dict[tuple[str, ...], CommandResult | Exception] = {
        TIMEDATECTL_ARGV: commands.get("timedatectl", NO_SYSTEMD),
        CHRONYC_ARGV: commands.get("chronyc", NO_CHRONYD),
    }
    return fixture_host(Path("/"), commands=table)


def test_timedatectl_decides_when_systemd_answers() -> None:
    f = run(live(timedatectl=out("timedatectl-synchronised.out")))
    assert f.status is Status.PASS and f.args == {"source": "timedatectl"}
    f = run(live(timedatectl=out("timedatectl-unsynchronised.out"),
                 chronyc=out("chronyc-tracking-synchronised.out")))
    assert f.status is Status.FAIL and f.message == "time.sync.not_synchronised"
    assert f.evidence["timedatectl"]["NTPSynchronized"] == "no"
    assert "n'est pas synchronisée (d'après timedatectl)" in summary(f, "fr", RULES)


def test_chrony_answers_without_systemd() -> None:
    f = run(live(chronyc=out("chronyc-tracking-synchronised.out")))
    assert f.status is Status.PASS and f.args == {"source": "chrony"}
    f = run(live(chronyc=out("chronyc-tracking-unsynchronised.out")))
    assert f.status is Status.FAIL and f.evidence["chrony"]["Reference ID"] == "00000000 ()"
    assert remedy(f, "fr", RULES).startswith("Installez et démarrez un service")


def test_timesyncd_flag(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(timesync, "running_programs",
                        lambda host: frozenset({"systemd-timesyn"}))
    f = run(live(chronyc=CommandNotFound("chronyc: not installed")))
    assert f.status is Status.FAIL and f.args == {"source": "systemd-timesyncd"}
    (tmp_path / "synchronized").write_text("")
    assert run(live()).status is Status.PASS


def test_no_service_at_all_is_the_kernels_word(monkeypatch: pytest.MonkeyPatch) -> None:
    f = run(live())
    assert f.status is Status.FAIL and f.message == "time.sync.no_service"
    assert f.args == {"tried": ["timedatectl", "chronyc"]}
    monkeypatch.setattr(timesync, "kernel_clock_synchronised", lambda: True)  # ntpd, say
    f = run(live())
    assert f.status is Status.PASS and f.args == {"source": "kernel"}


def test_nobody_can_tell_is_a_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timesync, "kernel_clock_synchronised", lambda: None)
    f = run(live())
    assert f.status is Status.SKIP and f.message == "time.sync.unknown"
    assert f.evidence["reason"] == "no time service answered: timedatectl, chronyc, adjtimex"


def test_a_command_that_hangs_is_an_error() -> None:
    f = run(live(timedatectl=CommandTimeout("timedatectl show: no answer after 10 s")))
    assert f.status is Status.ERROR and f.args["command"] == "timedatectl show"


def test_a_fixture_tree_is_a_skip(tmp_path: Path) -> None:
    f = run(fixture_host(tmp_path))
    assert f.status is Status.SKIP and f.message == "time.sync.not_live"


def test_the_kernel_can_be_asked_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()
    assert timesync.kernel_clock_synchronised() in (True, False)


@pytest.mark.parametrize("with_server", [True, False])
def test_real_chronyd_in_a_namespace(tmp_path: Path, with_server: bool) -> None:
    need_root()
    need_tool("chronyd")
    need_tool("unshare")
    with chrony_namespace(tmp_path, with_server) as runner:
        f = run(Host("/", runner=runner))
    assert f.evidence["source"] == "chrony", f.evidence
    assert f.status is (Status.PASS if with_server else Status.FAIL)
