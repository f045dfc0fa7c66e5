"""`python -m sentinelle.dashboards build|check|push`, same as `sentinelle dashboards …`."""

from __future__ import annotations

import argparse
import sys

from sentinelle.dashboards.cli import add_dashboards_parser, run_dashboards
from sentinelle.errors import SentinelleError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sentinelle.dashboards")
    sub = parser.add_subparsers(dest="command", required=True)
    add_dashboards_parser(sub)
    # Accept both `python -m sentinelle.dashboards build` and `… dashboards build`.
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or args_list[0] != "dashboards":
        args_list.insert(0, "dashboards")
    args = parser.parse_args(args_list)
    try:
        return run_dashboards(args)
    except SentinelleError as err:
        print(f"erreur : {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
