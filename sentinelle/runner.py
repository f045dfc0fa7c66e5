"""Run the enabled checks once and assemble the Report.

A check that raises or overruns its timeout becomes one `error` finding for that check; the
cycle always completes, and every check reports its own duration.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sentinelle import __version__
from sentinelle.checks.base import Check, CheckContext, registry
from sentinelle.config import Config, load_config, overrides_for
from sentinelle.errors import ConfigError, expect
from sentinelle.facts import host_facts
from sentinelle.host import Host
from sentinelle.model import CheckRun, Finding, Report, Status, Waiver, worst_status
from sentinelle.params import ParamSpec, build_params, inferred_specs, specs_of
from sentinelle.policies.check import policy_check
from sentinelle.policies.loader import add_policy_dirs
from sentinelle.rules import RuleSet, load_rules
from sentinelle.scoring import ScoringPolicy, score_findings
from sentinelle.syndicate import ServedPolicy, merged_config
from sentinelle.waivers import apply_waivers


@dataclass(frozen=True)
class Setup:
    """Rules, config and the instantiated enabled checks: built once, run every cycle."""

    rules: RuleSet
    config: Config
    scoring: ScoringPolicy
    checks: tuple[Check, ...]
    # From the syndicate's policy (sentinelle.agent.policy): accepted risks of this host's
    # scope, and the version of that policy, recorded in each Report.
    waivers: tuple[Waiver, ...] = ()
    policy_version: str | None = None


def known_params(rules: RuleSet) -> dict[str, dict[str, ParamSpec]]:
    """The parameters each check declares (its Params), for validating config overrides; a
    check with metadata but no code yet (or a declarative one) is known by its defaults'
    types."""
    reg = registry()
    return {
        cid: specs_of(reg[cid].Params) if cid in reg else inferred_specs(meta.params)
        for cid, meta in rules.checks.items()
    }


def load_rules_and_config(
    config_path: str | Path | None = None,
    rules_dir: Path | None = None,
    extra_policy_dirs: Sequence[str | Path] = (),
) -> tuple[RuleSet, Config]:
    """The rules (with the declarative checks of the config's `policies.directories` and of
    `extra_policy_dirs`) and the config, its check overrides validated against them all."""
    if config_path is None:
        rules = add_policy_dirs(load_rules(rules_dir), extra_policy_dirs)
        return rules, load_config(None)
    # The config names directories of checks that its `checks:` section may name: read once
    # for its directories (its check names unchecked), then against every check.
    first = load_config(config_path)
    rules = load_rules(rules_dir if rules_dir or not first.rules_dir else Path(first.rules_dir))
    rules = add_policy_dirs(rules, [*first.policy_dirs, *extra_policy_dirs])
    return rules, load_config(config_path, known_params(rules))


def build_setup(
    config_path: str | Path | None = None,
    only: Sequence[str] = (),
    rules_dir: Path | None = None,
    served: ServedPolicy | None = None,
    *,
    extra_policy_dirs: Sequence[str | Path] = (),
) -> Setup:
    """Load rules and config and instantiate the enabled checks (`only` selects ids or
    families): the Python checks, then the declarative ones (rules/policies, the config's
    `policies.directories`, then `extra_policy_dirs`, such as the policy files the collector
    serves). `served`: the syndicate's policy for this agent, under the local config
    (sentinelle.syndicate)."""
    rules, config = load_rules_and_config(config_path, rules_dir, extra_policy_dirs)
    if served is not None:
        config = merged_config(config, served, known_params(rules))
    scoring = ScoringPolicy.from_data(rules.scoring, str(rules.directory / "scoring.yaml"))
    reg: dict[str, type[Check]] = dict(registry())
    for check_id, policy in rules.policies.items():
        reg.setdefault(check_id, policy_check(policy))
    for wanted in only:
        if wanted not in reg and not any(cid.startswith(wanted + ".") for cid in reg):
            raise ConfigError("--only", "--only", expect("known_check"), wanted)
    context = CheckContext(config=config, rules=rules)
    checks: list[Check] = []
    for check_id, cls in reg.items():
        if only and not any(check_id == w or check_id.startswith(w + ".") for w in only):
            continue
        if not only and not config.check_enabled(check_id):
            continue
        meta = rules.checks.get(check_id)
        if meta is None:
            raise ConfigError(str(rules.directory / "checks"), check_id, expect("check_metadata"))
        # Defaults from rules/, then the family's and the check's overrides from the config,
        # each validated against the check's Params.
        overrides = overrides_for(config, check_id, specs_of(cls.Params))
        params = build_params(cls.Params, check_id, meta.params, meta.source, overrides)
        checks.append(cls(meta, params, context))
    if served is None:
        return Setup(rules, config, scoring, tuple(checks))
    return Setup(rules, config, scoring, tuple(checks), served.waivers, served.version)


def _runner_finding(check: Check, status: Status, case: str, **args: object) -> Finding:
    """A finding the runner writes for a check (rules/messages/common.yaml: runner.*)."""
    return Finding(
        check=check.id,
        status=status,
        severity=check.meta.severity,
        evidence={k: v for k, v in args.items() if k == "error"},
        message=f"runner.{case}",
        args=dict(args),
    )


def run_check(check: Check, host: Host, timeout: float) -> tuple[list[Finding], float]:
    """Run one check in a worker thread so a hung check cannot stall the cycle."""
    box: dict[str, object] = {}

    def work() -> None:
        try:
            box["findings"] = list(check.run(host))
        except Exception as exc:  # a broken check must not crash the cycle
            box["error"] = f"{type(exc).__name__}: {exc}"

    started = time.monotonic()
    worker = threading.Thread(target=work, name=f"check-{check.id}", daemon=True)
    worker.start()
    worker.join(timeout)
    duration = time.monotonic() - started
    if worker.is_alive():
        return [_runner_finding(check, Status.ERROR, "timeout", seconds=timeout)], duration
    if "error" in box:
        return [_runner_finding(check, Status.ERROR, "failed", error=str(box["error"]))], duration
    findings = box.get("findings")
    assert isinstance(findings, list)
    if not findings:
        findings = [_runner_finding(check, Status.SKIP, "no_finding")]
    return findings, duration


def run_checks(setup: Setup, host: Host) -> Report:
    """Run every enabled check once and return the scored Report."""
    timeout = setup.config.agent.check_timeout_seconds
    runs: list[CheckRun] = []
    results: list[Finding] = []
    for check in setup.checks:
        if host.platform not in check.platforms:
            continue
        findings, duration = run_check(check, host, timeout)
        runs.append(CheckRun(check.id, worst_status([f.status for f in findings]), duration))
        results.extend(findings)
    if setup.waivers:
        results = apply_waivers(results, setup.waivers, host.now())
    report = assemble_report(host, runs, results, setup.scoring)
    return dataclasses.replace(report, policy_version=setup.policy_version)


def assemble_report(
    host: Host, runs: Iterable[CheckRun], results: Sequence[Finding], scoring: ScoringPolicy
) -> Report:
    return Report(
        report_id=str(uuid.uuid4()),
        generated_at=host.now().isoformat(timespec="seconds").replace("+00:00", "Z"),
        agent_version=__version__,
        host=host_facts(host),
        checks=tuple(runs),
        results=tuple(results),
        score=score_findings(results, scoring),
    )
