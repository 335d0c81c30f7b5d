"""Measuring laid-out pages: the lines each article placed, its fit on its planned pages, and
a signature of everything drawn on a page.

Works on WeasyPrint's boxes: line boxes for lines, the article body's box for the columns.
"""

from __future__ import annotations

import hashlib
import math
import statistics
from dataclasses import dataclass, field

from weasyprint.formatting_structure import boxes

from ..inputs.articles import Article
from ..inputs.manifest import PageRange
from .html import DEFAULT_COLUMNS
from .layoutcache import Trial

PX_PER_MM = 96 / 25.4  # WeasyPrint lays out in CSS px


@dataclass
class ArticleFit:
    article: Article
    planned: PageRange | None
    first_folio: int
    pages_needed: int  # pages the text would take with nothing cut
    pages_kept: int
    overset_lines: int = 0
    overset_chars: int = 0
    underfill_lines: int = 0
    underfill_mm: float = 0.0
    pitch: float = 0.0  # body line pitch in CSS px
    continuation: dict | None = None  # {"page", "lines", "chars"} of its text set on a later page
    lines_per_page: int = 0  # body lines a full page holds, all columns
    blank_folios: list[int] = field(default_factory=list)  # planned pages left without text

    @property
    def last_folio(self) -> int:
        return self.first_folio + self.pages_kept - 1

    @property
    def overset(self) -> bool:
        return self.overset_lines > 0 or self.overset_chars > 0


def trial(document, indexes: list[int]) -> Trial:
    return Trial(len(indexes), [placed_lines(document.pages[i]._page_box) for i in indexes])


def placed_lines(page_box) -> list[tuple[str | None, int]]:
    """(data-line of the body block, visible characters) of every text line of the page's article."""
    out: list[tuple[str | None, int]] = []

    def walk(box, block):
        element = getattr(box, "element", None)
        if isinstance(box, boxes.BlockBox) and element is not None and element.get("data-line"):
            block = element.get("data-line")
        if isinstance(box, boxes.LineBox):
            text = "".join(line_text(box).split())
            if text:
                out.append((block, len(text)))
            return
        for child in getattr(box, "children", ()):
            if not isinstance(child, boxes.MarginBox):
                walk(child, block)

    walk(page_box, None)
    return out


def section_lines(page_box, source_slug: str) -> list:
    """The text lines of the continuation of `source_slug` on a page."""
    def find(box):
        element = getattr(box, "element", None)
        if element is not None and element.get("class") == "continuation" and element.get("data-file") == source_slug:
            return [line for line in content_lines(box) if line_text(line).strip()]
        found = []
        for child in getattr(box, "children", ()):
            if not isinstance(child, boxes.MarginBox):
                found += find(child)
        return found

    return find(page_box)


def content_lines(box):
    """The line boxes of a page's content (margin boxes excluded), in document order."""
    if isinstance(box, boxes.LineBox):
        yield box
        return
    for child in getattr(box, "children", ()):
        if isinstance(child, boxes.MarginBox):
            continue
        yield from content_lines(child)


def line_text(line) -> str:
    parts = []

    def walk(box):
        if isinstance(box, boxes.TextBox):
            parts.append(box.text)
        for child in getattr(box, "children", ()):
            walk(child)

    walk(line)
    return "".join(parts)


def _overset_lines(document, indexes: list[int]) -> int:
    return sum(1 for i in indexes for line in content_lines(document.pages[i]._page_box) if line_text(line).strip())


def _body_pitch(document, indexes: list[int]) -> float:
    heights = [round(line.height, 2) for i in indexes for line in content_lines(document.pages[i]._page_box)
               if line_text(line).strip()]
    return statistics.mode(heights) if heights else 12.0


def _find_body(box):
    element = getattr(box, "element", None)
    if element is not None and "article-body" in (element.get("class") or "").split() \
            and isinstance(box, boxes.BlockBox):
        return box
    for child in getattr(box, "children", ()):
        if isinstance(child, boxes.MarginBox):
            continue
        found = _find_body(child)
        if found is not None:
            return found
    return None


def measure(article: Article, document, indexes: list[int], needed: int, start: int) -> ArticleFit:
    columns = article.columns or DEFAULT_COLUMNS[article.entry.section_style]
    planned = article.entry.pages
    available = planned.last - start + 1 if planned else needed
    kept = min(needed, available, len(indexes))
    fit = ArticleFit(article, planned, start, needed, kept)
    fit.pitch = _body_pitch(document, indexes)
    page_height = document.pages[indexes[0]]._page_box.height if indexes else 0
    fit.lines_per_page = math.floor(page_height / fit.pitch + 0.01) * columns
    if len(indexes) > kept:
        dropped = indexes[kept:]
        fit.overset_lines = _overset_lines(document, dropped)
        fit.overset_chars = sum(len("".join(line_text(line).split())) for i in dropped
                                for line in content_lines(document.pages[i]._page_box))
    elif kept:
        last = document.pages[indexes[kept - 1]]._page_box
        fit.underfill_lines, fit.underfill_mm = _underfill(last, fit.pitch, columns)
    return fit


def _underfill(page_box, pitch: float, columns: int) -> tuple[int, float]:
    """Empty lines below the text of each column on the article's last page, and the empty height in mm."""
    bottom = page_box.content_box_y() + page_box.height
    body = _find_body(page_box)
    top = body.content_box_y() if body is not None else page_box.content_box_y()
    area = body if body is not None else page_box
    column_width = area.width / columns
    column_bottoms = [top] * columns
    for line in content_lines(area):
        if line_text(line).strip():
            column = min(columns - 1, max(0, int((line.position_x - area.content_box_x()) // column_width)))
            column_bottoms[column] = max(column_bottoms[column], line.position_y + line.height)
    empty = [max(0.0, bottom - y) for y in column_bottoms]
    lines_free = sum(math.floor(e / pitch + 0.01) for e in empty)
    return lines_free, round(min(empty) / PX_PER_MM, 1)


def page_signature(page) -> str:
    """A digest of everything drawn on a laid-out page: each box's kind, place and size, its text or image."""
    hashed = hashlib.sha256()

    def walk(box):
        hashed.update(f"{type(box).__name__} {box.position_x:.2f} {box.position_y:.2f} "
                      f"{getattr(box, 'width', 0):.2f} {getattr(box, 'height', 0):.2f}".encode())
        if isinstance(box, boxes.TextBox):
            hashed.update(box.text.encode())
        elif isinstance(box, boxes.ReplacedBox) and box.element is not None:
            hashed.update((box.element.get("src") or "").encode())
        for child in getattr(box, "children", ()):
            walk(child)

    walk(page._page_box)
    return hashed.hexdigest()
