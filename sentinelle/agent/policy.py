"""The agent's copy of the syndicate's policy: fetched with its own key, kept on disk, applied
at every cycle (sentinelle.syndicate says how it merges with the local config).

The fetch is a conditional GET (If-None-Match with the version held): an unchanged policy
costs one header. Whatever goes wrong — the collector unreachable, an answer that is not a
policy, a policy this agent's checks refuse — the agent keeps applying the last good one, and
says so in its log; a cached file that cannot be read is set aside, never a crash loop.
"""

from __future__ import annotations

import contextlib
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from sentinelle.agent.daemon import atomic_write
from sentinelle.agent.enroll import Credentials, build_opener, load_credentials
from sentinelle.errors import SentinelleError
from sentinelle.runner import Setup, build_setup
from sentinelle.syndicate import ServedPolicy, ServedPolicyError, parse_served

log = logging.getLogger("sentinelle.agent.policy")
POLICY_FILE = "policy.json"
POLICY_PATH = "/api/v1/policy"
POLICY_FILES_DIR = "policies"  # the served declarative policy files, under the state dir
MAX_POLICY_BYTES = 4 << 20


def load_cached(state_dir: Path) -> ServedPolicy | None:
    """The policy last fetched, or None (never fetched, or the file is unusable: set aside
    as policy.json.bad so that the next fetch writes a fresh one)."""
    path = state_dir / POLICY_FILE
    try:
        return parse_served(json.loads(path.read_bytes()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, ServedPolicyError) as exc:
        log.warning("cached policy %s is unusable (%s); set aside", path, exc)
        with contextlib.suppress(OSError):
            path.replace(path.with_name(POLICY_FILE + ".bad"))
        return None


class PolicyFetcher:
    """Fetches this agent's effective policy from the collector it enrolled with."""

    def __init__(self, state_dir: Path, ca_bundle: str | None, timeout: float) -> None:
        self.state_dir = state_dir
        self.timeout = timeout
        self._opener = build_opener(ca_bundle)
        self.current = load_cached(state_dir)
        self.last_error = ""

    def fetch(self, creds: Credentials) -> ServedPolicy | None:
        """The current policy: the collector's when it answers, else the one held."""
        request = urllib.request.Request(
            creds.collector_url.rstrip("/") + POLICY_PATH,
            headers={"Authorization": creds.authorization(), "Accept": "application/json"},
        )
        if self.current is not None:
            request.add_header("If-None-Match", f'"{self.current.version}"')
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                raw = answer.read(MAX_POLICY_BYTES + 1)
            if len(raw) > MAX_POLICY_BYTES:
                raise ServedPolicyError("the policy is larger than the agent accepts")
            policy = parse_served(json.loads(raw))
        except urllib.error.HTTPError as exc:
            if exc.code == 304:
                self.last_error = ""
                return self.current
            return self._keep(f"HTTP {exc.code}")
        except (urllib.error.URLError, OSError, ValueError, ServedPolicyError) as exc:
            return self._keep(str(exc))
        if self.current is None or policy.version != self.current.version:
            log.info("policy %s received from %s", policy.version, creds.collector_url)
            try:
                atomic_write(self.state_dir / POLICY_FILE,
                             json.dumps(policy.to_dict(), ensure_ascii=False).encode())
            except OSError as exc:  # a full disk: applied now, fetched again next time
                log.warning("cannot keep the policy on disk: %s", exc)
        self.current, self.last_error = policy, ""
        return policy

    def _keep(self, why: str) -> ServedPolicy | None:
        if why != self.last_error:
            held = self.current.version if self.current else "none"
            log.warning("policy not fetched (%s); applying the one held: %s", why, held)
        self.last_error = why
        return self.current


class PolicyApplier:
    """Gives the agent the Setup to run each cycle: rebuilt when the policy changes, the
    previous one kept when the new policy cannot be applied."""

    def __init__(
        self,
        config_path: str | Path | None,
        setup: Setup,
        fetcher: PolicyFetcher,
        credentials: Callable[[], Credentials | None],
    ) -> None:
        self.config_path = config_path
        self.setup = setup
        self.fetcher = fetcher
        self.credentials = credentials
        self.refused: str | None = None  # a version this agent could not apply
        if fetcher.current is not None:
            self._apply(fetcher.current)

    def __call__(self) -> Setup:
        creds = self.credentials()
        policy = self.fetcher.fetch(creds) if creds is not None else self.fetcher.current
        if policy is not None and policy.version not in (self.setup.policy_version,
                                                         self.refused):
            self._apply(policy)
        return self.setup

    def _apply(self, policy: ServedPolicy) -> None:
        try:
            directories = self._write_files(policy)
            self.setup = build_setup(self.config_path, served=policy,
                                     extra_policy_dirs=directories)
        except (SentinelleError, OSError) as exc:
            self.refused = policy.version
            log.error("policy %s cannot be applied (%s); the previous settings stay",
                      policy.version, exc)


    def _write_files(self, policy: ServedPolicy) -> list[Path]:
        """The syndicate's declarative policy files, written where the loader reads them
        (`<state_dir>/policies`, only these: a file the policy no longer has is removed)."""
        directory = self.fetcher.state_dir / POLICY_FILES_DIR
        if not policy.files and not directory.exists():
            return []
        directory.mkdir(mode=0o750, exist_ok=True)
        wanted = {f.name for f in policy.files}
        for stale in directory.glob("*.yaml"):
            if stale.name not in wanted:
                stale.unlink()
        for f in policy.files:
            atomic_write(directory / f.name, f.content.encode())
        return [directory] if policy.files else []


def policy_applier(config_path: str | Path | None, setup: Setup) -> PolicyApplier:
    """The applier of this agent's configuration (its state directory and push settings)."""
    state_dir = Path(setup.config.agent.state_dir)
    push = setup.config.push
    fetcher = PolicyFetcher(state_dir, push.ca_bundle, push.timeout_seconds)

    def credentials() -> Credentials | None:
        try:
            return load_credentials(state_dir)
        except SentinelleError as exc:
            log.error("%s", exc)
            return None

    return PolicyApplier(config_path, setup, fetcher, credentials)
