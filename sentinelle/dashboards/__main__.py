"""`python -m sentinelle.dashboards build|check|push`, the same as `sentinelle dashboards …`
(the same parser, errors and exit statuses: it is that command)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from sentinelle.cli import main as sentinelle_main


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # Accept both `python -m sentinelle.dashboards build` and `… dashboards build`.
    if args[:1] != ["dashboards"]:
        args.insert(0, "dashboards")
    return sentinelle_main(args)


if __name__ == "__main__":
    sys.exit(main())
