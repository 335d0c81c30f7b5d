"""Stage 5 as a build runs it: the cover and contents pages, and the cover's file for the
printer, made while the build links the body's parts (`front_pages_beside`).

Drawing them needs nothing of the body but its contents entries and number of pages. They
come from the layout cache when what they are drawn from is unchanged (after an edit of an
article's text: ReportLab is then not even imported), else they are drawn in a child process
beside the link, which leaves the other core idle.
"""

from __future__ import annotations

import contextvars
import json
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial
from typing import Callable

import PIL
import reportlab

from ..body.layoutcache import LayoutCache
from ..body.measure import ArticleFit
from ..diagnostics import Diagnostic, Diagnostics
from ..i18n import language
from ..inputs.fonts import FontSet
from ..inputs.housestyle import HouseStyle
from ..inputs.manifest import MANIFEST_NAME, Manifest
from ..pdf.assemble import subset_tagged
from ..pdf.preflight import PreflightReport, preflight
from ..pdf.printfiles import PrintCondition, cover_spreads, print_file
from ..processes import forked, workers
from ..progress import current
from ..store import Handover, Inputs, digest, hand_over, take_notices, take_over

COVER_PDF = "cover.pdf"  # 封一–封四 for the printer, with marks


@dataclass
class FrontPagesInputs:
    """What the front pages are made from: the issue, its house style and fonts, the body's fits
    (the contents entries) and number of pages (the spine), the printing condition, and what
    the last build's preflight found of its pages (`build._PagesChecked`)."""

    manifest: Manifest
    style: HouseStyle
    fonts: FontSet
    fits: list[ArticleFit]
    body_pages: int
    condition: PrintCondition
    known_ink: dict[str, int]
    known_clean: set[str]


@dataclass
class FrontPages:
    """The cover pages (封一–封四) and the contents pages (None: the plan keeps none), and the cover's
    file for the printer with its preflight report."""

    covers: bytes
    contents: bytes | None
    cover_file: bytes
    cover_check: PreflightReport


def front_pages_beside(inputs: FrontPagesInputs, cache: LayoutCache,
                       pool: ThreadPoolExecutor) -> Callable[[Diagnostics], FrontPages]:
    """The front pages, started now; the function returned takes them (and what making them
    reported) into `diagnostics`. From the cache, only the cover's file for the printer is made
    and checked, on `pool`. Drawn anew, all of it is made in a child process; with one process
    (`-j 1`), or where the child gave no answer, it is made here when taken."""
    recipe = _recipe(inputs)
    stored = cache.stored(recipe, "front")
    if stored is not None:
        covers, contents, reported = _unpacked(stored)
        cover = pool.submit(contextvars.copy_context().run, _checked_cover, inputs, covers)

        def take_stored(diagnostics: Diagnostics) -> FrontPages:
            with current().step("frontpages"):
                diagnostics.items.extend(reported)
                return FrontPages(covers, contents, *cover.result())

        return take_stored
    make = partial(_front_pages, inputs)
    pending = forked(partial(_reporting, make)) if workers() > 1 else None

    def take(diagnostics: Diagnostics) -> FrontPages:
        with current().step("frontpages"):  # made here, or what waiting for the child took
            try:
                if pending is None:
                    raise ChildProcessError("one process: made here")
                front, reported, learned = pending()
            except ChildProcessError:
                before = len(diagnostics.items)
                front = make(diagnostics)  # made here, where whatever went wrong shows
                reported = diagnostics.items[before:]
            else:
                take_over(learned)
                diagnostics.items.extend(reported)
        cache.store(recipe, "front", _packed(front.covers, front.contents, reported))
        return front

    return take


def _recipe(inputs: FrontPagesInputs) -> str:
    """Everything the cover and contents pages are drawn from, and what making them reports in:
    the manifest (cover photos by file), house style, fonts (the cache's key adds their files and
    typeset's code), the contents entries, the language, ReportLab and Pillow."""
    manifest = inputs.manifest
    pages = (manifest.cover, manifest.inside_front_cover, manifest.inside_back_cover, manifest.back_cover)
    photos = tuple(page.image for page in pages if page is not None and page.image is not None)
    entries = [(fit.article.toc_title, fit.article.title, fit.article.author, fit.article.entry.section,
                fit.first_folio) for fit in inputs.fits]
    values = ("front pages", language(), manifest.display(manifest.root / MANIFEST_NAME), repr(manifest),
              repr(inputs.style), repr(inputs.fonts), repr(entries), f"ReportLab {reportlab.Version}",
              f"Pillow {PIL.__version__}")
    return digest(Inputs(values=values, stamped=photos))


def _packed(covers: bytes, contents: bytes | None, reported: list[Diagnostic]) -> bytes:
    """The front pages as the cache keeps them: a JSON head (what making them reported, the
    lengths of the two PDFs), then the PDFs."""
    head = json.dumps({"reported": [asdict(d) for d in reported], "covers": len(covers),
                       "contents": None if contents is None else len(contents)}).encode()
    return len(head).to_bytes(4, "big") + head + covers + (contents or b"")


def _unpacked(data: bytes) -> tuple[bytes, bytes | None, list[Diagnostic]]:
    length = int.from_bytes(data[:4], "big")
    head = json.loads(data[4:4 + length])
    covers = data[4 + length:4 + length + head["covers"]]
    contents = None if head["contents"] is None else data[4 + length + head["covers"]:]
    return covers, contents, [Diagnostic(**d) for d in head["reported"]]


def _reporting(make: Callable[[Diagnostics], FrontPages]) -> tuple[FrontPages, list, Handover]:
    """In the child: the front pages, what making them reported, what it learned of the caches."""
    take_notices()  # the parent's, which it says itself: only this child's go back
    diagnostics = Diagnostics()
    front = make(diagnostics)
    return front, diagnostics.items, hand_over([])


def _front_pages(inputs: FrontPagesInputs, diagnostics: Diagnostics) -> FrontPages:
    # imported here: ReportLab's 0.08 s are spent only by the process that draws these pages
    from .contents import build_contents, contents_text
    from .covers import build_covers, cover_text
    from .fonts import reportlab_fonts

    manifest, style, fits = inputs.manifest, inputs.style, inputs.fits
    fonts = reportlab_fonts(inputs.fonts, cover_text(manifest) + contents_text(manifest, fits))
    covers = build_covers(manifest, style, fonts, diagnostics)
    contents = build_contents(manifest, style, fits, fonts, diagnostics) if manifest.contents_pages else None
    return FrontPages(covers, contents, *_checked_cover(inputs, covers))


def _checked_cover(inputs: FrontPagesInputs, covers_pdf: bytes) -> tuple[bytes, PreflightReport]:
    """The cover's file for the printer (封一–封四, as spreads around the spine for perfect binding)
    and its preflight report."""
    manifest, condition = inputs.manifest, inputs.condition
    pages, title = subset_tagged(covers_pdf), f"{manifest.title} 封面"
    if manifest.page.binding == "perfect":
        spine = math.ceil(inputs.body_pages / 2) * manifest.page.caliper_mm
        cover = cover_spreads(pages, [0, 1, 2, 3], spine, manifest.page.bleed_mm, title, condition)
    else:
        cover = print_file(pages, [0, 1, 2, 3], title, condition)
    return cover, preflight(COVER_PDF, data=cover, known_ink=inputs.known_ink, known_clean=inputs.known_clean)
