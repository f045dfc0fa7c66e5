"""The agent's .rpm for RHEL-family servers, built by rpmbuild (Debian's `rpm` package) from the
same staged tree as the .deb. No RHEL machine runs here: the tests check that it holds exactly
the .deb's files (same digests), its RPM metadata, attributes and scriptlets."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from tests.conftest import need
from tests.packaging.conftest import AgentBuilds
from tests.packaging.system import sh

pytestmark = pytest.mark.integration


def rpm_query(rpm: Path, fmt: str) -> list[list[str]]:
    out = sh(["rpm", "-qp", "--qf", fmt, str(rpm)]).stdout
    return [line.split(" ") for line in out.splitlines() if line]


@pytest.fixture
def rpm(agent_builds: AgentBuilds) -> Path:
    need(agent_builds.rpm is not None, "rpmbuild is not installed (Debian package rpm)")
    assert agent_builds.rpm is not None
    return agent_builds.rpm


def test_rpm_holds_the_debs_files_with_its_own_metadata(
    rpm: Path, agent_builds: AgentBuilds, tmp_path: Path
) -> None:
    (name,) = rpm_query(rpm, "%{NAME} %{VERSION} %{RELEASE}\n")
    assert name == ["sentinelle-agent", "0.1.0", "1"]
    requires = sh(["rpm", "-qp", "--requires", str(rpm)]).stdout.split("\n")
    python = sh(["/usr/bin/python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
    assert f"python{python.stdout.strip()}" in requires
    assert not [r for r in requires if "python3dist" in r or r.startswith("lib")]  # AutoReq off

    deb_tree = tmp_path / "deb"
    sh(["dpkg-deb", "-x", str(agent_builds.deb), str(deb_tree)])
    deb_files = {}
    for path in deb_tree.rglob("*"):
        if path.is_file() and not path.is_symlink():
            shown = "/" + str(path.relative_to(deb_tree))
            shown = shown.replace("/lib/systemd/system/", "/usr/lib/systemd/system/")
            deb_files[shown] = hashlib.sha256(path.read_bytes()).hexdigest()
    rows = rpm_query(rpm, "[%{FILEDIGESTS} %{FILEMODES:perms} %{FILEUSERNAME} "
                          "%{FILEGROUPNAME} %{FILEFLAGS:fflags} %{FILENAMES}\n]")
    entries = {row[-1]: row for row in rows}
    rpm_files = {path: row[0] for path, row in entries.items() if row[1].startswith("-")}
    assert rpm_files == deb_files
    assert entries["/usr/bin/sentinelle"][1].startswith("l")
    state = entries["/var/lib/sentinelle"]
    assert state[1:4] == ["drwxr-x---", "sentinelle", "sentinelle"]
    config = entries["/etc/sentinelle/agent.yaml"]
    assert config[1:4] == ["-rw-r-----", "root", "sentinelle"] and "n" in config[4]  # noreplace


def test_rpm_scriptlets_create_the_user_and_handle_the_service(rpm: Path) -> None:
    text = sh(["rpm", "-qp", "--scripts", str(rpm)]).stdout
    parts = re.split(r"^(\w+) scriptlet(?: \(using /bin/sh\))?:$", text, flags=re.M)
    scripts = dict(zip(parts[1::2], parts[2::2], strict=True))
    assert set(scripts) == {"preinstall", "postinstall", "preuninstall", "postuninstall"}
    for body in scripts.values():
        sh(["sh", "-n", "-c", body])
    assert "useradd -r -g sentinelle" in scripts["preinstall"]
    assert "disable --now sentinelle-agent.service" in scripts["preuninstall"]
    assert "try-restart sentinelle-agent.service" in scripts["postuninstall"]  # upgrades
