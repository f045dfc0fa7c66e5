"""borg repositories: `borg list --json`, sizes from `borg info --json REPO::ARCHIVE`.

Every command runs with --bypass-lock (reading writes no lock into the repository, so a
read-only mount works and a running backup is not disturbed) and with TZ=UTC, because borg 1.x
prints archive times in local time without an offset. borg's cache and security directories live
under the agent's own state directory: `borg info` rebuilds a chunks cache, and sharing the one of
a backup job that runs at the same time could damage it. Keys (keyfile mode) stay where borg
looks for them by default.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from sentinelle.checks.backups.listing import (
    Backup,
    Listing,
    check_local_repository,
    check_password_file,
    local_path,
    parse_json,
    parse_time,
    run_tool,
    series_of_name,
    unexpected_output,
)

if TYPE_CHECKING:
    from sentinelle.config import BackupLocation
    from sentinelle.host import Host


def borg_env(host: Host, location: BackupLocation, cache_dir: Path | None) -> dict[str, str]:
    """The environment of every borg command for this location."""
    env = {
        "TZ": "UTC",
        # The agent reads repositories it did not create: borg must not stop to ask whether a
        # moved or unencrypted repository is trusted (standard input is empty: it would refuse).
        "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes",
        "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes",
    }
    check_local_repository(host, location)
    password = check_password_file(host, location)
    if password is not None:
        # borg runs the command itself: the passphrase never passes through the agent.
        env["BORG_PASSCOMMAND"] = "cat " + shlex.quote(password)
    else:
        # Never let borg prompt on a terminal: an encrypted repository fails with "incorrect".
        env["BORG_PASSPHRASE"] = ""
    if cache_dir is not None:
        env["BORG_CACHE_DIR"] = str(cache_dir / "cache")
        env["BORG_SECURITY_DIR"] = str(cache_dir / "security")
    return env


def parse_archives(text: str) -> list[Backup]:
    """Backups from `borg list --json` output (times printed in UTC, see borg_env)."""
    data = parse_json("borg", text, "borg list")
    if not isinstance(data, dict) or not isinstance(data.get("archives"), list):
        raise unexpected_output("borg list", "expected a JSON object with an archives list, got",
                                data)
    backups = []
    for archive in data["archives"]:
        try:
            name = str(archive["name"])
            backups.append(
                Backup(
                    name=name,
                    time=parse_time(str(archive.get("start") or archive["time"])),
                    series=series_of_name(name),
                    ref=name,
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise unexpected_output("borg list", "unexpected entry", archive) from exc
    return backups


def parse_info_size(text: str) -> int:
    """The original (uncompressed) size of the archive in `borg info --json` output."""
    data = parse_json("borg", text, "borg info")
    try:
        return int(data["archives"][0]["stats"]["original_size"])
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise unexpected_output("borg info", "no archive size in", text) from exc


def list_borg(host: Host, location: BackupLocation, cache_dir: Path | None) -> Listing:
    """The archives of a borg repository (sizes measured on demand)."""
    repo = local_path(host, location.path)
    env = borg_env(host, location, cache_dir)
    backups = parse_archives(run_tool(host, ["borg", "list", "--json", "--bypass-lock", repo], env))

    def size(on: Host, backup: Backup) -> int:
        argv = ["borg", "info", "--json", "--bypass-lock", f"{repo}::{backup.ref}"]
        return parse_info_size(run_tool(on, argv, env))

    return Listing(location, backups, size)
