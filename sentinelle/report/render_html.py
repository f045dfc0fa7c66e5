"""The page as HTML that webmail and Outlook render alike: nested tables, inline styles only,
no external CSS, script or font, one image (the chart) referenced by cid: or a data: URI.

The same markup is printed to PDF; `for_print` adds only an @page rule for A4.
"""

from __future__ import annotations

from html import escape

from sentinelle.report.wording import Page

FONT = "font-family:Arial,Helvetica,sans-serif;"
INK = "#1d1d1b"
MUTED = "#5f6368"
RULE = "#e0e0e0"
HEADER_BG = "#1f3a5f"
ANSWER_COLOURS = {"yes": "#00843d", "no": "#c62828", "unknown": "#ef6c00"}
WIDTH = 640


def _e(text: str) -> str:
    return escape(text, quote=True)


def _section_title(text: str) -> str:
    return (
        f'<tr><td style="{FONT}padding:14px 24px 4px 24px;font-size:15px;font-weight:bold;'
        f'color:{HEADER_BG};">{_e(text)}</td></tr>'
    )


def _scale(page: Page) -> str:
    """The A-E scale as the energy label draws it: longer, warmer bars down to E."""
    rows = []
    for i, row in enumerate(page.scale):
        width = 120 + i * 26
        marker = (
            f'<td style="{FONT}padding-left:6px;font-size:12px;font-weight:bold;color:{INK};'
            f'white-space:nowrap;">&#9664; {_e(page.your_commune)}</td>'
            if row.current
            else "<td></td>"
        )
        border = f"border:2px solid {INK};" if row.current else "border:2px solid #ffffff;"
        # One small table per row: the bars of a shared column would all get the same width.
        rows.append(
            '<tr><td style="padding:0 0 3px 0;"><table role="presentation" cellpadding="0" '
            'cellspacing="0" border="0"><tr>'
            f'<td width="{width}" bgcolor="{row.background}" style="{FONT}{border}'
            f"background:{row.background};color:{row.foreground};width:{width}px;"
            f'font-size:12px;padding:2px 6px;white-space:nowrap;">'
            f'<b style="font-size:14px;">{row.grade}</b>&nbsp; {_e(row.label)}</td>'
            f"{marker}</tr></table></td></tr>"
        )
    return (
        '<table role="presentation" cellpadding="0" cellspacing="0" border="0">'
        + "".join(rows)
        + "</table>"
    )


def _grade_box(page: Page) -> str:
    bg, fg = page.grade_colours
    letter = page.grade or "–"
    lines = [
        f'<div style="{FONT}font-size:12px;color:{MUTED};">{_e(page.grade_label)}</div>',
        '<table role="presentation" cellpadding="0" cellspacing="0" border="0"><tr>'
        f'<td width="64" height="64" align="center" valign="middle" bgcolor="{bg}" '
        f'style="{FONT}width:64px;height:64px;background:{bg};color:{fg};font-size:40px;'
        f'font-weight:bold;">{_e(letter)}</td>'
        f'<td style="{FONT}padding-left:12px;font-size:16px;font-weight:bold;color:{INK};">'
        f"{_e(page.grade_text)}</td></tr></table>",
    ]
    if page.score:
        lines.append(
            f'<div style="{FONT}font-size:13px;color:{INK};padding-top:6px;">{_e(page.score)}</div>'
        )
    if page.trend:
        arrow = {"up": "&#9650; ", "down": "&#9660; "}.get(page.trend_key, "")
        lines.append(
            f'<div style="{FONT}font-size:13px;color:{INK};padding-top:2px;">'
            f"{arrow}{_e(page.trend)}</div>"
        )
    return "".join(lines)


def _actions(page: Page) -> str:
    rows = []
    for i, a in enumerate(page.actions, start=1):
        detail = f" · {_e(a.detail)}" if a.detail else ""
        rows.append(
            "<tr>"
            f'<td width="30" valign="top" style="{FONT}width:30px;padding:4px 0;">'
            # A cell with bgcolor, not a styled div: Outlook paints cell backgrounds only.
            '<table role="presentation" cellpadding="0" cellspacing="0" border="0"><tr>'
            f'<td width="24" height="24" align="center" valign="middle" bgcolor="{HEADER_BG}" '
            f'style="{FONT}width:24px;height:24px;border-radius:12px;background:{HEADER_BG};'
            f'color:#ffffff;font-weight:bold;font-size:13px;">{i}</td></tr></table></td>'
            f'<td valign="top" style="{FONT}padding:4px 0 6px 6px;font-size:13px;color:{INK};">'
            f'<div style="font-weight:bold;">{_e(a.text)}</div>'
            f'<div style="color:{INK};">{_e(a.who)} · {_e(a.effort)}{detail}</div>'
            f'<div style="color:{MUTED};font-size:12px;">{_e(a.why)}</div></td></tr>'
        )
    return (
        '<tr><td style="padding:0 24px;"><table role="presentation" width="100%" '
        'cellpadding="0" cellspacing="0" border="0">' + "".join(rows) + "</table></td></tr>"
    )


def _list(lines: tuple[str, ...]) -> str:
    return "".join(
        f'<div style="{FONT}font-size:12px;color:{INK};padding:1px 0;">• {_e(line)}</div>'
        for line in lines
    )


def _fixed_and_incidents(page: Page) -> str:
    def column(title: str, lines: tuple[str, ...], pad: str) -> str:
        return (
            f'<td width="50%" valign="top" style="width:50%;{pad}">'
            f'<div style="{FONT}font-size:14px;font-weight:bold;color:{HEADER_BG};'
            f'padding-bottom:3px;">{_e(title)}</div>{_list(lines)}</td>'
        )

    return (
        '<tr><td style="padding:12px 24px 0 24px;"><table role="presentation" width="100%" '
        'cellpadding="0" cellspacing="0" border="0"><tr>'
        + column(page.fixed_title, page.fixed, "padding-right:10px;")
        + column(page.incidents_title, page.incidents, "padding-left:10px;")
        + "</tr></table></td></tr>"
    )


def _backup(page: Page) -> str:
    colour = ANSWER_COLOURS.get(page.backup_answer_key, MUTED)
    lines = "".join(
        f'<div style="{FONT}font-size:12px;color:{INK};padding-top:2px;">{_e(line)}</div>'
        for line in page.backup_lines
    )
    return (
        '<tr><td style="padding:12px 24px 0 24px;"><table role="presentation" width="100%" '
        f'cellpadding="0" cellspacing="0" border="0" style="border:1px solid {RULE};">'
        f'<tr><td style="{FONT}padding:8px 12px;">'
        f'<div style="{FONT}font-size:14px;font-weight:bold;color:{HEADER_BG};">'
        f"{_e(page.backup_title)}</div>"
        '<table role="presentation" cellpadding="0" cellspacing="0" border="0" '
        'style="margin-top:4px;"><tr>'
        f'<td style="{FONT}font-size:13px;color:{INK};padding-right:8px;">'
        f"{_e(page.backup_prompt)}</td>"
        f'<td bgcolor="{colour}" style="{FONT}background:{colour};color:#ffffff;'
        f'font-size:13px;font-weight:bold;padding:1px 10px;border-radius:3px;">'
        f"{_e(page.backup_answer)}</td></tr></table>"
        f"{lines}</td></tr></table></td></tr>"
    )


def _emergency(page: Page) -> str:
    steps = "".join(
        f'<li style="{FONT}font-size:12px;color:{INK};padding:1px 0;">{_e(step)}</li>'
        for step in page.emergency
    )
    return (
        '<tr><td style="padding:12px 24px 0 24px;"><table role="presentation" width="100%" '
        'cellpadding="0" cellspacing="0" border="0" bgcolor="#fdecea" '
        'style="background:#fdecea;border-left:4px solid #c62828;">'
        f'<tr><td style="{FONT}padding:8px 12px;">'
        f'<div style="{FONT}font-size:14px;font-weight:bold;color:#b71c1c;">'
        f"{_e(page.contacts_title)}</div>"
        f'<div style="{FONT}font-size:13px;font-weight:bold;color:{INK};padding-top:3px;">'
        f"{_e(page.soc)}</div>"
        f'<div style="{FONT}font-size:12px;color:{INK};padding-top:3px;">'
        f"{_e(page.emergency_intro)}</div>"
        f'<ol style="margin:2px 0 0 0;padding-left:20px;">{steps}</ol>'
        "</td></tr></table></td></tr>"
    )


def render_html(page: Page, image_src: str, for_print: bool = False) -> str:
    """The page as one HTML document; `image_src` is "cid:…" (email) or a data: URI."""
    notes = "".join(
        f'<tr><td style="{FONT}padding:2px 24px;font-size:12px;color:{INK};">{_e(n)}</td></tr>'
        for n in page.notes
    )
    style = (
        "<style>@page{size:A4;margin:10mm}html,body{background:#ffffff !important}</style>"
        if for_print
        else ""
    )
    outer_bg = "#ffffff" if for_print else "#f3f3f3"
    return (
        "<!DOCTYPE html>"
        f'<html lang="{page.lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(page.subject)}</title>{style}</head>"
        f'<body style="margin:0;padding:0;background:{outer_bg};">'
        f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        f'bgcolor="{outer_bg}" style="background:{outer_bg};"><tr>'
        f'<td align="center" style="padding:{0 if for_print else 12}px 0;">'
        f'<table role="presentation" width="{WIDTH}" cellpadding="0" cellspacing="0" border="0" '
        f'bgcolor="#ffffff" style="width:{WIDTH}px;background:#ffffff;">'
        # Header band
        f'<tr><td bgcolor="{HEADER_BG}" style="{FONT}background:{HEADER_BG};color:#ffffff;'
        'padding:14px 24px;">'
        f'<div style="{FONT}font-size:12px;color:#dbe4f0;">{_e(page.syndicate)}</div>'
        f'<div style="{FONT}font-size:20px;font-weight:bold;color:#ffffff;padding-top:2px;">'
        f"{_e(page.title)}</div>"
        f'<div style="{FONT}font-size:14px;color:#ffffff;padding-top:2px;">'
        f"{_e(page.commune)} — {_e(page.period)} · {_e(page.hosts)}</div></td></tr>"
        # Grade and scale
        '<tr><td style="padding:14px 24px 4px 24px;"><table role="presentation" width="100%" '
        'cellpadding="0" cellspacing="0" border="0"><tr>'
        f'<td width="340" valign="top" style="width:340px;">{_scale(page)}</td>'
        f'<td valign="top" style="padding-left:8px;">{_grade_box(page)}</td>'
        "</tr></table></td></tr>"
        # Verdict and notes
        f'<tr><td style="{FONT}padding:8px 24px 4px 24px;font-size:15px;font-weight:bold;'
        f'color:{INK};">{_e(page.verdict)}</td></tr>'
        f"{notes}"
        + _section_title(page.actions_title)
        + _actions(page)
        + _fixed_and_incidents(page)
        + _backup(page)
        + _section_title(page.comparison_title)
        + f'<tr><td style="{FONT}padding:0 24px;font-size:12px;color:{INK};">'
        f"{_e(page.comparison)}</td></tr>"
        + _section_title(page.chart_title)
        + '<tr><td style="padding:2px 20px 0 20px;">'
        f'<img src="{_e(image_src)}" width="600" height="170" alt="{_e(page.chart_alt)}" '
        'style="display:block;width:600px;height:170px;border:0;"></td></tr>'
        + _emergency(page)
        + f'<tr><td style="{FONT}padding:10px 24px 2px 24px;font-size:11px;color:{MUTED};">'
        f"{_e(page.method)}</td></tr>"
        f'<tr><td style="{FONT}padding:2px 24px 14px 24px;font-size:11px;color:{MUTED};">'
        f"{_e(page.footer)}</td></tr>"
        "</table></td></tr></table></body></html>"
    )
