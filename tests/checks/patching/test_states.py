"""The patching checks' rarer states, each with its own sentence: stale lists with nothing
pending, long lists, apt that cannot be run or does not answer, a reboot for two reasons."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from sentinelle.checks.patching import checks as patching
from sentinelle.checks.patching.checks import PendingUpdates, RebootRequired
from sentinelle.errors import CommandError, CommandTimeout
from sentinelle.model import Status
from tests.checks.patching.test_patching import (
    by_kind,
    debian_tree,
    dnf_host,
    kernel_tree,
    only,
    rhel_tree,
    run,
    write,
)
from tests.checks.texts import summary
from tests.conftest import FIXED_NOW, fixture_host


def test_nothing_pending_on_stale_lists_says_there_may_be_more(tmp_path: Path) -> None:
    root = rhel_tree(tmp_path, metadata_age=timedelta(days=5))
    found = by_kind(run(PendingUpdates, dnf_host(root, "uptodate"), tmp_path / "state"))
    assert {f.message for f in found.values()} == {
        "patching.pending_updates.security_none_stale",
        "patching.pending_updates.other_none_stale",
    }
    assert "5 days old: there may be more since" in summary(found["security"])
    assert "vieille de 5 jours" in summary(found["other"], "fr")


def test_long_lists_name_the_first_packages_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(patching, "SUMMARY_NAMES", 1)
    root = rhel_tree(tmp_path, metadata_age=timedelta(days=5))
    found = by_kind(run(PendingUpdates, dnf_host(root, "pending"), tmp_path / "state"))
    sec = found["security"]
    assert sec.message == "patching.pending_updates.security_pending_more_stale"
    assert sec.args["count"] == 2 and sec.args["packages"] == ["kernel-core.x86_64"]
    assert summary(sec).startswith("2 security updates pending, among them kernel-core")
    assert found["other"].message == "patching.pending_updates.other_pending_more_stale"


@pytest.mark.parametrize(
    ("error", "case", "english"),
    [
        (CommandError("apt-get: [Errno 8] Exec format error"), "tool_error",
         "apt-get -s upgrade could not be run: apt-get: [Errno 8] Exec format error"),
        (CommandTimeout("apt-get -s upgrade: no answer after 100 s"), "tool_timeout",
         "apt-get -s upgrade did not answer within 1 min 40 sec"),
    ],
)
def test_apt_that_cannot_answer_is_an_error(
    tmp_path: Path, error: Exception, case: str, english: str
) -> None:
    root = debian_tree(tmp_path)
    host = fixture_host(root, commands={("apt-get",): error})
    f = only(run(PendingUpdates, host, tmp_path / "state"))
    assert f.status is Status.ERROR and f.message == f"patching.pending_updates.{case}"
    assert summary(f).startswith(english)


def test_flag_and_newer_kernel_are_both_said(tmp_path: Path) -> None:
    installed = {"6.1.0-9-amd64": FIXED_NOW - timedelta(days=300),
                 "6.1.0-37-amd64": FIXED_NOW - timedelta(days=3)}
    root = kernel_tree(tmp_path, "6.1.0-9-amd64", installed)
    write(root / "run/reboot-required", "*** System restart required ***\n",
          FIXED_NOW - timedelta(days=1))
    f = only(run(RebootRequired, fixture_host(root), tmp_path / "s"))
    assert f.message == "patching.reboot_required.flagged_kernel" and f.status is Status.WARN
    assert f.args["pending"] == 3 * 86400  # since the older of the two reasons
    assert "pending for 3 days" in summary(f) and "en attente depuis 3 jours" in summary(f, "fr")
