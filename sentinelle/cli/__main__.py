"""`python3 -m sentinelle.cli …`, the same as the `sentinelle` console script."""

from __future__ import annotations

import sys

from sentinelle.cli import main

if __name__ == "__main__":
    sys.exit(main())
