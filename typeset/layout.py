"""Stage 4: lay the body out with WeasyPrint on the page plan and measure the fit.

Pass 1 lays every article out from its planned first page and measures how many pages
its text needs. When that differs from the plan, pass 2 lays the issue out again with
blank pages where text ends early and an overset marker where it runs long; pages
beyond an article's last planned page are then dropped from the document. Both passes
share one FontConfiguration, and the result is one document, so each font is embedded once.
"""

from __future__ import annotations

import logging
import math
import statistics
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import weasyprint
from weasyprint.formatting_structure import boxes
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

from .articles import Article
from .diagnostics import Diagnostics, InputError
from .fonts import FontSet
from . import justify
from .house import House
from .manifest import Manifest, PageRange
from .render import ArticleBlock, BlankBlock, Block, render_html

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
    lines_per_page: int = 0  # body lines a full page holds, all columns
    blank_folios: list[int] = field(default_factory=list)  # planned pages left without text

    @property
    def last_folio(self) -> int:
        return self.first_folio + self.pages_kept - 1

    @property
    def overset(self) -> bool:
        return self.overset_lines > 0 or self.overset_chars > 0


@dataclass
class BodyLayout:
    document: weasyprint.Document  # the final pages, overset pages dropped
    folios: list[int]  # folio of each page of `document`
    fits: list[ArticleFit]
    blank_pages: list[tuple[int, str]]  # (folio, purpose) of pages without text
    passes: int


def lay_out(manifest: Manifest, articles: list[Article], house: House, fonts: FontSet,
            diagnostics: Diagnostics) -> BodyLayout:
    justify.install()
    font_config = FontConfiguration()
    fetcher = _SandboxedFetcher([manifest.root, *house.roots, *(f.file.parent for r in fonts.roles.values()
                                                                  for f in r.faces)], diagnostics)
    names = {a.slug: f"a{i}" for i, a in enumerate(articles)}

    first_blocks = _plan(manifest, articles, names, needed=None)
    document = _render(manifest, first_blocks, house, fonts, font_config, fetcher, diagnostics)
    pages_by_name = _pages_by_name(document)
    needed = {a.slug: max(1, len(pages_by_name.get(names[a.slug], []))) for a in articles}
    blocks = _plan(manifest, articles, names, needed=needed, document=document, pages_by_name=pages_by_name)
    passes = 1
    if blocks != first_blocks:
        document = _render(manifest, blocks, house, fonts, font_config, fetcher, diagnostics)
        pages_by_name = _pages_by_name(document)
        passes = 2

    keep: list[int] = []
    folios: list[int] = []
    fits: list[ArticleFit] = []
    blank_pages: list[tuple[int, str]] = []
    for block in blocks:
        indexes = pages_by_name.get(block.page_name, [])
        if isinstance(block, BlankBlock):
            if block.purpose == "discard":
                continue
            keep += indexes
            folios += block.folios
            blank_pages += [(f, block.purpose) for f in block.folios]
            continue
        article = block.article
        fit = _measure(block, document, indexes, needed[article.slug], block.start_folio)
        keep += indexes[: fit.pages_kept]
        folios += list(range(fit.first_folio, fit.first_folio + fit.pages_kept))
        fits.append(fit)
    # Filler pages that follow an article belong to its fit.
    for fit in fits:
        if fit.planned:
            fit.blank_folios = [f for f, purpose in blank_pages if purpose == "underfill" and f in fit.planned]
            fit.underfill_lines += len(fit.blank_folios) * fit.lines_per_page
    final = document.copy([document.pages[i] for i in keep])
    return BodyLayout(final, folios, fits, blank_pages, passes)


def _plan(manifest: Manifest, articles: list[Article], names: dict[str, str], needed: dict[str, int] | None,
          document=None, pages_by_name=None) -> list[Block]:
    """The page sequence: contents pages, articles from their planned folio, blank pages in the gaps.

    With `needed` unknown (pass 1) articles are assumed to fill their planned pages exactly.
    """
    contents = manifest.contents_pages
    blocks: list[Block] = []
    folio = 1
    fill_count = 0

    def blank(purpose: str, folios: list[int]) -> None:
        nonlocal fill_count
        if folios or purpose == "discard":
            fill_count += 1
            blocks.append(BlankBlock(purpose, folios, f"{purpose}{fill_count}"))

    def place_contents() -> None:
        nonlocal folio, contents
        blank("unplanned", list(range(folio, contents.first)))
        start = max(folio, contents.first)
        blocks.append(BlankBlock("reserved", list(range(start, start + contents.count)), "contents"))
        folio = start + contents.count
        contents = None

    if contents and not any(a.entry.pages and a.entry.pages.first > contents.last for a in articles):
        place_contents()
    for article in articles:
        planned = article.entry.pages
        if contents and planned and planned.first > contents.last:
            place_contents()
        name = names[article.slug]
        if planned:
            blank("unplanned", list(range(folio, planned.first)))
            start = max(folio, planned.first)
            available = max(planned.last - start + 1, 1)
            pages = available if needed is None else needed[article.slug]
            block = ArticleBlock(article, name, start)
            blocks.append(block)
            if pages > available:
                lines = _overset_lines(document, pages_by_name[name][available:])
                block.overset_marker = (available, start + available - 1, lines)
                if (pages - available) % 2:
                    # Overset pages are dropped after layout; drop an even number so that
                    # every later page keeps its side (left/right) in the layout.
                    blank("discard", [])
            blank("underfill", list(range(start + min(pages, available), start + available)))
            folio = start + available
        else:
            pages = 1 if needed is None else needed[article.slug]
            blocks.append(ArticleBlock(article, name, folio if needed is not None else None))
            folio += pages
    if contents:
        place_contents()
    return blocks


@contextmanager
def _weasyprint_messages(diagnostics: Diagnostics):
    """WeasyPrint's warnings (failed fetches, ignored CSS) become diagnostics instead of log noise."""

    class Collect(logging.Handler):
        def emit(self, record):
            diagnostics.warning(f"layout: {record.getMessage()}")

    logger = logging.getLogger("weasyprint")
    handler = Collect(logging.WARNING)
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


class _SandboxedFetcher(URLFetcher):
    """Resources may come only from the issue, the house style and the resolved font files."""

    def __init__(self, roots: list[Path], diagnostics: Diagnostics):
        super().__init__(allowed_protocols={"file", "data"}, allow_redirects=False)
        self.roots = sorted({r.resolve() for r in roots})
        self.diagnostics = diagnostics

    def fetch(self, url, headers=None):
        if url.startswith("file://"):
            path = Path(unquote(url[len("file://"):].split("?")[0].split("#")[0])).resolve()
            if any(path == r or r in path.parents for r in self.roots):
                return super().fetch(url, headers)
        elif url.startswith("data:"):
            return super().fetch(url, headers)
        self.diagnostics.error(f"refused to load '{url}': only files inside the issue folder may be used",
                               hint="copy the file into the issue folder and name it by a relative path")
        raise ValueError(f"refused: {url}")


def _render(manifest, blocks, house, fonts, font_config, fetcher, diagnostics) -> weasyprint.Document:
    html = render_html(manifest, blocks, house, fonts, diagnostics)
    with _weasyprint_messages(diagnostics):
        document = weasyprint.HTML(string=html, base_url=str(manifest.root) + "/", url_fetcher=fetcher) \
            .render(font_config=font_config)
    diagnostics.raise_if_errors()
    return document


def _pages_by_name(document) -> dict[str, list[int]]:
    by_name: dict[str, list[int]] = {}
    for index, page in enumerate(document.pages):
        by_name.setdefault(page._page_box.page_type.name, []).append(index)
    return by_name


def _content_lines(box):
    """The line boxes of a page's content (margin boxes excluded), in document order."""
    if isinstance(box, boxes.LineBox):
        yield box
        return
    for child in getattr(box, "children", ()):
        if isinstance(child, boxes.MarginBox):
            continue
        yield from _content_lines(child)


def _line_text(line) -> str:
    parts = []

    def walk(box):
        if isinstance(box, boxes.TextBox):
            parts.append(box.text)
        for child in getattr(box, "children", ()):
            walk(child)

    walk(line)
    return "".join(parts)


def _overset_lines(document, indexes: list[int]) -> int:
    return sum(1 for i in indexes for line in _content_lines(document.pages[i]._page_box) if _line_text(line).strip())


def _body_pitch(document, indexes: list[int]) -> float:
    heights = [round(line.height, 2) for i in indexes for line in _content_lines(document.pages[i]._page_box)
               if _line_text(line).strip()]
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


def _measure(block: ArticleBlock, document, indexes: list[int], needed: int, start: int) -> ArticleFit:
    article = block.article
    planned = article.entry.pages
    available = planned.last - start + 1 if planned else needed
    kept = min(needed, available, len(indexes))
    fit = ArticleFit(article, planned, start, needed, kept)
    fit.pitch = _body_pitch(document, indexes)
    page_height = document.pages[indexes[0]]._page_box.height if indexes else 0
    fit.lines_per_page = math.floor(page_height / fit.pitch + 0.01) * block.columns
    if len(indexes) > kept:
        dropped = indexes[kept:]
        fit.overset_lines = _overset_lines(document, dropped)
        fit.overset_chars = sum(len("".join(_line_text(line).split())) for i in dropped
                                for line in _content_lines(document.pages[i]._page_box))
    elif kept:
        last = document.pages[indexes[kept - 1]]._page_box
        fit.underfill_lines, fit.underfill_mm = _underfill(last, fit.pitch, block.columns)
    return fit


def _underfill(page_box, pitch: float, columns: int) -> tuple[int, float]:
    """Empty lines below the text of each column on the article's last page, and the empty height in mm."""
    bottom = page_box.content_box_y() + page_box.height
    body = _find_body(page_box)
    top = body.content_box_y() if body is not None else page_box.content_box_y()
    area = body if body is not None else page_box
    column_width = area.width / columns
    column_bottoms = [top] * columns
    for line in _content_lines(area):
        if _line_text(line).strip():
            column = min(columns - 1, max(0, int((line.position_x - area.content_box_x()) // column_width)))
            column_bottoms[column] = max(column_bottoms[column], line.position_y + line.height)
    empty = [max(0.0, bottom - y) for y in column_bottoms]
    lines_free = sum(math.floor(e / pitch + 0.01) for e in empty)
    return lines_free, round(min(empty) / PX_PER_MM, 1)
