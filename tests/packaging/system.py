"""Helpers of the packaging tests: build the packages, install them with apt, and run dpkg (or a
command) where systemd seems to run, with the systemctl stand-in (systemctl_standin.py)."""

from __future__ import annotations

import contextlib
import grp
import json
import os
import pwd
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import need, need_tool
from tests.packaging.systemctl_standin import unit_settings as standin_unit_settings

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "packaging/build-packages"
STANDIN = Path(__file__).resolve().parent / "systemctl_standin.py"
SYSTEM_PYTHON = Path("/usr/bin/python3")
APT = ["apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=300"]


def need_packaging_tools() -> None:
    need(os.geteuid() == 0, "needs root (installs packages, creates users)")
    for tool in ("dpkg-deb", "apt-get", "setpriv", "unshare", "systemd-analyze",
                 "deb-systemd-helper", "deb-systemd-invoke"):
        need_tool(tool)
    need(SYSTEM_PYTHON.exists(), "no /usr/bin/python3 (Debian's python3)")
    venv = subprocess.run([str(SYSTEM_PYTHON), "-c", "import ensurepip, venv"],
                          capture_output=True, check=False)
    need(venv.returncode == 0, "python3 -m venv needs Debian's python3-venv package")


def sh(argv: Sequence[str], timeout: float = 600, check: bool = True,
       env: Mapping[str, str] | None = None, **kwargs: object) -> subprocess.CompletedProcess[str]:
    # No standard input: a dpkg conffile question fails at once instead of waiting.
    result = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                            check=False, env=dict(env) if env is not None else None,
                            stdin=subprocess.DEVNULL, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{shlex.join(argv)} exited {result.returncode}\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def build(out: Path, package: str, fmt: str, revision: str) -> list[Path]:
    result = sh([str(SYSTEM_PYTHON), str(BUILD), "--package", package, "--format", fmt,
                 "--revision", revision, "--out", str(out)], timeout=900)
    return [Path(line) for line in result.stdout.splitlines() if line.startswith(str(out))]


def installed_version(package: str) -> str | None:
    result = sh(["dpkg-query", "-W", "-f=${Status} ${Version}", package], check=False)
    if result.returncode != 0 or not result.stdout.startswith("install ok installed"):
        return None
    return result.stdout.split()[-1]


def purge(*packages: str) -> None:
    present = [p for p in packages if sh(["dpkg-query", "-W", p], check=False).returncode == 0]
    if present:
        sh([*APT, "purge", *present])


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def owner(path: Path) -> tuple[str, str, int]:
    st = path.stat()
    return pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name, st.st_mode & 0o7777


def unit_settings(path: Path) -> dict[str, list[str]]:
    """The [Service] settings of a unit file (parsed as the stand-in parses them)."""
    return standin_unit_settings(path.name, (path.parent,))


def exposure(unit: Path) -> float:
    """`systemd-analyze security --offline` overall exposure of a unit file (0 best, 10 worst)."""
    result = sh(["systemd-analyze", "security", "--offline=yes", "--threshold=100", str(unit)],
                cwd="/tmp")
    for line in result.stdout.splitlines():
        if "Overall exposure level" in line:
            return float(line.split(":", 1)[1].split()[0])
    raise AssertionError(result.stdout[-2000:])


def as_service_user(user: str, capabilities: Sequence[str], argv: Sequence[str],
                    timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a command as `user` with only `capabilities` (CAP_… names), as the unit grants them."""
    caps = [c.lower().removeprefix("cap_") for c in capabilities]
    listed = ",".join("+" + c for c in caps)
    command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups"]
    command += [f"--inh-caps={listed}", f"--ambient-caps={listed}"] if caps else ["--inh-caps=-all"]
    command += ["--bounding-set=" + ",".join(["-all", *("+" + c for c in caps)]),
                "--no-new-privs", "--", *argv]
    return sh(command, timeout=timeout, check=False,
              env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}, cwd="/")


@dataclass
class SystemdStandin:
    """dpkg and commands run as if systemd were PID 1, with the systemctl stand-in.

    `run=True` makes the stand-in really start and stop the services (as their unit's user, with
    their capabilities); otherwise it only records what the maintainer scripts asked.
    """

    state: Path
    run: bool = False

    def __post_init__(self) -> None:
        self.bin = self.state / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        systemctl = self.bin / "systemctl"
        systemctl.write_text(f"#!/bin/sh\nexec {SYSTEM_PYTHON} {STANDIN} \"$@\"\n")
        systemctl.chmod(0o755)
        policy = self.state / "policy-rc.d"  # a container's policy-rc.d may forbid starting
        policy.write_text("#!/bin/sh\nexit 0\n")
        policy.chmod(0o755)

    def __call__(self, argv: Sequence[str], timeout: float = 600,
                 check: bool = True) -> subprocess.CompletedProcess[str]:
        script = (
            "set -e; mount -t tmpfs -o mode=0755 tmpfs /run/systemd; mkdir /run/systemd/system; "
            f"if [ -e /usr/sbin/policy-rc.d ]; then mount --bind {self.state}/policy-rc.d "
            "/usr/sbin/policy-rc.d; fi; exec \"$@\""
        )
        env = {**os.environ, "PATH": f"{self.bin}:/usr/sbin:/usr/bin:/sbin:/bin",
               "SENTINELLE_STANDIN_STATE": str(self.state), "DEBIAN_FRONTEND": "noninteractive",
               "SENTINELLE_STANDIN_RUN": "1" if self.run else "0"}
        argv = list(argv)
        if Path(argv[0]).name == "apt-get":  # apt runs dpkg with its own PATH (DPkg::Path)
            argv[1:1] = ["-o", f"DPkg::Path={env['PATH']}"]
        return sh(["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
                   script, "sh", *argv], timeout=timeout, check=check, env=env)

    def calls(self) -> list[list[str]]:
        path = self.state / "calls.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def actions(self, unit: str) -> list[str]:
        """The start/stop/restart verbs asked for `unit`, in order."""
        verbs = ("start", "stop", "restart", "try-restart")
        found = []
        for call in self.calls():
            words = [w for w in call if not w.startswith("-")]
            if words and words[0] in verbs and unit in words[1:]:
                found.append(words[0])
        return found

    def pid(self, unit: str) -> int | None:
        try:
            pid = int((self.state / f"{unit}.pid").read_text())
            stat = Path(f"/proc/{pid}/stat").read_text()
        except (OSError, ValueError):
            return None
        return None if stat.rsplit(")", 1)[1].split()[0] == "Z" else pid

    def log(self, unit: str) -> str:
        path = self.state / f"{unit}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill_all(self) -> None:
        """Stop whatever the stand-in left running (a failed test must not leave a daemon)."""
        for path in self.state.glob("*.pid"):
            pid = self.pid(path.name.removesuffix(".pid"))
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, 9)


def process_status(pid: int) -> dict[str, str]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def until(predicate: Callable[[], bool], timeout: float, what: str,
          detail: Callable[[], str] = lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout:g} s: {what}\n{detail()}")
