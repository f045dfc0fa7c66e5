"""Benchmark: the month's summaries of a 300-commune syndicate, HTML and PDF.

Setup (not timed): a SQLite store with 300 communes in 6 départements, 1 to 3 servers each,
13 months of daily snapshots, and a month of hourly Reports per server (the agent's default
interval) whose check states change now and then, as real ones do.

Timed, as `sentinelle report monthly --out` does it: for every commune, the facts from the
store, the page's texts, the chart, the HTML and the text, then the PDF (one headless Chromium,
two tabs). Prints the total, the per-commune median and the PDF share.

    python3 bench/monthly_reports.py [--communes 300] [--interval-hours 1] [--keep DIR]
        [--store-dir DIR] [--via-cli]

--store-dir keeps the generated store there (and reuses it on the next run); --via-cli also
times the command itself, `sentinelle report monthly --out`, on the same store.

Goal on a 2-core machine: at most 60 s for 300 communes.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gzip
import io
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sentinelle.collector.records import (  # noqa: E402
    AgentRecord,
    CheckState,
    Commune,
    DailySnapshot,
    IncomingReport,
    checks_document,
)
from sentinelle.collector.store import open_store  # noqa: E402
from sentinelle.collector.store.sqlite import SQLiteStore  # noqa: E402
from sentinelle.model import Finding, Report, Severity, Status  # noqa: E402
from sentinelle.report.catalog import load_catalog  # noqa: E402
from sentinelle.report.chart import render_chart  # noqa: E402
from sentinelle.report.config import ReportSettings  # noqa: E402
from sentinelle.report.content import Month, SummaryBuilder  # noqa: E402
from sentinelle.report.pdf import ChromiumPdf  # noqa: E402
from sentinelle.report.render_html import render_html  # noqa: E402
from sentinelle.report.render_text import render_text  # noqa: E402
from sentinelle.report.wording import build_page  # noqa: E402
from sentinelle.rules import load_rules  # noqa: E402
from sentinelle.scoring import ScoringPolicy, score_findings  # noqa: E402

MONTH = Month(2026, 3)
NOW = datetime(2026, 4, 1, 7, tzinfo=UTC)
DEPARTEMENTS = ("01", "07", "26", "38", "42", "69")
CHECKS = (
    ("backups.freshness", Severity.HIGH),
    ("backups.offline_copy", Severity.HIGH),
    ("backups.restore_test", Severity.MEDIUM),
    ("backups.size_change", Severity.HIGH),
    ("patching.pending_updates", Severity.HIGH),
    ("patching.package_lists_age", Severity.MEDIUM),
    ("patching.reboot_required", Severity.MEDIUM),
    ("patching.last_upgrade", Severity.MEDIUM),
    ("patching.os_support", Severity.HIGH),
    ("ports.listening", Severity.INFO),
    ("ports.risky_services", Severity.HIGH),
    ("ports.network_scan", Severity.HIGH),
)


def findings(rng: random.Random, states: dict[str, Status], at: datetime) -> list[Finding]:
    """About a dozen findings with the evidence sizes real agents send."""
    out = []
    for check, severity in CHECKS:
        evidence: dict[str, object] = {"source": "bench", "detail": "x" * rng.randint(40, 400)}
        if check == "backups.freshness":
            evidence["newest"] = {"name": "mairie.tar.gz",
                                  "time": (at - timedelta(hours=5)).isoformat()}
        if check == "backups.restore_test":
            evidence["last_test"] = "2026-01-15T10:00:00Z"
        if check == "patching.pending_updates":
            evidence["packages"] = [f"lib-bench-{i}" for i in range(rng.randint(0, 40))]
        out.append(Finding(check, states.get(check, Status.PASS), severity,
                           f"{check}: bench finding", evidence))
    return out


def build_store(directory: Path, communes: int, interval: timedelta, seed: int = 7) -> str:
    rng = random.Random(seed)
    policy = ScoringPolicy.from_data(load_rules().scoring)
    url = f"sqlite://{directory / 'collector.db'}"
    store = open_store(url)
    store.migrate()
    assert isinstance(store, SQLiteStore)
    # Setup speed only: the timed part reads the store as the command does.
    store._db.execute("PRAGMA synchronous=OFF")
    start = MONTH.start(ReportSettings().zone)
    first_day = MONTH.shift(-12).first_day
    for n in range(communes):
        dep = DEPARTEMENTS[n % len(DEPARTEMENTS)]
        code = f"{dep}{n // len(DEPARTEMENTS) + 1:03d}"
        population = int(rng.lognormvariate(7, 1.2))
        store.upsert_commune(Commune(code, f"Commune {n:03d}", dep, population,
                                     (f"maire{n}@example.fr",)))
        base = rng.uniform(40, 98)
        day = first_day
        while day <= MONTH.last_day:
            score = max(0.0, min(100.0, base + rng.gauss(0, 3)))
            store.upsert_snapshot(DailySnapshot(code, day, score, policy.grade_for(score),
                                                2, 2, {}))
            day += timedelta(days=1)
        for h in range(rng.randint(1, 3)):
            agent_id = f"a-{code}-{h}"
            store.add_agent(AgentRecord(agent_id, code, f"srv-{h}", "hash",
                                        datetime(2025, 1, 1, tzinfo=UTC)))
            states = {c: Status.FAIL for c, _ in CHECKS if rng.random() < 0.15}
            batch: list[IncomingReport] = []
            body_cache: dict[tuple[tuple[str, str], ...], tuple[bytes, float, str, tuple]] = {}
            at, seq = start, 0
            while at < NOW:
                if rng.random() < 0.01:  # a check changes state now and then
                    check = rng.choice(CHECKS)[0]
                    states[check] = Status.PASS if states.get(check) == Status.FAIL else (
                        Status.FAIL)
                key = tuple(sorted((c, s.value) for c, s in states.items()))
                last = at + interval >= NOW
                if key not in body_cache or last:
                    results = findings(rng, states, at)
                    score = score_findings(results, policy)
                    report = Report(f"r{seq}", at.isoformat(), "bench", {"hostname": "srv"},
                                    (), tuple(results), score)
                    body = gzip.compress(json.dumps(report.to_dict()).encode(), 1)
                    checks = checks_document(CheckState(f.check, f.status.value, f.severity.value,
                                                        f.summary) for f in results)
                    body_cache[key] = (body, score.value, score.grade, checks)
                body, value, grade, checks = body_cache[key]
                batch.append(IncomingReport(f"r{seq}", agent_id, code, f"srv-{h}",
                                            at + timedelta(seconds=3), at, value, grade, body,
                                            checks, json.dumps({"value": value})))
                seq += 1
                at += interval
            store.store_reports(batch)
    store.close()
    return url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--communes", type=int, default=300)
    parser.add_argument("--interval-hours", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2, help="Chromium tabs")
    parser.add_argument("--keep", metavar="DIR", help="write the pages there for a look")
    parser.add_argument("--store-dir", metavar="DIR", help="keep (and reuse) the store there")
    parser.add_argument("--via-cli", action="store_true", help="also time the command")
    args = parser.parse_args()
    directory = Path(args.store_dir or tempfile.mkdtemp(prefix="sentinelle-bench-report-"))
    try:
        t0 = time.perf_counter()
        if args.store_dir and (directory / "collector.db").exists():
            url = f"sqlite://{directory / 'collector.db'}"
        else:
            directory.mkdir(parents=True, exist_ok=True)
            url = build_store(directory, args.communes, timedelta(hours=args.interval_hours))
        size = (directory / "collector.db").stat().st_size / 1e6
        print(f"setup: {args.communes} communes, store {size:.0f} MB, "
              f"{time.perf_counter() - t0:.1f} s (not timed)")

        policy = ScoringPolicy.from_data(load_rules().scoring)
        catalog = load_catalog()
        settings = ReportSettings()
        started = time.perf_counter()
        store = open_store(url)
        builder = SummaryBuilder(store, policy, catalog, settings, 6 * 3600, NOW)
        codes = sorted(builder.communes)
        content_times: list[float] = []
        printable: list[str] = []
        reports = 0
        for code in codes:
            t = time.perf_counter()
            summary = builder.build(code, MONTH)
            page = build_page(summary, catalog, settings, "fr")
            png = render_chart(page.chart, policy.grade_floors)
            uri = "data:image/png;base64," + base64.b64encode(png).decode()
            render_html(page, "cid:chart")  # the email's HTML
            render_text(page)
            printable.append(render_html(page, uri, for_print=True))
            content_times.append(time.perf_counter() - t)
        content_wall = time.perf_counter() - started
        reports = sum(store.count_reports(a.agent_id) for a in store.list_agents())
        store.close()
        pdf_started = time.perf_counter()
        with ChromiumPdf(workers=args.workers) as renderer:
            pdfs = renderer.render_many(printable)
        pdf_wall = time.perf_counter() - pdf_started
        total = time.perf_counter() - started
        if args.keep:
            keep = Path(args.keep)
            keep.mkdir(parents=True, exist_ok=True)
            for code, html, pdf in zip(codes, printable, pdfs, strict=True):
                (keep / f"{code}-{MONTH}.html").write_text(html, encoding="utf-8")
                (keep / f"{code}-{MONTH}.pdf").write_bytes(pdf)
        # Pages are printed a dozen at a time: a page's PDF cost is its share of the wall time.
        pdf_each = pdf_wall / len(codes)
        per_commune = [c + pdf_each for c in content_times]
        print(f"{len(codes)} communes, {reports} stored Reports (the month and before)")
        print(f"total: {total:.1f} s (goal <= 60 s)")
        print(f"  facts, texts, chart, HTML: {content_wall:.1f} s "
              f"(median {statistics.median(content_times) * 1000:.0f} ms per commune)")
        print(f"  PDF: {pdf_wall:.1f} s, {args.workers} tabs "
              f"({pdf_each * 1000:.0f} ms per page), {100 * pdf_wall / total:.0f} % of the total")
        print(f"per-commune median: {statistics.median(per_commune) * 1000:.0f} ms")
        print(f"PDF size: median {statistics.median(len(p) for p in pdfs) / 1000:.0f} kB")
        ok = total <= 60
        if args.via_cli:
            ok = via_cli(url) <= 60 and ok
        return 0 if ok else 1
    finally:
        if not args.store_dir:
            shutil.rmtree(directory, ignore_errors=True)


def via_cli(url: str) -> float:
    """`sentinelle report monthly --out DIR` on the same store, timed end to end."""
    from sentinelle.report.cli import MonthlyRun, add_report_parser

    parser = argparse.ArgumentParser()
    add_report_parser(parser.add_subparsers(dest="command"))
    out = Path(tempfile.mkdtemp(prefix="sentinelle-bench-out-"))
    try:
        args = parser.parse_args(["report", "monthly", "--month", str(MONTH), "--store", url,
                                  "--out", str(out)])
        started = time.perf_counter()
        run = MonthlyRun(args, now=NOW)
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                run.run()
            finally:
                run.close()
        elapsed = time.perf_counter() - started
        pages = len(list(out.glob("*.pdf")))
        print(f"via the command (--out, files written): {elapsed:.1f} s for {pages} communes")
        return elapsed
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
