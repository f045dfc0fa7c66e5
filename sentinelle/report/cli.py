"""`sentinelle report monthly`: build, review (--out) and send (--send) the mayors' summaries.

Each commune goes on its own: one whose page cannot be built, printed, written or sent is
named on stderr with the stage and the reason (and logged), the others are written and sent,
and the exit status is 1 (EXIT_COMMUNE_FAILED).

Every line for the operator is a catalog message (rules/messages/cli.yaml, `cli.report.*`) in
the run's language, the one of its pages (`--lang`, else the settings').
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

from sentinelle.cli.registry import messages, say
from sentinelle.collector.store import Store, open_store
from sentinelle.errors import ConfigError, expect
from sentinelle.report.arguments import add_report_parser
from sentinelle.report.build import (
    SEND,
    WRITE,
    Outcome,
    PageMaker,
    Rendered,
    data_uri,
    failed,
)
from sentinelle.report.catalog import load_catalog
from sentinelle.report.config import default_sent_log, load_settings
from sentinelle.report.content import Month, SummaryBuilder
from sentinelle.report.pdf import BATCH, ChromiumPdf
from sentinelle.report.render_html import render_html
from sentinelle.report.schedule import first_working_day
from sentinelle.rules import load_rules
from sentinelle.scoring import ScoringPolicy

if TYPE_CHECKING:
    from sentinelle.report.mail import SendResult, SmtpSender

__all__ = ["EXIT_COMMUNE_FAILED", "MonthlyRun", "add_report_parser", "run_report"]

# At least one commune was not written or sent (the others were); 2 is a configuration error.
EXIT_COMMUNE_FAILED = 1
EXIT_SEND_FAILED = EXIT_COMMUNE_FAILED  # its former name: a failed sending is one such failure


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _line(r: Rendered, outcome: str, lang: str) -> str:
    """`01001 Saint-Exemple : B (83/100) — écrit dans …`: the commune, its grade, `outcome`."""
    s = r.summary
    if s.no_data is None and s.current.score is not None:
        grade = say("cli.report.grade", lang, grade=s.current.grade or "?",
                    score=round(s.current.score))
    else:
        grade = say("cli.report.no_data", lang)
    return say("cli.report.line", lang, code=s.commune.code, name=s.commune.name, grade=grade,
               outcome=outcome)


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
        self.failures: dict[str, Outcome] = {}  # by commune code, in the order they failed
        self._renderer: ChromiumPdf | None = None  # started on the first PDF only
        self._names: dict[str, str] = {}

    def run(self) -> int:
        args = self.args
        today = self.now.astimezone(self.settings.zone).date()
        if args.from_first_working_day:
            first = first_working_day(today.year, today.month)
            if today < first:
                print(say("cli.report.not_yet", self.lang, date=first.isoformat()))
                return 0
        if args.send and args.out is None and not self.settings.smtp.host:
            raise ConfigError(self.settings.source, "mail.smtp.host", expect("smtp_relay"))
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
        self._names = {code: c.name for code, c in builder.communes.items()}
        codes = [c.upper() for c in self.args.commune] or sorted(builder.communes)
        unknown = [c for c in codes if c not in builder.communes]
        if unknown:
            raise ConfigError("--commune", "--commune", expect("registered_commune"),
                              ", ".join(unknown))
        maker = PageMaker(builder, catalog, policy, self.settings, self.month, self.lang)
        if self.args.send:
            self._send(codes, builder, maker)
        else:
            for chunk in _chunks(codes, self._chunk_size()):
                pdf = self._pdf() if self.args.out is not None else None
                for outcome in maker.make_many(chunk, pdf).values():
                    r = self._usable(outcome)
                    if r is None:
                        continue
                    if self.args.out is None:
                        sys.stdout.write(r.text + "\n")
                        continue
                    try:
                        paths = self._write(r)
                    except Exception as exc:  # a disk error on one page, say: not the others'
                        self._fail(failed(outcome.code, WRITE, exc))
                        continue
                    written = say("cli.report.written", self.lang, paths=paths)
                    print(_line(r, written, self.lang))
        return self._finish()

    def _usable(self, outcome: Outcome) -> Rendered | None:
        """The commune's page, or None after reporting why it has none."""
        if outcome.rendered is None:
            self._fail(outcome)
        return outcome.rendered

    def _fail(self, outcome: Outcome, printed: bool = False) -> None:
        """Count a failed commune and say so on stderr (unless the caller already did)."""
        self.failures[outcome.code] = outcome
        if not printed:
            print(say("cli.report.failed", self.lang, code=outcome.code,
                      name=self._names.get(outcome.code, ""), stage=self._stage(outcome.stage),
                      reason=outcome.reason or ""), file=sys.stderr)

    def _stage(self, stage: str | None) -> str:
        """The stage's word (`cli.report.stage.*`), or its code when the catalog has none."""
        msg_id = f"cli.report.stage.{stage}"
        return say(msg_id, self.lang) if stage and msg_id in messages() else str(stage)

    def _finish(self) -> int:
        if not self.failures:
            return 0
        print(say("cli.report.summary", self.lang, count=len(self.failures),
                  codes=list(self.failures)), file=sys.stderr)
        return EXIT_COMMUNE_FAILED

    def _chunk_size(self) -> int:
        # Enough pages for every Chromium tab to print a full batch at once.
        return BATCH * self.settings.pdf_workers

    def _pdf(self) -> ChromiumPdf:
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

    def _write(self, r: Rendered) -> str:
        out = Path(self.args.out)
        out.mkdir(parents=True, exist_ok=True)
        stem = f"{r.summary.commune.code}-{self.month}"
        (out / f"{stem}.html").write_text(
            render_html(r.page, data_uri(r.chart)), encoding="utf-8"
        )
        (out / f"{stem}.txt").write_text(r.text, encoding="utf-8")
        if r.pdf is not None:
            (out / f"{stem}.pdf").write_bytes(r.pdf)
        return str(out / f"{stem}.{{html,pdf,txt}}")

    def _send(self, codes: Sequence[str], builder: SummaryBuilder, maker: PageMaker) -> None:
        from sentinelle.report.mail import MailError, SentLog, SmtpSender

        settings = self.settings
        placeholders = settings.contacts.placeholders()
        if placeholders:
            warning = say("cli.report.placeholders", self.lang, count=len(placeholders),
                          names=list(placeholders), source=settings.source)
            print(say("cli.warning", self.lang, message=warning), file=sys.stderr)
        sender = SmtpSender(settings.smtp, settings.source)
        log = SentLog(default_sent_log(settings, self.store_url))
        month = str(self.month)
        with log.holding():
            todo = []
            for code in codes:
                commune = builder.communes[code]
                done = log.get(month, code)
                if done is not None and not self.args.force:
                    print(say("cli.report.already_sent", self.lang, code=code,
                              name=commune.name, when=done.get("sent_at")))
                elif not commune.mayor_emails:
                    print(say("cli.report.no_email", self.lang, code=code, name=commune.name))
                else:
                    todo.append(code)
            for chunk in _chunks(todo, self._chunk_size()):
                for outcome in maker.make_many(chunk, self._pdf()).values():
                    r = self._usable(outcome)
                    if r is None:
                        continue
                    if self.args.out is not None:
                        try:
                            self._write(r)
                        except Exception as exc:  # not sent either: the next run retries it
                            self._fail(failed(outcome.code, WRITE, exc))
                            continue
                    try:
                        msg, result = self._mail(r, sender)
                    except MailError as exc:
                        failure = failed(outcome.code, SEND, exc)
                        self._fail(failure, printed=True)
                        not_sent = say("cli.report.not_sent", self.lang,
                                       reason=failure.reason or "")
                        print(_line(r, not_sent, self.lang), file=sys.stderr)
                        continue
                    except Exception as exc:  # building this message: not the others'
                        self._fail(failed(outcome.code, SEND, exc))
                        continue
                    # Only now, once the relay accepted it: a failed commune is never "sent".
                    commune = r.summary.commune
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
                    sent = say("cli.report.sent_refused" if result.refused else
                               "cli.report.sent", self.lang, count=len(commune.mayor_emails),
                               refused=sorted(result.refused))
                    print(_line(r, sent, self.lang))

    def _mail(self, r: Rendered, sender: SmtpSender) -> tuple[EmailMessage, SendResult]:
        """Build one commune's email and send it."""
        from sentinelle.report.mail import build_message, new_cid

        settings = self.settings
        cid = new_cid(settings.sender)
        if r.pdf is None:
            raise ValueError("the page has no PDF")
        msg = build_message(
            subject=r.page.subject,
            sender=settings.sender,
            recipients=r.summary.commune.mayor_emails,
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
        return msg, sender.send(msg)


def run_report(args: argparse.Namespace) -> int:
    """Entry point for `sentinelle report …` (errors are SentinelleError, caught by the CLI)."""
    if args.report_command != "monthly":
        raise ConfigError("report", "command", expect("choice", choices=["monthly"]),
                          args.report_command)
    run = MonthlyRun(args)
    try:
        return run.run()
    finally:
        run.close()
