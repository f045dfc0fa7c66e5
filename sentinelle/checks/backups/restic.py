"""restic repositories: `restic snapshots --json`, sizes from `restic stats` of one snapshot.

restic 0.14 has no size in its snapshot list (the summary arrived in 0.17), so the size of a
snapshot is `stats --mode restore-size SNAPSHOT`: the total of its files, what a restore would
write. It walks the snapshot's trees (cached), about as fast as listing the snapshots, and is
only run for the snapshots a check asks about.

Every command runs with --no-lock: reading never writes a lock into the repository, so a
read-only mount works and a running backup is not disturbed. restic keeps its cache under the
agent's own state directory, never in the cache of the user who runs the backups.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentinelle.checks.backups.listing import (
    Backup,
    Listing,
    check_local_repository,
    check_password_file,
    local_path,
    parse_json,
    parse_time,
    run_tool,
    unexpected_output,
)

if TYPE_CHECKING:
    from sentinelle.config import BackupLocation
    from sentinelle.host import Host


def restic_base_argv(host: Host, location: BackupLocation, cache_dir: Path | None) -> list[str]:
    """`restic -r REPO ...` with the options every read shares."""
    check_local_repository(host, location)
    argv = ["restic", "-r", local_path(host, location.path), "--no-lock", "--json"]
    password = check_password_file(host, location)
    # Without a password file restic reads standard input, which is empty: it then fails with
    # "an empty password is not a password" instead of waiting.
    if password is not None:
        argv += ["--password-file", password]
    argv += ["--cache-dir", str(cache_dir)] if cache_dir is not None else ["--no-cache"]
    return argv


def _series(snapshot: dict[str, Any]) -> str:
    # restic's own notion of "the same backup": same host, same paths (as `forget` groups them).
    paths = ",".join(sorted(str(p) for p in snapshot.get("paths") or ()))
    return f"{snapshot.get('hostname', '')}:{paths}"


def parse_snapshots(text: str) -> list[Backup]:
    """Backups from `restic snapshots --json` output."""
    data = parse_json("restic", text, "restic snapshots")
    if data is None:
        return []
    if not isinstance(data, list):
        raise unexpected_output("restic snapshots", "expected a JSON list, got", data)
    backups = []
    for snap in data:
        try:
            backups.append(
                Backup(
                    name=str(snap.get("short_id") or str(snap["id"])[:8]),
                    time=parse_time(str(snap["time"])),
                    series=_series(snap),
                    ref=str(snap["id"]),
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise unexpected_output("restic snapshots", "unexpected entry", snap) from exc
    return backups


def parse_stats(text: str) -> int:
    """The restore size from `restic stats --json` output."""
    data = parse_json("restic", text, "restic stats")
    try:
        return int(data["total_size"])
    except (KeyError, TypeError, ValueError) as exc:
        raise unexpected_output("restic stats", "no total_size in", text) from exc


def list_restic(host: Host, location: BackupLocation, cache_dir: Path | None) -> Listing:
    """The snapshots of a restic repository (sizes measured on demand)."""
    base = restic_base_argv(host, location, cache_dir)
    backups = parse_snapshots(run_tool(host, [*base, "snapshots"]))

    def size(on: Host, backup: Backup) -> int:
        return parse_stats(run_tool(on, [*base, "stats", "--mode", "restore-size", backup.ref]))

    return Listing(location, backups, size)
