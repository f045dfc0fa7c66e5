"""The only way a check reads the system: a root path, a command runner and a clock.

Like node_exporter's `--path.rootfs`, every file read goes through `Host.path`, so the same check
runs on this machine, on a fixture tree in the tests, or on a mounted image.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sentinelle.errors import CommandError, CommandNotFound, CommandTimeout

DEFAULT_COMMAND_TIMEOUT = 30.0
# Commands run with a fixed, minimal environment: C locale so outputs parse the same everywhere.
_BASE_ENV = {"LC_ALL": "C", "LANG": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
# The operating systems a check can be written for (Check.platforms, Host.platform).
PLATFORMS = frozenset({"linux", "windows"})


def this_platform() -> str:
    """The platform of the machine the agent runs on."""
    return "windows" if sys.platform == "win32" else "linux"


@dataclass(frozen=True)
class CommandResult:
    """What a command printed and how it ended."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration_seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0


Runner = Callable[[Sequence[str], float, Mapping[str, str] | None], CommandResult]


def subprocess_runner(
    argv: Sequence[str], timeout: float, env: Mapping[str, str] | None
) -> CommandResult:
    """Run a program without a shell, with a timeout, and capture its output."""
    if sys.platform == "win32":
        # Windows programs need the machine's environment (SystemRoot, TEMP, PSModulePath);
        # locales do not come from LANG there: the collectors ask for UTF-8 themselves.
        full_env = dict(os.environ)
    else:
        full_env = dict(_BASE_ENV)
    if env:
        full_env.update(env)
    program = argv[0]
    if ("/" not in program and "\\" not in program
            and shutil.which(program, path=full_env.get("PATH")) is None):
        raise CommandNotFound(f"{program}: not installed")
    started = time.monotonic()
    try:
        proc = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            # Windows would decode with the ANSI code page; the collectors print UTF-8.
            encoding="utf-8" if sys.platform == "win32" else None,
            errors="replace",
            timeout=timeout,
            env=full_env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise CommandTimeout(f"{' '.join(argv)}: no answer after {timeout:g} s") from exc
    except FileNotFoundError as exc:
        raise CommandNotFound(f"{program}: not installed") from exc
    except OSError as exc:
        raise CommandError(f"{program}: {exc}") from exc
    return CommandResult(
        tuple(argv), proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started
    )


class Host:
    """The inspected system as checks see it."""

    def __init__(
        self,
        root: str | Path = "/",
        runner: Runner = subprocess_runner,
        clock: Callable[[], datetime] | None = None,
        platform: str | None = None,
    ) -> None:
        """`platform`: "linux" or "windows", the inspected system's; by default this
        machine's (a fixture tree of another system, or a replayed capture, says which)."""
        self.root = Path(root)
        self._runner = runner
        self._clock = clock or (lambda: datetime.now(UTC))
        self.platform = platform or this_platform()
        if self.platform not in PLATFORMS:
            raise ValueError(f"platform must be one of {sorted(PLATFORMS)}, got {self.platform!r}")

    @property
    def is_windows(self) -> bool:
        return self.platform == "windows"

    @property
    def is_live(self) -> bool:
        """True when the root is this machine's own `/`: commands and /proc describe it."""
        return self.root.resolve() == Path("/")

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        return self._clock()

    def path(self, path: str | Path) -> Path:
        """An absolute path of the inspected system, mapped under the root."""
        rel = str(path).lstrip("/")
        return self.root / rel if rel else self.root

    def exists(self, path: str | Path) -> bool:
        return self.path(path).exists()

    def read_text(self, path: str | Path, default: str | None = None) -> str:
        """Read a text file of the inspected system; `default` if given and the file is missing."""
        try:
            return self.path(path).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            if default is not None:
                return default
            raise

    def mtime(self, path: str | Path) -> datetime | None:
        """Modification time of a file, or None when it does not exist."""
        try:
            return datetime.fromtimestamp(self.path(path).stat().st_mtime, UTC)
        except FileNotFoundError:
            return None

    def glob(self, directory: str | Path, pattern: str) -> Iterator[Path]:
        """Files under `directory` matching `pattern`, as real paths under the root."""
        base = self.path(directory)
        if base.is_dir():
            yield from base.glob(pattern)

    def which(self, program: str) -> str | None:
        """Where a program is installed on this machine (commands always run on the live host)."""
        return shutil.which(
            program, path=_BASE_ENV["PATH"] + os.pathsep + os.environ.get("PATH", "")
        )

    def run(
        self,
        argv: Sequence[str],
        timeout: float = DEFAULT_COMMAND_TIMEOUT,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        """Run a program (no shell) with a timeout; raises CommandError subclasses."""
        return self._runner(argv, timeout, env)
