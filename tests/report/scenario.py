"""A month of a small syndicate, March 2026, for the monthly-report tests.

Real parts: the checks run for real on this machine (patching through apt, listening sockets,
backups in directories made here, a restore test recorded in the agent's journal), with the
host clock set to the end of the month; their Reports are pushed over HTTP to a real collector
(tests/collector/harness.py) whose clock is moved along the month, and the collector takes its
own daily snapshots. Earlier months and communes without agents get snapshots through the
Store API.

To make the month's facts certain whatever this machine's state, the real findings of checks
that the scenario does not drive are set to pass (their evidence stays, with this machine's real
package names, addresses and ports: what the leak tests look for); the scenario drives:

- 01001 Saint-Exemple (820 inhabitants, 2 servers "srv-mairie" and "nas-compta"): security
  updates pending on both until 12 March 06:00 UTC, then installed; remote desktop (RDP) open to
  the network on srv-mairie all month; srv-mairie's daily backup failing from 20 March 03:00 to
  21 March 09:00; nas-compta silent from 25 March 06:00 to 27 March 12:00; backups fresh with an
  offline copy and a restore test recorded on 3 February 2026.
- 01003 Bourg-Témoin (1 500 inhabitants, 1 server): no backup configured at all.
- 01002, 01004, 01005, 01006: communes of the same size band and département, snapshots only
  (scores 95, 85, 55, 30); 74010 the same size in another département (score 10).
- 01007 Val-Silencieux: its server stopped reporting on 20 February.
- 01008 Nouveau-Village: nothing enrolled. 01010 Les Attentes: enrolled on 15 March, never
  reported.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sentinelle.checks.backups.checks import record_restore_test
from sentinelle.collector.records import DailySnapshot
from sentinelle.collector.settings import RateLimit
from sentinelle.collector.store import Store
from sentinelle.host import Host
from sentinelle.model import Finding, Report, Severity, Status
from sentinelle.report.content import Month
from sentinelle.runner import build_setup, run_checks
from sentinelle.scoring import ScoringPolicy, score_findings
from tests.collector.harness import Running, auth, request, running_collector

MONTH = Month(2026, 3)
T_END = datetime(2026, 4, 1, 6, 0, tzinfo=UTC)  # last push (Paris: 1 April, 08:00)
NOW = datetime(2026, 4, 1, 7, 0, tzinfo=UTC)  # the report is made (Paris: 09:00)
STEP = timedelta(hours=4)  # pushes at 00, 04, … 20 h UTC
FIRST_PUSH = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
UPDATES_FIXED = datetime(2026, 3, 12, 6, 0, tzinfo=UTC)
BACKUP_BROKEN = (datetime(2026, 3, 20, 3, 0, tzinfo=UTC), datetime(2026, 3, 21, 9, 0, tzinfo=UTC))
NAS_SILENT = (datetime(2026, 3, 25, 8, 0, tzinfo=UTC), datetime(2026, 3, 27, 10, 0, tzinfo=UTC))
RESTORE_TEST = datetime(2026, 2, 3, 10, 0, tzinfo=UTC)
POLICY_KEYS = ("patching.pending_updates", "ports.risky_services", "backups.freshness")

# What an agent would report for a remote desktop open to the network, and for pending
# security updates: the details that must never reach a mayor.
RDP = Finding(
    "ports.risky_services",
    Status.FAIL,
    Severity.HIGH,
    "RDP (3389/tcp) listens on 10.12.0.5:3389 (process xrdp 0.9.21, package xrdp).",
    evidence={"address": "10.12.0.5", "port": 3389, "service": "rdp", "process": "xrdp",
              "package": "xrdp", "version": "0.9.21"},
    remediation={"fr": "Fermez le port 3389 sur 10.12.0.5.", "en": "Close 3389 on 10.12.0.5."},
)
PENDING = Finding(
    "patching.pending_updates",
    Status.FAIL,
    Severity.HIGH,
    "2 security update(s) pending: openssl 3.0.11-1~deb12u2, libxrdp0.",
    evidence={"security": 2, "packages": ["openssl", "libxrdp0"],
              "versions": {"openssl": "3.0.11-1~deb12u2"}},
)
UPDATED = Finding("patching.pending_updates", Status.PASS, Severity.HIGH, "No update pending.",
                  evidence={"security": 0, "packages": []})
BACKUP_LATE = Finding(
    "backups.freshness",
    Status.FAIL,
    Severity.HIGH,
    "nas: newest backup mairie-1.tar.gz on 192.168.40.2 is 30.0 h old, more than the 26 h.",
    evidence={"location": "nas", "path": "/srv/backup/nas", "address": "192.168.40.2",
              "newest": {"name": "mairie-1.tar.gz", "time": "2026-03-19T01:00:00+00:00"}},
)


@dataclass(frozen=True)
class Peer:
    code: str
    name: str
    population: int
    score: float
    grade: str


PEERS = (
    Peer("01002", "Pré-Voisin", 1200, 95.0, "A"),
    Peer("01004", "Mont-Voisin", 700, 85.0, "B"),
    Peer("01005", "Bois-Voisin", 1900, 55.0, "D"),
    Peer("01006", "Val-Voisin", 540, 30.0, "E"),
    Peer("74010", "Loin-du-Lac", 900, 10.0, "E"),  # another département: never a peer
)


@dataclass
class Scenario:
    """The store URL and everything the tests compare the summaries with."""

    store_url: str
    reports: list[Report] = field(default_factory=list)
    host_labels: set[str] = field(default_factory=set)

    def sensitive_tokens(self) -> dict[str, set[str]]:
        """Host names, IP addresses, port numbers and package names of every pushed Report."""
        hosts = set(self.host_labels)
        ips: set[str] = set()
        ports: set[str] = set()
        packages: set[str] = set()
        for r in self.reports:
            hosts.add(str(r.host.get("hostname", "")))
            text = json.dumps(r.to_dict())
            ips.update(re.findall(r"\b\d{1,3}(?:\.\d{1,3}){3}\b", text))
            for f in r.results:
                _walk(f.evidence, ports, packages)
        hosts.discard("")
        return {"hosts": hosts, "ips": ips, "ports": ports, "packages": packages}


PACKAGE_KEYS = ("package", "packages", "kept_back_packages")


def _walk(value: Any, ports: set[str], packages: set[str], key: str = "") -> None:
    """Collect port numbers and package names from a finding's evidence."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "versions" and isinstance(v, dict):
                packages.update(str(p) for p in v)
            _walk(v, ports, packages, str(k))
    elif isinstance(value, list):
        for v in value:
            _walk(v, ports, packages, key)
    elif key == "port" and isinstance(value, int):
        ports.add(str(value))
    elif key in PACKAGE_KEYS and isinstance(value, str):
        packages.add(value)


def real_report(tmp: Path, backups: bool, at: datetime, state: Path) -> Report:
    """The real checks of this machine, as an agent configured like `backups` would run them.

    Agents sharing `state` share the cached apt simulation: only the first run pays for it.
    """
    tmp.mkdir(parents=True, exist_ok=True)
    state.mkdir(parents=True, exist_ok=True)
    # The scenario's scores are worked out for the patching, ports and backups checks
    # (docs/scoring.md): the declarative hardening checks, which read this machine, stay out.
    lines = ["agent:", f"  state_dir: {state}", "checks:", "  hardening: {enabled: false}"]
    # Likewise the issue-12 families that read this machine's own state.
    lines += [f"  {family}: {{enabled: false}}"
              for family in ("antivirus", "firewall", "logs", "time", "updates")]
    if backups:
        lines += ["backups:", "  locations:"]
        for name, offline in (("nas", False), ("usb", True)):
            directory = tmp / name
            directory.mkdir(exist_ok=True)
            for n, (age, size) in enumerate(((timedelta(hours=2), 4100),
                                              (timedelta(hours=26), 4000))):
                f = directory / f"mairie-{n}.tar.gz"
                f.write_bytes(os.urandom(size))
                stamp = (at - age).timestamp()
                os.utime(f, (stamp, stamp))
            lines += [f"    - name: {name}", "      type: directory", f"      path: {directory}",
                      '      pattern: "*.tar.gz"', f"      offline: {str(offline).lower()}"]
            record_restore_test(state, name, RESTORE_TEST, "deux fichiers relus")
    config = tmp / "agent.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return run_checks(build_setup(config), Host(clock=lambda: at))


def scenario_report(base: Report, at: datetime, drive: dict[str, list[Finding]],
                    policy: ScoringPolicy, seq: int) -> Report:
    """`base` at time `at`: driven checks replaced, other open findings (backups aside) set to
    pass."""
    results: list[Finding] = []
    for f in base.results:
        if f.check in drive:
            continue
        # Backups are set up by the scenario itself: their real findings stay as they are.
        if f.status in (Status.WARN, Status.FAIL, Status.ERROR) and f.check.split(".")[0] != (
            "backups"
        ):
            f = replace(f, status=Status.PASS)
        results.append(f)
    for findings in drive.values():
        results.extend(findings)
    return replace(
        base,
        report_id=f"{base.host.get('hostname', 'h')}-{seq:05d}-{at:%Y%m%d%H%M}",
        generated_at=at.isoformat().replace("+00:00", "Z"),
        results=tuple(results),
        score=score_findings(results, policy),
    )


def _drive_mairie(at: datetime, host: str) -> dict[str, list[Finding]]:
    drive: dict[str, list[Finding]] = {
        "patching.pending_updates": [PENDING if at < UPDATES_FIXED else UPDATED]
    }
    if host == "srv-mairie":
        drive["ports.risky_services"] = [RDP]
        if BACKUP_BROKEN[0] <= at < BACKUP_BROKEN[1]:
            drive["backups.freshness"] = [BACKUP_LATE]
    return drive


def _push(c: Running, creds: dict[str, Any], report: Report, at: datetime) -> None:
    c.service.clock = lambda: at.timestamp()
    status, body, _ = request(c.url + "/api/v1/reports", "POST", report.to_dict(),
                              headers=auth(creds), gzip_body=True)
    assert status == 201, body


def _enroll(c: Running, commune: str, host: str, at: datetime) -> dict[str, Any]:
    c.service.clock = lambda: at.timestamp()
    return c.enroll(commune, host)


def _snapshots(store: Store, code: str, start: date, end: date, score: float, grade: str,
               hosts: int = 1) -> None:
    day = start
    while day <= end:
        store.upsert_snapshot(DailySnapshot(code, day, score, grade, hosts, hosts, {}))
        day += timedelta(days=1)


@contextmanager
def build_scenario(tmp: Path, policy: ScoringPolicy) -> Iterator[Scenario]:
    """Run the month through a real collector; yields once the collector is stopped."""
    url = f"sqlite://{tmp / 'collector.db'}"
    scenario = Scenario(url)
    overrides = {
        "rate_limit": RateLimit(per_second=10_000.0, burst=100_000),
        "snapshot_interval_seconds": 1e6,  # the test takes the daily snapshots itself
    }
    state = tmp / "agent-state"
    with_backups = real_report(tmp / "agent-backups", True, T_END, state)
    without = real_report(tmp / "agent-nobackup", False, T_END, state)
    with running_collector(tmp, url, **overrides) as c:
        feb = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
        c.commune("01001", "Saint-Exemple", 820, ("maire@saint-exemple.fr",
                                                  "Secrétariat <mairie@saint-exemple.fr>"))
        c.commune("01003", "Bourg-Témoin", 1500, ("maire@bourg-temoin.fr",))
        c.commune("01007", "Val-Silencieux", 300, ("maire@val-silencieux.fr",))
        c.commune("01008", "Nouveau-Village", 1100, ("maire@nouveau-village.fr",))
        c.commune("01010", "Les Attentes", 650, ())
        for p in PEERS:
            c.commune(p.code, p.name, p.population)
        agents = {
            "srv-mairie": ("01001", _enroll(c, "01001", "srv-mairie", feb)),
            "nas-compta": ("01001", _enroll(c, "01001", "nas-compta", feb)),
            "srv-unique": ("01003", _enroll(c, "01003", "srv-unique", feb)),
        }
        silent = _enroll(c, "01007", "srv-silence", feb)
        scenario.host_labels.update([*agents, "srv-silence", "srv-jamais"])
        seq = 0
        # 01007 reports for three days in February, then never again.
        at = datetime(2026, 2, 18, 9, 0, tzinfo=UTC)
        while at <= datetime(2026, 2, 20, 9, 0, tzinfo=UTC):
            seq += 1
            r = scenario_report(with_backups, at, {}, policy, seq)
            _push(c, silent, r, at)
            scenario.reports.append(r)
            at += STEP
        _enroll(c, "01010", "srv-jamais", datetime(2026, 3, 15, 10, 0, tzinfo=UTC))
        at = FIRST_PUSH
        while at <= T_END:
            for host, (_, creds) in agents.items():
                if host == "nas-compta" and NAS_SILENT[0] <= at < NAS_SILENT[1]:
                    continue
                seq += 1
                if host == "srv-unique":
                    r = scenario_report(without, at, {}, policy, seq)
                else:
                    r = scenario_report(with_backups, at, _drive_mairie(at, host), policy, seq)
                _push(c, creds, r, at)
                scenario.reports.append(r)
            if at.hour == 20 and at < datetime(2026, 4, 1, tzinfo=UTC):
                # The collector's own snapshot of the day, an hour and a half later.
                c.service.clock = lambda at=at: (at + timedelta(minutes=90)).timestamp()
                c.service.take_snapshots()
            at += STEP
        store = c.store
        # Earlier months of 01001: a steady C (score 68, then 70 in February).
        _snapshots(store, "01001", date(2025, 3, 1), date(2026, 1, 31), 68.0, "C", 2)
        _snapshots(store, "01001", date(2026, 2, 1), date(2026, 2, 28), 70.0, "C", 2)
        for p in PEERS:
            _snapshots(store, p.code, date(2026, 2, 1), date(2026, 3, 31), p.score, p.grade)
    yield scenario
