"""The PDF renderer on its own: one A4 page whatever the height, in batch and page by page."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from sentinelle.report.pdf import ChromiumPdf, PdfError, find_chromium
from tests.conftest import need_tool

STYLE = "<style>@page{size:A4;margin:10mm}</style>"


def _page(n: int, rows: int) -> str:
    body = "".join(f"<tr><td style='height:40px'>ligne {i} de la page {n}</td></tr>"
                   for i in range(rows))
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'>{STYLE}</head><body>"
            f"<table width='640'>{body}</table><p>fin de la page {n} — été</p></body></html>")


def _pages_and_text(pdf: bytes, tmp: Path) -> tuple[int, str]:
    path = tmp / "x.pdf"
    path.write_bytes(pdf)
    info = subprocess.run([need_tool("pdfinfo"), str(path)], capture_output=True, text=True,
                          check=True, timeout=60).stdout
    match = re.search(r"^Pages:\s+(\d+)$", info, re.M)
    assert match is not None
    text = subprocess.run([need_tool("pdftotext"), str(path), "-"], capture_output=True,
                          text=True, check=True, timeout=60).stdout
    return int(match.group(1)), text


@pytest.mark.parametrize("batch", [12, 1])
def test_every_page_is_one_a4_page_even_when_too_tall(batch: int, tmp_path: Path) -> None:
    need_tool("pdfseparate")
    try:
        binary = find_chromium()
    except PdfError as exc:
        need_tool("chromium")
        raise AssertionError(exc) from exc
    # Short, very tall (about three A4 pages) and middling pages, in one run.
    pages = [_page(1, 5), _page(2, 70), _page(3, 20)]
    with ChromiumPdf(binary, workers=2, batch=batch) as renderer:
        pdfs = renderer.render_many(pages)
    assert len(pdfs) == 3
    for n, pdf in enumerate(pdfs, start=1):
        count, text = _pages_and_text(pdf, tmp_path)
        assert count == 1, (batch, n)
        # Shrunk, not cut: the last line is there, and only this page's lines.
        assert f"fin de la page {n} — été" in text
        assert all(f"de la page {n}" in line for line in text.splitlines()
                   if "de la page" in line)


def test_missing_chromium_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PdfError, match="not an executable file"):
        find_chromium(str(tmp_path / "chromium"))


HANGS = ("<!DOCTYPE html><html><head><meta charset='utf-8'></head><body><p>jamais chargée</p>"
         "<script>for(;;){}</script></body></html>")


@pytest.mark.parametrize("batch", [12, 1])
def test_a_page_that_hangs_chromium_fails_alone(batch: int, tmp_path: Path) -> None:
    need_tool("pdfseparate")
    need_tool("chromium")
    pages = [_page(1, 5), HANGS, _page(3, 5), _page(4, 5)]
    with ChromiumPdf(workers=2, timeout=5, batch=batch) as renderer:
        results = renderer.render_each(pages)
        assert isinstance(results[1], PdfError)
        assert "Page.loadEventFired within 5 s" in str(results[1])
        for n in (1, 3, 4):
            pdf = results[n - 1]
            assert isinstance(pdf, bytes), (batch, n, pdf)
            count, text = _pages_and_text(pdf, tmp_path)
            assert count == 1 and f"fin de la page {n} — été" in text
        # The stuck tab was replaced: the renderer goes on printing at full speed.
        again = renderer.render_many([_page(5, 5), _page(6, 5), _page(7, 5)])
        assert [f"fin de la page {n}" in _pages_and_text(p, tmp_path)[1]
                for n, p in zip((5, 6, 7), again, strict=True)] == [True] * 3
        if batch == 1:  # (in a batch it costs two timeouts: the batch's, then the page's)
            with pytest.raises(PdfError, match="loadEventFired"):
                renderer.render_many([_page(8, 5), HANGS])


def test_a_browser_that_died_is_restarted(tmp_path: Path) -> None:
    need_tool("pdfseparate")
    need_tool("chromium")
    with ChromiumPdf(workers=2, timeout=10) as renderer:
        first = renderer._pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        results = renderer.render_each([_page(1, 5), _page(2, 5), _page(3, 5)])
        assert renderer._pid not in (None, first)
        for n, pdf in enumerate(results, start=1):
            assert isinstance(pdf, bytes), pdf
            assert f"fin de la page {n} — été" in _pages_and_text(pdf, tmp_path)[1]
