"""`typeset serve`: the issue as a flatplan board in the browser, rebuilt as files are saved.

Two speeds. An edit to an article's text is on the board in about a second: that article alone
is laid out in this process (fonts and code warm) with the copyfitting of the last whole build,
from its planned folio, exactly as the build sets it. The whole build (copyfitting, contents,
covers, print files, preflight) follows in a subprocess, which a newer edit cancels, and
replaces the board when it is done. An input error is shown on the page; the server keeps
running and picks up the fix.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse

import watchfiles
from weasyprint.formatting_structure import boxes

from . import layout
from .build import ISSUE_PDF, lay_out_articles
from .copyfit import Setting
from .diagnostics import Diagnostics, InputError
from .layoutcache import LayoutCache
from .manifest import Manifest, load_manifest
from .output import fit_status
from .proof import Trim, page_images

THUMB_DPI = 36  # a 260 mm page is about 370 px tall: enough to see the columns and photos
LARGE_DPI = 110
BOARD_HTML = Path(__file__).with_name("board.html")


@dataclass
class PageView:
    label: str  # 封一, 1, 2 … 封四
    status: str  # ok, underfill, overset, moved: the fit of its article; or blank, contents, cover
    article: str | None = None  # the article's file, relative to the issue
    title: str = ""
    rev: int = 0  # bumped when the page's image changes
    preview: bool = False  # set by the quick preview; the whole build has not caught up yet


class Board:
    """What the browser shows; every change bumps `version` and wakes the event streams."""

    def __init__(self):
        self.changed = threading.Condition()
        self.version = 0
        self.pages: list[PageView] = []
        self.thumbs: dict[int, bytes] = {}
        self.sources: dict[int, tuple[bytes, int, Trim | None]] = {}  # page index -> (PDF, its page, trim)
        self.large: dict[tuple[int, int], bytes] = {}
        self.report: dict | None = None
        self.previewed: dict[str, dict] = {}  # file -> its fit in the latest preview, until the whole build
        self.error: str | None = None
        self.status = "building the issue…"
        self.building = False
        self.warm = False  # every previewable article laid out once in the server since the last build
        self.updated = time.time()

    def publish(self, **changes) -> None:
        with self.changed:
            for key, value in changes.items():
                setattr(self, key, value)
            self.version += 1
            self.updated = time.time()
            self.changed.notify_all()

    def snapshot(self) -> dict:
        with self.changed:
            report = self.report or {}
            return {
                "version": self.version,
                "status": self.status,
                "building": self.building,
                "warm": self.warm,
                "error": self.error,
                "updated": self.updated,
                "issue": report.get("issue"),
                "pages": [asdict(page) for page in self.pages],
                "articles": [{**{key: a[key] for key in ("file", "title", "section", "planned", "actual", "fit",
                                                         "overset_lines", "underfill_lines", "fit_settings")},
                              **self.previewed.get(a["file"], {})}
                             for a in report.get("articles", [])],
                "warnings": [w["text"] for w in report.get("warnings", [])],
            }

    def set_pages(self, pages: list[PageView], images: dict[int, tuple]) -> None:
        """New page views and their images (index -> (PNG, PDF, page number, trim)); a page keeps
        its rev when its image did not change, so the browser reloads only what moved."""
        with self.changed:
            for index, page in enumerate(pages):
                old = self.pages[index] if index < len(self.pages) else None
                png = images[index][0] if index in images else None
                same = old is not None and (png is None or self.thumbs.get(index) == png)
                page.rev = old.rev if same else (old.rev + 1 if old else 1)
                if index in images:
                    self.thumbs[index] = png
                    self.sources[index] = images[index][1:]
            self.pages = pages


def page_status(fit: str, folio: int, last_text_folio: int, blank: bool) -> str:
    """A page's colour: its article's fit, but an underfull article shows the gap where it is,
    on its last page of text and the blank pages after it."""
    if fit == "underfill" and folio != last_text_folio and not blank:
        return "ok"
    return fit


def board_pages(report: dict) -> list[PageView]:
    """The issue's pages in reading order, each with the article on it and the fit of that article."""
    owner: dict[str, dict] = {}
    for article in report["articles"]:
        first, last = article["actual"]
        for folio in range(first, last + 1):
            owner[str(folio)] = article
        for folio in article["blank_pages"]:
            owner[str(folio)] = article
    purposes = {str(blank["folio"]): blank["purpose"] for blank in report["blank_pages"]}
    pages = []
    for label in report["page_labels"]:
        article = owner.get(label)
        if not label.isdigit():
            pages.append(PageView(label, "cover"))
        elif purposes.get(label) == "reserved":
            pages.append(PageView(label, "contents", title="目录"))
        elif article is not None:
            status = page_status(article["fit"], int(label), article["actual"][1], purposes.get(label) == "underfill")
            pages.append(PageView(label, status, article["file"], article["title"]))
        else:
            pages.append(PageView(label, "blank"))
    return pages


class Server:
    def __init__(self, issue_dir: Path, out_dir: Path):
        self.issue_dir = issue_dir
        self.out_dir = out_dir
        self.board = Board()
        self.stop = threading.Event()
        self.process: subprocess.Popen | None = None
        self.generation = 0
        self.lock = threading.Lock()
        self.layout_lock = threading.Lock()  # one WeasyPrint layout at a time in this process
        # file -> ((copyfitting, first folio), signature of each page) of its last layout here
        self.signatures: dict[str, tuple[tuple, list[str]]] = {}
        self.manifest: tuple[tuple[int, int], Manifest] | None = None

    # -- whole build, in a subprocess --------------------------------------------------------

    def cancel_build(self) -> None:
        """Stop the whole build in flight: newer inputs supersede it, and the preview gets both cores."""
        with self.lock:
            self.generation += 1
            if self.process is not None and self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)  # its Ghostscript too

    def start_build(self) -> None:
        """Start the whole build, cancelling one still running: only the newest inputs count."""
        self.cancel_build()
        with self.lock:
            generation = self.generation
            self.process = subprocess.Popen(
                [sys.executable, "-m", "typeset", "build", str(self.issue_dir), "-o", str(self.out_dir), "-q"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
            process = self.process
        self.board.publish(building=True)
        threading.Thread(target=self._finish_build, args=(process, generation), daemon=True).start()

    def _finish_build(self, process: subprocess.Popen, generation: int) -> None:
        started = time.monotonic()
        _, stderr = process.communicate()
        if generation != self.generation:
            return  # a newer build is on its way
        if process.returncode not in (0, 3):
            lines = [line for line in stderr.splitlines() if line.strip()]
            self.board.publish(building=False, error="\n".join(lines) or f"build failed ({process.returncode})",
                               status="the build stopped on an input error: fix it and save")
            return
        try:
            report = json.loads((self.out_dir / "report.json").read_text(encoding="utf-8"))
            pdf = (self.out_dir / report["outputs"].get("issue", ISSUE_PDF)).read_bytes()
            images = page_images(pdf, THUMB_DPI)
        except (OSError, ValueError, KeyError, subprocess.CalledProcessError) as exc:
            self.board.publish(building=False, error=f"cannot read the build's outputs: {exc}")
            return
        if generation != self.generation:
            return
        pages = board_pages(report)
        self.board.set_pages(pages, {i: (png, pdf, i + 1, None) for i, png in enumerate(images)})
        violated = any(a["fit"] in ("overset", "moved") for a in report["articles"])
        status = (f"built {time.strftime('%H:%M:%S')} in {time.monotonic() - started:.1f} s"
                  + (" — the page plan is violated" if violated else ""))
        self.board.publish(report=report, previewed={}, error=None, building=False, warm=False, status=status)
        threading.Thread(target=self.warm_up, args=(report,), daemon=True).start()

    def warm_up(self, report: dict) -> None:
        """Lay out every article a preview can show once, unseen, one at a time: the first real
        preview then finds fonts and code warm, and knows which of its pages an edit changed."""
        for article in report["articles"]:
            if self.stop.is_set() or self.board.report is not report:
                return
            if self._previewable(article, report) and article["file"] not in self.signatures:
                try:
                    self._lay_out([article], report)
                except InputError:
                    return  # the next save shows the error
        self.board.publish(warm=True)

    # -- quick preview of edited articles, in this process -----------------------------------

    def _previewable(self, article: dict, report: dict) -> bool:
        """Articles set alone exactly as in the issue: planned, and no continuation to or from them."""
        planned = article["planned"]
        hosts = {a["continued_on"] for a in report["articles"] if a["continued_on"]}
        return planned is not None and not article["continued_on"] and \
            not any(planned[0] <= host <= planned[1] for host in hosts)

    def _manifest(self, diagnostics: Diagnostics) -> Manifest:
        """issue.yaml as loaded the last time it was seen, loaded again when it changed since."""
        path = self.issue_dir / "issue.yaml"
        stat = path.stat()
        seen = (stat.st_mtime_ns, stat.st_size)
        if self.manifest is None or self.manifest[0] != seen:
            manifest = load_manifest(self.issue_dir, diagnostics, display_root=str(self.issue_dir))
            diagnostics.raise_if_errors()
            self.manifest = (seen, manifest)
        return self.manifest[1]

    def _lay_out(self, edited: list[dict], report: dict, diagnostics: Diagnostics | None = None):
        """The articles laid out alone with the copyfitting of `report`, and each one's changed pages:
        {file: [page index in the document, …]} against what the board shows."""
        stems = tuple(Path(a["file"]).stem for a in edited)
        settings = {Path(a["file"]).stem: Setting(**a["fit_settings"]) for a in edited if a["fit_settings"]}
        diagnostics = diagnostics or Diagnostics()
        with self.layout_lock:
            _, _, body = lay_out_articles(self.issue_dir, stems, diagnostics, str(self.issue_dir),
                                          LayoutCache(None), settings, self._manifest(diagnostics))
            changed = {}
            for fit in body.fits:
                indexes = [slot.page for slot in body.slots
                           if slot.page is not None and fit.planned and slot.folio in fit.planned]
                signatures = [page_signature(body.document.pages[i]) for i in indexes]
                key = (json.dumps(fit.article.fit.changes() if fit.article.fit else {}), fit.first_folio)
                before_key, before = self.signatures.get(fit.article.entry.rel, (None, []))
                changed[fit.article.entry.rel] = [
                    i for offset, i in enumerate(indexes)
                    if before_key != key or offset >= len(before) or before[offset] != signatures[offset]]
                self.signatures[fit.article.entry.rel] = (key, signatures)
        return body, changed

    def preview(self, changed: set[Path]) -> bool:
        """Lay out the edited articles alone and put the pages the edit changed on the board; False
        when the change is not one a preview can show (the manifest, house style, photos, continuations)."""
        report = self.board.report
        if report is None:
            return False
        by_path = {(self.issue_dir / a["file"]).resolve(): a for a in report["articles"]}
        if not changed or not all(path.resolve() in by_path for path in changed):
            return False
        edited = [by_path[path.resolve()] for path in changed]
        if not all(self._previewable(article, report) for article in edited):
            return False
        started = time.monotonic()
        diagnostics = Diagnostics()
        try:
            body, redraw = self._lay_out(edited, report, diagnostics)
        except InputError:
            self.board.publish(error="\n".join(d.format() for d in diagnostics.errors),
                               status="input error: fix it and save")
            return True
        laid_out = time.monotonic()
        # only the pages whose layout changed are drawn: the others on the board are still right
        drawn = sorted(i for pages in redraw.values() for i in pages)
        pdf, images, trim = b"", [], None
        if drawn:
            pdf = body.document.copy([body.document.pages[i] for i in drawn]).write_pdf(uncompressed_pdf=True)
        written = time.monotonic()
        if drawn:
            first = body.document.pages[drawn[0]]
            trim = (first.bleed["left"], first.bleed["top"], first.width, first.height)
            images = page_images(pdf, THUMB_DPI, list(range(1, len(drawn) + 1)), trim)
        image_of = {page: (png, pdf, number, trim) for number, (page, png) in enumerate(zip(drawn, images), start=1)}
        index_of = {page.label: index for index, page in enumerate(self.board.pages)}
        slots = {slot.folio: slot for slot in body.slots if slot.page is not None}
        pages = [PageView(**asdict(page)) for page in self.board.pages]
        new_images = {}
        previewed = dict(self.board.previewed)
        for fit in body.fits:
            status = fit_status(fit)
            previewed[fit.article.entry.rel] = {"fit": status, "actual": [fit.first_folio, fit.last_folio],
                                                "overset_lines": fit.overset_lines,
                                                "underfill_lines": fit.underfill_lines, "preview": True}
            for folio in range(fit.planned.first, fit.planned.last + 1):
                if str(folio) not in index_of:
                    continue
                index = index_of[str(folio)]
                slot = slots.get(folio)
                pages[index] = PageView(str(folio), page_status(status, folio, fit.last_folio, slot is None),
                                        fit.article.entry.rel, fit.article.title, pages[index].rev, preview=True)
                if slot is not None and slot.page in image_of:
                    new_images[index] = image_of[slot.page]
                elif slot is None:  # left blank now; an unchanged blank image keeps its rev
                    new_images[index] = (_blank_like(self.board.thumbs.get(index)), b"", 0, None)
        self.board.set_pages(pages, new_images)
        done = time.monotonic()
        timing = (f"{done - started:.2f} s: layout {laid_out - started:.2f}, {len(drawn)} page(s) drawn "
                  f"{written - laid_out:.2f}, images {done - written:.2f}")
        self.board.publish(error=None, previewed=previewed, status=f"preview in {timing}; the whole build follows")
        return True

    # -- watching ----------------------------------------------------------------------------

    def relevant(self, _change, path: str) -> bool:
        resolved = Path(path).resolve()
        out = self.out_dir.resolve()
        if resolved == out or out in resolved.parents:
            return False
        relative = resolved.relative_to(self.issue_dir.resolve()).parts if \
            resolved.is_relative_to(self.issue_dir.resolve()) else resolved.parts
        if relative[:1] == ("build",) or any(part.startswith(".") for part in relative):
            return False
        return not resolved.name.endswith(("~", ".tmp", ".swp", ".swx"))

    def watch(self) -> None:
        for changes in watchfiles.watch(self.issue_dir, watch_filter=self.relevant, debounce=50, step=20,
                                        stop_event=self.stop, yield_on_timeout=False):
            changed = {Path(path) for _, path in changes if Path(path).is_file()}
            self.on_change(changed)

    def on_change(self, changed: set[Path]) -> None:
        self.cancel_build()
        try:
            shown = self.preview(changed)
        except Exception as exc:  # a preview must never take the server down: the whole build decides
            shown = False
            self.board.publish(status=f"preview failed ({exc}); the whole build follows")
        if not shown:
            self.forget(changed)
        elif self.board.error:
            self.board.publish(building=False)  # the whole build would stop on the same error
            return
        self.start_build()

    def forget(self, changed: set[Path]) -> None:
        """Drop the page signatures the whole build will make stale: those of the changed articles,
        or all of them when anything else changed (the manifest, house style, photos)."""
        report = self.board.report or {"articles": []}
        files = {(self.issue_dir / a["file"]).resolve(): a["file"] for a in report["articles"]}
        with self.layout_lock:
            # an empty batch (files deleted) keeps them: the build reports what a deletion breaks
            if all(path.resolve() in files for path in changed):
                for path in changed:
                    self.signatures.pop(files[path.resolve()], None)
            else:
                self.signatures.clear()

    # -- HTTP ----------------------------------------------------------------------------------

    def large_image(self, index: int) -> bytes | None:
        board = self.board
        with board.changed:
            if index >= len(board.pages) or index not in board.sources:
                return None
            key = (index, board.pages[index].rev)
            pdf, number, trim = board.sources[index]
            cached = board.large.get(key)
        if cached is None:
            cached = page_images(pdf, LARGE_DPI, [number], trim)[0] if number else board.thumbs[index]
            with board.changed:
                board.large = {k: v for k, v in board.large.items() if k[0] != index}
                board.large[key] = cached
        return cached


def make_handler(server: Server):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):  # the board is the log
            pass

        def send(self, body: bytes, content_type: str, status: int = 200) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store" if content_type.startswith(("application", "text")) else
                             "max-age=3600")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            path = urlparse(self.path).path
            board = server.board
            if path == "/":
                self.send(BOARD_HTML.read_bytes(), "text/html; charset=utf-8")
            elif path == "/state":
                self.send(json.dumps(board.snapshot(), ensure_ascii=False).encode(), "application/json")
            elif path == "/events":
                self.events()
            elif path.startswith(("/thumb/", "/page/")) and path.rsplit("/", 1)[1].isdigit():
                index = int(path.rsplit("/", 1)[1])
                image = board.thumbs.get(index) if path.startswith("/thumb/") else server.large_image(index)
                if image is None:
                    self.send(b"no such page", "text/plain", 404)
                else:
                    self.send(image, "image/png")
            else:
                self.send(b"not found", "text/plain", 404)

        def events(self):
            """Server-sent events: the board's version whenever it changes, a comment every 15 s."""
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            seen = -1
            board = server.board
            try:
                while not server.stop.is_set():
                    with board.changed:
                        board.changed.wait_for(lambda: board.version != seen or server.stop.is_set(), timeout=15)
                        version = board.version
                    if version != seen:
                        seen = version
                        self.wfile.write(f"data: {version}\n\n".encode())
                    else:
                        self.wfile.write(b": still here\n\n")
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


def serve(issue_dir: Path, out_dir: Path, port: int, announce) -> None:
    """Serve the board on 127.0.0.1:`port` until interrupted; `announce(url)` once listening."""
    layout.preview_subsets = {}  # this process draws only previews: font subsets are reused
    server = Server(issue_dir, out_dir)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), make_handler(server))
    httpd.daemon_threads = True
    announce(f"http://127.0.0.1:{httpd.server_address[1]}/")
    server.start_build()
    watcher = threading.Thread(target=server.watch, daemon=True)
    watcher.start()
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        server.stop.set()
        with server.board.changed:
            server.board.changed.notify_all()
        if server.process is not None and server.process.poll() is None:
            server.process.kill()
        httpd.server_close()


def page_signature(page) -> str:
    """A digest of everything drawn on a laid-out page: each box's kind, place and size, its text or image."""
    digest = hashlib.sha256()

    def walk(box):
        digest.update(f"{type(box).__name__} {box.position_x:.2f} {box.position_y:.2f} "
                      f"{getattr(box, 'width', 0):.2f} {getattr(box, 'height', 0):.2f}".encode())
        if isinstance(box, boxes.TextBox):
            digest.update(box.text.encode())
        elif isinstance(box, boxes.ReplacedBox) and box.element is not None:
            digest.update((box.element.get("src") or "").encode())
        for child in getattr(box, "children", ()):
            walk(child)

    walk(page._page_box)
    return digest.hexdigest()


def _blank_like(png: bytes | None) -> bytes:
    """A white page the size of `png` (the page it replaces), for a planned page left without text."""
    from PIL import Image

    size = Image.open(io.BytesIO(png)).size if png else (265, 374)
    out = io.BytesIO()
    Image.new("RGB", size, "white").save(out, "PNG")
    return out.getvalue()

