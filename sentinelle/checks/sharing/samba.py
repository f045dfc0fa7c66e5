"""Samba's effective settings: `testparm -s -v FILE` (every parameter, defaults included,
after Samba's own parser has applied synonyms, inverted synonyms and the installed version's
defaults), read into [global] and one mapping per share.

With -v, [global] also lists the default of every share-level parameter; a share prints only
what it changes, so a share's effective value is its own, else the one in [global].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sentinelle.errors import CommandError, CommandNotFound, CommandTimeout

if TYPE_CHECKING:
    from sentinelle.host import Host

SMB_CONF = "/etc/samba/smb.conf"
SMBD = "/usr/sbin/smbd"
TESTPARM_TIMEOUT_SECONDS = 20.0
# A few hundred lines for [global], a few per share: a bigger output is not testparm's.
MAX_OUTPUT_BYTES = 4 << 20
MAX_SHARES = 512
# SMB dialects from oldest to newest, as Samba names them (smb.conf(5), "server max
# protocol"); SMB2 and SMB3 are Samba's aliases of SMB2_10 and SMB3_11.
PROTOCOLS = ("CORE", "COREPLUS", "LANMAN1", "LANMAN2", "NT1", "SMB2_02", "SMB2_10",
             "SMB2_22", "SMB2_24", "SMB3_00", "SMB3_02", "SMB3_10", "SMB3_11")
ALIASES = {"SMB2": "SMB2_10", "SMB3": "SMB3_11"}


class SambaUnseen(Exception):
    """testparm could not answer: `case` names the catalog message, `values` its arguments."""

    def __init__(self, case: str, values: dict[str, str], reason: str) -> None:
        super().__init__(reason)
        self.case = case
        self.values = values
        self.reason = reason


@dataclass(frozen=True)
class SambaConfig:
    """What testparm printed: [global] and the shares, in the file's order."""

    path: str
    globals: dict[str, str]
    shares: dict[str, dict[str, str]] = field(default_factory=dict)

    def share_value(self, share: str, name: str) -> str:
        return self.shares[share].get(name, self.globals.get(name, ""))


def protocol_rank(value: str) -> int | None:
    """Where a dialect stands in PROTOCOLS; None for a value Samba would not accept."""
    name = ALIASES.get(value.upper(), value.upper())
    return PROTOCOLS.index(name) if name in PROTOCOLS else None


def parse_testparm(text: str, path: str) -> SambaConfig:
    """The sections of `testparm -s -v` output (`[name]` lines, then `\\tkey = value`)."""
    globals_: dict[str, str] = {}
    shares: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            name = stripped[1:-1]
            if name.lower() == "global":
                current = globals_
            elif len(shares) < MAX_SHARES:
                current = shares.setdefault(name, {})
            else:
                current = None
            continue
        if current is not None and "=" in stripped:
            key, value = stripped.split("=", 1)
            current[" ".join(key.split()).lower()] = value.strip()
    return SambaConfig(path, globals_, shares)


def read_samba(host: Host) -> SambaConfig:
    """The effective configuration of the host's smb.conf; SambaUnseen when there is no
    Samba server, no testparm, or testparm refuses the file."""
    if not host.exists(SMB_CONF):
        raise SambaUnseen("no_samba", {"path": SMB_CONF}, f"no {SMB_CONF}")
    if not host.exists(SMBD):
        # samba-common alone ships smb.conf (clients read it): nothing serves the shares.
        raise SambaUnseen("no_server", {"path": SMB_CONF},
                          f"{SMB_CONF} exists but no Samba server ({SMBD}) is installed")
    argv = ["testparm", "-s", "-v", str(host.path(SMB_CONF))]
    try:
        result = host.run(argv, timeout=TESTPARM_TIMEOUT_SECONDS)
    except CommandNotFound as exc:
        raise SambaUnseen("no_testparm", {"path": SMB_CONF},
                          "testparm is not installed (samba-common-bin)") from exc
    except CommandTimeout as exc:
        raise SambaUnseen("testparm_failed", {"path": SMB_CONF}, str(exc)) from exc
    except CommandError as exc:
        raise SambaUnseen("testparm_failed", {"path": SMB_CONF}, str(exc)) from exc
    if result.returncode != 0:
        detail = " | ".join(result.stderr.strip().splitlines()[-3:])[:400]
        raise SambaUnseen("testparm_failed", {"path": SMB_CONF},
                          f"testparm exited {result.returncode}: {detail}")
    if len(result.stdout.encode("utf-8", errors="replace")) > MAX_OUTPUT_BYTES:
        raise SambaUnseen("testparm_failed", {"path": SMB_CONF},
                          f"testparm printed more than {MAX_OUTPUT_BYTES} bytes")
    config = parse_testparm(result.stdout, SMB_CONF)
    if not config.globals:
        raise SambaUnseen("testparm_failed", {"path": SMB_CONF},
                          "testparm printed no [global] section")
    return config
