"""The 12-month chart: one bar per month, as high as the month's score, in the grade's colour.

Drawn with Pillow at twice its display size (sharp on high-density screens and in the PDF) and
kept small: a few kilobytes of PNG, inline in the email (cid:) and in the PDF (data: URI).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from sentinelle.report.wording import GRADE_COLOURS, ChartPoint

WIDTH, HEIGHT = 600, 170  # display size in CSS pixels
SCALE = 2
FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/local/share/fonts",
)
GRID = "#d9d9d9"
TEXT = "#333333"
MISSING = "#bdbdbd"

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@lru_cache(maxsize=8)
def _font(size: int, bold: bool = False) -> Font:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for directory in FONT_DIRS:
        path = Path(directory) / name
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    # Pillow's own scalable font, when the DejaVu fonts are not installed.
    return ImageFont.load_default(size)


def _floors(floors: Sequence[tuple[str, float]]) -> list[tuple[str, float, float]]:
    """(grade, low, high) bands of the score axis."""
    bands = []
    upper = 100.0
    for grade, low in floors:
        bands.append((grade, low, upper))
        upper = low
    return bands


def render_chart(points: Sequence[ChartPoint], floors: Sequence[tuple[str, float]]) -> bytes:
    """PNG bytes of the chart of `points` (oldest first), with the grade bands of `floors`."""
    s = SCALE
    img = Image.new("RGB", (WIDTH * s, HEIGHT * s), "#ffffff")
    draw = ImageDraw.Draw(img)
    small, letter = _font(11 * s), _font(12 * s, bold=True)
    left, right, top, bottom = 34 * s, 8 * s, 18 * s, 24 * s
    plot_h = HEIGHT * s - top - bottom
    plot_w = WIDTH * s - left - right

    def y_of(score: float) -> float:
        return top + plot_h * (1 - max(0.0, min(100.0, score)) / 100)

    # The grade scale on the left, coloured like the energy label, with grid lines at floors.
    for grade, low, high in _floors(floors):
        colour, ink = GRADE_COLOURS.get(grade, (MISSING, "#ffffff"))
        y0, y1 = y_of(high), y_of(low)
        draw.rectangle((4 * s, y0, 22 * s, y1 - 1), fill=colour)
        if y1 - y0 >= 12 * s:
            draw.text((13 * s, (y0 + y1) / 2), grade, fill=ink, font=letter, anchor="mm")
        if low > 0:
            draw.line((left, y1, WIDTH * s - right, y1), fill=GRID, width=s)
    draw.line((left, y_of(0), WIDTH * s - right, y_of(0)), fill=TEXT, width=s)
    n = max(1, len(points))
    slot = plot_w / n
    bar = slot * 0.62
    for i, p in enumerate(points):
        cx = left + slot * (i + 0.5)
        draw.text((cx, HEIGHT * s - 6 * s), p.label, fill=TEXT, font=small, anchor="ms")
        if p.score is None or p.grade is None:
            draw.text((cx, y_of(0) - 4 * s), "–", fill=MISSING, font=letter, anchor="ms")
            continue
        colour, _ = GRADE_COLOURS.get(p.grade, (MISSING, "#ffffff"))
        y = y_of(p.score)
        draw.rectangle((cx - bar / 2, y, cx + bar / 2, y_of(0)), fill=colour)
        draw.text((cx, y - 3 * s), p.grade, fill=TEXT, font=letter, anchor="ms")
    out = io.BytesIO()
    # Default compression: `optimize` saves a kilobyte for twice the time, 300 times a month.
    img.save(out, format="PNG")
    return out.getvalue()
