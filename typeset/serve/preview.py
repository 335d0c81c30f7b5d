"""The quick preview of an edit: the edited articles laid out alone in this process (fonts and
code warm) with the copyfitting of the last whole build, from their planned folios, exactly as
the build sets them; only the pages whose layout changed are drawn and put on the board."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict
from pathlib import Path

from ..body.layoutcache import LayoutCache
from ..body.measure import page_signature
from ..build import lay_out_articles
from ..diagnostics import Diagnostics, InputError
from ..i18n import N_, _
from ..inputs.copyfit import Setting
from ..inputs.manifest import MANIFEST_NAME, Manifest, load_manifest
from ..pdf.pages import page_images
from ..report import fit_status
from .board import THUMB_DPI, Board, Message, PageView, blank_like, page_status


class Previewer:
    def __init__(self, issue_dir: Path, board: Board | None = None, log=lambda line: None):
        self.issue_dir, self.log = issue_dir, log
        self.board = board if board is not None else Board()
        self.layout_lock = threading.Lock()  # one WeasyPrint layout at a time in this process
        # file -> ((copyfitting, first folio), signature of each page) of its last layout here
        self.signatures: dict[str, tuple[tuple, list[str]]] = {}
        self.manifest: tuple[tuple[int, int], Manifest] | None = None

    @staticmethod
    def previewable(article: dict, report: dict) -> bool:
        """Articles set alone exactly as in the issue: planned, and no continuation to or from them."""
        planned = article["planned"]
        hosts = {a["continued_on"] for a in report["articles"] if a["continued_on"]}
        return planned is not None and not article["continued_on"] and \
            not any(planned[0] <= host <= planned[1] for host in hosts)

    def warm_up(self, report: dict, stop: threading.Event) -> None:
        """Lay out every article a preview can show once, unseen, one at a time: the first real
        preview then finds fonts and code warm, and knows which of its pages an edit changed."""
        for article in report["articles"]:
            if stop.is_set() or self.board.report is not report:
                return
            if self.previewable(article, report) and article["file"] not in self.signatures:
                try:
                    self.lay_out([article], report)
                except InputError:
                    return  # the next save shows the error
        self.board.publish(warm=True)

    def _manifest(self, diagnostics: Diagnostics) -> Manifest:
        """issue.yaml as loaded the last time it was seen, loaded again when it changed since."""
        stat = (self.issue_dir / MANIFEST_NAME).stat()
        seen = (stat.st_mtime_ns, stat.st_size)
        if self.manifest is None or self.manifest[0] != seen:
            manifest = load_manifest(self.issue_dir, diagnostics, display_root=str(self.issue_dir))
            diagnostics.raise_if_errors()
            self.manifest = (seen, manifest)
        return self.manifest[1]

    def lay_out(self, edited: list[dict], report: dict, diagnostics: Diagnostics | None = None):
        """The articles laid out alone with the copyfitting of `report`, and each one's changed pages:
        {file: [page index in the document, …]} against what the board shows."""
        stems = tuple(Path(a["file"]).stem for a in edited)
        settings = {Path(a["file"]).stem: Setting(**a["fit_settings"]) for a in edited if a["fit_settings"]}
        fillers = {Path(a["file"]).stem: [f["file"] for f in a.get("fillers") or []] for a in edited}
        diagnostics = diagnostics or Diagnostics()
        with self.layout_lock:
            body = lay_out_articles(self.issue_dir, stems, diagnostics, str(self.issue_dir), LayoutCache(None),
                                    settings, self._manifest(diagnostics), fillers).body
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
        if not all(self.previewable(article, report) for article in edited):
            return False
        started = time.monotonic()
        diagnostics = Diagnostics()
        try:
            body, redraw = self.lay_out(edited, report, diagnostics)
        except InputError:
            self.board.publish(error="\n".join(d.format() for d in diagnostics.errors),
                               status=Message(N_("input error: fix it and save")))
            return True
        laid_out = time.monotonic()
        drawn = sorted(i for pages in redraw.values() for i in pages)  # the others on the board are still right
        image_of = _draw(body, drawn)
        self._show(body, image_of)
        done = time.monotonic()
        self.log(_("{time} {files} saved: laid out again in {layout} s, {pages} page(s) redrawn, {seconds} s in all",
                   time=time.strftime("%H:%M:%S"), files=", ".join(a["file"] for a in edited),
                   layout=f"{laid_out - started:.2f}", pages=len(drawn), seconds=f"{done - started:.2f}"))
        self.board.publish(error=None, status=Message(
            N_("preview in {seconds} s: layout {layout}, {pages} page(s) drawn {drawing}; the whole build follows"),
            {"seconds": f"{done - started:.2f}", "layout": f"{laid_out - started:.2f}", "pages": len(drawn),
             "drawing": f"{done - laid_out:.2f}"}))
        return True

    def _show(self, body, image_of: dict[int, tuple]) -> None:
        """The previewed articles' pages on the board: their fit, and the new images."""
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
                index, slot = index_of[str(folio)], slots.get(folio)
                pages[index] = PageView(str(folio), page_status(status, folio, fit.last_folio, slot is None),
                                        fit.article.entry.rel, fit.article.title, pages[index].rev, preview=True)
                if slot is not None and slot.page in image_of:
                    new_images[index] = image_of[slot.page]
                elif slot is None:  # left blank now; an unchanged blank image keeps its rev
                    new_images[index] = (blank_like(self.board.thumbs.get(index)), b"", 0, None)
        self.board.set_pages(pages, new_images)
        self.board.publish(previewed=previewed)

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


def _draw(body, drawn: list[int]) -> dict[int, tuple]:
    """Thumbnails of the given pages of the laid-out body: page index -> (PNG, PDF, page number, trim)."""
    if not drawn:
        return {}
    pdf = body.document.copy([body.document.pages[i] for i in drawn]).write_pdf(uncompressed_pdf=True)
    first = body.document.pages[drawn[0]]
    trim = (first.bleed["left"], first.bleed["top"], first.width, first.height)
    images = page_images(pdf, THUMB_DPI, list(range(1, len(drawn) + 1)), trim)
    return {page: (png, pdf, number, trim) for number, (page, png) in enumerate(zip(drawn, images), start=1)}
