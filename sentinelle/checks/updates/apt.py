"""APT's effective configuration and sources, as apt itself reads them.

`apt-config dump` prints the configuration after every apt.conf.d file is merged (the last
value wins, as for apt-get), and `apt-get indextargets --no-release-info` every source of
sources.list, sources.list.d/*.list and deb822 *.sources, parsed by apt (Enabled: no, Types,
several suites per stanza). On a fixture tree or a mounted image, apt must read that tree's
/etc/apt from the start: `-o Dir=` comes too late for apt.conf.d (read before the command
line), so APT_CONFIG points at a one-line file that sets Dir first.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sentinelle.checks.patching.commands import ToolFailed

if TYPE_CHECKING:
    from sentinelle.host import Host

APT_CONFIG_ARGV = ("apt-config", "dump")
INDEXTARGETS_ARGV = ("apt-get", "indextargets", "--no-release-info",
                     "--format", "$(TARGET_OF)\t$(SITE)\t$(RELEASE)")
# unattended-upgrades' own defaults for where it logs (Unattended-Upgrade::LogDir, ::LogFile).
UNATTENDED_LOG_DIR = "/var/log/unattended-upgrades/"
UNATTENDED_LOG_FILE = "unattended-upgrades.log"
# The end of the log read for the last run: a run writes a few lines, a day's runs far less.
LOG_TAIL_BYTES = 256 << 10
_DUMP_LINE = re.compile(r'^(?P<key>\S+) "(?P<value>(?:[^"\\]|\\.)*)";$')
_LOG_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})")


@contextmanager
def apt_environment(host: Host) -> Iterator[Mapping[str, str] | None]:
    """The environment that makes apt read the host's tree (None on the live system)."""
    if host.is_live:
        yield None
        return
    # Only a temporary file of the agent's own: the inspected tree is not written.
    with tempfile.TemporaryDirectory(prefix="sentinelle-apt-") as tmp:
        conf = os.path.join(tmp, "apt.conf")
        with open(conf, "w", encoding="utf-8") as handle:
            handle.write(f'Dir "{host.root.resolve()}/";\n')
        yield {"APT_CONFIG": conf}


def parse_config_dump(text: str) -> dict[str, list[str]]:
    """`apt-config dump` as key -> values (lists such as Origins-Pattern have several)."""
    values: dict[str, list[str]] = {}
    for line in text.splitlines():
        match = _DUMP_LINE.match(line.strip())
        if not match:
            continue
        key = match["key"]
        value = match["value"].replace('\\"', '"')
        if key.endswith("::"):
            items = values.setdefault(key[:-2], [])
            if items == [""]:
                items.clear()  # the list's own `Key "";` line, not an entry
            items.append(value)
        else:
            values[key] = [value]  # a later file's value replaces an earlier one
    return values


def _run(host: Host, argv: tuple[str, ...], timeout: float) -> str:
    with apt_environment(host) as env:
        result = host.run(argv, timeout=timeout, env=env)
    if not result.ok:
        detail = " / ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
        raise ToolFailed(" ".join(argv[:2]), result.returncode, detail)
    return result.stdout


def apt_config(host: Host, timeout: float) -> dict[str, list[str]]:
    """The effective APT configuration; CommandError when apt-config cannot answer."""
    return parse_config_dump(_run(host, APT_CONFIG_ARGV, timeout))


@dataclass(frozen=True)
class Source:
    """One binary-package source as apt reads it."""

    site: str
    suite: str


def parse_index_targets(text: str) -> list[Source]:
    """The `deb` sources of `apt-get indextargets` (one line per index: deduplicated)."""
    found: dict[tuple[str, str], Source] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[0] == "deb":
            found.setdefault((parts[1], parts[2]), Source(parts[1], parts[2]))
    return list(found.values())


def apt_sources(host: Host, timeout: float) -> list[Source]:
    """Every enabled binary source; CommandError when apt cannot read them."""
    return parse_index_targets(_run(host, INDEXTARGETS_ARGV, timeout))


def is_security_suite(suite: str, codename: str) -> bool:
    """A security archive for this release: `bookworm-security` (Debian 11+, Ubuntu),
    `buster/updates` (Debian 10 and older). Any release when the codename is unknown."""
    if codename and not suite.startswith(codename):
        return False
    return suite.endswith("-security") or suite.endswith("/updates")


def last_logged_run(text: str) -> datetime | None:
    """The time of the last line unattended-upgrades logged (local time, naive)."""
    for line in reversed(text.splitlines()):
        match = _LOG_TIME.match(line)
        if match:
            try:
                return datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S")
            except ValueError:
                continue
    return None
