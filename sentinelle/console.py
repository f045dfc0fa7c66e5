"""The readable, coloured table `sentinelle check` prints, grouped by category."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TextIO

from sentinelle.model import Finding, Report, Severity, Status
from sentinelle.rules import RuleSet
from sentinelle.texts import capped_text, remediation_text, severity_name, summary_text

_COLOURS = {
    Status.PASS: "32",  # green
    Status.WARN: "33",  # yellow
    Status.FAIL: "31",  # red
    Status.ERROR: "35",  # magenta
    Status.SKIP: "90",  # grey
}
_GRADE_COLOURS = {"A": "32", "B": "92", "C": "33", "D": "91", "E": "31"}
def use_colour(stream: TextIO, mode: str = "auto") -> bool:
    """Colour when asked, or in auto mode on a terminal without NO_COLOR."""
    if mode in ("always", "never"):
        return mode == "always"
    return stream.isatty() and "NO_COLOR" not in os.environ


def _paint(text: str, code: str, on: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if on else text


def _sort_key(f: Finding) -> tuple[int, int]:
    order = (Status.FAIL, Status.WARN, Status.ERROR, Status.PASS, Status.SKIP)
    return (order.index(f.status), f.severity.rank)


def top_remediations(report: Report, limit: int = 5) -> list[Finding]:
    """The open findings to act on first: fails before warns, worst severity first."""
    open_findings = [f for f in report.results if f.status.is_open and f.counts]
    return sorted(open_findings, key=_sort_key)[:limit]


def render_table(
    report: Report,
    rules: RuleSet,
    lang: str = "fr",
    colour: bool = False,
    width: int | None = None,
) -> str:
    """The whole report as text: one block per category, then the score and what to do first.
    Every word comes from the catalogs, in `lang` only."""
    catalog = rules.catalog

    def say(msg_id: str, **args: object) -> str:
        return catalog.render(msg_id, args, lang)

    width = width or 100
    by_category: dict[str, list[Finding]] = {}
    for f in report.results:
        meta = rules.checks.get(f.check)
        category = meta.category[lang] if meta else f.check.split(".", 1)[0]
        by_category.setdefault(category, []).append(f)
    durations: Mapping[str, float] = {c.check: c.duration_seconds for c in report.checks}
    lines: list[str] = []
    host = report.host
    name, system, kernel = (str(host.get(k, "?")) for k in ("hostname", "os_name", "kernel"))
    lines.append(say("console.host_line", host=name, system=system, kernel=kernel))
    lines.append("")
    for category, findings in by_category.items():
        total = sum(durations.get(c, 0.0) for c in {f.check for f in findings})
        seconds = say("console.seconds", seconds=round(total, 2))
        lines.append(_paint(f"{category}", "1", colour) + f"  ({seconds})")
        for f in sorted(findings, key=_sort_key):
            word = say("console.tag.waived" if f.waiver else f"console.tag.{f.status.value}")
            tag = _paint(f"[{word:^9}]", "36" if f.waiver else _COLOURS[f.status], colour)
            meta = rules.checks.get(f.check)
            title = meta.title[lang] if meta else f.check
            text = f"  {tag} {title} : " if lang == "fr" else f"  {tag} {title}: "
            text += summary_text(f, catalog, lang)
            if f.status.is_open or f.status == Status.ERROR:
                text += f" ({severity_name(f.severity, catalog, lang)})"
            lines.append(_clip(text, width + (9 if colour else 0)))
            if f.waiver is not None:
                accepted = say("waiver.accepted", accepted_by=f.waiver.accepted_by,
                               until=f.waiver.expires, reason=f.waiver.reason)
                lines.append(_clip(f"              {accepted}", width))
        lines.append("")
    score = report.score
    grade = _paint(score.grade, "1;" + _GRADE_COLOURS.get(score.grade, "0"), colour)
    line = say("console.score", score=round(score.value), grade=grade)
    capped = capped_text(score.capped_by, rules, lang, _capping_finding(report))
    if capped is not None:
        line += "  " + capped
    counts = [
        say("console.open_count", count=n, severity=severity_name(sev, catalog, lang))
        for sev, n in score.open_by_severity.items()
        if n and sev != Severity.INFO
    ]
    if counts:
        total = sum(n for sev, n in score.open_by_severity.items() if sev != Severity.INFO)
        line += "   " + say("console.open", total=total, counts=", ".join(counts))
    lines.append(line)
    lines.append("")
    lines.append(_paint(say("console.top"), "1", colour))
    top = top_remediations(report)
    if not top:
        lines.append("  " + say("console.none"))
    for i, f in enumerate(top, 1):
        sev = severity_name(f.severity, catalog, lang)
        lines.append(f"  {i}. [{sev}] {summary_text(f, catalog, lang)}")
        lines.append(f"     → {remediation_text(f, rules, lang).strip()}")
    return "\n".join(lines) + "\n"


def _capping_finding(report: Report) -> Finding | None:
    """The worst open finding: what caps the grade when its `capped_by` names no check."""
    open_findings = [f for f in report.results if f.status.is_open and f.counts]
    return min(open_findings, key=lambda f: f.severity.rank) if open_findings else None


def localized_report(report: Report, rules: RuleSet, lang: str) -> dict[str, object]:
    """The Report as JSON for a person in `lang`: each finding's summary, and for open ones
    what to do, rendered in that language only (the message id and arguments stay beside
    them). A pass or a skip has nothing to do, and lacks the values a remediation names."""
    data = report.to_dict()
    for finding, out in zip(report.results, data["results"], strict=True):
        out["summary"] = summary_text(finding, rules.catalog, lang)
        out["remediation"] = (
            {lang: remediation_text(finding, rules, lang)} if finding.status.is_open else {}
        )
    return data


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def default_lang() -> str:
    """French unless the environment asks for English: the users are French town halls."""
    for var in ("SENTINELLE_LANG", "LC_ALL", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return "en" if value.lower().startswith("en") else "fr"
    return "fr"


def print_table(report: Report, rules: RuleSet, lang: str, colour_mode: str = "auto") -> None:
    out = sys.stdout
    out.write(render_table(report, rules, lang, use_colour(out, colour_mode)))
