"""Every command group registers itself the same way, and registering costs the agent nothing."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sentinelle.cli import GROUPS, build_parser, main
from sentinelle.cli.registry import walk

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

# What the agent daemon must not carry (Babel alone is about 9 MB resident) and the code of the
# other rooms, which the agent never runs.
HEAVY = ("aiohttp", "msgspec", "babel", "grafana_foundation_sdk", "niquests", "scapy")
OTHER_ROOMS = ("sentinelle.collector", "sentinelle.report", "sentinelle.dashboards.")

# Every command a person can run today: a change that loses one fails here.
COMMANDS = {
    ("check",), ("checks",), ("agent", "run"), ("agent", "enroll"),
    ("agent", "record"), ("agent", "service"),
    ("backup", "restore-tested"), ("demo",), ("collector", "serve"),
    ("collector", "commune", "add"), ("collector", "commune", "list"),
    ("collector", "commune", "show"), ("collector", "token", "create"),
    ("collector", "token", "list"), ("collector", "token", "revoke"),
    ("collector", "agent", "list"), ("collector", "agent", "revoke"),
    ("dashboards", "build"), ("dashboards", "check"), ("dashboards", "push"),
    ("report", "monthly"), ("policy", "show"),
    ("collector", "policy", "set"), ("collector", "policy", "clear"),
    ("collector", "policy", "show"), ("collector", "policy", "history"),
    ("collector", "waiver", "add"), ("collector", "waiver", "list"),
    ("collector", "waiver", "revoke"),
    ("collector", "device", "list"), ("collector", "device", "approve"),
    ("collector", "device", "forget"),
}


def _leaves() -> dict[tuple[str, ...], argparse.ArgumentParser]:
    return {path: p for path, p in walk(build_parser())
            if not any(isinstance(a, argparse._SubParsersAction) for a in p._actions)}


def test_every_group_module_registers_itself_the_same_way() -> None:
    for module in GROUPS:
        assert module.__name__.startswith("sentinelle.cli."), module
        assert callable(module.register), module.__name__
    # Each top-level word comes from exactly one group module.
    words = [path[0] for path in _leaves()]
    assert set(words) == {"check", "checks", "agent", "policy", "backup", "demo", "collector",
                          "dashboards", "report"}


def test_every_command_has_a_handler_and_its_own_usage_line() -> None:
    leaves = _leaves()
    assert set(leaves) == COMMANDS
    for path, parser in leaves.items():
        handler = parser.get_default("handler")
        assert callable(handler), path
        assert handler.__module__.startswith("sentinelle.cli."), (path, handler)
        assert parser.get_default("command_parser") is parser, path
        assert parser.prog == "sentinelle " + " ".join(path)
        # A SentinelleError exits 2 (nothing done), but in the dashboards group, documented as 1.
        assert parser.get_default("error_status") == (1 if path[0] == "dashboards" else 2), path


@pytest.mark.parametrize("path", sorted({p for p, _ in walk(build_parser())}))
def test_help_of_every_command(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*path, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: sentinelle" + "".join(" " + w for w in path))


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from sentinelle import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"sentinelle {__version__}\n"


def _loaded_after(code: str) -> list[str]:
    probe = (
        "import json, sys\n" + code + "\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}"
        f" or m.startswith({OTHER_ROOMS!r}))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=ENV, capture_output=True,
                         text=True, timeout=120, check=True)
    loaded: list[str] = json.loads(out.stdout.splitlines()[-1])
    return loaded


def test_the_agent_daemon_loads_no_collector_report_or_babel() -> None:
    """The whole parser is built before `agent run` starts: the collector's, the report's and
    the dashboards' arguments must not bring their code, msgspec, aiohttp or Babel along."""
    loaded = _loaded_after(
        "from sentinelle.cli import build_parser\n"
        "args = build_parser().parse_args(['agent', 'run', '--config', 'agent.yaml'])\n"
        "assert args.handler.__module__ == 'sentinelle.cli.agent', args.handler\n"
        # What the handler imports to run the daemon.
        "import sentinelle.agent.daemon, sentinelle.agent.push, sentinelle.runner\n"
    )
    assert loaded == []


def test_check_loads_no_collector_or_report() -> None:
    loaded = _loaded_after(
        "import contextlib, io\n"
        "from sentinelle.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['check', '--only', 'backups', '--format', 'json']) == 0\n"
    )
    # Rendering the findings may load Babel; nothing of the collector or the report.
    assert [m for m in loaded if m.split(".")[0] != "babel"] == []


def test_the_module_entry_points_are_the_same_command(tmp_path: Path) -> None:
    version = subprocess.run([sys.executable, "-m", "sentinelle.cli", "--version"], cwd=ROOT,
                             env=ENV, capture_output=True, text=True, timeout=60, check=False)
    assert version.returncode == 0 and version.stdout.startswith("sentinelle ")
    # `python -m sentinelle.dashboards` is `sentinelle dashboards`: same usage errors, same 2.
    for argv in (["sentinelle.dashboards", "check", "--outptu", "x"],
                 ["sentinelle.dashboards", "dashboards", "check", "--outptu", "x"],
                 ["sentinelle.cli", "dashboards", "check", "--outptu", "x"]):
        bad = subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, env=ENV,
                             capture_output=True, text=True, timeout=60, check=False)
        assert bad.returncode == 2, (argv, bad.stderr)
        assert bad.stderr.startswith("usage: sentinelle") and "--outptu" in bad.stderr
        assert "erreur :" not in bad.stderr
