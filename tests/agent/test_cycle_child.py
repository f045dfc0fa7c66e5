"""Each cycle runs in a child process (sentinelle.agent.cycle): the resident agent never
imports the checks, a child that crashes or hangs is one failed cycle, and a configuration the
child refuses stops the agent before it starts, with the file and the key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sentinelle.agent.cycle import ChildCycle, ConfigRefused, CycleFailed, cycle_deadline
from sentinelle.agent.daemon import Agent
from sentinelle.config import load_config
from tests.test_agent import free_port

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "SENTINELLE_LANG": "fr"}


def config_file(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(f"agent:\n  listen_address: 127.0.0.1:{free_port()}\n"
                    f"  state_dir: {tmp_path / 'state'}\n"
                    "checks:\n  backups: {enabled: false}\n" + extra, encoding="utf-8")
    return path


def test_the_resident_agent_never_imports_a_check(tmp_path: Path) -> None:
    """In a fresh interpreter, as `agent run` starts: one cycle, then look at sys.modules."""
    code = textwrap.dedent(f"""
        import json, sys
        from sentinelle.cli.agent import isolated_agent
        agent = isolated_agent({str(config_file(tmp_path))!r})
        report = agent.cycle()
        print(json.dumps({{
            "checks": sorted(m for m in sys.modules if m.startswith("sentinelle.checks")),
            "runner": "sentinelle.runner" in sys.modules,
            "ran": [run.check for run in report.checks],
        }}))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=ENV, capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.splitlines()[-1])
    assert seen["checks"] == [] and seen["runner"] is False
    assert "patching.os_support" in seen["ran"] and "ports.listening" in seen["ran"]
    assert not any(c.startswith("backups.") for c in seen["ran"])  # the config was applied
    saved = json.loads((tmp_path / "state/last-report.json").read_text(encoding="utf-8"))
    assert [run["check"] for run in saved["checks"]] == seen["ran"]


def test_a_crashing_child_is_one_failed_cycle_and_the_next_one_runs(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    crash = tmp_path / "crash.py"  # a "python" that dies the way a segfaulting check would
    crash.write_text("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
    wrapper = tmp_path / "python-crash"
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} {crash}\n")
    wrapper.chmod(0o755)
    child = ChildCycle(config, 60, python=str(wrapper))
    agent = Agent(None, config=load_config(config), run_cycle=child)
    assert agent.cycle() is None and agent.cycle_failures_total == 1
    child.python = sys.executable
    report = agent.cycle()
    assert report is not None and report.agent_health is not None
    assert report.agent_health.cycle_failures_total == 1


def test_a_hung_child_is_killed_at_its_deadline(tmp_path: Path) -> None:
    sleeper = tmp_path / "python-hang"
    sleeper.write_text("#!/bin/sh\nexec sleep 30\n")
    sleeper.chmod(0o755)
    child = ChildCycle(config_file(tmp_path), 1, python=str(sleeper))
    with pytest.raises(CycleFailed, match="killed after 1 s"):
        child()


def test_garbage_on_the_childs_stdout_is_not_a_report(tmp_path: Path) -> None:
    liar = tmp_path / "python-liar"
    liar.write_text("#!/bin/sh\necho '{\"report_id\": 1}'\n")
    liar.chmod(0o755)
    with pytest.raises(CycleFailed, match="wrote no Report"):
        ChildCycle(config_file(tmp_path), 30, python=str(liar))()


def test_a_config_the_child_refuses_stops_the_agent_with_file_and_key(tmp_path: Path) -> None:
    config = config_file(tmp_path, "  ports.listening: {exclude_portz: [22]}\n")
    with pytest.raises(ConfigRefused, match="exclude_portz"):
        ChildCycle(config, 60).validate()
    out = subprocess.run(
        [sys.executable, "-m", "sentinelle.cli", "agent", "run", "--once", "--config",
         str(config)], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120,
        check=False)
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("sentinelle : erreur : ") and "agent.yaml" in out.stderr
    assert "exclude_portz" in out.stderr and out.stdout == ""
    assert not (tmp_path / "state/last-report.json").exists()


def test_the_deadline_is_the_interval_but_never_less_than_two_check_timeouts() -> None:
    assert cycle_deadline(3600, 300) == 3600
    assert cycle_deadline(60, 300) == 600
