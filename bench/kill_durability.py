"""Benchmark: SIGKILL the collector under concurrent load, many rounds; count what is lost.

The suite's `tests/collector/test_durability_kill.py` at a larger size: each round, 200 agents
push concurrently, the collector's process group is killed with SIGKILL mid-load, the collector
is started again (alternating 2 and 1 worker processes) and every acknowledged Report is looked
for in the store, replayed (it must be a duplicate) and looked for in `/metrics`.

    python3 bench/kill_durability.py [--rounds 13] [--backend sqlite|postgres|both] [--seed 8]

Prints one line per round and the totals; exits 1 when an acknowledged Report was lost or the
collector failed to start again after a kill.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.collector import test_durability_kill as kill  # noqa: E402
from tests.collector.pg import missing_prerequisite, running_postgres  # noqa: E402


def run(backend: str, rounds: int, seed: int) -> bool:
    """The rounds on one backend; True when nothing acknowledged was lost."""
    with tempfile.TemporaryDirectory() as tmp:
        if backend == "sqlite":
            results = kill.kill_rounds(Path(tmp), f"sqlite:///{tmp}/collector.db", rounds, seed)
        else:
            why = missing_prerequisite()
            if why is not None:
                print(f"postgres: skipped ({why})")
                return True
            with running_postgres() as server:
                url = server.create_database("sentinelle_kill")
                results = kill.kill_rounds(Path(tmp), url, rounds, seed)
    acked = sum(len(r.load.acked) for r in results)
    lost = sum(len(r.lost) for r in results)
    failed = sum(len(r.failed_starts) for r in results)
    for r in results:
        print("  " + r.line())
        for why in r.failed_starts:
            print(f"    failed start: {why}")
    print(f"{backend}: {rounds} rounds, {acked} Reports acknowledged, {lost} lost, "
          f"{failed} failed starts after a kill")
    return lost == 0 and failed == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=13)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()
    started = time.monotonic()
    ok = True
    for backend in ("sqlite", "postgres") if args.backend == "both" else (args.backend,):
        ok = run(backend, args.rounds, args.seed) and ok
    print(f"{time.monotonic() - started:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
