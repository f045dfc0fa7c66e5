"""The README's quick start, run as written, with Debian's own Python, in a clean copy of the
repository: what a technician does on a fresh server. (The second command, .ci/run, is what CI
runs: it builds its .venv with /usr/bin/python3 the same way.)"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.cli.speech import say
from tests.conftest import need
from tests.packaging.system import ROOT, SYSTEM_PYTHON, sh

pytestmark = pytest.mark.integration

# root's PATH on a stock Debian: no pyenv, no developer's Python.
STOCK_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def quick_start() -> list[str]:
    """The shell commands of the README's "Quick start" section, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    return [block.replace("\\\n", " ").strip() for block in blocks]


def clean_copy(into: Path) -> Path:
    """What a fresh clone holds: the files git tracks, plus new ones not ignored (before a
    commit), none of this tree's build products, caches or environments."""
    listed = sh(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others",
                 "--exclude-standard"]).stdout
    for name in filter(None, listed.split("\0")):
        source, target = ROOT / name, into / name
        if source.is_symlink():  # as git stores them (deploy/prometheus/rules/sentinelle)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(source.readlink())
        elif source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return into


def test_quick_start_commands_are_what_this_test_runs() -> None:
    first, second = quick_start()
    assert "--break-system-packages" not in first
    assert first.startswith("apt-get update && apt-get install -y python3-venv")
    assert first.endswith(".venv/bin/sentinelle demo")
    assert second == ".ci/run"
    ci = (ROOT / ".ci/run").read_text(encoding="utf-8")
    assert 'PYTHON="${PYTHON:-/usr/bin/python3}"' in ci and '-m venv .venv' in ci


def test_readme_quick_start_runs_the_demo_with_debians_python(tmp_path: Path) -> None:
    need(os.geteuid() == 0, "the quick start runs as root (apt-get, every check)")
    need(shutil.which("apt-get") is not None, "not a Debian or Ubuntu machine")
    need(SYSTEM_PYTHON.exists(), "no /usr/bin/python3")
    assert shutil.which("python3", path=STOCK_PATH) == str(SYSTEM_PYTHON)
    command = quick_start()[0]
    checkout = clean_copy(tmp_path / "sentinelle")
    assert not (checkout / ".venv").exists()
    env = {
        "PATH": STOCK_PATH, "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8",
        "DEBIAN_FRONTEND": "noninteractive", "PYTHONUNBUFFERED": "1",
        # This machine's package index settings (mirror, certificates), as a user's shell has.
        **{k: v for k, v in os.environ.items() if k.startswith("PIP_") or "proxy" in k.lower()},
    }
    proc = subprocess.Popen(["bash", "-c", command], cwd=checkout, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or ()), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 600
        # LANG=C.UTF-8 says no language: the demo speaks French, the default.
        while not any(say("cli.demo.until_ctrl_c", "fr") in line for line in lines):
            assert proc.poll() is None, "".join(lines[-60:])
            assert time.monotonic() < deadline, "".join(lines[-60:])
            time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        assert proc.wait(120) == 0, "".join(lines[-60:])
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    reader.join(10)
    output = "".join(lines)
    # This machine's real posture, pushed to the collector and scraped by Prometheus.
    assert say("cli.demo.stored", "fr", count=1, code="01001") in output
    if shutil.which("prometheus", path=STOCK_PATH):
        assert say("cli.demo.prometheus_score", "fr", code="01001", score=0,
                   grade="A").split("0/100")[0] in output
    assert output.rstrip().endswith(say("cli.demo.stopped", "fr"))
    # The environment is Debian's Python, made by the command itself.
    venv = (checkout / ".venv/pyvenv.cfg").read_text(encoding="utf-8")
    version = sh([str(SYSTEM_PYTHON), "-c", "import platform; print(platform.python_version())"])
    assert "home = /usr/bin\n" in venv and f"version = {version.stdout.strip()}" in venv
    assert (checkout / "sentinelle-demo/agent/credentials.json").is_file()
    left = sh(["pgrep", "-f", str(checkout)], check=False)
    assert left.stdout.strip() == ""
