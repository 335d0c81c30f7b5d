"""The flatplan board: what the browser shows of the issue, page by page, and its images.

Every change bumps `version` and wakes the event streams; the browser then asks for /state and
for the images whose `rev` changed.
"""

from __future__ import annotations

import io
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import jinja2
from PIL import Image

from ..i18n import N_, in_language
from ..pdf.pages import Trim, page_images

BOARD_TEMPLATE = Path(__file__).with_name("board.html.j2")
THUMB_DPI = 36  # a 260 mm page is about 370 px tall: enough to see the columns and photos
LARGE_DPI = 110
_REPORT_ARTICLE_KEYS = ("file", "title", "section", "planned", "actual", "fit", "overset_lines", "underfill_lines",
                        "fit_settings", "fillers")


@dataclass(frozen=True)
class Message:
    """A status line, shown in each browser's language."""

    text: str  # marked with N_ for the catalogs
    params: dict = field(default_factory=dict)

    def shown(self, lang: str) -> str:
        return in_language(lang, self.text, **self.params)


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
        self.report: dict | None = None  # the last whole build's report.json
        self.previewed: dict[str, dict] = {}  # file -> its fit in the latest preview, until the whole build
        self.error: str | None = None
        self.status = Message(N_("building the issue…"))
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

    def snapshot(self, lang: str) -> dict:
        with self.changed:
            report = self.report or {}
            return {
                "version": self.version,
                "status": self.status.shown(lang),
                "building": self.building,
                "warm": self.warm,
                "error": self.error,
                "updated": self.updated,
                "issue": report.get("issue"),
                "pages": [asdict(page) for page in self.pages],
                "articles": [{**{key: a.get(key) for key in _REPORT_ARTICLE_KEYS}, **self.previewed.get(a["file"], {})}
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

    def large_image(self, index: int) -> bytes | None:
        """The page drawn large (for the page view), drawn once per revision of the page."""
        with self.changed:
            if index >= len(self.pages) or index not in self.sources:
                return None
            key = (index, self.pages[index].rev)
            pdf, number, trim = self.sources[index]
            cached = self.large.get(key)
        if cached is None:
            cached = page_images(pdf, LARGE_DPI, [number], trim)[0] if number else self.thumbs[index]
            with self.changed:
                self.large = {k: v for k, v in self.large.items() if k[0] != index}
                self.large[key] = cached
        return cached


def board_html(lang: str) -> bytes:
    """The board page in `lang`, with the texts its script writes."""
    def say(message: str) -> str:
        return in_language(lang, message)

    strings = {
        "plan": say("page plan"), "lines": say(" lines"), "preview": say("preview: the whole build has not caught up yet"),
        "fillers": say("fillers"),
        "fit": {"ok": say("ok"), "underfill": say("underfill"), "overset": say("overset"), "moved": say("moved")},
        "status": {"blank": say("unplanned"), "contents": say("contents"), "cover": say("cover"), "ok": say("ok"),
                   "underfill": say("underfill"), "overset": say("overset"), "moved": say("moved")},
    }
    environment = jinja2.Environment(autoescape=True, extensions=["jinja2.ext.i18n"])
    environment.install_gettext_callables(gettext=say, ngettext=lambda s, p, n: in_language(lang, s if n == 1 else p),
                                          newstyle=True)
    template = environment.from_string(BOARD_TEMPLATE.read_text(encoding="utf-8"))
    return template.render(strings=strings, lang_tag="zh-CN" if lang == "zh_CN" else "en").encode()


def page_status(fit: str, folio: int, last_text_folio: int, blank: bool) -> str:
    """A page's colour: its article's fit, but an underfull article shows the gap where it is,
    on its last page of text and the blank pages after it."""
    if fit == "underfill" and folio != last_text_folio and not blank:
        return "ok"
    return fit


def board_pages(report: dict) -> list[PageView]:
    """The issue's pages in reading order (report.json), each with the article on it and its fit."""
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


def blank_like(png: bytes | None) -> bytes:
    """A white page the size of `png` (the page it replaces), for a planned page left without text."""
    size = Image.open(io.BytesIO(png)).size if png else (265, 374)
    out = io.BytesIO()
    Image.new("RGB", size, "white").save(out, "PNG")
    return out.getvalue()
