"""The privileges this agent process holds, for checks that cannot see everything without them.

The packaged agent runs as the unprivileged `sentinelle` user with only the capabilities its
checks need (docs/agent.md). When a read is refused and the agent lacks the capability that
would allow it, the check says `skip` and names that capability, instead of reporting what it
could not see as "nothing there". These describe the agent itself, not the inspected tree, so
they read this process's /proc/self/status, never a path under the Host root.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

# Bit numbers from linux/capability.h.
CAPABILITIES = {
    "CAP_DAC_READ_SEARCH": 2,
    "CAP_NET_ADMIN": 12,
    "CAP_NET_RAW": 13,
    "CAP_SYS_PTRACE": 19,
}


def effective_capabilities() -> int | None:
    """The effective capability mask of this process; None when it cannot be read."""
    try:
        text = Path("/proc/self/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("CapEff:"):
            try:
                return int(line.split(":", 1)[1].strip(), 16)
            except ValueError:
                return None
    return None


def missing(*names: str) -> list[str]:
    """Those of `names` (CAP_… names) that this process lacks; [] when unknown (not Linux)."""
    mask = effective_capabilities()
    if mask is None:
        return []
    return [name for name in names if not mask >> CAPABILITIES[name] & 1]


def process_user() -> str:
    """The name (else the uid) of the user this agent runs as."""
    if sys.platform == "win32":
        import getpass

        return getpass.getuser()
    uid = os.geteuid()
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)


def lacking_reason(capabilities: list[str], needed_to: str) -> str:
    """Who the agent runs as and which privilege it lacks, for a skip finding's evidence (its
    sentence for people is a catalog message filled with `lacking_args`)."""
    them = "them" if len(capabilities) > 1 else "it"
    return (
        f"the agent runs as {process_user()} without {' and '.join(capabilities)}, needed to "
        f"{needed_to}; the packaged service has {them} (docs/agent.md)"
    )


def lacking_args(capabilities: list[str]) -> dict[str, Any]:
    """The same as catalog arguments: `user` (who the agent runs as) and `capabilities`."""
    return {"user": process_user(), "capabilities": list(capabilities)}
