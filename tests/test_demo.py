"""`sentinelle demo` on a fresh directory: collector, agent, Prometheus, then a clean stop."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import need_tool

ROOT = Path(__file__).resolve().parent.parent


def test_demo_runs_end_to_end_and_stops(tmp_path: Path) -> None:
    need_tool("prometheus")
    out = subprocess.run(
        [sys.executable, "-m", "sentinelle.cli", "demo", "--dir", str(tmp_path / "demo"),
         "--duration", "2", "--lang", "en"],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    text = out.stdout
    assert "collector        http://127.0.0.1:" in text
    assert "Pending updates" in text and "Grade:" in text  # this machine's real posture
    assert "Collector: 1 Report(s) stored for commune 01001." in text
    assert "Prometheus: commune 01001 score" in text
    assert text.rstrip().endswith("demo stopped.")
    assert (tmp_path / "demo/agent/credentials.json").stat().st_mode & 0o077 == 0
    # Nothing it started is left running.
    left = subprocess.run(["pgrep", "-f", str(tmp_path / "demo")], capture_output=True,
                          text=True, check=False)
    assert left.stdout.strip() == ""
