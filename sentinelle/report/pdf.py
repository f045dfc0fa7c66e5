"""HTML to PDF with headless Chromium (Debian's `chromium` package), driven over its DevTools
pipe so that one browser prints hundreds of pages.

Starting Chromium costs about a second; printing one page through an open tab a tenth of that.
`--remote-debugging-pipe` speaks the DevTools protocol over two inherited file descriptors
(3: commands in, 4: replies out, NUL-separated JSON): no port is opened, nothing to secure. Pages
are loaded from files in a private temporary directory, and the browser resolves no host name,
so a page can never fetch anything from the network.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import logging
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sentinelle.errors import SentinelleError

log = logging.getLogger("sentinelle.report.pdf")
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# A4 with the 10 mm margins of render_html's @page rule, in CSS pixels (96 per inch).
A4_INCHES = (8.27, 11.69)
PRINTABLE_HEIGHT_PX = (297 - 20) / 25.4 * 96
BATCH = 12  # pages per print in render_many
# Browser restarts allowed in one render_each call: a browser that keeps dying on start-up or
# on every page would otherwise be restarted once per page.
MAX_RESTARTS = 3
_HEAD = re.compile(r"<head>.*?</head>", re.S)
_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.S)


def _fit_sections(max_px: float) -> str:
    """JavaScript that shrinks every section taller than `max_px` CSS pixels to fit it."""
    return (
        "(() => { let n = 0; for (const s of document.querySelectorAll('body > section')) {"
        f" const h = s.getBoundingClientRect().height; if (h > {max_px:.1f}) {{"
        f" s.style.zoom = String({max_px:.1f} / h); n++; }} }} return n; }})()"
    )


class PdfError(SentinelleError):
    """Chromium is missing, did not start, or failed to print a page."""


def find_chromium(configured: str | None = None) -> str:
    if configured:
        if not (os.path.isfile(configured) and os.access(configured, os.X_OK)):
            raise PdfError(f"pdf.chromium: {configured} is not an executable file")
        return configured
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    raise PdfError("making PDFs needs Chromium: install it with `apt-get install chromium`")


class _Pipe:
    """The DevTools protocol over the two pipes: numbered calls, replies and events."""

    def __init__(self, to_browser: int, from_browser: int) -> None:
        self._out = to_browser
        self._in = from_browser
        self._lock = threading.Lock()
        self._cond = threading.Condition()
        self._next = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self._events: dict[str, deque[dict[str, Any]]] = {}
        self.closed: str | None = None
        self._reader = threading.Thread(target=self._read, name="chromium-pipe", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buffer = b""
        try:
            while True:
                chunk = os.read(self._in, 1 << 20)
                if not chunk:
                    break
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                with self._cond:
                    for raw in messages:
                        message = json.loads(raw)
                        if "id" in message:
                            self._replies[int(message["id"])] = message
                        else:
                            session = str(message.get("sessionId", ""))
                            self._events.setdefault(session, deque(maxlen=200)).append(message)
                    self._cond.notify_all()
        except (OSError, ValueError) as exc:
            reason = f"DevTools pipe failed: {exc}"
        else:
            reason = "Chromium closed its DevTools pipe (it exited)"
        with self._cond:
            self.closed = reason
            self._cond.notify_all()

    def call(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        with self._lock:
            self._next += 1
            ident = self._next
            message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
            if session:
                message["sessionId"] = session
            data = json.dumps(message).encode() + b"\0"
            try:
                while data:
                    data = data[os.write(self._out, data):]
            except OSError as exc:
                raise PdfError(f"cannot talk to Chromium: {exc}") from exc
        deadline = time.monotonic() + timeout
        with self._cond:
            while ident not in self._replies:
                if self.closed:
                    raise PdfError(self.closed)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise PdfError(f"Chromium did not answer {method} within {timeout:g} s")
                self._cond.wait(remaining)
            reply = self._replies.pop(ident)
        if "error" in reply:
            raise PdfError(f"Chromium refused {method}: {reply['error'].get('message')}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    def close(self) -> None:
        for fd in (self._out, self._in):
            with contextlib.suppress(OSError):
                os.close(fd)

    def clear_events(self, session: str) -> None:
        with self._cond:
            self._events.pop(session, None)

    def wait_event(self, session: str, method: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                events = self._events.get(session, deque())
                while events:
                    event = events.popleft()
                    if event.get("method") == method:
                        return event
                if self.closed:
                    raise PdfError(self.closed)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise PdfError(f"Chromium sent no {method} within {timeout:g} s")
                self._cond.wait(remaining)


class ChromiumPdf:
    """A headless Chromium with `workers` tabs printing pages to one-page A4 PDFs.

    Use as a context manager; `render_each` prints several pages concurrently (one per tab)
    and gives each page its own result, so that a page that cannot be printed costs only
    itself; `render_many` is the same for callers that want all the pages or an error.
    """

    def __init__(
        self,
        binary: str | None = None,
        workers: int = 2,
        timeout: float = 60.0,
        batch: int = BATCH,
    ) -> None:
        self.binary = find_chromium(binary)
        self.workers = max(1, workers)
        self.timeout = timeout
        self.batch = max(1, batch)
        # poppler-utils' pdfseparate splits a multi-page print; without it, one print per page.
        self._separate = shutil.which("pdfseparate") if self.batch > 1 else None
        self._dir: Path | None = None
        self._pid: int | None = None
        self._pipe: _Pipe | None = None
        self._tabs: queue.Queue[str] = queue.Queue()
        self._targets: dict[str, str] = {}  # tab session -> target id (to close a stuck tab)
        self._count = 0
        self._count_lock = threading.Lock()

    def __enter__(self) -> ChromiumPdf:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _log_tail(self) -> str:
        if self._dir is None:
            return ""
        try:
            text = (self._dir / "chromium.log").read_text(errors="replace")
        except OSError:
            return ""
        lines = [ln for ln in text.splitlines() if "dbus" not in ln.lower()]
        return " | ".join(lines[-3:])

    def start(self) -> None:
        # A restart must not hand out the tabs of the browser that was closed.
        self._tabs = queue.Queue()
        self._targets = {}
        self._dir = Path(tempfile.mkdtemp(prefix="sentinelle-pdf-"))
        flags = [
            "--headless",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--mute-audio",
            "--hide-scrollbars",
            # The pages are self-contained: resolving no host name keeps them off the network.
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--remote-debugging-pipe",
            f"--user-data-dir={self._dir / 'profile'}",
        ]
        if os.geteuid() == 0:
            flags.append("--no-sandbox")  # Chromium refuses to start as root with its sandbox
        to_child, to_browser = _pipe_above(10)  # we write commands, Chromium reads fd 3
        from_browser, from_child = _pipe_above(10)  # Chromium writes replies on fd 4
        log = os.open(self._dir / "chromium.log", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        try:
            # posix_spawn maps the pipe ends to fds 3 and 4 where Chromium expects them, with
            # no shell and no preexec_fn (unsafe in a threaded process).
            self._pid = os.posix_spawn(
                self.binary,
                [self.binary, *flags, "about:blank"],
                os.environ,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, null, 0),
                    (os.POSIX_SPAWN_DUP2, log, 1),
                    (os.POSIX_SPAWN_DUP2, log, 2),
                    (os.POSIX_SPAWN_DUP2, to_child, 3),
                    (os.POSIX_SPAWN_DUP2, from_child, 4),
                ],
            )
        except OSError as exc:
            for fd in (to_browser, from_browser):
                os.close(fd)
            raise PdfError(f"cannot start {self.binary}: {exc}") from exc
        finally:
            for fd in (to_child, from_child, log, null):
                os.close(fd)
        self._pipe = _Pipe(to_browser, from_browser)
        try:
            for _ in range(self.workers):
                self._tabs.put(self._open_tab())
        except PdfError as exc:
            tail = self._log_tail()
            self.close()
            raise PdfError(f"{exc}{': ' + tail if tail else ''}") from exc

    def _open_tab(self) -> str:
        assert self._pipe is not None
        pipe = self._pipe
        target = pipe.call("Target.createTarget", {"url": "about:blank"}, timeout=self.timeout)
        session = pipe.call(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )["sessionId"]
        pipe.call("Page.enable", session=session)
        pipe.call("Emulation.setEmulatedMedia", {"media": "print"}, session=session)
        self._targets[str(session)] = str(target["targetId"])
        return str(session)

    def _take_tab(self) -> str:
        try:
            return self._tabs.get(timeout=self.timeout)
        except queue.Empty:
            raise PdfError(f"no Chromium tab became free within {self.timeout:g} s") from None

    def _release(self, session: str, ok: bool) -> None:
        """Give a tab back after a print.

        After a failed print the tab may still be stuck on its page (a page that never finishes
        loading keeps its renderer busy, and every later navigation of that tab times out too),
        so it is closed and a fresh tab takes its place. If even that fails the browser itself
        is broken: the tab is not replaced, and `render_each` restarts the browser.
        """
        if ok:
            self._tabs.put(session)
            return
        pipe = self._pipe
        target = self._targets.pop(session, None)
        if pipe is None or pipe.closed is not None:
            return
        if target is not None:
            with contextlib.suppress(PdfError):
                pipe.call("Target.closeTarget", {"targetId": target}, timeout=5)
        try:
            self._tabs.put(self._open_tab())
        except PdfError as exc:
            log.warning("cannot replace a Chromium tab after a failed print: %s", exc)

    def _healthy(self) -> bool:
        """Running, with its pipe open and a tab (only meaningful when no print is running)."""
        return self._pipe is not None and self._pipe.closed is None and not self._tabs.empty()

    def render(self, html: str) -> bytes:
        """One page: the HTML printed to a single A4 page (scaled down if it is taller)."""
        if self._pipe is None or self._dir is None:
            raise PdfError("the PDF renderer is not started")
        pipe = self._pipe
        session = self._take_tab()
        with self._count_lock:
            self._count += 1
            path = self._dir / f"page-{self._count}.html"
        ok = False
        try:
            path.write_text(html, encoding="utf-8")
            pipe.clear_events(session)
            pipe.call("Page.navigate", {"url": path.as_uri()}, session, self.timeout)
            pipe.wait_event(session, "Page.loadEventFired", self.timeout)
            height = pipe.call(
                "Runtime.evaluate",
                {"expression": "document.documentElement.scrollHeight", "returnByValue": True},
                session,
            )["result"].get("value") or 0
            # One page: a taller page is scaled down rather than cut or split.
            scale = min(1.0, 0.98 * PRINTABLE_HEIGHT_PX / float(height)) if height else 1.0
            printed = pipe.call(
                "Page.printToPDF",
                {
                    "printBackground": True,
                    "preferCSSPageSize": True,
                    "paperWidth": A4_INCHES[0],
                    "paperHeight": A4_INCHES[1],
                    "scale": max(0.1, scale),
                    "pageRanges": "1",
                },
                session,
                self.timeout,
            )
            pdf = base64.b64decode(printed["data"])
            ok = True
            return pdf
        finally:
            self._release(session, ok)
            with contextlib.suppress(OSError):
                path.unlink()

    def render_many(self, pages: Sequence[str]) -> list[bytes]:
        """Several pages, in order, as `render_each` prints them; the first page that could not
        be printed raises its PdfError (once every page was tried)."""
        pdfs: list[bytes] = []
        for result in self.render_each(pages):
            if isinstance(result, PdfError):
                raise result
            pdfs.append(result)
        return pdfs

    def render_each(self, pages: Sequence[str]) -> list[bytes | PdfError]:
        """Several pages, in order, each with its own result: its PDF, or why it has none.

        First `batch` pages per print when poppler's pdfseparate can split the result (five
        times faster), else one page per print, `workers` prints at a time. Then every page
        whose print failed for want of knowing which page failed it (one bad page fails its
        whole batch; a browser that died fails every page being printed) is printed again on
        its own, one after the other, restarting the browser if it died: a page that cannot be
        printed, hangs or crashes Chromium costs only itself.
        """
        results: list[bytes | PdfError | None] = [None] * len(pages)
        if self._separate is not None and len(pages) >= 2:
            starts = list(range(0, len(pages), self.batch))

            def batch(start: int) -> list[bytes] | None:
                chunk = pages[start : start + self.batch]
                try:
                    return self._render_batch(chunk)
                except Exception as exc:  # whatever broke it, its pages are tried one by one
                    log.warning("a print of %d pages failed, printing them one by one: %s",
                                len(chunk), exc)
                    return None

            with ThreadPoolExecutor(self.workers, thread_name_prefix="pdf") as pool:
                for start, pdfs in zip(starts, pool.map(batch, starts), strict=True):
                    if pdfs is not None:
                        results[start : start + len(pdfs)] = pdfs
        elif self.workers > 1 and len(pages) >= 2:
            with ThreadPoolExecutor(self.workers, thread_name_prefix="pdf") as pool:
                results = list(pool.map(self._render_alone, pages))
            if not self._healthy():
                # The browser died under them: every failure may be another page's doing.
                results = [r if isinstance(r, bytes) else None for r in results]
        restarts = 0
        # One at a time: a browser that died can be restarted while no other print runs.
        for i, page in enumerate(pages):
            if results[i] is not None:
                continue
            if not self._healthy():
                if restarts >= MAX_RESTARTS:
                    results[i] = PdfError(f"Chromium broke again after {restarts} restarts")
                    continue
                restarts += 1
                try:
                    self._restart()
                except PdfError as exc:
                    results[i] = exc
                    continue
            results[i] = self._render_alone(page)
        return [r if r is not None else PdfError("not printed") for r in results]

    def _render_alone(self, page: str) -> bytes | PdfError:
        try:
            return self.render(page)
        except PdfError as exc:
            return exc
        except Exception as exc:  # whatever it is, it is this page's alone
            return PdfError(f"printing failed: {type(exc).__name__}: {exc}")

    def _restart(self) -> None:
        log.warning("Chromium is not usable any more: restarting it")
        self.close()
        self.start()

    def _render_batch(self, pages: Sequence[str]) -> list[bytes]:
        """Print several pages as one document and split it, one A4 page each.

        Most of a print's cost is fixed (layout, fonts, the PDF writer), so one print of
        a dozen pages costs little more than one of a single page. Each page goes in its own
        section with a page break after it, shrunk (CSS zoom) if taller than a page; if the
        document still does not come out with one page per section, the pages are printed
        one by one instead.
        """
        if len(pages) == 1:
            return [self.render(pages[0])]
        parts = [_BODY.search(p) for p in pages]
        head = _HEAD.search(pages[0])
        if head is None or any(m is None for m in parts):
            return [self.render(p) for p in pages]
        sections = "".join(
            f'<section style="{"" if i == len(parts) - 1 else "break-after:page;"}">'
            f"{m.group(1)}</section>"
            for i, m in enumerate(parts)
            if m is not None
        )
        document = (
            f'<!DOCTYPE html><html>{head.group(0)}<body style="margin:0">{sections}</body></html>'
        )
        assert self._pipe is not None and self._dir is not None and self._separate is not None
        session = self._take_tab()
        with self._count_lock:
            self._count += 1
            work = self._dir / f"batch-{self._count}"
        work.mkdir()
        try:
            whole = self._print_document(session, work, document)
            try:
                subprocess.run(
                    [self._separate, str(whole), str(work / "page-%d.pdf")],
                    check=True, capture_output=True, timeout=self.timeout,
                )
            except (OSError, subprocess.SubprocessError) as exc:
                raise PdfError(f"pdfseparate could not split the printed pages: {exc}") from exc
            split = sorted(work.glob("page-*.pdf"), key=lambda f: int(f.stem.split("-")[1]))
            if len(split) != len(pages):
                return [self.render(p) for p in pages]
            return [f.read_bytes() for f in split]
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _print_document(self, session: str, work: Path, document: str) -> Path:
        """Print `document` in the tab `session` (given back after) to work/pages.pdf."""
        assert self._pipe is not None
        pipe = self._pipe
        ok = False
        try:
            html = work / "pages.html"
            html.write_text(document, encoding="utf-8")
            pipe.clear_events(session)
            pipe.call("Page.navigate", {"url": html.as_uri()}, session, self.timeout)
            pipe.wait_event(session, "Page.loadEventFired", self.timeout)
            pipe.call(
                "Runtime.evaluate",
                {"expression": _fit_sections(0.98 * PRINTABLE_HEIGHT_PX), "returnByValue": True},
                session,
            )
            printed = pipe.call(
                "Page.printToPDF",
                {"printBackground": True, "preferCSSPageSize": True,
                 "paperWidth": A4_INCHES[0], "paperHeight": A4_INCHES[1]},
                session,
                self.timeout * 4,
            )
            whole = work / "pages.pdf"
            whole.write_bytes(base64.b64decode(printed["data"]))
            ok = True
            return whole
        finally:
            self._release(session, ok)

    def close(self) -> None:
        if self._pipe is not None and self._pipe.closed is None:
            with contextlib.suppress(PdfError):
                self._pipe.call("Browser.close", timeout=5)
        if self._pid is not None:
            if not _reaped(self._pid, 10.0):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self._pid, signal.SIGKILL)
                _reaped(self._pid, 10.0)
            self._pid = None
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def _pipe_above(low: int) -> tuple[int, int]:
    """A pipe whose two ends are numbered `low` or more (never 3 or 4, the targets)."""
    r, w = os.pipe()
    try:
        return fcntl.fcntl(r, fcntl.F_DUPFD_CLOEXEC, low), fcntl.fcntl(
            w, fcntl.F_DUPFD_CLOEXEC, low
        )
    finally:
        os.close(r)
        os.close(w)


def _reaped(pid: int, timeout: float) -> bool:
    """Wait up to `timeout` seconds for the child to exit; True once it is reaped."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return True
        if done:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
