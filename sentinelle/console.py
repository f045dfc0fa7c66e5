"""The readable, coloured table `sentinelle check` prints, grouped by category."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TextIO

from sentinelle.model import Finding, Report, Severity, Status
from sentinelle.rules import RuleSet

_COLOURS = {
    Status.PASS: "32",  # green
    Status.WARN: "33",  # yellow
    Status.FAIL: "31",  # red
    Status.ERROR: "35",  # magenta
    Status.SKIP: "90",  # grey
}
_GRADE_COLOURS = {"A": "32", "B": "92", "C": "33", "D": "91", "E": "31"}
_LABELS = {
    "fr": {
        "score": "Score",
        "grade": "Note",
        "capped": "plafonnée",
        "top": "À faire en priorité",
        "none": "Aucune action urgente.",
        "checks": "contrôles",
        "in": "en",
        "open": "constats ouverts",
    },
    "en": {
        "score": "Score",
        "grade": "Grade",
        "capped": "capped",
        "top": "Top remediations",
        "none": "Nothing urgent to do.",
        "checks": "checks",
        "in": "in",
        "open": "open findings",
    },
}
STATUS_WORDS = {
    "fr": {"pass": "OK", "warn": "ATTENTION", "fail": "ÉCHEC", "error": "ERREUR", "skip": "IGNORÉ"},
    "en": {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "error": "ERROR", "skip": "SKIP"},
}


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
    open_findings = [f for f in report.results if f.status.is_open]
    return sorted(open_findings, key=_sort_key)[:limit]


def render_table(
    report: Report,
    rules: RuleSet,
    lang: str = "en",
    colour: bool = False,
    width: int | None = None,
) -> str:
    """The whole report as text: one block per category, then the score and what to do first."""
    words = _LABELS[lang]
    status_words = STATUS_WORDS[lang]
    width = width or 100
    by_category: dict[str, list[Finding]] = {}
    for f in report.results:
        meta = rules.checks.get(f.check)
        category = meta.category[lang] if meta else f.check.split(".", 1)[0]
        by_category.setdefault(category, []).append(f)
    durations: Mapping[str, float] = {c.check: c.duration_seconds for c in report.checks}
    lines: list[str] = []
    host = report.host
    name, system, kernel = (host.get(k, "?") for k in ("hostname", "os_name", "kernel"))
    lines.append(f"{name} — {system} — kernel {kernel}")
    lines.append("")
    for category, findings in by_category.items():
        total = sum(durations.get(c, 0.0) for c in {f.check for f in findings})
        lines.append(_paint(f"{category}", "1", colour) + f"  ({total:.2f} s)")
        for f in sorted(findings, key=_sort_key):
            word = status_words[f.status.value]
            tag = _paint(f"[{word:^9}]", _COLOURS[f.status], colour)
            sev = f.severity.value if f.status.is_open or f.status == Status.ERROR else ""
            meta = rules.checks.get(f.check)
            title = meta.title[lang] if meta else f.check
            text = f"  {tag} {title}: {f.summary}"
            if sev:
                text += f" ({sev})"
            lines.append(_clip(text, width + (9 if colour else 0)))
        lines.append("")
    score = report.score
    grade = _paint(score.grade, "1;" + _GRADE_COLOURS.get(score.grade, "0"), colour)
    line = f"{words['score']}: {score.value:.0f}/100   {words['grade']}: {grade}"
    if score.capped_by:
        line += f"  ({words['capped']}: {score.capped_by})"
    opened = ", ".join(
        f"{n} {sev}" for sev, n in score.open_by_severity.items() if n and sev != Severity.INFO
    )
    if opened:
        line += f"   {words['open']}: {opened}"
    lines.append(line)
    lines.append("")
    lines.append(_paint(words["top"], "1", colour))
    top = top_remediations(report)
    if not top:
        lines.append("  " + words["none"])
    for i, f in enumerate(top, 1):
        remediation = f.remediation.get(lang) or f.remediation.get("en", "")
        lines.append(f"  {i}. [{f.severity.value}] {f.summary}")
        lines.append(f"     → {remediation.strip()}")
    return "\n".join(lines) + "\n"


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
