"""Hostile policies and hostile trees: nothing outside the root is read, nothing off the
allow-list runs, and no file, line or regex can hold a check for long."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from sentinelle.errors import ConfigError
from sentinelle.host import CommandResult, Host
from sentinelle.model import Status
from sentinelle.policies import files
from sentinelle.policies.loader import add_policy_dirs
from tests.conftest import fixture_host, recorded
from tests.policies.helpers import BASE, check_yaml, evaluate, policy_file


def outside_and_root(tmp_path: Path) -> tuple[Path, Path]:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("PermitEmptyPasswords yes\n")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    return outside, root


@pytest.mark.parametrize("condition", [
    "file_content: {path: /etc/shadow, not_matches: 'yes'}",
    'file_mode: {path: /etc/shadow, max: "0600"}',
    "file_exists: {path: /etc/shadow}",
    "file_absent: {path: /etc/shadow}",
    "setting: {path: /etc/shadow, key: PermitEmptyPasswords, equals: 'no'}",
])
def test_a_symlink_out_of_the_root_is_refused(tmp_path: Path, condition: str) -> None:
    outside, root = outside_and_root(tmp_path)
    (root / "etc/shadow").symlink_to(outside / "secret")
    f = evaluate(tmp_path, condition, fixture_host(root))
    assert f.status is Status.SKIP and f.message == "policy.skip.outside_root"
    assert f.args == {"path": "/etc/shadow"} and "outside the inspected root" in f.evidence[
        "reason"]


def test_relative_links_and_linked_directories_out_of_the_root(tmp_path: Path) -> None:
    outside, root = outside_and_root(tmp_path)
    (root / "etc/shadow").symlink_to("../../outside/secret")
    f = evaluate(tmp_path, "file_content: {path: /etc/shadow, matches: 'yes'}",
                 fixture_host(root))
    assert f.message == "policy.skip.outside_root"
    (root / "etc/ssh").symlink_to(outside)
    f = evaluate(tmp_path, "setting: {paths: [/etc/ssh/*], key: PermitEmptyPasswords, "
                 "equals: 'no'}", fixture_host(root))
    assert f.message == "policy.skip.outside_root"


def test_links_inside_the_root_are_followed(tmp_path: Path) -> None:
    _, root = outside_and_root(tmp_path)
    (root / "etc/real").write_text("x\n")
    (root / "etc/shadow").symlink_to("real")
    f = evaluate(tmp_path, "file_content: {path: /etc/shadow, matches: x}", fixture_host(root))
    assert f.status is Status.PASS


def test_a_huge_file_is_not_read_whole(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    with (root / "etc/huge.conf").open("wb") as handle:
        handle.truncate(8 << 30)  # 8 GiB, sparse
    started = time.monotonic()
    f = evaluate(tmp_path, "file_content: {path: /etc/huge.conf, not_matches: 'x'}",
                 fixture_host(root), ["path"])
    assert time.monotonic() - started < 5
    assert f.status is Status.SKIP and f.message == "policy.skip.too_large"
    assert f.args == {"path": "/etc/huge.conf", "limit": files.DEFAULT_MAX_BYTES}
    # A policy may read less, never more than MAX_BYTES (a load error, tested in test_loader).
    (root / "etc/small.conf").write_text("a" * 100 + "\n")
    f = evaluate(tmp_path, "file_content: {path: /etc/small.conf, matches: a, max_bytes: 50}",
                 fixture_host(root))
    assert f.message == "policy.skip.too_large" and f.args["limit"] == 50


def test_a_slow_regex_on_a_long_line_is_not_run(tmp_path: Path) -> None:
    """`\\s*x\\s*y` is polynomial, not refused at load; the line it would crawl is bounded."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/long.conf").write_text(" " * 100_000 + "\n")
    started = time.monotonic()
    f = evaluate(tmp_path, r"file_content: {path: /etc/long.conf, matches: '\s*\s*\s*y'}",
                 fixture_host(root))
    assert time.monotonic() - started < 5
    assert f.status is Status.SKIP and f.message == "policy.skip.long_line"


def test_a_fifo_is_not_opened(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.mkfifo(root / "etc/pipe")
    f = evaluate(tmp_path, "file_content: {path: /etc/pipe, matches: x}", fixture_host(root))
    assert f.status is Status.SKIP and f.message == "policy.skip.not_a_file"


def test_the_root_being_a_symlink_is_not_outside_itself(tmp_path: Path) -> None:
    _, root = outside_and_root(tmp_path)
    (root / "etc/issue").write_text("Debian\n")
    alias = tmp_path / "alias"
    alias.symlink_to(root)
    f = evaluate(tmp_path, "file_exists: {path: /etc/issue}", fixture_host(alias))
    assert f.status is Status.PASS


def test_a_command_off_the_allow_list_is_a_load_error_and_never_runs(tmp_path: Path) -> None:
    ran: list[Sequence[str]] = []

    def runner(argv: Sequence[str], timeout: float, env: Mapping[str, str] | None
               ) -> CommandResult:
        ran.append(argv)
        return recorded("")

    directory = tmp_path / "policies"
    policy_file(directory, check_yaml("essai.cas", "command: {name: curl_pipe_sh, equals: x}"))
    with pytest.raises(ConfigError) as err:
        add_policy_dirs(BASE, [directory])
    assert err.value.key == "checks.essai.cas.condition.command.name"
    assert err.value.line == 13 and err.value.source == str(directory / "essai.yaml")
    assert ran == []
    # An allowed one runs as its argv says, no shell, within its timeout.
    seen: list[tuple[tuple[str, ...], float]] = []

    def recording(argv: Sequence[str], timeout: float, env: Mapping[str, str] | None
                  ) -> CommandResult:
        seen.append((tuple(argv), timeout))
        return recorded("disabled\n", 1)

    f = evaluate(tmp_path, "command: {name: systemctl_is_enabled, args: {unit: 'cups.service'},"
                 " exit_code: 1}", Host("/", runner=recording))
    assert f.status is Status.PASS
    assert seen == [(("systemctl", "is-enabled", "cups.service"), 10.0)]
