"""HTML, text, chart and PDF of the monthly page: email-safe markup, one A4 page printed by a
real headless Chromium and turned into a picture by pdftoppm, and no technical detail of the
fleet (host names, addresses, ports, package names) anywhere a mayor could read it."""

from __future__ import annotations

import base64
import io
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import pytest
from PIL import Image

from sentinelle.i18n import LANGS
from sentinelle.report.catalog import Catalog
from sentinelle.report.chart import HEIGHT, SCALE, WIDTH, render_chart
from sentinelle.report.config import ReportSettings
from sentinelle.report.content import Month, SummaryBuilder
from sentinelle.report.pdf import ChromiumPdf, find_chromium
from sentinelle.report.render_html import render_html
from sentinelle.report.render_text import render_text
from sentinelle.report.wording import GRADE_COLOURS, Page, build_page, format_month, short_month
from sentinelle.scoring import ScoringPolicy
from tests.conftest import need, need_tool
from tests.report.scenario import MONTH, PEERS, Scenario
from tests.report.words import foreign_words_in, report_fragments

CODES = ("01001", "01003", "01007", "01008", "01010")


@dataclass
class Rendered:
    code: str
    lang: str
    page: Page
    html: str  # the email's HTML (cid: image)
    printable: str  # the PDF's HTML (data: image)
    text: str
    chart: bytes
    pdf: bytes


@pytest.fixture(scope="session")
def chromium() -> Iterator[ChromiumPdf]:
    try:
        binary = find_chromium()
    except Exception as exc:  # PdfError: not installed
        need(False, str(exc))
        raise
    with ChromiumPdf(binary, workers=2) as renderer:
        yield renderer


@pytest.fixture(scope="session")
def rendered(
    scenario: Scenario,
    policy: ScoringPolicy,
    catalog: Catalog,
    chromium: ChromiumPdf,
) -> list[Rendered]:
    from sentinelle.collector.store import open_store
    from tests.report.conftest import SILENT_AFTER
    from tests.report.scenario import NOW

    store = open_store(scenario.store_url)
    try:
        builder = SummaryBuilder(store, policy, catalog, ReportSettings(), SILENT_AFTER, NOW)
        out: list[Rendered] = []
        for lang in ("fr", "en"):
            for code in CODES:
                page = build_page(builder.build(code, MONTH), catalog, ReportSettings(), lang)
                png = render_chart(page.chart, policy.grade_floors)
                uri = "data:image/png;base64," + base64.b64encode(png).decode()
                out.append(Rendered(code, lang, page, render_html(page, "cid:chart@test"),
                                    render_html(page, uri, for_print=True), render_text(page),
                                    png, b""))
    finally:
        store.close()
    for r, pdf in zip(out, chromium.render_many([r.printable for r in out]), strict=True):
        r.pdf = pdf
    return out


def _pdf_text(pdf: bytes, tmp: Path) -> str:
    tool = need_tool("pdftotext")
    path = tmp / "page.pdf"
    path.write_bytes(pdf)
    return subprocess.run([tool, "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True, timeout=60).stdout


def _static_vocabulary(catalog: Catalog) -> set[str]:
    """Every word the page may legitimately contain: a package named like one of them
    ("login", "at") cannot be told apart from prose, and reveals nothing."""
    texts: list[str] = []
    for lang in LANGS:
        texts += [fragment for _, fragment in report_fragments(catalog.messages, lang)]
        texts += [format_month(Month(2026, m), lang) for m in range(1, 13)]
        texts += [short_month(Month(2026, m), lang) for m in range(1, 13)]
    contacts = ReportSettings().contacts
    for steps in contacts.emergency.values():
        texts += steps
    return {w.lower() for t in texts for w in re.findall(r"[\w.+-]+", t)}


def test_email_html_is_self_contained_tables_and_inline_styles(rendered: list[Rendered]) -> None:
    for r in rendered:
        html = r.html
        assert html.startswith("<!DOCTYPE html>") and f'<html lang="{r.lang}">' in html
        lowered = html.lower()
        for banned in ("<script", "<link", "<style", "@import", "url(", "<iframe", "<form"):
            assert banned not in lowered, (r.code, banned)
        # The only image is the chart, by Content-ID; no other resource is fetched.
        assert re.findall(r'src="([^"]+)"', html) == ["cid:chart@test"]
        assert not re.search(r'(?:src|href)="https?:', html)
        assert 'width="640"' in html and "<table" in html
        # Every element that carries presentation does it inline; no class hooks.
        assert "class=" not in html
        # Typography of each language: a space before the colon in French only.
        assert ("Qui\u00a0: " if r.lang == "fr" else "Who: ") in html
        alt = re.search(r'<img [^>]*alt="([^"]+)"', html)
        assert alt is not None and ("mois par mois" if r.lang == "fr" else "month by month") in (
            alt.group(1)
        )


def test_text_part_carries_the_same_facts(rendered: list[Rendered]) -> None:
    for r in rendered:
        p = r.page
        flat = " ".join(r.text.split())
        assert " ".join(p.verdict.split()) in flat
        for action in p.actions:
            assert " ".join(action.text.split()) in flat
        assert p.backup_answer.upper() in flat
        assert " ".join(p.comparison.split()) in flat
        assert p.soc.split(" — ")[0] in flat


def test_chart_bars_have_the_grade_colours(rendered: list[Rendered]) -> None:
    r = next(r for r in rendered if r.code == "01001" and r.lang == "fr")
    img = Image.open(io.BytesIO(r.chart)).convert("RGB")
    assert img.size == (WIDTH * SCALE, HEIGHT * SCALE)
    assert len(r.chart) < 40_000  # small enough to inline in every email
    # The last bar (March, grade B: capped by an open high) is green; April 2025 (C) yellow.
    left, right, bottom = 34 * SCALE, 8 * SCALE, 24 * SCALE  # chart.py margins
    slot = (WIDTH * SCALE - left - right) / 12
    y = HEIGHT * SCALE - bottom - 10
    def hex_at(i: int) -> str:
        x = int(left + slot * (i + 0.5))
        return "#{:02x}{:02x}{:02x}".format(*img.getpixel((x, y)))  # type: ignore[misc]
    assert hex_at(11) == GRADE_COLOURS["B"][0]
    assert hex_at(0) == GRADE_COLOURS["C"][0]


def test_pdf_is_one_a4_page_that_renders(rendered: list[Rendered], tmp_path: Path) -> None:
    pdfinfo = need_tool("pdfinfo")
    pdftoppm = need_tool("pdftoppm")
    for r in rendered:
        assert r.pdf.startswith(b"%PDF-")
        path = tmp_path / f"{r.code}-{r.lang}.pdf"
        path.write_bytes(r.pdf)
        info = subprocess.run([pdfinfo, str(path)], check=True, capture_output=True,
                              text=True, timeout=60).stdout
        assert re.search(r"^Pages:\s+1$", info, re.M), (r.code, info)
        assert "(A4)" in info
    # The page as a picture: the right size, far from blank, with the grade's colour in it.
    r = next(r for r in rendered if r.code == "01001" and r.lang == "fr")
    path = tmp_path / "01001.pdf"
    path.write_bytes(r.pdf)
    subprocess.run([pdftoppm, "-r", "60", "-png", "-singlefile", str(path),
                    str(tmp_path / "01001")], check=True, timeout=60)
    img = Image.open(tmp_path / "01001.png").convert("RGB")
    assert img.size == (496, 702)  # A4 at 60 dpi
    pixels = list(getattr(img, "get_flattened_data", img.getdata)())
    inked = sum(1 for p in pixels if sum(p) < 600) / len(pixels)
    assert 0.08 < inked < 0.6, inked
    green = tuple(int(GRADE_COLOURS["B"][0][i:i + 2], 16) for i in (1, 3, 5))
    near = sum(1 for p in pixels if all(abs(a - b) < 12 for a, b in zip(p, green, strict=True)))
    assert near > 500  # the grade box, the scale's B bar, March's bar


def _leak_patterns(tokens: dict[str, set[str]], catalog: Catalog) -> list[re.Pattern[str]]:
    vocabulary = _static_vocabulary(catalog)
    words = [w for w in tokens["hosts"] | tokens["packages"] if w.lower() not in vocabulary]
    patterns = [re.compile(rf"(?<![\w.-]){re.escape(w)}(?![\w-])", re.I) for w in words]
    # A port number equal to a year could match a date legitimately: years are left out.
    ports = [p for p in tokens["ports"] if not 1990 <= int(p) <= 2100]
    patterns += [re.compile(rf"(?<![\d,.]){p}(?![\d,])") for p in ports]
    return [
        *patterns,
        re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b"),  # IPv4 address
        re.compile(r"\b[0-9a-f]{0,4}::[0-9a-f:]*\b", re.I),  # IPv6 shorthand
        re.compile(r"\b\d{1,5}/(?:tcp|udp)\b", re.I),
        re.compile(r"\bports?\s*:?\s*\d", re.I),
        re.compile(r"\b(?:patching|ports|backups)\.[a-z_]+"),  # check ids: jargon
        re.compile(r"\d+\.\d+\.\d+"),  # version numbers
    ]


def _leaks(body: str, patterns: list[re.Pattern[str]]) -> list[str]:
    return [m.group() for p in patterns if (m := p.search(body))]


def test_no_technical_detail_reaches_the_mayor(
    rendered: list[Rendered], scenario: Scenario, catalog: Catalog, tmp_path: Path
) -> None:
    tokens = scenario.sensitive_tokens()
    # The pushed Reports do hold such details (else this test would prove nothing).
    assert {"srv-mairie", "nas-compta"} <= tokens["hosts"]
    assert {"10.12.0.5", "192.168.40.2"} <= tokens["ips"]
    assert "3389" in tokens["ports"]
    assert {"openssl", "xrdp", "libxrdp0"} <= tokens["packages"]
    patterns = _leak_patterns(tokens, catalog)
    # The scan does see a leak when there is one: a finding's own text, as an agent wrote it.
    from tests.report.scenario import PENDING, RDP

    for summary in (RDP.summary, PENDING.summary, "Serveur srv-mairie : à jour."):
        assert _leaks(f"<p>{summary}</p>", patterns), summary
    for r in rendered:
        outputs = {
            "html": re.sub(r'src="data:[^"]+"', "", r.printable) + r.html,
            "text": r.text,
            "pdf": _pdf_text(r.pdf, tmp_path),
        }
        for kind, body in outputs.items():
            assert _leaks(body, patterns) == [], (r.code, r.lang, kind)


def test_each_page_speaks_one_language(
    rendered: list[Rendered], catalog: Catalog, tmp_path: Path
) -> None:
    """No French page (HTML, text or printed PDF) holds a catalog text of the English one, and
    the reverse."""
    for r in rendered:
        html = re.sub(r"<[^>]+>", " ", re.sub(r'src="data:[^"]+"', "", r.html)).replace(
            "&nbsp;", " ")
        for kind, body in (("html", unescape(html)), ("text", r.text),
                           ("pdf", _pdf_text(r.pdf, tmp_path))):
            assert foreign_words_in(body, catalog.messages, r.lang) == [], (r.code, r.lang, kind)


def test_pdf_text_is_french_with_accents(rendered: list[Rendered], tmp_path: Path) -> None:
    r = next(r for r in rendered if r.code == "01001" and r.lang == "fr")
    text = " ".join(_pdf_text(r.pdf, tmp_path).split())
    assert "Point mensuel de sécurité informatique" in text
    assert "Données de la semaine dernière récupérables :" in text
    assert "17Cyber" in text and "CERT-FR" in text
    assert not any(p.name in text for p in PEERS)
