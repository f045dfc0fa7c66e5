"""A real, throwaway PostgreSQL server for the collector's tests.

`running_postgres()` runs initdb into a fresh temporary directory, starts the server with pg_ctl on
a free 127.0.0.1 port, yields a `PostgresServer`, and always stops it and removes its files.
PostgreSQL refuses to run as root, so under root the server runs as Debian's `postgres` user
(created by the `postgresql` package) and its directory belongs to that user.

Host connections need a password (scram-sha-256), so tests also exercise authentication; the
unix socket stays in the temporary directory so it never clashes with a system cluster.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "sentinelle"
START_TIMEOUT = 30  # seconds, for pg_ctl start and stop


def find_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl, newest PostgreSQL first; None when absent.

    Debian keeps them out of PATH, under /usr/lib/postgresql/VERSION/bin.
    """
    candidates: list[Path] = []
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        versions = [p for p in root.iterdir() if p.name.isdigit()]
        candidates += [p / "bin" for p in sorted(versions, key=lambda p: int(p.name), reverse=True)]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for cand in candidates:
        if (cand / "initdb").is_file() and (cand / "pg_ctl").is_file():
            return cand
    return None


def missing_prerequisite() -> str | None:
    """Why a server cannot be started here, or None when it can."""
    if find_bindir() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root needs the 'postgres' user (apt-get install postgresql)"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """A started throwaway server: its port, superuser password and data directory."""

    bindir: Path
    base: Path
    port: int
    password: str
    _as_user: tuple[str, ...]

    @property
    def datadir(self) -> Path:
        return self.base / "data"

    def url(self, dbname: str = "postgres", password: str | None = None) -> str:
        pw = self.password if password is None else password
        return f"postgresql://{SUPERUSER}:{pw}@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *argv: str, timeout: float = START_TIMEOUT + 10) -> None:
        # cwd: the server user may not be allowed into the caller's directory.
        proc = subprocess.run(
            [*self._as_user, *argv],
            cwd=self.base,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"{Path(argv[0]).name} failed ({proc.returncode}): {proc.stderr.strip()}\n"
                + self.log_tail()
            )

    def log_tail(self, lines: int = 30) -> str:
        log = self.base / "server.log"
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def start(self) -> None:
        self._run(
            str(self.bindir / "pg_ctl"),
            "start",
            "-w",
            "-t",
            str(START_TIMEOUT),
            "-D",
            str(self.datadir),
            "-l",
            str(self.base / "server.log"),
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; mode "immediate" is a crash: no checkpoint, recovery at next start."""
        self._run(
            str(self.bindir / "pg_ctl"), "stop", "-w", "-t", str(START_TIMEOUT),
            "-m", mode, "-D", str(self.datadir),
        )  # fmt: skip

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def is_running(self) -> bool:
        return (self.datadir / "postmaster.pid").exists()

    def kill(self) -> None:
        """Last resort when pg_ctl stop failed: signal the postmaster this helper started."""
        pidfile = self.datadir / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pidfile.read_text().splitlines()[0])
            os.kill(pid, signal.SIGQUIT)
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.05)

    def execute(self, sql: str, dbname: str = "postgres") -> None:
        """Run one statement as the superuser, outside any transaction (CREATE DATABASE...)."""
        import psycopg

        with psycopg.connect(self.url(dbname), autocommit=True) as conn:
            conn.execute(sql.encode())

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"unsafe database name {name!r}")
        self.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _world_traversable(path: Path) -> bool:
    return all(p.stat().st_mode & 0o001 for p in (path, *path.parents))


@contextlib.contextmanager
def running_postgres(attempts: int = 3) -> Iterator[PostgresServer]:
    """Start a throwaway server; stop it and delete its files however the caller ends."""
    why = missing_prerequisite()
    if why is not None:
        raise RuntimeError(why)
    bindir = find_bindir()
    assert bindir is not None
    # Not under pytest's tmp_path: that tree is private to root, and the server user must reach it.
    parent = Path(tempfile.gettempdir())
    if os.geteuid() == 0 and not _world_traversable(parent):
        parent = Path("/tmp")
    base = Path(tempfile.mkdtemp(prefix="sentinelle-pg-", dir=parent))
    as_user: tuple[str, ...] = ()
    if os.geteuid() == 0:
        as_user = ("runuser", "-u", "postgres", "--")
        entry = pwd.getpwnam("postgres")
        os.chown(base, entry.pw_uid, entry.pw_gid)
    base.chmod(0o700)
    password = secrets.token_urlsafe(12)
    server = PostgresServer(bindir, base, 0, password, as_user)
    try:
        pwfile = base / "pw"
        pwfile.write_text(password + "\n")
        if as_user:
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        server._run(
            str(bindir / "initdb"), "-D", str(server.datadir), "-U", SUPERUSER,
            f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256",
            "-E", "UTF8", "--no-locale", "--no-sync",
        )  # fmt: skip
        pwfile.unlink()
        conf = server.datadir / "postgresql.conf"
        base_conf = conf.read_text()
        # A free port can be taken between the probe and the bind: retry on a new one.
        for attempt in range(attempts):
            server.port = free_port()
            conf.write_text(
                base_conf
                + f"\nport = {server.port}\nlisten_addresses = '127.0.0.1'\n"
                + f"unix_socket_directories = '{base}'\n"
            )
            try:
                server.start()
                break
            except RuntimeError:
                if attempt == attempts - 1:
                    raise
        yield server
    finally:
        try:
            if server.is_running():
                server.stop()
        except (RuntimeError, subprocess.TimeoutExpired):
            server.kill()
        finally:
            shutil.rmtree(base, ignore_errors=True)
