"""Proofs for editors (校样): trim-size pages without marks, a light watermark with the build time
and a short hash of the inputs on every page, and the article's file name in the margin;
optionally only some articles, page images, and facing pages side by side."""

from __future__ import annotations

import html
import io
import itertools
import os
import time

import pikepdf
import weasyprint

from ..inputs.fonts import FontSet
from ..inputs.housestyle import Colours
from .assemble import unique_subset_tags


def build_time() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = time.gmtime(int(epoch)) if epoch else time.localtime()
    return time.strftime("%Y-%m-%d %H:%M", moment)


def proof_pdf(pdf: bytes, page_notes: list[str], fonts: FontSet, colours: Colours, stamp: str, spreads: bool) -> bytes:
    """The pages of `pdf` at trim size with the proof watermark; `page_notes[i]` goes in page i's margin."""
    source = pikepdf.open(io.BytesIO(pdf))
    first = source.pages[0].obj.TrimBox
    width, height = float(first[2]) - float(first[0]), float(first[3]) - float(first[1])
    # The marks are laid out by WeasyPrint with the house fonts (one page per proof page) and laid
    # over the pages: the watermark is translucent, so it never hides the text it marks.
    pages = "".join(f'<section><div class="watermark">校样</div><div class="stamp">校样 {html.escape(stamp)}</div>'
                    f'<div class="note">{html.escape(note)}</div></section>' for note in page_notes)
    document = (f"<html lang=\"zh-Hans-CN\"><style>{fonts.css()}{colours.css()}"
                f"@page {{ size: {width}pt {height}pt; margin: 0; }}"
                "section { position: relative; width: 100%; height: 100vh; break-after: page; "
                "  font-family: var(--font-hei); color: var(--colour-red); }"
                ".watermark { position: absolute; top: 42%; left: 0; right: 0; text-align: center; font-size: 110pt;"
                "  color: var(--colour-ink); opacity: 0.09; transform: rotate(-35deg); }"
                ".stamp, .note { position: absolute; bottom: 5mm; font-size: 6.5pt; }"
                ".stamp { left: 8mm; } .note { right: 8mm; }"
                f"</style><body style=\"margin: 0\">{pages}</body></html>")
    marks_pdf = weasyprint.HTML(string=document).write_pdf()
    marks = pikepdf.open(io.BytesIO(marks_pdf))
    out = pikepdf.new()
    for index, page in enumerate(source.pages):
        out.pages.append(page)
        added = out.pages[-1]
        trim = added.obj.TrimBox
        added.obj.MediaBox = trim
        for box in ("/CropBox", "/BleedBox"):
            if box in added.obj:
                del added.obj[box]
        overlay(added, out.copy_foreign(marks.pages[index].as_form_xobject()), pikepdf.Rectangle(*trim))
    unique_subset_tags(out)
    if "/PageLabels" in source.Root:  # the labels (封一, 1, 2 …) carry over: the pages are the same
        out.Root.PageLabels = out.copy_foreign(source.make_indirect(source.Root.PageLabels))
    if spreads:
        out = _spreads(out, width, height)
    result = io.BytesIO()
    out.save(result, deterministic_id="SOURCE_DATE_EPOCH" in os.environ, compress_streams=True)
    return result.getvalue()


def _spreads(pdf: pikepdf.Pdf, width: float, height: float) -> pikepdf.Pdf:
    """Facing pages side by side: the first page alone on the right, as a magazine opens."""
    out = pikepdf.new()
    pages = [None, *pdf.pages]
    for left, right in zip(pages[::2], pages[1::2] + [None] * (len(pages) % 2)):
        spread = out.add_blank_page(page_size=(2 * width, height))
        for page, x in ((left, 0.0), (right, width)):
            if page is None:
                continue
            form = out.copy_foreign(page.as_form_xobject())
            overlay(spread, form, pikepdf.Rectangle(x, 0, x + width, height))
    return out


def overlay(page: pikepdf.Page, form: pikepdf.Object, rect: pikepdf.Rectangle) -> pikepdf.Name:
    """`page.add_overlay(form, rect)`, the form named the same in every build (/Fx0, /Fx1 …, the
    first free): pikepdf names it at random, and a file built twice under SOURCE_DATE_EPOCH differed."""
    xobjects = page.obj.get("/Resources", pikepdf.Dictionary()).get("/XObject", pikepdf.Dictionary())
    name = next(pikepdf.Name(f"/Fx{i}") for i in itertools.count() if f"/Fx{i}" not in xobjects)
    page.add_resource(form, pikepdf.Name.XObject, name=name)
    placement = page.calc_form_xobject_placement(form, name, rect)
    page.contents_add(b"q\n", prepend=True)
    page.contents_add(b"Q\n", prepend=False)
    page.contents_add(placement, prepend=False)
    page.contents_coalesce()
    return name
