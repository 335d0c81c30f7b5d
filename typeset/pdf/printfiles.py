"""Stage 7: the files for the printer: the interior (body pages) and the cover (封一–封四).

Every page keeps its TrimBox and BleedBox; the MediaBox grows to hold crop marks outside the
bleed (WeasyPrint's own `marks: crop` draws them inside it, where they would be printed).
The reading-order issue PDF stays without marks.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pikepdf

from .overprint import overprint_black, overprint_states, overprinted, share_states

MM = 72 / 25.4
MARK_GAP = 2 * MM  # between the bleed edge and the start of a mark
MARK_LENGTH = 5 * MM
MARK_WIDTH = 0.3  # pt: above the 0.25 pt hairline limit
SLUG = 1 * MM  # free paper beyond the marks


@dataclass(frozen=True)
class PrintCondition:
    """What the print files are made for: the printing condition's ICC profile and the PDF/X standard."""

    profile: Path
    pdfx: str  # page.pdfx: X-4


def print_file(issue_pdf: bytes, pages: list[int], title: str, condition: PrintCondition) -> bytes:
    """The given pages of the assembled issue, with crop marks and the output intent, as a print file."""
    source = pikepdf.open(io.BytesIO(issue_pdf))
    out = pikepdf.new()
    states = overprint_states(out)
    for index in pages:
        out.pages.append(source.pages[index])
        page = out.pages[-1]
        if "/CropBox" in page.obj:
            del page.obj["/CropBox"]
        trim = [float(v) for v in page.obj.TrimBox]
        bleed_box = [float(v) for v in page.obj.BleedBox]
        bleed = max(trim[0] - bleed_box[0], bleed_box[2] - trim[2], trim[1] - bleed_box[1], bleed_box[3] - trim[3])
        reach = bleed + MARK_GAP + MARK_LENGTH + SLUG
        page.obj.MediaBox = [trim[0] - reach, trim[1] - reach, trim[2] + reach, trim[3] + reach]
        if overprinted(page):  # the body's pages are, in their parts
            share_states(page, states)
        else:
            overprint_black(out, page, states)
        _crop_marks(out, page, trim, bleed)
    return _finish(out, title, condition)


def cover_spreads(issue_pdf: bytes, covers: list[int], spine_mm: float, bleed_mm: float, title: str,
                  condition: PrintCondition) -> bytes:
    """For perfect binding: the cover as two spreads, 封四 | spine | 封一 outside and 封二 | spine | 封三
    inside, the spine as wide as the book block; crop marks at the corners, fold marks at the spine."""
    source = pikepdf.open(io.BytesIO(issue_pdf))
    out = pikepdf.new()
    front, inside_front, inside_back, back = (source.pages[i] for i in covers)
    trim_box = [float(v) for v in front.obj.TrimBox]
    width, height = trim_box[2] - trim_box[0], trim_box[3] - trim_box[1]
    spine, bleed = spine_mm * MM, bleed_mm * MM
    reach = bleed + MARK_GAP + MARK_LENGTH + SLUG
    spread = [0.0, 0.0, 2 * width + spine, height]
    states = overprint_states(out)
    for left, right in ((back, front), (inside_front, inside_back)):
        page = out.add_blank_page(page_size=(spread[2], spread[3]))
        page.obj.MediaBox = [-reach, -reach, spread[2] + reach, spread[3] + reach]
        page.obj.TrimBox = spread
        page.obj.BleedBox = [-bleed, -bleed, spread[2] + bleed, spread[3] + bleed]
        for index, (placed, x) in enumerate(((left, 0.0), (right, width + spine))):
            form = out.copy_foreign(placed.as_form_xobject())
            # named the same in every build (pikepdf's own names are random)
            name = page.add_resource(form, pikepdf.Name.XObject, name=pikepdf.Name(f"/Fx{index}"))
            # each half keeps its bleed on the outer edges only; the spine stays clean
            clip_x0 = -bleed if x == 0 else x
            clip_x1 = width if x == 0 else spread[2] + bleed
            drawing = (f"q {clip_x0:.3f} {-bleed:.3f} {clip_x1 - clip_x0:.3f} {height + 2 * bleed:.3f} re W n "
                       f"1 0 0 1 {x - trim_box[0]:.3f} {-trim_box[1]:.3f} cm {name} Do Q\n")
            page.contents_add(pikepdf.Stream(out, drawing.encode()), prepend=False)
        overprint_black(out, page, states)
        _crop_marks(out, page, spread, bleed)
        folds = [f"q {MARK_WIDTH} w 1 1 1 1 K"]
        for x in (width, width + spine):
            folds.append(f"{x:.3f} {-bleed - MARK_GAP:.3f} m {x:.3f} {-bleed - MARK_GAP - MARK_LENGTH:.3f} l S")
            folds.append(f"{x:.3f} {height + bleed + MARK_GAP:.3f} m {x:.3f} {height + bleed + MARK_GAP + MARK_LENGTH:.3f} l S")
        folds.append("Q")
        page.contents_add(pikepdf.Stream(out, "\n".join(folds).encode()), prepend=False)
    return _finish(out, title, condition)


def _finish(out: pikepdf.Pdf, title: str, condition: PrintCondition) -> bytes:
    """Language, output intent and the full PDF/X identification of a print file, saved
    reproducibly in the PDF version its standard allows."""
    out.Root.Lang = pikepdf.String("zh-CN")
    identity = _document_id(out, title, condition.pdfx)  # from the content, before the metadata
    add_output_intent(out, condition.profile, condition.pdfx)
    _identify(out, title, identity)
    standard = PDFX[condition.pdfx]
    buffer = io.BytesIO()
    out.save(buffer, deterministic_id="SOURCE_DATE_EPOCH" in os.environ, compress_streams=True,
             **({"force_version": standard.pdf_version, "object_stream_mode": pikepdf.ObjectStreamMode.disable}
                if standard.pdf_version < "1.5" else {"min_version": standard.pdf_version}))
    return buffer.getvalue()


@dataclass(frozen=True)
class Standard:
    version: str  # GTS_PDFXVersion
    conformance: str | None  # GTS_PDFXConformance, for X-1a and X-3
    pdf_version: str  # the PDF version written: at most 1.4 for X-1a
    transparency: bool  # may the file draw with transparency


PDFX = {"X-4": Standard("PDF/X-4", None, "1.7", True),
        "X-1a": Standard("PDF/X-1a:2001", "PDF/X-1a:2001", "1.4", False)}


def _document_id(pdf: pikepdf.Pdf, title: str, pdfx: str) -> str:
    """A UUID derived from what the pages draw: the same file always has the same id."""
    hashed = hashlib.sha256(f"{title}|{pdfx}".encode())
    for page in pdf.pages:
        contents = page.obj.get("/Contents")
        for stream in contents if isinstance(contents, pikepdf.Array) else [contents]:
            hashed.update(stream.read_bytes())
    return str(uuid.UUID(bytes=hashed.digest()[:16], version=4))


def _identify(pdf: pikepdf.Pdf, title: str, identity: str) -> None:
    """What ISO 15930 asks of every PDF/X file: title, dates, document and version ids."""
    moment = int(os.environ.get("SOURCE_DATE_EPOCH", "") or time.time())
    stamp = time.gmtime(moment)
    pdf_date = time.strftime("D:%Y%m%d%H%M%S+00'00'", stamp)
    xmp_date = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", stamp)
    with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
        meta["dc:title"] = title
        meta["xmp:CreatorTool"] = "typeset"
        meta["xmp:CreateDate"] = meta["xmp:ModifyDate"] = meta["xmp:MetadataDate"] = xmp_date
        meta["xmpMM:DocumentID"] = f"uuid:{identity}"
        meta["xmpMM:InstanceID"] = f"uuid:{identity}"
        meta["xmpMM:VersionID"] = "1"
        meta["xmpMM:RenditionClass"] = "default"
    pdf.docinfo["/Title"] = title
    pdf.docinfo["/Creator"] = pikepdf.String("typeset")
    pdf.docinfo["/CreationDate"] = pdf.docinfo["/ModDate"] = pikepdf.String(pdf_date)


def _crop_marks(pdf, page, trim: list[float], bleed: float) -> None:
    """Eight marks in registration colour, in line with the trim edges, outside the bleed."""
    x0, y0, x1, y1 = trim
    near, far = bleed + MARK_GAP, bleed + MARK_GAP + MARK_LENGTH
    segments = []
    for x, sign_x in ((x0, -1), (x1, 1)):
        for y, sign_y in ((y0, -1), (y1, 1)):
            segments.append((x + sign_x * near, y, x + sign_x * far, y))  # horizontal, along the trim's y
            segments.append((x, y + sign_y * near, x, y + sign_y * far))  # vertical, along the trim's x
    drawing = [f"q {MARK_WIDTH} w 1 1 1 1 K"]
    drawing += [f"{a:.3f} {b:.3f} m {c:.3f} {d:.3f} l S" for a, b, c, d in segments]
    drawing.append("Q")
    # the page's own content may leave its transformation in force: wrap it first
    page.contents_add(pikepdf.Stream(pdf, b"q\n"), prepend=True)
    page.contents_add(pikepdf.Stream(pdf, b"\nQ\n" + "\n".join(drawing).encode()), prepend=False)


def add_output_intent(pdf: pikepdf.Pdf, profile: Path, pdfx: str, condition: str = "FOGRA39") -> None:
    """The output intent with the embedded profile, and the PDF/X version (`pdfx`: X-4 or X-1a)."""
    standard = PDFX[pdfx]
    icc = pikepdf.Stream(pdf, profile.read_bytes())
    icc.N = 4
    intent = pikepdf.Dictionary(Type=pikepdf.Name.OutputIntent, S=pikepdf.Name.GTS_PDFX,
                                OutputConditionIdentifier=pikepdf.String(condition),
                                Info=pikepdf.String(profile.stem), RegistryName=pikepdf.String("http://www.color.org"),
                                DestOutputProfile=pdf.make_indirect(icc))
    pdf.Root.OutputIntents = pikepdf.Array([pdf.make_indirect(intent)])
    pdf.docinfo["/GTS_PDFXVersion"] = pikepdf.String(standard.version)
    if standard.conformance:
        pdf.docinfo["/GTS_PDFXConformance"] = pikepdf.String(standard.conformance)
    pdf.docinfo["/Trapped"] = pikepdf.Name("/False")
    with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
        meta["pdfx:GTS_PDFXVersion"] = standard.version
        meta["pdfxid:GTS_PDFXVersion"] = standard.version
        if standard.conformance:
            meta["pdfx:GTS_PDFXConformance"] = standard.conformance
        meta["pdf:Trapped"] = "False"
