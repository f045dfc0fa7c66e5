"""scapy is loaded only by an active sweep: an agent whose lan checks are disabled, or passive,
never imports it (nor netaddr's registry when disabled), so its idle memory is unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PROBE = r"""
import json, sys
from sentinelle.host import Host
from sentinelle.runner import build_setup, run_checks
setup = build_setup(sys.argv[1])
run_checks(setup, Host(sys.argv[2]))
print(json.dumps({"checks": [c.id for c in setup.checks],
                  "scapy": any(m == "scapy" or m.startswith("scapy.") for m in sys.modules),
                  "netaddr": "netaddr" in sys.modules}))
"""


def loaded(tmp_path: Path, config: str, root: Path) -> dict[str, object]:
    path = tmp_path / "agent.yaml"
    path.write_text(f"agent:\n  state_dir: {tmp_path / 'state'}\n{config}", encoding="utf-8")
    out = subprocess.run([sys.executable, "-c", PROBE, str(path), str(root)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    return dict(json.loads(out.stdout.splitlines()[-1]))


def test_the_agent_without_lan_never_imports_scapy_or_netaddr(tmp_path: Path) -> None:
    # A fixture tree: every other check runs (and skips), none of them may pull scapy in.
    got = loaded(tmp_path, "checks:\n  lan: {enabled: false}\n", tmp_path)
    assert not any(str(c).startswith("lan.") for c in got["checks"])  # type: ignore[attr-defined]
    assert got["scapy"] is False and got["netaddr"] is False


def test_passive_lan_checks_read_vendors_but_never_import_scapy(tmp_path: Path) -> None:
    tree = Path(__file__).parent / "fixtures" / "office_routes"
    got = loaded(tmp_path, "", tree)
    assert "lan.devices" in got["checks"]  # type: ignore[operator]
    assert got["scapy"] is False and got["netaddr"] is True
