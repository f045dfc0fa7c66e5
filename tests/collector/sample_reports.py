"""Realistic Reports for collector tests and benchmarks: the real model, varied contents."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from typing import Any

from sentinelle.model import CheckRun, Finding, Measurement, Report, Severity, Status
from sentinelle.rules import load_rules
from sentinelle.scoring import ScoringPolicy, score_findings

_POLICY: ScoringPolicy | None = None
FAMILIES = ("patching", "ports", "backups", "accounts", "firewall", "logging")


def _policy() -> ScoringPolicy:
    global _POLICY
    if _POLICY is None:
        _POLICY = ScoringPolicy.from_data(load_rules().scoring)
    return _POLICY


def make_report(
    n_results: int = 60,
    seed: int = 0,
    hostname: str = "mairie-srv",
    generated_at: datetime | None = None,
    statuses: dict[str, Status] | None = None,
) -> Report:
    """A Report with `n_results` findings over plausible check ids, with measurements."""
    rng = random.Random(seed)
    findings: list[Finding] = []
    runs: list[CheckRun] = []
    forced = statuses or {}
    for i in range(n_results):
        check = f"{FAMILIES[i % len(FAMILIES)]}.item_{i:03d}"
        status = (
            forced.get(check)
            or rng.choices(
                [Status.PASS, Status.WARN, Status.FAIL, Status.SKIP], [0.8, 0.1, 0.05, 0.05]
            )[0]
        )
        severity = rng.choice(list(Severity))
        measurements: tuple[Measurement, ...] = ()
        if i == 0:
            measurements = (
                Measurement("pending_updates", rng.randint(0, 30), {"kind": "security"}),
                Measurement("pending_updates", rng.randint(0, 80), {"kind": "other"}),
            )
        elif i == 1:
            measurements = (
                Measurement("backup_age_seconds", rng.randint(3600, 400_000), {"location": "nas"}),
            )
        elif i == 2:
            measurements = (
                Measurement(
                    "listening_port_info",
                    1,
                    {
                        "address": "0.0.0.0",
                        "port": "445",
                        "protocol": "tcp",
                        "process": "smbd",
                        "scope": "network",
                        "service": "smb",
                    },
                ),
            )
        findings.append(
            Finding(
                check=check,
                status=status,
                severity=severity,
                summary=f"Constat {i} sur {hostname}: état {status.value}",
                evidence={"items": [f"élément-{j}" for j in range(3)], "count": i},
                remediation={
                    "fr": "Appliquer la mesure recommandée par le SOC.",
                    "en": "Apply the measure the SOC recommends.",
                },
                references={"anssi": [34]},
                measurements=measurements,
            )
        )
        runs.append(CheckRun(check, status, rng.uniform(0.001, 0.2)))
    when = generated_at or datetime.now(UTC)
    return Report(
        report_id=str(uuid.UUID(int=rng.getrandbits(128))),
        generated_at=when.isoformat(timespec="seconds").replace("+00:00", "Z"),
        agent_version="0.1.0",
        host={
            "hostname": hostname,
            "os_id": "debian",
            "os_version": "12",
            "os_name": "Debian GNU/Linux 12 (bookworm)",
            "kernel": "6.1.0-26-amd64",
            "arch": "x86_64",
        },
        checks=tuple(runs),
        results=tuple(findings),
        score=score_findings(findings, _policy()),
    )


def report_dict(**kwargs: Any) -> dict[str, Any]:
    return make_report(**kwargs).to_dict()
