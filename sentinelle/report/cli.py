"""`sentinelle report monthly`: build, review (--out) and send (--send) the mayors' summaries."""

from __future__ import annotations

import argparse
import base64
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sentinelle.collector.store import Store, open_store
from sentinelle.errors import ConfigError
from sentinelle.report.catalog import Catalog, load_catalog
from sentinelle.report.chart import render_chart
from sentinelle.report.config import default_sent_log, load_settings
from sentinelle.report.content import Month, MonthlySummary, SummaryBuilder
from sentinelle.report.render_html import render_html
from sentinelle.report.render_text import render_text
from sentinelle.report.schedule import first_working_day
from sentinelle.report.wording import Page, build_page
from sentinelle.rules import load_rules
from sentinelle.scoring import ScoringPolicy

if TYPE_CHECKING:
    from sentinelle.report.pdf import ChromiumPdf

EXIT_SEND_FAILED = 1


@dataclass
class _Rendered:
    summary: MonthlySummary
    page: Page
    text: str
    chart: bytes
    pdf: bytes | None = None


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _line(r: _Rendered, status: str) -> str:
    s = r.summary
    grade = f"{s.current.grade} ({s.current.score:.0f}/100)" if s.no_data is None and (
        s.current.score is not None) else "no data"
    return f"{s.commune.code} {s.commune.name}: {grade} — {status}"


class MonthlyRun:
    """One run of the command: what to build, and where it goes."""

    def __init__(self, args: argparse.Namespace, now: datetime | None = None) -> None:
        self.args = args
        self.now = now or datetime.now(UTC)
        self.collector, self.settings = load_settings(args.config, args.report_config)
        self.lang: str = args.lang or self.settings.lang
        local_today = self.now.astimezone(self.settings.zone).date()
        self.month = Month.parse(args.month) if args.month else Month.of(local_today).shift(-1)
        self.store_url: str = args.store or self.collector.store
        self.failures = 0
        self._renderer: ChromiumPdf | None = None  # started on the first PDF only

    def run(self) -> int:
        args = self.args
        today = self.now.astimezone(self.settings.zone).date()
        if args.from_first_working_day:
            first = first_working_day(today.year, today.month)
            if today < first:
                print(f"not before {first.isoformat()}, the month's first working day: nothing "
                      "to do today")
                return 0
        if args.send and args.out is None and not self.settings.smtp.host:
            raise ConfigError(self.settings.source, "mail.smtp.host", "an SMTP relay to --send")
        store = open_store(self.store_url)
        try:
            store.migrate()
            return self._run(store)
        finally:
            store.close()

    def _run(self, store: Store) -> int:
        rules = load_rules()
        policy = ScoringPolicy.from_data(rules.scoring, str(rules.directory / "scoring.yaml"))
        catalog = load_catalog()
        builder = SummaryBuilder(
            store, policy, catalog, self.settings, self.collector.silent_after_seconds, self.now
        )
        codes = [c.upper() for c in self.args.commune] or sorted(builder.communes)
        unknown = [c for c in codes if c not in builder.communes]
        if unknown:
            raise ConfigError(
                "--commune", "--commune", "a registered commune (see `collector commune list`)",
                ", ".join(unknown),
            )
        if self.args.send:
            return self._send(codes, builder, catalog, policy)
        for chunk in _chunks(codes, self._chunk_size()):
            rendered = self._render(chunk, builder, catalog, policy, pdf=self.args.out is not None)
            for r in rendered:
                if self.args.out is not None:
                    paths = self._write(r)
                    print(_line(r, f"written to {paths}"))
                else:
                    sys.stdout.write(r.text + "\n")
        return 0

    def _chunk_size(self) -> int:
        # Enough pages for every Chromium tab to print a full batch at once.
        from sentinelle.report.pdf import BATCH

        return BATCH * self.settings.pdf_workers

    def _render(
        self,
        codes: Sequence[str],
        builder: SummaryBuilder,
        catalog: Catalog,
        policy: ScoringPolicy,
        pdf: bool,
    ) -> list[_Rendered]:
        out = []
        for code in codes:
            summary = builder.build(code, self.month)
            page = build_page(summary, catalog, self.settings, self.lang)
            chart = render_chart(page.chart, policy.grade_floors)
            out.append(_Rendered(summary, page, render_text(page), chart))
        if pdf and out:
            printable = [render_html(r.page, _data_uri(r.chart), for_print=True) for r in out]
            for r, data in zip(out, self._pdf().render_many(printable), strict=True):
                r.pdf = data
        return out

    def _pdf(self) -> ChromiumPdf:
        from sentinelle.report.pdf import ChromiumPdf

        if self._renderer is None:
            self._renderer = ChromiumPdf(
                self.settings.chromium, self.settings.pdf_workers, self.settings.pdf_timeout_seconds
            )
            self._renderer.start()
        return self._renderer

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def _write(self, r: _Rendered) -> str:
        out = Path(self.args.out)
        out.mkdir(parents=True, exist_ok=True)
        stem = f"{r.summary.commune.code}-{self.month}"
        (out / f"{stem}.html").write_text(
            render_html(r.page, _data_uri(r.chart)), encoding="utf-8"
        )
        (out / f"{stem}.txt").write_text(r.text, encoding="utf-8")
        if r.pdf is not None:
            (out / f"{stem}.pdf").write_bytes(r.pdf)
        return str(out / f"{stem}.{{html,pdf,txt}}")

    def _send(
        self,
        codes: Sequence[str],
        builder: SummaryBuilder,
        catalog: Catalog,
        policy: ScoringPolicy,
    ) -> int:
        from sentinelle.report.mail import (
            MailError,
            SentLog,
            SmtpSender,
            build_message,
            new_cid,
        )

        settings = self.settings
        placeholders = settings.contacts.placeholders()
        if placeholders:
            print(
                f"sentinelle: warning: contacts {', '.join(placeholders)} still hold their "
                f"placeholders; set contacts: in {settings.source}",
                file=sys.stderr,
            )
        sender = SmtpSender(settings.smtp, settings.source)
        log = SentLog(default_sent_log(settings, self.store_url))
        month = str(self.month)
        with log.holding():
            todo = []
            for code in codes:
                commune = builder.communes[code]
                done = log.get(month, code)
                if done is not None and not self.args.force:
                    print(f"{code} {commune.name}: already sent on {done.get('sent_at')} "
                          "(--force sends again)")
                elif not commune.mayor_emails:
                    print(f"{code} {commune.name}: no mayor email address: skipped")
                else:
                    todo.append(code)
            for chunk in _chunks(todo, self._chunk_size()):
                for r in self._render(chunk, builder, catalog, policy, pdf=True):
                    if self.args.out is not None:
                        self._write(r)
                    commune = r.summary.commune
                    cid = new_cid(settings.sender)
                    assert r.pdf is not None
                    msg = build_message(
                        subject=r.page.subject,
                        sender=settings.sender,
                        recipients=commune.mayor_emails,
                        reply_to=settings.reply_to,
                        text=r.text,
                        html=render_html(r.page, f"cid:{cid}"),
                        chart_png=r.chart,
                        chart_cid=cid,
                        pdf=r.pdf,
                        pdf_name=r.page.pdf_name,
                        lang=self.lang,
                        now=self.now,
                    )
                    try:
                        result = sender.send(msg)
                    except MailError as exc:
                        self.failures += 1
                        print(_line(r, f"NOT sent: {exc}"), file=sys.stderr)
                        continue
                    log.record(
                        month,
                        commune.code,
                        {
                            "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
                            "recipients": list(commune.mayor_emails),
                            "refused": {a: list(v) for a, v in result.refused.items()},
                            "message_id": str(msg["Message-ID"]),
                            "grade": r.summary.current.grade if r.summary.no_data is None
                            else None,
                            "lang": self.lang,
                        },
                    )
                    refused = f", refused by {sorted(result.refused)}" if result.refused else ""
                    print(_line(r, f"sent to {len(commune.mayor_emails)} address(es){refused}"))
        return EXIT_SEND_FAILED if self.failures else 0


def run_report(args: argparse.Namespace) -> int:
    """Entry point for `sentinelle report …` (errors are SentinelleError, caught by the CLI)."""
    if args.report_command != "monthly":
        raise ConfigError("report", "command", "monthly", args.report_command)
    run = MonthlyRun(args)
    try:
        return run.run()
    finally:
        run.close()
