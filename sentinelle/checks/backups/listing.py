"""What the backups checks know about one location: its backups, oldest first, and their sizes.

Each reader (directory, restic, borg) turns a location into a `Listing`.
Sizes are asked for lazily and memoized, because measuring a restic snapshot or a borg archive
costs one more run of the tool, and only some checks need it.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentinelle.checks.privileges import lacking_args, lacking_reason, missing
from sentinelle.errors import CommandError, CommandNotFound, CommandTimeout, SentinelleError

if TYPE_CHECKING:
    from sentinelle.config import BackupLocation
    from sentinelle.host import Host

# Listing a repository or measuring one snapshot normally takes about a second; a minute leaves
# room for a slow NAS while staying inside the runner's per-check timeout.
COMMAND_TIMEOUT_SECONDS = 60.0
# Tool messages go into evidence: keep the end (where restic and borg say what went wrong).
MAX_MESSAGE_CHARS = 400

_DIGITS = re.compile(r"\d+")
# restic prints nanoseconds; datetime keeps microseconds.
_FRACTION = re.compile(r"(\.\d{6})\d+")


class BackupReadError(SentinelleError):
    """A location could not be read: missing directory, unreachable repository, wrong password.

    `case` names the sentence people read (the `unreadable_<case>` messages of
    rules/checks/backups.yaml) and `values` its arguments; str() is the English detail kept in
    the finding's evidence and the logs.
    """

    def __init__(self, text: str, case: str, **values: Any) -> None:
        super().__init__(text)
        self.case = case
        self.values = values

    def again(self) -> BackupReadError:
        """A fresh exception of the same kind, case and values (a remembered failure)."""
        return type(self)(str(self), self.case, **self.values)


class BackupAccessDenied(BackupReadError):
    """The location is refused to this agent for lack of a privilege: its checks say skip."""

    def __init__(self, text: str, case: str = "denied", **values: Any) -> None:
        super().__init__(text, case, **values)


def ensure_readable(real: Path, shown: str, path: str) -> None:
    """Raise BackupAccessDenied when `real` is refused and the agent lacks the privilege to read
    it, BackupReadError when it is refused anyway; other errors are left to the reader.
    `shown` says what it is in the evidence ("directory /srv/backup"), `path` is the path."""
    try:
        if real.is_dir():
            with os.scandir(real):
                pass
        elif real.exists():
            # A FIFO must not block (Windows has neither FIFOs nor O_NONBLOCK).
            os.close(os.open(real, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)))
    except PermissionError as exc:
        lacking = missing("CAP_DAC_READ_SEARCH")
        if lacking:
            reason = lacking_reason(lacking, "read what only its owner may read")
            raise BackupAccessDenied(
                f"{shown} is not readable: {reason}", path=path, **lacking_args(lacking)
            ) from exc
        raise BackupReadError(
            f"cannot read {shown}: permission denied", "permission", path=path
        ) from exc
    except OSError:
        pass


@dataclass(frozen=True)
class Backup:
    """One backup: a file of a directory location, a restic snapshot or a borg archive."""

    name: str  # what a person recognises: relative file path, snapshot short id, archive name
    time: datetime  # tz-aware UTC
    series: str  # backups of the same series are compared with each other (size_change)
    size: int | None = None  # known without running a tool (directory files)
    ref: str = ""  # what the tool needs to measure it (full snapshot id, archive name)


def series_of_name(name: str) -> str:
    """Series key of a file or archive name: the name with its dates and counters ignored.

    mairie-2026-11-27.tar.gz and mairie-2026-11-28.tar.gz are one series; db-2026-11-28.sql.gz is
    another, so a small database dump is never compared with a large file archive.
    """
    return _DIGITS.sub("#", name)


def parse_time(text: str) -> datetime:
    """An RFC 3339 time from restic or borg, as tz-aware UTC (naive times are taken as UTC)."""
    value = _FRACTION.sub(r"\1", text.strip().replace("Z", "+00:00"))
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


class Listing:
    """The backups of one location, oldest first, with memoized sizes.

    The sizer gets the Host at each call rather than keeping it: a Listing is cached per Host
    (reader), and must not keep its own Host alive.
    """

    def __init__(
        self,
        location: BackupLocation,
        backups: Sequence[Backup],
        sizer: Callable[[Host, Backup], int] | None = None,
    ) -> None:
        self.location = location
        self.backups = tuple(sorted(backups, key=lambda b: (b.time, b.name)))
        self._sizer = sizer
        self._sizes: dict[str, int | BackupReadError] = {}
        self._lock = threading.Lock()

    @property
    def newest(self) -> Backup | None:
        return self.backups[-1] if self.backups else None

    def previous_in_series(self, backup: Backup) -> Backup | None:
        """The newest other backup of the same series, not newer than `backup`."""
        for candidate in reversed(self.backups):
            if (
                candidate is not backup
                and candidate.series == backup.series
                and candidate.time <= backup.time
            ):
                return candidate
        return None

    def size(self, host: Host, backup: Backup) -> int:
        """Size of a backup in bytes; raises BackupReadError (remembered) when it cannot tell."""
        if backup.size is not None:
            return backup.size
        if self._sizer is None:
            raise BackupReadError(f"{self.location.kind} backups have no size", "no_size",
                                  kind=self.location.kind)
        key = backup.ref or backup.name
        # Held while measuring, so a second check waits for the first one's result instead of
        # running the same tool again.
        with self._lock:
            if key not in self._sizes:
                try:
                    self._sizes[key] = self._sizer(host, backup)
                except BackupReadError as exc:
                    self._sizes[key] = exc
            known = self._sizes[key]
        if isinstance(known, BackupReadError):
            raise known.again()
        return known


def local_path(host: Host, path: str) -> str:
    """A repository or file path as the tool must see it.

    Absolute paths belong to the inspected system and go through its root (a mounted image or a
    fixture tree); anything else (sftp:, rest:, s3:, ssh://, user@host:path) is remote, as is.
    """
    return str(host.path(path)) if path.startswith("/") else path


def check_password_file(host: Host, location: BackupLocation) -> str | None:
    """The password file as the tool must see it; raises when one is configured but missing."""
    if location.password_file is None:
        return None
    real = local_path(host, location.password_file)
    ensure_readable(Path(real), f"password file {location.password_file}",
                    location.password_file)
    if not Path(real).is_file():
        raise BackupReadError(f"password file {location.password_file} not found",
                              "password_missing", path=location.password_file)
    return real


def check_local_repository(host: Host, location: BackupLocation) -> None:
    """Refuse early a local repository this agent may not read (remote ones are the tool's)."""
    if location.path.startswith("/"):
        ensure_readable(Path(local_path(host, location.path)), f"repository {location.path}",
                        location.path)


def tool_message(stderr: str, stdout: str = "") -> str:
    """The useful end of what a tool printed when it failed."""
    text = "\n".join(line.strip() for line in (stderr or stdout).splitlines() if line.strip())
    if len(text) > MAX_MESSAGE_CHARS:
        text = "..." + text[-MAX_MESSAGE_CHARS:]
    return text or "no message"


def run_tool(host: Host, argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """Run restic or borg and return its standard output; any failure is a BackupReadError."""
    tool = argv[0]
    try:
        result = host.run(argv, timeout=COMMAND_TIMEOUT_SECONDS, env=env)
    except CommandNotFound as exc:
        raise BackupReadError(f"{tool} is not installed on this machine", "tool_missing",
                              tool=tool) from exc
    except CommandTimeout as exc:
        raise BackupReadError(
            f"{tool} did not answer within {COMMAND_TIMEOUT_SECONDS:g} s", "tool_timeout",
            tool=tool, seconds=COMMAND_TIMEOUT_SECONDS,
        ) from exc
    except CommandError as exc:
        raise BackupReadError(str(exc), "tool_error", tool=tool, detail=str(exc)) from exc
    if not result.ok:
        message = tool_message(result.stderr, result.stdout)
        raise BackupReadError(f"{tool} failed (exit {result.returncode}): {message}",
                              "tool_failed", tool=tool, code=result.returncode, detail=message)
    return result.stdout


def unexpected_output(command: str, problem: str, excerpt: object) -> BackupReadError:
    """A tool printed something this reader does not understand: `command` and an excerpt of
    it are the message's arguments, `problem` the English detail for the evidence."""
    shown = f"{excerpt!r:.200}" if not isinstance(excerpt, str) else repr(excerpt[:200])
    return BackupReadError(f"{command}: {problem} {shown}", "bad_output", command=command,
                           excerpt=shown)


def parse_json(tool: str, text: str, command: str = "") -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise unexpected_output(command or tool, f"output that is not JSON ({exc}):",
                                text) from exc
