"""The page as plain text: the text/plain part of the email, and what the CLI prints."""

from __future__ import annotations

import textwrap

from sentinelle.report.wording import NBSP, NO_GRADE, Page

NNBSP = "\u202f"  # Babel groups French thousands with it: "1 999"

WIDTH = 72


def _wrap(text: str, indent: str = "", first: str | None = None) -> list[str]:
    # No-break spaces keep "143 jours", "1 999" and "Qui :" together; wrap on ordinary spaces.
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=indent if first is None else first,
        subsequent_indent=indent,
        break_on_hyphens=False,
        break_long_words=False,
    ) or [indent]


def _title(text: str) -> list[str]:
    return ["", text.upper(), "-" * min(WIDTH, len(text))]


def render_text(page: Page) -> str:
    out: list[str] = [page.title, page.commune + " — " + page.period + " · " + page.hosts, ""]
    out.append(page.grade_line)
    for row in page.scale:
        bar = "█" * (3 + 2 * "ABCDE".index(row.grade))
        marker = f"  ◀ {page.your_commune}" if row.current else ""
        out.append(f"  {row.grade} {bar:<12} {row.label}{marker}")
    for line in (page.score, page.trend):
        if line:
            out += _wrap(line)
    out.append("")
    out += _wrap(page.verdict)
    for note in page.notes:
        out += _wrap(note)
    out += _title(page.actions_title)
    for i, a in enumerate(page.actions, start=1):
        out += _wrap(a.text, "   ", f"{i}. ")
        who = f"{a.who} · {a.effort}"
        if a.detail:
            who += f" · {a.detail}"
        out += _wrap(who, "   ")
        out += _wrap(a.why, "   ")
    out += _title(page.fixed_title)
    for line in page.fixed:
        out += _wrap(line, "  ", "- ")
    out += _title(page.incidents_title)
    for line in page.incidents:
        out += _wrap(line, "  ", "- ")
    out += _title(page.backup_title)
    out += _wrap(page.backup_line)
    for line in page.backup_lines:
        out += _wrap(line)
    out += _title(page.comparison_title)
    out += _wrap(page.comparison)
    out += _title(page.chart_title)
    out += _wrap("  ".join(f"{p.label} {p.grade or NO_GRADE}" for p in page.chart))
    out += _title(page.contacts_title)
    out += _wrap(page.soc)
    out += _wrap(page.emergency_intro)
    for i, step in enumerate(page.emergency, start=1):
        out += _wrap(step, "   ", f"{i}. ")
    out.append("")
    out += _wrap(page.method)
    out.append("")
    out += _wrap(page.footer)
    # Non-breaking spaces only served the wrapping above: plain spaces suit every mail reader.
    return "\n".join(out).replace(NBSP, " ").replace(NNBSP, " ") + "\n"
