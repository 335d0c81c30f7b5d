"""Stage 6: join the parts into one PDF in print order, with page labels, an outline and metadata.

封一, 封二, the body pages 1…N with the contents pages in their place, 封三, 封四. The viewer
shows the labels 封一, 封二, 1 … N, 封三, 封四, and bookmarks for the sections and articles.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass

import pikepdf

from ..body.planning import ArticleFit, BodyLayout
from ..inputs.manifest import Manifest

COVER_LABELS = ("封一", "封二", "封三", "封四")


@dataclass
class Assembled:
    pdf: bytes
    labels: list[str]  # the page label of every page, in order
    body_offset: int  # index of the first body page


def assemble_issue(manifest: Manifest, body: BodyLayout, body_pdf: bytes, covers_pdf: bytes | None,
                   contents_pdf: bytes | None) -> Assembled:
    out = pikepdf.new()
    body_doc = pikepdf.open(io.BytesIO(body_pdf))
    covers = pikepdf.open(io.BytesIO(covers_pdf)) if covers_pdf else None
    contents = pikepdf.open(io.BytesIO(contents_pdf)) if contents_pdf else None

    labels: list[str] = []

    def add(page, label: str) -> None:
        out.pages.append(page)
        added = out.pages[-1]
        # every page has trim and bleed boxes; a reader sees the trimmed page
        added.obj.CropBox = added.obj.TrimBox
        labels.append(label)

    if covers:
        add(covers.pages[0], COVER_LABELS[0])
        add(covers.pages[1], COVER_LABELS[1])
    body_offset = len(out.pages)
    contents_folios = [slot.folio for slot in body.slots if slot.kind == "reserved"] if contents else []
    width, height = (v * 72 / 25.4 for v in manifest.page.trim_mm)
    bleed = manifest.page.bleed_mm * 72 / 25.4
    for slot in body.slots:
        if slot.kind == "article":
            add(body_doc.pages[slot.page], str(slot.folio))
        elif slot.folio in contents_folios:
            add(contents.pages[contents_folios.index(slot.folio)], str(slot.folio))
        else:
            # a planned page without text: blank, and reported as underfill or unplanned
            bleed_box = [-bleed, -bleed, width + bleed, height + bleed]
            blank = pikepdf.Dictionary(Type=pikepdf.Name.Page, MediaBox=bleed_box, BleedBox=bleed_box,
                                       TrimBox=[0, 0, width, height])
            add(pikepdf.Page(out.make_indirect(blank)), str(slot.folio))
    for fit in body.fits:
        if fit.overset:
            _overset_marker(out, out.pages[body_offset + body.folios.index(fit.last_folio)], fit.last_folio)
    if covers:
        add(covers.pages[2], COVER_LABELS[2])
        add(covers.pages[3], COVER_LABELS[3])

    unique_subset_tags(out)
    out.Root.PageLabels = pikepdf.Dictionary(Nums=pikepdf.Array(_label_ranges(labels)))
    out.Root.Lang = pikepdf.String("zh-CN")
    out.Root.PageMode = pikepdf.Name.UseOutlines
    _outline(out, manifest, body.fits, labels, contents_folios)
    title = manifest.title.strip()
    with out.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:title"] = title
        meta["dc:language"] = ["zh-CN"]
        if manifest.magazine.sponsor:
            meta["dc:publisher"] = [manifest.magazine.sponsor]
        meta["xmp:CreatorTool"] = "typeset"
    out.docinfo["/Title"] = title
    out.docinfo["/Creator"] = "typeset"
    buffer = io.BytesIO()
    # SOURCE_DATE_EPOCH asks for reproducible output: derive the document ID from the content.
    out.save(buffer, deterministic_id="SOURCE_DATE_EPOCH" in os.environ, compress_streams=True,
             min_version="1.7")
    return Assembled(buffer.getvalue(), labels, body_offset)


def subset_tagged(pdf: bytes) -> bytes:
    """A PDF (the cover pages) with `unique_subset_tags`, as its pages are in the assembled issue."""
    tagged = pikepdf.open(io.BytesIO(pdf))
    unique_subset_tags(tagged)
    buffer = io.BytesIO()
    tagged.save(buffer, compress_streams=True)
    return buffer.getvalue()


def unique_subset_tags(pdf: pikepdf.Pdf) -> None:
    """Give every embedded subset a tag of its own, derived from its glyphs.

    ReportLab names its subsets AAAAAA+, AAAAAB+ … in every document it writes, so parts joined
    into one file carry different subsets under one name, which viewers and prepress tools mix up.
    """
    seen: set = set()
    for page in pdf.pages:
        for _, font in page.obj.get("/Resources", pikepdf.Dictionary()).get("/Font", pikepdf.Dictionary()).items():
            _retag(font, seen)
        for _, xobject in page.obj.get("/Resources", pikepdf.Dictionary()).get("/XObject", pikepdf.Dictionary()).items():
            if xobject.get("/Subtype") == "/Form":
                for _, font in xobject.get("/Resources", pikepdf.Dictionary()).get("/Font", pikepdf.Dictionary()).items():
                    _retag(font, seen)


def _retag(font, seen: set) -> None:
    if font.objgen in seen:
        return
    seen.add(font.objgen)
    holder = font.DescendantFonts[0] if "/DescendantFonts" in font else font
    descriptor = holder.get("/FontDescriptor")
    name = str(font.get("/BaseFont", ""))
    if descriptor is None or len(name) < 8 or name[7] != "+":
        return
    program = next((descriptor[k] for k in ("/FontFile2", "/FontFile3", "/FontFile") if k in descriptor), None)
    if program is None:
        return
    digest = hashlib.sha256(program.read_raw_bytes()).digest()
    tag = "".join(chr(ord("A") + b % 26) for b in digest[:6])
    renamed = pikepdf.Name("/" + tag + name[7:])
    font.BaseFont = renamed
    if holder is not font and str(holder.get("/BaseFont", "")).startswith(name[:8]):
        holder.BaseFont = pikepdf.Name("/" + tag + str(holder.BaseFont)[7:])
    descriptor.FontName = pikepdf.Name("/" + tag + str(descriptor.FontName)[7:])


def _overset_marker(pdf, page, folio: int) -> None:
    """InDesign's overset sign, a red box with a plus, at the outer foot of the last planned page."""
    trim = [float(v) for v in page.obj.TrimBox]
    size, inset = 12.0, 17.0
    x = trim[2] - inset - size if folio % 2 else trim[0] + inset
    y = trim[1] + inset
    drawing = (f"q 0.85 0 0 rg {x:.2f} {y:.2f} {size} {size} re f 1 1 1 RG 1.4 w "
               f"{x + size / 2:.2f} {y + 2.5:.2f} m {x + size / 2:.2f} {y + size - 2.5:.2f} l S "
               f"{x + 2.5:.2f} {y + size / 2:.2f} m {x + size - 2.5:.2f} {y + size / 2:.2f} l S Q")
    # WeasyPrint leaves its page transformation in force at the end of the content: draw in a
    # clean graphics state after wrapping the page's own content in q … Q.
    page.contents_add(pikepdf.Stream(pdf, b"q\n"), prepend=True)
    page.contents_add(pikepdf.Stream(pdf, b"\nQ\n" + drawing.encode()), prepend=False)


def _label_ranges(labels: list[str]) -> list:
    """The PDF page-label number tree: decimal ranges for folios, a prefix alone for the covers."""
    nums: list = []
    for index, label in enumerate(labels):
        if label.isdigit():
            if index and labels[index - 1].isdigit() and int(labels[index - 1]) + 1 == int(label):
                continue
            nums += [index, pikepdf.Dictionary(S=pikepdf.Name.D, St=int(label))]
        else:
            nums += [index, pikepdf.Dictionary(P=pikepdf.String(label))]
    return nums


def _outline(pdf, manifest: Manifest, fits: list[ArticleFit], labels: list[str], contents_folios: list[int]) -> None:
    page_of = {label: index for index, label in enumerate(labels)}
    with pdf.open_outline() as outline:
        if "封一" in page_of:
            outline.root.append(pikepdf.OutlineItem("封一", page_of["封一"]))
        if contents_folios:
            outline.root.append(pikepdf.OutlineItem("目录", page_of[str(contents_folios[0])]))
        section_item = None
        for fit in fits:
            article = fit.article
            page = page_of.get(str(fit.first_folio))
            if page is None:
                continue
            if section_item is None or section_item.title != article.entry.section:
                section_item = pikepdf.OutlineItem(article.entry.section, page)
                outline.root.append(section_item)
            section_item.children.append(pikepdf.OutlineItem(article.toc_title or article.title, page))
        for label in ("封三", "封四"):
            if label in page_of:
                outline.root.append(pikepdf.OutlineItem(label, page_of[label]))
