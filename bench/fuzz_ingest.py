"""Benchmark: the suite's fuzz campaign (tests/collector/test_fuzz.py) at a larger size.

Hostile enrolled agents in two communes push seeded mutations of real Reports in rounds, a
well-behaved agent of a third commune pushes a valid Report every round, and after every round
`/metrics` is scraped and checked (200, `promtool check metrics`, no duplicate series, every
host whose Report was accepted present, the well-behaved host present). At the end the monthly
report is built for every commune.

    python3 bench/fuzz_ingest.py [--mutations 200000] [--seed 8] [--agents 32] [--postgres]

Prints mutations/s, the outcomes by status code (overall and by mutation family), every 5xx,
unanswered push or broken scrape with the command that rebuilds its bytes, and the RSS of the
process that runs the collector (the collector runs in-process, as in the suite; mutations are
built in a separate process, so little of it is the client's) before and after. Exits 1 when a
requirement broke.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from sentinelle.collector.settings import RateLimit  # noqa: E402
from tests.collector.harness import running_collector  # noqa: E402
from tests.collector.test_fuzz import (  # noqa: E402
    GOOD_COMMUNE,
    Campaign,
    build_monthly,
)


@contextmanager
def store_url(tmp: Path, postgres: bool) -> Iterator[str]:
    if not postgres:
        yield f"sqlite:///{tmp / 'collector.db'}"
        return
    from tests.collector.pg import running_postgres

    with running_postgres() as server:
        yield server.create_database("sentinelle_fuzz")


def rss_mib() -> float:
    return float(psutil.Process(os.getpid()).memory_info().rss) / (1 << 20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutations", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--agents", type=int, default=32, help="hostile agents (one per push "
                        "of a round)")
    parser.add_argument("--postgres", action="store_true", help="store in a throwaway "
                        "PostgreSQL instead of SQLite")
    parser.add_argument("--time-limit", type=float, default=4 * 3600.0)
    parser.add_argument("--examples", type=int, default=20, help="failures shown per kind")
    args = parser.parse_args()
    promtool = "/usr/bin/promtool" if os.path.exists("/usr/bin/promtool") else "promtool"
    with tempfile.TemporaryDirectory() as tmp, store_url(Path(tmp), args.postgres) as url, \
            running_collector(Path(tmp), store_url=url,
                              rate_limit=RateLimit(per_second=1e6, burst=1_000_000)) as c:
        campaign = Campaign(c, args.seed, promtool, hostile_agents=args.agents,
                            log=lambda line: print(f"{line}, RSS {rss_mib():.0f} MiB",
                                                   flush=True))
        campaign.setup()
        before = rss_mib()
        print(f"seed {args.seed}: {args.mutations} mutations, {args.agents} hostile agents, "
              f"store {url.split(':')[0]}; RSS before {before:.0f} MiB", flush=True)
        try:
            result = campaign.run(args.mutations, time_limit=args.time_limit,
                                  progress_every=30.0)
        finally:
            campaign.close()
        after = rss_mib()
        c.service.take_snapshots()
        started = time.monotonic()
        monthly = build_monthly(url, Path(tmp) / "monthly")
        monthly_seconds = time.monotonic() - started
    print(result.report(examples=args.examples))
    print(f"RSS of the collector's process: {before:.0f} MiB before, {after:.0f} MiB after "
          f"({after - before:+.0f} MiB)")
    print("accepted, a few per family:")
    for family, names in sorted(result.accepted_examples.items()):
        print(f"  {family}: " + "; ".join(names[:3]))
    pages = ", ".join(f"{code}: {'page' if made else 'FAILED ' + text[:200]}"
                      for code, (made, text) in sorted(monthly.pages.items()))
    print(f"monthly report ({monthly.how}, {monthly_seconds:.1f} s): {monthly.error or pages}")
    good_page = monthly.pages.get(GOOD_COMMUNE[0], (False, ""))[0]
    return 0 if not result.failures and good_page and not monthly.error else 1


if __name__ == "__main__":
    sys.exit(main())
