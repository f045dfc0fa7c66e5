"""remote_access.tools on trees made here: a dpkg status file and /proc/PID/comm files laid
out as the kernel shows them (a name cut at 15 bytes, completed from cmdline)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sentinelle.checks.base import CheckContext
from sentinelle.checks.remote_access.checks import RemoteControlTools
from sentinelle.config import Config
from sentinelle.facts import processes
from sentinelle.host import Host
from sentinelle.model import Finding, Status
from tests.checks.texts import RULES, remedy, rendered, summary
from tests.conftest import fixture_host

STATUS = "Package: {name}\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n\n"


def tree(root: Path, packages: tuple[str, ...] = (),
         processes: dict[int, tuple[str, str]] | None = None) -> Path:
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(
        STATUS.format(name="openssh-server") + "".join(STATUS.format(name=p) for p in packages))
    for pid, (comm, cmdline) in (processes or {1: ("systemd", "/sbin/init")}).items():
        (root / f"proc/{pid}").mkdir(parents=True)
        (root / f"proc/{pid}/comm").write_text(comm + "\n")
        (root / f"proc/{pid}/cmdline").write_bytes(cmdline.replace(" ", "\0").encode() + b"\0")
    return root


def run(host: Host, **params: Any) -> list[Finding]:
    meta = RULES.checks[RemoteControlTools.id]
    check = RemoteControlTools(meta, {**meta.params, **params}, CheckContext(Config(), RULES))
    findings = list(check.run(host))
    for f in findings:
        rendered(f)
    return findings


def test_nothing_found_passes(tmp_path: Path) -> None:
    (f,) = run(fixture_host(tree(tmp_path)))
    assert f.status is Status.PASS and f.message == "remote_access.tools.none"


def test_an_undeclared_anydesk_installed_and_running_fails(tmp_path: Path) -> None:
    root = tree(tmp_path, ("anydesk",), {1: ("systemd", "/sbin/init"),
                                         812: ("anydesk", "/usr/bin/anydesk --service")})
    (f,) = run(fixture_host(root))
    assert f.status is Status.FAIL and f.key == "anydesk"
    assert f.args == {"tool": "anydesk", "packages": ["anydesk"], "processes": ["anydesk"]}
    assert remedy(f, "fr").startswith("Demandez qui a installé anydesk")


def test_installed_only_running_only_and_a_cut_name(tmp_path: Path) -> None:
    root = tree(tmp_path, ("x11vnc",), {
        1: ("systemd", "/sbin/init"),
        # The kernel keeps 15 bytes of the name; cmdline has the whole program name.
        2201: ("gnome-remote-de", "/usr/libexec/gnome-remote-desktop-daemon --system")})
    by_key = {f.key: f for f in run(fixture_host(root))}
    assert by_key["vnc"].message == "remote_access.tools.undeclared_installed"
    assert by_key["gnome-remote-desktop"].message == "remote_access.tools.undeclared_running"
    assert "en cours d'exécution" in summary(by_key["gnome-remote-desktop"], "fr")


def test_a_declared_tool_passes_and_an_unknown_name_is_refused(tmp_path: Path) -> None:
    root = tree(tmp_path, ("teamviewer",))
    (f,) = run(fixture_host(root), declared=["teamviewer"])
    assert f.status is Status.PASS and f.message == "remote_access.tools.declared"
    with pytest.raises(ValueError, match="teamveiwer"):
        run(fixture_host(root), declared=["teamveiwer"])


def test_no_package_list_is_a_skip(tmp_path: Path) -> None:
    (tmp_path / "proc/1").mkdir(parents=True)
    (tmp_path / "proc/1/comm").write_text("systemd\n")
    (f,) = run(fixture_host(tmp_path))
    assert f.status is Status.SKIP and "no /var/lib/dpkg/status" in f.evidence["reason"]


def test_this_machines_own_process_table_is_read() -> None:
    """The live /proc: this very test runs as a python program."""
    programs = processes(Host())
    assert programs is not None and programs.count > 1
    assert any(name.startswith("python") for name in programs.names)
