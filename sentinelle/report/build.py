"""Each commune's page on its own: facts, texts, chart and PDF are made commune by commune, and
a commune whose page cannot be made is an `Outcome` with the stage and the reason, never an
exception that stops the others.

`build_month` is the whole month as one call (what `sentinelle report monthly` does before it
writes or sends anything), for tests and tools; the command uses `PageMaker` chunk by chunk.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sentinelle.collector.settings import CollectorSettings
from sentinelle.collector.store import Store
from sentinelle.report.catalog import Catalog, load_catalog
from sentinelle.report.chart import render_chart
from sentinelle.report.config import ReportSettings
from sentinelle.report.content import Month, MonthlySummary, SummaryBuilder
from sentinelle.report.pdf import ChromiumPdf, PdfError
from sentinelle.report.render_html import render_html
from sentinelle.report.render_text import render_text
from sentinelle.report.wording import Page, build_page
from sentinelle.rules import load_rules
from sentinelle.scoring import ScoringPolicy

log = logging.getLogger("sentinelle.report")
# The command prints each failure on stderr itself: without this, an application that set up
# no logging would get every failure twice (logging's last-resort handler also writes stderr).
log.addHandler(logging.NullHandler())

# Where a commune's page can fail, in order.
FACTS, PAGE, PDF, WRITE, SEND = "facts", "page", "pdf", "write", "send"
REASON_CHARS = 300


@dataclass
class Rendered:
    """One commune's page, ready to write or send."""

    summary: MonthlySummary
    page: Page
    text: str
    chart: bytes
    print_html: str  # the page as printed, the chart inline
    pdf: bytes | None = None


@dataclass(frozen=True)
class Outcome:
    """What became of one commune: its page, or the stage that failed and why."""

    code: str
    rendered: Rendered | None = None
    stage: str | None = None  # FACTS, PAGE, PDF, WRITE or SEND when it failed
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.stage is None


def describe(exc: BaseException) -> str:
    """The exception as one printable line of bounded length.

    Its message may quote stored data (an agent's string), so control characters are escaped:
    nothing an agent wrote can move a terminal's cursor or forge another line of the log.
    """
    message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    line = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
    return line if len(line) <= REASON_CHARS else line[: REASON_CHARS - 1] + "…"


def failed(code: str, stage: str, exc: BaseException) -> Outcome:
    """The Outcome of a commune that failed at `stage`, logged with its traceback."""
    reason = describe(exc)
    log.error("commune %s failed (%s): %s", code, stage, reason, exc_info=exc)
    return Outcome(code, stage=stage, reason=reason)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


class PageMaker:
    """Makes communes' pages for one month and language, each commune on its own."""

    def __init__(
        self,
        builder: SummaryBuilder,
        catalog: Catalog,
        policy: ScoringPolicy,
        settings: ReportSettings,
        month: Month,
        lang: str,
    ) -> None:
        self.builder = builder
        self.catalog = catalog
        self.policy = policy
        self.settings = settings
        self.month = month
        self.lang = lang

    def make(self, code: str) -> Outcome:
        """Facts, texts, chart and printable HTML of one commune (no PDF)."""
        try:
            summary = self.builder.build(code, self.month)
        except Exception as exc:  # this commune's data: its page only
            return failed(code, FACTS, exc)
        try:
            page = build_page(summary, self.catalog, self.settings, self.lang)
            chart = render_chart(page.chart, self.policy.grade_floors)
            rendered = Rendered(
                summary,
                page,
                render_text(page),
                chart,
                render_html(page, data_uri(chart), for_print=True),
            )
        except Exception as exc:
            return failed(code, PAGE, exc)
        return Outcome(code, rendered)

    def make_many(
        self, codes: Sequence[str], pdf: ChromiumPdf | None = None
    ) -> dict[str, Outcome]:
        """Every commune of `codes`, in order; with `pdf`, each page printed too (a page that
        cannot be printed fails its commune alone)."""
        outcomes = {code: self.make(code) for code in codes}
        if pdf is not None:
            made = [o for o in outcomes.values() if o.rendered is not None]
            printed = pdf.render_each([o.rendered.print_html for o in made if o.rendered])
            for outcome, result in zip(made, printed, strict=True):
                assert outcome.rendered is not None
                if isinstance(result, PdfError):
                    outcomes[outcome.code] = failed(outcome.code, PDF, result)
                else:
                    outcome.rendered.pdf = result
        return outcomes


def build_month(
    store: Store,
    month: Month,
    *,
    codes: Sequence[str] | None = None,
    settings: ReportSettings | None = None,
    lang: str | None = None,
    silent_after_seconds: float = CollectorSettings.silent_after_seconds,
    now: datetime | None = None,
    pdf: ChromiumPdf | None = None,
) -> dict[str, Outcome]:
    """Every commune's page of `month` (or those of `codes`) from `store`, each on its own.

    Nothing is written or sent. With `pdf` (a started ChromiumPdf) the pages are printed too.
    A commune whose facts, texts, chart or PDF could not be made has an Outcome that is not
    `ok`, with the stage and the reason; the others are unaffected.
    """
    settings = settings or ReportSettings()
    rules = load_rules()
    policy = ScoringPolicy.from_data(rules.scoring, str(rules.directory / "scoring.yaml"))
    catalog = load_catalog(rules.directory / "report.yaml", rules.catalog)
    builder = SummaryBuilder(store, policy, catalog, settings, silent_after_seconds, now)
    maker = PageMaker(builder, catalog, policy, settings, month, lang or settings.lang)
    return maker.make_many(sorted(builder.communes) if codes is None else codes, pdf)
