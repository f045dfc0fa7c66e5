"""One check cycle in a child process, so the resident agent stays small.

The agent waits an hour between cycles. If it ran the checks itself, it would hold every
check module, the rules, the policy engine and the cycle's garbage for that hour (about 40 MB
with the Linux catalog); in a child, the resident agent keeps only its schedule, /metrics, the
spool and the push client (about 25 MB), and the cycle's memory goes back to the system when
the child exits. A child that crashes, hangs or leaks cannot take the agent down: it is killed
at its deadline and the cycle counts as failed.

`python3 -m sentinelle.agent.cycle --config FILE` builds the Setup (with the syndicate's policy
when the agent pushes: sentinelle.agent.policy), runs the checks and writes the Report as JSON
on its standard output; its log goes to standard error, which the agent's own. `--validate`
stops after the Setup: the agent runs it once at start, so that a bad configuration stops the
agent with its error instead of failing every hour.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from sentinelle.errors import SentinelleError
from sentinelle.model import Report

log = logging.getLogger("sentinelle.agent.cycle")
# Exit codes of the child, besides 0.
EXIT_CONFIG = 2  # the configuration or the rules are wrong (the message is on stderr)
EXIT_CRASH = 3  # an unexpected error (a bug): the traceback is on stderr


class CycleFailed(SentinelleError):
    """The child gave no Report (it crashed, was killed at its deadline or wrote garbage)."""


class ConfigRefused(SentinelleError):
    """The child refused the configuration: the agent cannot run with it."""


def isolated_by_default() -> bool:
    """Children where the agent runs as a Python interpreter it can start again; a Windows
    service host (pythonservice.exe) cannot, so there the cycle stays in the service."""
    return sys.platform != "win32"


class ChildCycle:
    """Runs each cycle as `python3 -m sentinelle.agent.cycle` and returns its Report."""

    def __init__(self, config_path: str | Path | None, deadline_seconds: float,
                 python: str | None = None) -> None:
        self.config_path = config_path
        self.deadline_seconds = deadline_seconds
        self.python = python or sys.executable

    def argv(self, *extra: str) -> list[str]:
        argv = [self.python, "-m", "sentinelle.agent.cycle"]
        if self.config_path is not None:
            argv += ["--config", str(self.config_path)]
        return [*argv, *extra]

    def validate(self) -> None:
        """Build the Setup once in a child; ConfigRefused with its message when it cannot."""
        proc = subprocess.run(self.argv("--validate"), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=self.deadline_seconds,
                              check=False)
        if proc.returncode != 0:
            message = proc.stderr.decode("utf-8", "replace").strip()
            raise ConfigRefused(message or f"exit status {proc.returncode}")

    def __call__(self) -> Report:
        try:
            proc = subprocess.run(self.argv(), stdout=subprocess.PIPE, stderr=None,
                                  timeout=self.deadline_seconds, check=False)
        except subprocess.TimeoutExpired as exc:  # run() has killed it
            raise CycleFailed(f"check cycle killed after {self.deadline_seconds:.0f} s") from exc
        if proc.returncode != 0:
            raise CycleFailed(f"check cycle exited with status {proc.returncode}")
        try:
            return Report.from_dict(json.loads(proc.stdout))
        except (ValueError, KeyError, TypeError) as exc:
            raise CycleFailed(f"check cycle wrote no Report: {exc}") from exc


def cycle_deadline(interval_seconds: float, check_timeout_seconds: float) -> float:
    """How long a child may take: each check is bounded by check_timeout_seconds, but a
    cycle that outlasts the interval (at least twice a check's timeout) is stuck."""
    return max(interval_seconds, 2 * check_timeout_seconds)


def run(config_path: str | None, validate: bool) -> int:
    from sentinelle.host import Host
    from sentinelle.runner import build_setup, run_checks

    try:
        setup = build_setup(config_path)
        if validate:
            return 0
        if setup.config.push.enabled:  # the policy comes from the collector it pushes to
            from sentinelle.agent.policy import policy_applier

            setup = policy_applier(config_path, setup)()
    except SentinelleError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG
    report = run_checks(setup, Host())
    out = json.dumps(report.to_dict(), ensure_ascii=False).encode()
    sys.stdout.buffer.write(out)
    sys.stdout.buffer.flush()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m sentinelle.agent.cycle")
    parser.add_argument("--config")
    parser.add_argument("--validate", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        return run(args.config, args.validate)
    except Exception:
        log.exception("check cycle crashed")
        return EXIT_CRASH


if __name__ == "__main__":
    os._exit(main())  # no interpreter teardown: a hung check thread must not delay the exit
