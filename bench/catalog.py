"""The local catalog the benchmarks run: every check of this platform (Python and declarative)
except those that scan other machines."""

from __future__ import annotations

# The network-facing checks are not part of the local catalog: they probe other machines.
NETWORK_CHECKS = ("ports.network_scan", "lan.")


def local_catalog() -> list[str]:
    from sentinelle.checks.base import registry
    from sentinelle.host import this_platform
    from sentinelle.rules import load_rules

    platform = this_platform()
    ids = {cid for cid, cls in registry().items() if platform in cls.platforms}
    ids |= set(load_rules().policies)
    return sorted(cid for cid in ids if not cid.startswith(NETWORK_CHECKS))
