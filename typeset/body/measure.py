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
from ..inputs.cjk import BREAK
from ..inputs.manifest import PageRange
from .decorations import decorate
from .html import columns_of
from .layoutcache import Trial, whole_lines

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
    column_gaps: list[float] = field(default_factory=list)  # empty height under each column of the last page
    fillers: list[dict] = field(default_factory=list)  # {"file", "page", "lines"} of the 补白 set under it

    @property
    def last_folio(self) -> int:
        return self.first_folio + self.pages_kept - 1

    @property
    def short_lines(self) -> int:
        """Body lines the shortest column of the last page leaves empty above the foot."""
        return whole_lines(max(self.column_gaps, default=0.0), self.pitch) if self.pitch else 0

    @property
    def overset(self) -> bool:
        return self.overset_lines > 0 or self.overset_chars > 0


def trial(document, indexes: list[int], columns: int) -> Trial:
    """What an article's pages (`indexes` of `document`) come to: all that planning and the fit
    report read of them."""
    if not indexes:
        return Trial(0, [])
    page_boxes = [document.pages[i]._page_box for i in indexes]
    continued: dict[str, list[tuple[int, int]]] = {}
    for number, page_box in enumerate(page_boxes):
        for slug, lines in continuation_lines(page_box).items():
            counts = continued.setdefault(slug, [(0, 0)] * len(page_boxes))
            counts[number] = (len(lines), sum(len("".join(line_text(line).split())) for line in lines))
    return Trial(len(indexes), [placed_lines(page_box) for page_box in page_boxes],
                 column_gaps(page_boxes[-1], columns), _body_pitch(page_boxes), page_boxes[-1].height,
                 block_heights(page_boxes[-1:], "data-filler"), continued,
                 photos=[photo for page_box in page_boxes for photo in _photos(page_box, page_box)])


def _photos(box, page_box) -> list[tuple[float, float, float]]:
    """(height, max-height, share of the text area's width) of each image on the page that a
    max-height holds (CSS px)."""
    if isinstance(box, boxes.ReplacedBox):
        cap = box.max_height
        held = isinstance(cap, (int, float)) and math.isfinite(cap)
        return [(box.height, cap, box.width / page_box.width)] if held else []
    return [photo for child in getattr(box, "children", ()) for photo in _photos(child, page_box)]


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


def continuation_lines(page_box) -> dict[str, list]:
    """The text lines of each continuation on a page, by the slug of the article it continues."""
    found: dict[str, list] = {}

    def find(box):
        element = getattr(box, "element", None)
        if element is not None and element.get("class") == "continuation":
            found.setdefault(element.get("data-file"), []).extend(
                line for line in content_lines(box) if line_text(line).strip())
            return
        for child in getattr(box, "children", ()):
            if not isinstance(child, boxes.MarginBox):
                find(child)

    find(page_box)
    return found


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
    """The text of a laid-out line as a reader sees it (without cjk.py's invisible breaks)."""
    parts = []

    def walk(box):
        if isinstance(box, boxes.TextBox):
            parts.append(box.text)
        for child in getattr(box, "children", ()):
            walk(child)

    walk(line)
    return "".join(parts).replace(BREAK, "")


def _body_pitch(page_boxes: list) -> float:
    heights = [round(line.height, 2) for page_box in page_boxes for line in content_lines(page_box)
               if line_text(line).strip()]
    return statistics.mode(heights) if heights else 12.0


def measure(article: Article, laid_out: Trial, needed: int, start: int) -> ArticleFit:
    """The article's fit: its layout `laid_out` from `start`, on the pages planned for it."""
    columns = columns_of(article)
    planned = article.entry.pages
    available = planned.last - start + 1 if planned else needed
    kept = min(needed, available, laid_out.pages)
    fit = ArticleFit(article, planned, start, needed, kept)
    fit.pitch = laid_out.pitch
    fit.lines_per_page = laid_out.page_lines * columns if laid_out.pages else 0
    if laid_out.pages > kept:
        dropped = laid_out.placed[kept:]
        fit.overset_lines = sum(len(page) for page in dropped)
        fit.overset_chars = sum(chars for page in dropped for _block, chars in page)
    elif kept:
        fit.column_gaps = laid_out.gaps
        fit.underfill_lines = sum(whole_lines(gap, fit.pitch) for gap in laid_out.gaps)
        fit.underfill_mm = round(min(laid_out.gaps) / PX_PER_MM, 1)
        fit.fillers = [{"file": f.rel, "page": start + kept - 1,
                        "lines": round(laid_out.fillers.get(f.slug, 0.0) / fit.pitch)} for f in article.fillers]
    return fit


def column_gaps(page_box, columns: int) -> list[float]:
    """The empty height between the last thing set in each column of the page and the foot (CSS px).

    A line counts in the columns its block spans, so a photo, a continuation or a filler set
    across the columns closes every column it stands under."""
    top, left = page_box.content_box_y(), page_box.content_box_x()
    column_width = page_box.width / columns
    lowest = [top] * columns

    def mark(x0: float, x1: float, bottom: float) -> None:
        for column in range(columns):
            c0 = left + column * column_width
            if x0 < c0 + column_width - 1 and x1 > c0 + 1:
                lowest[column] = max(lowest[column], bottom)

    def walk(box, block) -> None:
        if isinstance(box, boxes.MarginBox):
            return
        if isinstance(box, boxes.LineBox):
            if line_text(box).strip() or any(isinstance(c, boxes.InlineReplacedBox) for c in box.children):
                mark(block.content_box_x(), block.content_box_x() + block.width, box.position_y + box.height)
            return
        for child in getattr(box, "children", ()):
            walk(child, box if isinstance(box, boxes.BlockContainerBox) else block)

    walk(page_box, page_box)
    bottom = top + page_box.height
    return [round(max(0.0, bottom - y), 2) for y in lowest]


def drop_fillers(page_box, drop: float, count: int) -> None:
    """The fillers on a laid-out page moved down as `filler_drop` moves them (layout/filler.html.j2:
    a margin of drop / count above each, less 0.005 px): the text above them does not move, so
    this is the layout WeasyPrint makes of the article with the drop, without laying it out."""
    share = round(drop / count - 0.005, 2)  # as the template writes it
    for number, filler in enumerate(_marked_blocks(page_box, "data-filler"), start=1):
        filler.translate(dy=number * share)
        filler.position_y -= share  # its margin box starts where the one above it ends
        filler.margin_top += share


def _marked_blocks(page_box, attribute: str) -> list:
    """The blocks of a page marked with `attribute` (those inside them not looked into), in order."""
    found = []

    def walk(box):
        element = getattr(box, "element", None)
        if element is not None and element.get(attribute) and isinstance(box, boxes.BlockBox):
            found.append(box)
            return
        for child in getattr(box, "children", ()):
            if not isinstance(child, boxes.MarginBox):
                walk(child)

    walk(page_box)
    return found


def block_heights(page_boxes, attribute: str) -> dict[str, float]:
    """The height (CSS px, margins included) of the blocks marked with `attribute`, by its value,
    summed over the pages: a filler's `data-filler`, a measured sample's `data-sample`."""
    found: dict[str, float] = {}
    for page_box in page_boxes:
        for box in _marked_blocks(page_box, attribute):
            value = box.element.get(attribute)
            found[value] = found.get(value, 0.0) + box.margin_height()
    return found


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

    decorate(page._page_box)  # its folio and running heads too
    walk(page._page_box)
    return hashed.hexdigest()
