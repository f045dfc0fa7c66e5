"""Lynis beside Sentinelle on this machine: for each Lynis test of the catalog's areas, both
verdicts and whether they agree.

Runs `lynis audit system` (its log and report in a temporary directory) and `sentinelle check`
(every check of this platform except the network scans), then prints, for each Lynis test that
bench/lynis_map.yaml maps to Sentinelle checks: Lynis' verdict (open: a warning or a suggestion;
ok: performed without either; skipped), Sentinelle's (the worst status of the mapped checks),
and one of: agree, stricter, lynis error, sees more, skip (each explained by the map), or
DISAGREE (unexplained: a defect to look at). Exits 1 when a disagreement is unexplained.

    python3 bench/lynis_agreement.py [--lynis-report FILE --lynis-log FILE] [--all]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.catalog import local_catalog  # noqa: E402

MAP = Path(__file__).with_name("lynis_map.yaml")
AREAS = ("AUTH", "SSH", "FIRE", "MALW", "TIME", "LOGG", "ACCT", "PKGS", "USB", "CRYP", "INSE",
         "MACF")
PERFORMED = re.compile(r"Performing test ID (?P<id>[A-Z]+-\d+)")
SKIPPED = re.compile(r"Skipped test (?P<id>[A-Z]+-\d+)")
RESULT = re.compile(r"^\S+ \S+ Result: (?P<text>.*)$")
FINDING = re.compile(r"^(?P<kind>warning|suggestion)\[\]=(?P<id>[A-Z]+-\d+)\|(?P<text>[^|]*)")
OPEN = {"warn", "fail"}


@dataclass
class LynisTest:
    """One Lynis test as its log and report tell it."""

    id: str
    verdict: str = "ok"  # ok | open | skipped
    result: str = ""  # the log's first "Result:" line, or the finding's text


def run_lynis(workdir: Path) -> tuple[Path, Path]:
    lynis = shutil.which("lynis")
    if not lynis:
        sys.exit("lynis is not installed (apt install lynis)")
    log, report = workdir / "lynis.log", workdir / "lynis-report.dat"
    subprocess.run([lynis, "audit", "system", "--quick", "--no-colors", "--logfile", str(log),
                    "--report-file", str(report)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=900, check=False)
    return log, report


def lynis_tests(log: Path, report: Path) -> dict[str, LynisTest]:
    tests: dict[str, LynisTest] = {}
    current: LynisTest | None = None
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if m := PERFORMED.search(line):
            current = tests.setdefault(m["id"], LynisTest(m["id"]))
        elif m := SKIPPED.search(line):
            tests.setdefault(m["id"], LynisTest(m["id"], "skipped"))
            current = None
        elif current is not None and not current.result and (m := RESULT.match(line)):
            current.result = m["text"]
    for line in report.read_text(encoding="utf-8", errors="replace").splitlines():
        if (m := FINDING.match(line)) and m["id"] in tests:
            test = tests[m["id"]]
            test.verdict, test.result = "open", f"{m['kind']}: {m['text']}"
    return tests


def sentinelle_statuses(checks: list[str]) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "sentinelle.cli", "check", "--format", "json", "--only", *checks],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=600, check=False)
    if not proc.stdout.strip():
        sys.exit(f"sentinelle check gave no report: {proc.stderr.strip()}")
    report = json.loads(proc.stdout)
    return {run["check"]: run["status"] for run in report["checks"]}


def sentinelle_verdict(ids: list[str], statuses: dict[str, str]) -> str:
    """open when any mapped check is open, pass when they all answered and pass, skip when
    none could look, missing when a mapped check does not exist (yet)."""
    found = [statuses[c] for c in ids if c in statuses]
    if len(found) < len(ids):
        return "missing"
    if any(s in OPEN for s in found):
        return "open"
    if any(s == "error" for s in found):
        return "error"
    if all(s == "skip" for s in found):
        return "skip"
    return "pass"


def compare(lynis: str, sentinelle: str, entry: dict[str, Any]) -> tuple[str, str]:
    """The outcome and its explanation (empty when unexplained)."""
    pairs = {
        ("ok", "pass"): ("agree", "both satisfied"),
        ("open", "open"): ("agree", "both flag it"),
        ("skipped", "skip"): ("agree", "neither can look here"),
    }
    if (lynis, sentinelle) in pairs:
        return pairs[lynis, sentinelle]
    if sentinelle in ("missing", "error"):
        return "DISAGREE", f"Sentinelle: {sentinelle}"
    if lynis == "skipped":
        return "sees more", entry.get("sees_more", "")
    if sentinelle == "skip":
        return "skip", entry.get("skip", "")
    if lynis == "ok":
        return "stricter", entry.get("stricter", "")
    return "lynis error", entry.get("lynis_error", "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lynis-log", type=Path,
                        help="an existing lynis.log (with --lynis-report)")
    parser.add_argument("--lynis-report", type=Path, help="an existing lynis-report.dat")
    parser.add_argument("--all", action="store_true",
                        help="also list the area's Lynis tests that no Sentinelle check maps")
    args = parser.parse_args()
    mapping: dict[str, dict[str, Any]] = yaml.safe_load(MAP.read_text(encoding="utf-8"))["tests"]

    with tempfile.TemporaryDirectory() as tmp:
        if args.lynis_log and args.lynis_report:
            log, report = args.lynis_log, args.lynis_report
        else:
            log, report = run_lynis(Path(tmp))
        tests = lynis_tests(log, report)
    statuses = sentinelle_statuses(local_catalog())

    outcomes: Counter[str] = Counter()
    unexplained = 0
    print(f"{'lynis test':<11} {'question':<36} {'lynis':<8} {'sentinelle':<10} outcome")
    for test_id, entry in sorted(mapping.items()):
        ids: list[str] = entry["sentinelle"]
        if not ids:
            continue
        test = tests.get(test_id, LynisTest(test_id, "skipped", "not run by this Lynis"))
        verdict = sentinelle_verdict(ids, statuses)
        outcome, why = compare(test.verdict, verdict, entry)
        if outcome != "agree" and not why:
            outcome, why = "DISAGREE", "no explanation in bench/lynis_map.yaml"
        unexplained += outcome == "DISAGREE"
        outcomes[outcome] += 1
        print(f"{test_id:<11} {entry['title'][:36]:<36} {test.verdict:<8} {verdict:<10} {outcome}")
        detail = ", ".join(f"{c}={statuses.get(c, 'missing')}" for c in ids)
        print(f"{'':<11} lynis: {test.result[:90] or '-'}")
        print(f"{'':<11} sentinelle: {detail}")
        if outcome != "agree":
            print(f"{'':<11} why: {' '.join(why.split())}")
    if args.all:
        print("\nLynis tests of these areas that no Sentinelle check answers:")
        for test_id, test in sorted(tests.items()):
            if test_id.split("-")[0] in AREAS and not mapping.get(test_id, {}).get("sentinelle"):
                print(f"  {test_id:<11} {test.verdict:<8} {test.result[:80]}")
    print("\n" + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())))
    print(f"unexplained disagreements: {unexplained}")
    sys.exit(1 if unexplained else 0)


if __name__ == "__main__":
    main()
