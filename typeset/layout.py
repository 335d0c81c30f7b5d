"""Stage 4: lay the body out with WeasyPrint on the page plan and measure the fit.

All articles are laid out in one WeasyPrint document, so each font is embedded once;
pages beyond an article's last planned page are dropped (overset) and measured.
"""

from __future__ import annotations

import logging
import math
import os
import statistics
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote

import weasyprint
import weasyprint.pdf
from weasyprint.formatting_structure import boxes
from weasyprint.pdf import fonts as pdf_fonts
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

from . import justify
from .articles import Article
from .continuation import split_article
from .copyfit import load_ranges, narrow, tightening
from .diagnostics import Diagnostics
from .fonts import FontSet, cache_dir
from .house import House
from .layoutcache import LayoutCache, Trial, fonts_digest
from .manifest import Manifest, PageRange
from .render import DEFAULT_COLUMNS, ArticleBlock, render_html

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


@dataclass
class Slot:
    """One page of the body in folio order: an article page, or a page without text."""

    folio: int
    kind: str  # "article"; or "reserved" (the contents), "underfill", "unplanned": no text
    page: int | None = None  # index into BodyLayout.document.pages for article pages


@dataclass
class BodyLayout:
    document: weasyprint.Document  # the article pages that are kept, in folio order
    slots: list[Slot]
    fits: list[ArticleFit]
    passes: int
    planned_anew: list[str] = field(default_factory=list)  # slugs laid out for planning, not found in the cache

    @property
    def folios(self) -> list[int]:
        return [slot.folio for slot in self.slots]

    @property
    def blank_pages(self) -> list[tuple[int, str]]:
        return [(slot.folio, slot.kind) for slot in self.slots if slot.kind != "article"]


def lay_out(manifest: Manifest, articles: list[Article], house: House, fonts: FontSet,
            diagnostics: Diagnostics, cache: LayoutCache | None = None, fitting: bool = True) -> BodyLayout:
    """Lay the articles out in one WeasyPrint document, each from its planned folio.

    Every article starts on a page of the side (left/right) its planned folio asks for, so
    dropping overset pages or adding blank ones later never moves a page to the wrong side;
    pages without text are added when the PDF is assembled. Articles without planned pages
    start where the text before them ends, which only a second pass can number right.

    Planning (the pages each article needs, copyfitting trials) reads what `cache` knows and
    lays out only the articles it does not; the kept pages always come from one document.
    Without `fitting` the articles are set as they come (their `fit` as given), none tightened.
    """
    justify.install()
    _subset_fonts_in_parallel()
    cache = cache if cache is not None else LayoutCache(None)
    cache.use_fonts(fonts)
    font_config = _font_configuration(fonts_digest(fonts))
    fetcher = _SandboxedFetcher([manifest.root, *house.roots, cache_dir().parent / "cmyk",
                                 *(f.file.parent for r in fonts.roles.values() for f in r.faces)], diagnostics)
    names = {a.slug: f"a{i}" for i, a in enumerate(articles)}
    starts = {a.slug: a.entry.pages.first if a.entry.pages else None for a in articles}

    def key(article: Article, start: int | None) -> str:
        html = render_html(manifest, [ArticleBlock(article, names[article.slug], start)], house, fonts, diagnostics)
        return cache.key(html, article)

    remember = cache.folder is not None or fitting  # else nothing is looked up again: no keys to make
    keys = {a.slug: key(a, starts[a.slug]) if remember else "" for a in articles}
    first = {a.slug: cache.get(keys[a.slug]) if remember else None for a in articles}
    missing = [a for a in articles if first[a.slug] is None]
    planned_anew = {a.slug for a in missing}
    document = pages_by_name = None
    if missing:
        laid_out = _render(manifest, missing, names, starts, house, fonts, font_config, fetcher, diagnostics)
        by_name = _pages_by_name(laid_out)
        for article in missing:
            indexes = by_name.get(names[article.slug], [])
            first[article.slug] = _trial(laid_out, indexes) if remember else Trial(len(indexes), [])
            if remember:
                cache.put(keys[article.slug], first[article.slug])
        if len(missing) == len(articles):
            document, pages_by_name = laid_out, by_name
    needed = {a.slug: max(1, first[a.slug].pages) for a in articles}
    plan = _plan(manifest, articles, needed)
    passes = 1

    def laid_out_alone(article: Article) -> Trial:
        """`article` laid out alone from its place in the plan: a copyfitting trial."""
        start = plan.articles[article.slug][0]
        trial_key = key(article, start)
        trial = cache.get(trial_key)
        if trial is None:
            alone = _render(manifest, [article], names, {article.slug: start}, house, fonts, font_config, fetcher,
                            diagnostics)
            trial = _trial(alone, _pages_by_name(alone).get(names[article.slug], []))
            cache.put(trial_key, trial)
            planned_anew.add(article.slug)
        return trial

    ranges = load_ranges(house, diagnostics) if fitting else {}
    articles, fitted = _fit(articles, plan, needed, ranges, laid_out_alone, first)
    plan = _plan(manifest, articles, needed)
    planned_starts = {slug: start for slug, (start, _) in plan.articles.items()}
    if document is None or planned_starts != starts or fitted:
        document = _render(manifest, articles, names, planned_starts, house, fonts, font_config, fetcher,
                           diagnostics)
        pages_by_name = _pages_by_name(document)
        needed = {a.slug: max(1, len(pages_by_name.get(names[a.slug], []))) for a in articles}
        plan = _plan(manifest, articles, needed)
        passes = 2

    keep: list[int] = []
    fits: list[ArticleFit] = []
    slots = plan.slots
    for article in articles:
        start, _ = plan.articles[article.slug]
        indexes = pages_by_name.get(names[article.slug], [])
        fit = _measure(article, document, indexes, needed[article.slug], start)
        for offset, index in enumerate(indexes[: fit.pages_kept]):
            slot = next(s for s in slots if s.folio == start + offset and s.kind == "article")
            slot.page = len(keep)
            keep.append(index)
        if fit.planned:
            fit.blank_folios = [s.folio for s in slots if s.kind == "underfill" and s.folio in fit.planned]
            fit.underfill_lines += len(fit.blank_folios) * fit.lines_per_page
        fits.append(fit)
    # where each continuation was set, and how long it is
    by_slug = {fit.article.slug: fit for fit in fits}
    for fit in fits:
        for continuation in fit.article.continued_here:
            host_pages = pages_by_name.get(names[fit.article.slug], [])[: fit.pages_kept]
            lines = [line for i in host_pages for line in _section_lines(document.pages[i]._page_box,
                                                                         continuation.source.slug)]
            by_slug[continuation.source.slug].continuation = {
                "page": continuation.page, "lines": len(lines),
                "chars": sum(len("".join(_line_text(line).split())) for line in lines)}
    final = document.copy([document.pages[i] for i in keep])
    return BodyLayout(final, slots, fits, passes, [a.slug for a in articles if a.slug in planned_anew])


def _fit(articles: list[Article], plan: _Plan, needed: dict[str, int], ranges, laid_out_alone,
         first: dict[str, Trial]) -> tuple[list[Article], list[str]]:
    """Continuations and copyfitting: the articles as they are to be laid out, and those changed.

    An article with `continued_on` whose text overran its pages is cut where its last planned
    page ends, the rest set after the article planned on the continuation page (the host).
    When the host cannot take it, both are tightened together, step by step, which moves more
    of the text onto the source's pages. Any other article that overruns its pages is tightened
    until it fits. `needed` is updated to the pages each article then takes.
    """
    by_slug = {a.slug: a for a in articles}
    by_page = {folio: a.slug for a in articles if a.entry.pages
               for folio in range(a.entry.pages.first, a.entry.pages.last + 1)}

    def available(article: Article) -> int:
        return article.entry.pages.last - plan.articles[article.slug][0] + 1

    changed: list[str] = []
    for article in articles:
        target = article.entry.continued_on
        start, kept = plan.articles[article.slug]
        host_slug = by_page.get(target)
        if target is None or needed[article.slug] <= kept or host_slug is None:
            continue
        source, host = by_slug[article.slug], by_slug[host_slug]
        limits = narrow(narrow(ranges, source.fit_limits), host.fit_limits)

        def attempt(setting, source=source, host=host, start=start, kept=kept, target=target):
            trial_source = replace(source, fit=setting) if setting else source
            source_trial = first[source.slug] if setting is None else laid_out_alone(trial_source)
            placed = source_trial.lines_on(kept)
            result = split_article(trial_source, placed, target, start + kept - 1)
            if result is None:
                return False, None
            shortened, continuation = result
            trial_host = replace(host, continued_here=[*host.continued_here, continuation],
                                 fit=setting if setting else host.fit)
            host_pages = laid_out_alone(trial_host).pages
            return host_pages <= available(host), (shortened, trial_host, host_pages)

        chosen = _first_fitting([None, *tightening(limits, False)] if ranges else [None], attempt)
        if chosen is None:
            continue
        by_slug[source.slug], by_slug[host.slug], needed[host.slug] = chosen
        needed[source.slug] = kept
        changed += [source.slug, host.slug]

    for article in articles:
        current = by_slug[article.slug]
        if not current.entry.pages or article.slug in changed or not ranges:
            continue
        if needed[article.slug] <= available(current):
            continue

        def attempt(setting, current=current):
            trial = replace(current, fit=setting)
            pages_taken = laid_out_alone(trial).pages
            return pages_taken <= available(current), (trial, pages_taken)

        chosen = _first_fitting(tightening(narrow(ranges, current.fit_limits), bool(current.figures)), attempt)
        if chosen is not None:
            by_slug[article.slug], needed[article.slug] = chosen
        changed.append(article.slug)
    return [by_slug[a.slug] for a in articles], changed


def _first_fitting(candidates: list, attempt):
    """The payload of the first candidate that fits, the candidates running from the smallest
    change to the largest; the tightest one's when none fits.

    Each candidate is at least as tight as the one before it, so what fits is a suffix of the
    list: bisection finds its start with a few trial layouts instead of one per candidate, and
    picks exactly what trying them in order would.
    """
    if not candidates:
        return None
    tried: dict[int, tuple[bool, object]] = {}

    def fits(index: int) -> bool:
        if index not in tried:
            tried[index] = attempt(candidates[index])
        return tried[index][0]

    low, high = 0, len(candidates) - 1
    if fits(low):
        return tried[low][1]
    if not fits(high):
        return tried[high][1]
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            high = middle
        else:
            low = middle
    return tried[high][1]


def _trial(document, indexes: list[int]) -> Trial:
    return Trial(len(indexes), [_placed_lines(document.pages[i]._page_box) for i in indexes])


def _placed_lines(page_box) -> list[tuple[str | None, int]]:
    """(data-line of the body block, visible characters) of every text line of the page's article."""
    out: list[tuple[str | None, int]] = []

    def walk(box, block):
        element = getattr(box, "element", None)
        if isinstance(box, boxes.BlockBox) and element is not None and element.get("data-line"):
            block = element.get("data-line")
        if isinstance(box, boxes.LineBox):
            text = "".join(_line_text(box).split())
            if text:
                out.append((block, len(text)))
            return
        for child in getattr(box, "children", ()):
            if not isinstance(child, boxes.MarginBox):
                walk(child, block)

    walk(page_box, None)
    return out


def _section_lines(page_box, source_slug: str) -> list:
    """The text lines of the continuation of `source_slug` on a page."""
    def find(box):
        element = getattr(box, "element", None)
        if element is not None and element.get("class") == "continuation" and element.get("data-file") == source_slug:
            return [line for line in _content_lines(box) if _line_text(line).strip()]
        found = []
        for child in getattr(box, "children", ()):
            if not isinstance(child, boxes.MarginBox):
                found += find(child)
        return found

    return find(page_box)


@dataclass
class _Plan:
    slots: list[Slot]
    articles: dict[str, tuple[int, int]]  # slug -> (first folio, pages kept)


def _plan(manifest: Manifest, articles: list[Article], needed: dict[str, int]) -> _Plan:
    """The body's pages in folio order: the contents pages, each article from its planned folio
    on as many pages as its text needs within its range, blank pages where the plan has no text."""
    contents = manifest.contents_pages
    slots: list[Slot] = []
    placed: dict[str, tuple[int, int]] = {}
    folio = 1

    def blank(kind: str, first: int, last: int) -> None:
        slots.extend(Slot(f, kind) for f in range(first, last + 1))

    def place_contents() -> None:
        nonlocal folio, contents
        blank("unplanned", folio, contents.first - 1)
        start = max(folio, contents.first)
        blank("reserved", start, start + contents.count - 1)
        folio = start + contents.count
        contents = None

    if contents and not any(a.entry.pages and a.entry.pages.first > contents.last for a in articles):
        place_contents()
    for article in articles:
        planned = article.entry.pages
        if contents and planned and planned.first > contents.last:
            place_contents()
        if planned:
            blank("unplanned", folio, planned.first - 1)
            start = max(folio, planned.first)
            available = max(planned.last - start + 1, 1)
            kept = min(needed[article.slug], available)
            blank("article", start, start + kept - 1)
            blank("underfill", start + kept, start + available - 1)
            folio = start + available
        else:
            start, kept = folio, needed[article.slug]
            blank("article", start, start + kept - 1)
            folio += kept
        placed[article.slug] = (start, kept)
    if contents:
        place_contents()
    return _Plan(slots, placed)


@contextmanager
def _weasyprint_messages(diagnostics: Diagnostics):
    """WeasyPrint's warnings (failed fetches, ignored CSS) become build errors instead of log noise."""

    class Collect(logging.Handler):
        def emit(self, record):
            diagnostics.error(f"layout: {record.getMessage()}",
                              hint="a stylesheet or template of the house style asks for something WeasyPrint "
                                   "cannot do; fix it there")

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


# Set to a dict by a process that only draws previews (typeset serve): each font file is then
# subset once for all the glyphs its previews have used so far, and that subset is reused for
# as long as it covers a page's glyphs. A preview is a little larger and much sooner; the PDFs a
# build writes never use this.
preview_subsets: dict | None = None


@lru_cache(maxsize=1)
def _subset_fonts_in_parallel() -> None:
    """WeasyPrint subsets the fonts of a PDF one after another, each a HarfBuzz call of some
    50 ms on a CJK face; the calls release the GIL, so they run on all cores first here and
    WeasyPrint's own pass finds them done. Same calls, same bytes: only sooner."""
    original_build, original_subset = weasyprint.pdf.build_fonts_dictionary, pdf_fonts.Font.subset

    def subset_once(font, to_unicode, hinting):
        if not getattr(font, "_typeset_subset", False):
            original_subset(font, to_unicode, hinting)

    def build_fonts_dictionary(pdf, fonts, compress, subset, options):
        by_file: dict = {}
        for font in fonts.values():
            by_file.setdefault(font.hash, []).append(font)
        jobs = []
        for same_file in by_file.values():  # as WeasyPrint groups them: one subset per font file
            font = same_file[0]
            if font.bitmap:
                continue
            to_unicode = {}
            if subset and not font.used_in_forms:
                for file_font in same_file:
                    to_unicode = {**to_unicode, **file_font.to_unicode}
            jobs.append((font, to_unicode))

        def run(job):
            font, to_unicode = job
            if preview_subsets is None or not to_unicode:
                original_subset(font, to_unicode, options["hinting"])
            else:
                key = (font.hash, bool(font.missing), options["hinting"])
                glyphs, data = preview_subsets.get(key, (frozenset(), b""))
                if not data or not glyphs.issuperset(to_unicode):
                    glyphs = glyphs.union(to_unicode)
                    original_subset(font, dict.fromkeys(glyphs, ""), options["hinting"])
                    preview_subsets[key] = (glyphs, font.file_content)
                font.file_content = preview_subsets[key][1]
            font._typeset_subset = True

        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            list(pool.map(run, jobs))
        try:
            return original_build(pdf, fonts, compress, subset, options)
        finally:
            for font, _ in jobs:  # a document's fonts live on: its next PDF subsets them anew
                font._typeset_subset = False

    pdf_fonts.Font.subset = subset_once
    weasyprint.pdf.build_fonts_dictionary = build_fonts_dictionary


@lru_cache(maxsize=4)
def _font_configuration(fonts_key: str) -> FontConfiguration:
    """One per set of font files in a process: WeasyPrint then reads each face once, not at every
    layout (`typeset serve` lays out an article on every save)."""
    return FontConfiguration()


def _render(manifest, articles, names, starts, house, fonts, font_config, fetcher, diagnostics) -> weasyprint.Document:
    blocks = [ArticleBlock(a, names[a.slug], starts[a.slug]) for a in articles]
    html = render_html(manifest, blocks, house, fonts, diagnostics)
    with _weasyprint_messages(diagnostics):
        document = weasyprint.HTML(string=html, base_url=str(manifest.root) + "/", url_fetcher=fetcher) \
            .render(font_config=font_config)
    diagnostics.raise_if_errors()
    return document


def _pages_by_name(document) -> dict[str, list[int]]:
    """Page indexes by page name; the blank pages inserted to start an article on its side are left out."""
    by_name: dict[str, list[int]] = {}
    for index, page in enumerate(document.pages):
        page_type = page._page_box.page_type
        if not page_type.blank:
            by_name.setdefault(page_type.name, []).append(index)
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


def _measure(article: Article, document, indexes: list[int], needed: int, start: int) -> ArticleFit:
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
        fit.overset_chars = sum(len("".join(_line_text(line).split())) for i in dropped
                                for line in _content_lines(document.pages[i]._page_box))
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
    for line in _content_lines(area):
        if _line_text(line).strip():
            column = min(columns - 1, max(0, int((line.position_x - area.content_box_x()) // column_width)))
            column_bottoms[column] = max(column_bottoms[column], line.position_y + line.height)
    empty = [max(0.0, bottom - y) for y in column_bottoms]
    lines_free = sum(math.floor(e / pitch + 0.01) for e in empty)
    return lines_free, round(min(empty) / PX_PER_MM, 1)
