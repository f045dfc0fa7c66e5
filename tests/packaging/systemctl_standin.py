#!/usr/bin/python3
"""A stand-in for `systemctl`, for the packaging tests on a machine where systemd is not PID 1.

The maintainer scripts talk to systemd through deb-systemd-invoke (which calls systemctl) and
only when /run/systemd/system exists. The tests run dpkg in a private mount namespace where that
directory exists and this script is first on the PATH, so the real maintainer scripts and the
real deb-systemd-helper/-invoke run, and every systemctl call lands here:

- each call is appended to $SENTINELLE_STANDIN_STATE/calls.jsonl (what the scripts asked for);
- unit-file operations (enable, preset, is-enabled…) go to the real systemctl with --root=/,
  which does them without a running systemd;
- with SENTINELLE_STANDIN_RUN=1, start/stop/restart of a .service really run its ExecStart= as
  systemd would for the settings the tests depend on: User=/Group=, AmbientCapabilities=,
  CapabilityBoundingSet=, NoNewPrivileges=, UMask=, StateDirectory=, a clean environment, and
  SIGTERM then SIGKILL after TimeoutStopSec= on stop (via setpriv). The rest of the sandbox
  (namespaces, seccomp) is not applied: `systemd-analyze security` judges that part.

Only the standard library: it runs with /usr/bin/python3, whatever the tests run with.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

STATE = Path(os.environ.get("SENTINELLE_STANDIN_STATE", "/nonexistent"))
RUN = os.environ.get("SENTINELLE_STANDIN_RUN") == "1"
UNIT_DIRS = (Path("/etc/systemd/system"), Path("/lib/systemd/system"),
             Path("/usr/lib/systemd/system"))
SERVICE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
REAL_SYSTEMCTL = "/usr/bin/systemctl"
UNIT_FILE_VERBS = ("enable", "disable", "reenable", "preset", "mask", "unmask", "is-enabled",
                   "link", "list-unit-files")


def unit_settings(name: str, directories: tuple[Path, ...] = UNIT_DIRS) -> dict[str, list[str]]:
    """The [Service] settings of an installed unit, each key with all its values."""
    for directory in directories:
        path = directory / name
        if path.is_file() and not path.is_symlink():
            break
    else:
        return {}
    settings: dict[str, list[str]] = {}
    section = ""
    logical = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        if logical:
            raw = logical + " " + raw.strip()
            logical = ""
        if raw.endswith("\\"):
            logical = raw[:-1]
            continue
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]" and "=" in line:
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def pid_file(unit: str) -> Path:
    return STATE / f"{unit}.pid"


def running_pid(unit: str) -> int | None:
    try:
        pid = int(pid_file(unit).read_text())
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    # An orphan that nobody reaped yet is a zombie: it is not running.
    return None if stat.rsplit(")", 1)[1].split()[0] == "Z" else pid


def is_active(unit: str) -> bool:
    if RUN and unit.endswith(".service"):
        return running_pid(unit) is not None
    return (STATE / f"{unit}.active").exists()


def capability_list(values: list[str]) -> list[str]:
    names = " ".join(values).split()
    return [n.lower().removeprefix("cap_") for n in names]


def start(unit: str) -> int:
    if not (RUN and unit.endswith(".service")):
        (STATE / f"{unit}.active").touch()
        return 0
    if running_pid(unit) is not None:
        return 0
    settings = unit_settings(unit)
    if not settings.get("ExecStart"):
        print(f"standin systemctl: {unit}: no ExecStart", file=sys.stderr)
        return 5
    user = settings.get("User", ["root"])[-1]
    group = settings.get("Group", [user])[-1]
    import pwd

    entry = pwd.getpwnam(user)
    mode = int(settings.get("StateDirectoryMode", ["0755"])[-1], 8)
    for name in " ".join(settings.get("StateDirectory", [])).split():
        path = Path("/var/lib") / name
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, entry.pw_uid, entry.pw_gid)
        path.chmod(mode)
    ambient = capability_list(settings.get("AmbientCapabilities", []))
    bounding = capability_list(settings.get("CapabilityBoundingSet", []))
    argv = ["setpriv", f"--reuid={user}", f"--regid={group}", "--init-groups"]
    if ambient:
        listed = ",".join("+" + c for c in ambient)
        argv += [f"--inh-caps={listed}", f"--ambient-caps={listed}"]
    else:
        argv.append("--inh-caps=-all")
    argv.append("--bounding-set=" + ",".join(["-all", *("+" + c for c in bounding)]))
    if settings.get("NoNewPrivileges", ["no"])[-1] in ("yes", "true", "1"):
        argv.append("--no-new-privs")
    argv += ["--", *shlex.split(settings["ExecStart"][-1])]
    umask = int(settings.get("UMask", ["0022"])[-1], 8)
    with (STATE / f"{unit}.log").open("ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                cwd="/", env={"PATH": SERVICE_PATH, "LANG": "C.UTF-8"},
                                start_new_session=True, umask=umask)
    pid_file(unit).write_text(str(proc.pid))
    return 0


def stop(unit: str) -> int:
    (STATE / f"{unit}.active").unlink(missing_ok=True)
    pid = running_pid(unit)
    if pid is None:
        return 0
    timeout = float(unit_settings(unit).get("TimeoutStopSec", ["90"])[-1])
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while running_pid(unit) is not None:
        if time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)
            time.sleep(0.5)
            break
        time.sleep(0.1)
    pid_file(unit).unlink(missing_ok=True)
    return 0


def real_systemctl(args: list[str]) -> int:
    """Unit-file operations (enable, preset, is-enabled…) work without a running systemd when
    given --root: the real systemctl does them, so the symlinks are exactly systemd's."""
    if not any(a.startswith("--root") for a in args):
        args = ["--root=/", *args]
    return subprocess.run([REAL_SYSTEMCTL, *args], check=False).returncode


def main(args: list[str]) -> int:
    STATE.mkdir(parents=True, exist_ok=True)
    with (STATE / "calls.jsonl").open("a", encoding="utf-8") as log:
        log.write(json.dumps(args) + "\n")
    words = [a for a in args if not a.startswith("-")]
    if "--version" in args:
        return real_systemctl(args)
    if not words:
        return 0
    verb, units = words[0], words[1:]
    if verb in UNIT_FILE_VERBS or any(a.startswith("--root") for a in args):
        return real_systemctl(args)
    quiet = "--quiet" in args or "-q" in args
    if verb == "is-active":
        active = all(is_active(u) for u in units)
        if not quiet:
            print("active" if active else "inactive")
        return 0 if active else 3
    status = 0
    for unit in units:
        if verb == "start":
            status |= start(unit)
        elif verb == "stop":
            status |= stop(unit)
        elif verb in ("restart", "reload-or-restart") or (
            verb == "try-restart" and is_active(unit)
        ):
            stop(unit)
            status |= start(unit)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
