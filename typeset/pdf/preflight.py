"""Preflight: check a PDF the way a printer's prepress does, before it leaves the house.

Checked on every page: TrimBox and BleedBox present with bleed; fonts embedded and no
Type 3 fonts; no text drawn with the .notdef glyph; the effective resolution of every placed image (error below 150 ppi, warning
below 300); no hairlines (strokes under 0.25 pt); in a file with a PDF/X output intent, no
RGB colour or image, and a total ink under 300 % (bounded from the colours a page paints with,
or where that cannot tell, Ghostscript renders the separations); and
over the file, the page-count rule of the binding. There is no open
PDF/X validator; this is ours.
"""

from __future__ import annotations

import contextvars
import hashlib
import io
import math
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pikepdf
from PIL import Image, ImageMath

from ..diagnostics import Diagnostic, Diagnostics
from ..i18n import _
from ..inputs.cjk import display_width
from ..processes import workers
from .overprint import BOTH, COLOUR, FILLS, PURE_K, STROKES, TEXT, ColourState, after

MIN_BLEED_MM = 3.0
MAX_INK = 300  # % total area coverage
INK_DPI = 36
PAGES_PER_PROCESS = 4  # at least, for the ink check to start another Ghostscript
ERROR_PPI, WARNING_PPI = 150, 300
HAIRLINE_PT = 0.25


def severity_word(severity: str) -> str:
    return _("error") if severity == "error" else _("warning")


def preflight_warning(file: str, finding: Diagnostic) -> str:
    """A finding as a warning of the build that made the file."""
    where = _(" page {page}", page=finding.page) if finding.page else ""
    return _("preflight {file}{where} ({check}, {severity}): {message}", file=file, where=where, check=finding.key,
             severity=severity_word(finding.severity), message=finding.message)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def _finding(severity: str, check: str, page: int | None, message: str) -> Diagnostic:
    """A preflight finding: `key` names the check, `page` the 1-based page of the file."""
    return Diagnostic(severity, message, key=check, page=page)


@dataclass
class PreflightReport:
    file: str
    pages: int = 0
    pdfx: bool = False  # the file has an output intent: colour must be CMYK (or gray)
    standard: str = ""  # the PDF/X version the file claims (GTS_PDFXVersion)
    checks: Diagnostics = field(default_factory=Diagnostics)  # the findings
    ink: dict[str, int] = field(default_factory=dict)  # page digest (`ink_digest`) -> its peak total ink, %
    clean: set[str] = field(default_factory=set)  # pages (`content_digest`) whose content has nothing to report

    @property
    def findings(self) -> list[Diagnostic]:
        return self.checks.items

    @property
    def errors(self) -> list[Diagnostic]:
        return self.checks.errors

    @property
    def warnings(self) -> list[Diagnostic]:
        return self.checks.warnings

    def as_json(self) -> dict:
        findings = [{"severity": f.severity, "check": f.key, "page": f.page, "message": f.message}
                    for f in self.findings]
        return {"file": self.file, "standard": self.standard or None, "pages": self.pages, "errors": len(self.errors),
                "warnings": len(self.warnings), "findings": findings}

    def table(self) -> str:
        lines = [_("preflight {file}: {pages} pages, {errors} errors, {warnings} warnings", file=self.file,
                   pages=self.pages, errors=len(self.errors), warnings=len(self.warnings))]
        for finding in self.findings:
            where = _("p.{page}", page=finding.page) if finding.page else _("file")
            lines.append(f"  {_pad(severity_word(finding.severity), 7)}  {finding.key:10}  {_pad(where, 6)}  "
                         f"{finding.message}")
        return "\n".join(lines)


def preflight(pdf_path: Path | str, data: bytes | None = None, binding: str | None = None,
              known_ink: dict[str, int] | None = None, known_clean: set[str] | frozenset = frozenset()) -> PreflightReport:
    """Check the PDF at `pdf_path` (or the bytes `data`, named by `pdf_path`). `known_ink`: the peak
    ink of pages checked before, by `ink_digest`: only the other pages are separated again.
    `known_clean`: pages (by `content_digest`) whose content a check before found nothing in:
    their content streams are not read again (their fonts are checked all the same)."""
    def open_file() -> pikepdf.Pdf:
        return pikepdf.open(io.BytesIO(data) if data is not None else pdf_path)

    report = PreflightReport(str(pdf_path))
    pdf = open_file()
    parsed = _parsed.set({})  # the ink bound and the content check read the same streams
    report.pages = len(pdf.pages)
    report.pdfx = "/OutputIntents" in pdf.Root
    report.standard = _standard(pdf)
    # Ghostscript separates the pages for the ink check while the content is walked here (from a
    # copy: it takes the font programs out of the file it is given)
    ink_check = _start_ink_check(pdf, known_ink or {}, open_file) if report.pdfx else None
    try:
        _check_pages(pdf, report, known_clean)
        if report.pdfx:
            _check_identification(pdf, report)
            _check_transparency(pdf, report)
            ink_check.finish(report)
    finally:
        _parsed.reset(parsed)
        if ink_check is not None:
            ink_check.stop()
    if binding == "saddle" and report.pages % 4:
        report.findings.append(_finding("warning", "pages", None,
                                        _("{pages} pages: saddle stitching needs a multiple of 4", pages=report.pages)))
    return report


def _check_pages(pdf: pikepdf.Pdf, report: PreflightReport, known_clean: set[str] | frozenset) -> None:
    seen_fonts: set = set()
    font_digests: dict = {}
    for number, page in enumerate(pdf.pages, start=1):
        _check_boxes(page, number, report)
        resources = page.obj.get("/Resources", pikepdf.Dictionary())
        page_digest = content_digest(page, report.pdfx, font_digests)
        if page_digest in known_clean:
            _check_all_fonts(resources, number, report, seen_fonts, set())
            report.clean.add(page_digest)
            continue
        found = len(report.findings)
        _walk(page.obj, resources, _Matrix.identity(), number, report, seen_fonts, set())
        if len(report.findings) == found:
            report.clean.add(page_digest)


IDENTIFICATION_INFO = ("/Title", "/CreationDate", "/ModDate", "/GTS_PDFXVersion", "/Trapped")
IDENTIFICATION_XMP = ("xmp:CreateDate", "xmp:ModifyDate", "xmpMM:DocumentID", "xmpMM:VersionID",
                      "xmpMM:RenditionClass", "pdfxid:GTS_PDFXVersion")


def _standard(pdf: pikepdf.Pdf) -> str:
    return str(pdf.docinfo.get("/GTS_PDFXVersion", ""))


def _check_identification(pdf: pikepdf.Pdf, report: PreflightReport) -> None:
    """The keys ISO 15930 asks of a PDF/X file in its Info dictionary and its XMP."""
    missing = [key for key in IDENTIFICATION_INFO if key not in pdf.docinfo]
    if _standard(pdf).startswith("PDF/X-1a") and "/GTS_PDFXConformance" not in pdf.docinfo:
        missing.append("/GTS_PDFXConformance")
    meta = pdf.open_metadata()
    missing += [key for key in IDENTIFICATION_XMP if key not in meta]
    for key in missing:
        report.findings.append(_finding("error", "pdfx", None, _("PDF/X identification incomplete: no {key}",
                                                                   key=key)))


def _check_transparency(pdf: pikepdf.Pdf, report: PreflightReport) -> None:
    """PDF/X-1a: PDF 1.4 at most, and nothing drawn with transparency (constant alpha below 1,
    soft masks, blend modes other than Normal)."""
    standard = _standard(pdf)
    if not standard.startswith("PDF/X-1a"):
        return
    if pdf.pdf_version > "1.4":
        report.findings.append(_finding("error", "pdfx", None, _("PDF {version} in a {standard} file (1.4 at most)",
                                                                   version=pdf.pdf_version, standard=standard)))
    for number, page in enumerate(pdf.pages, start=1):
        if any(_translucent(state) for state in _drawing_states(page.obj.get("/Resources"), set())):
            report.findings.append(_finding("error", "pdfx", number, _(
                "transparency in a {standard} file (which allows none)", standard=standard)))


def _drawing_states(resources, seen: set):
    """The graphics states and images a page draws with, its forms' included."""
    if resources is None:
        return
    yield from resources.get("/ExtGState", pikepdf.Dictionary()).values()
    for xobject in resources.get("/XObject", pikepdf.Dictionary()).values():
        if xobject.objgen in seen:
            continue
        seen.add(xobject.objgen)
        yield xobject
        if xobject.get("/Subtype") == "/Form":
            yield from _drawing_states(xobject.get("/Resources"), seen)


def _translucent(obj) -> bool:
    """Constant alpha below 1, a soft mask, or a blend mode other than Normal."""
    mask = obj.get("/SMask")
    return min(float(obj.get("/ca", 1)), float(obj.get("/CA", 1))) < 1 or \
        (mask is not None and str(mask) != "/None") or str(obj.get("/BM", "/Normal")) not in ("/Normal", "/Compatible")


class _InkCheck:
    """Total area coverage: Ghostscript separates each page (within its BleedBox) into CMYK; the
    largest sum of the four inks over any pixel must stay under MAX_INK. A page whose drawing is
    in `known` is not separated again. Started at once (`_start_ink_check`), in the background;
    `finish` waits for it and records what it found."""

    def __init__(self, digests: list[str], known: dict[str, int], separations: list[_Separation]):
        self.digests, self.known, self.separations = digests, known, separations

    def finish(self, report: PreflightReport) -> None:
        peaks = dict(self.known)
        for separation in self.separations:
            separated = separation.peaks(report)
            if separated is None:
                return
            peaks.update({self.digests[number - 1]: peak for number, peak in zip(separation.numbers, separated)})
        for number, page_digest in enumerate(self.digests, start=1):
            report.ink[page_digest] = peaks[page_digest]
            if peaks[page_digest] > MAX_INK:
                report.findings.append(_finding("error", "ink", number, _(
                    "total ink {peak} % somewhere on the page (over {limit} %)", peak=peaks[page_digest], limit=MAX_INK)))

    def stop(self) -> None:
        for separation in self.separations:
            separation.stop()


def _start_ink_check(pdf: pikepdf.Pdf, known: dict[str, int], copy) -> _InkCheck:
    """The ink check of `pdf` started: the pages whose drawing is not in `known` and whose ink
    cannot be bounded from their colours alone (`flat_ink`) sent to Ghostscript, in `copy()` of
    the file (opened only then). Pages that place an image go first, before the others are
    bounded: no colour bounds a photo's ink, and Ghostscript is the longest part of the check."""
    digests = [ink_digest(page) for page in pdf.pages]
    known = dict(known)
    photos = {number for number, (page, page_digest) in enumerate(zip(pdf.pages, digests), start=1)
              if page_digest not in known and _places_image(page)}
    separations = [_Separation(copy(), sorted(photos))] if photos else []
    for number, (page, page_digest) in enumerate(zip(pdf.pages, digests), start=1):
        if number not in photos and page_digest not in known and (bound := flat_ink(page)) is not None:
            known[page_digest] = bound
    unknown = [number for number, page_digest in enumerate(digests, start=1)
               if page_digest not in known and number not in photos]
    if unknown:
        separations.append(_Separation(copy(), unknown))
    return _InkCheck(digests, known, separations)


def _places_image(page) -> bool:
    xobjects = page.obj.get("/Resources", pikepdf.Dictionary()).get("/XObject", pikepdf.Dictionary())
    return any(xobject.get("/Subtype") == "/Image" for xobject in xobjects.values())


def flat_ink(page) -> int | None:
    """The most ink (%) a page can lay down within its BleedBox, from the colours it paints
    with, when that is known without rendering it and within MAX_INK: a page painted only in
    DeviceCMYK or DeviceGray, with no image, shading or pattern, no transparency, and no
    overprint but pure black's. Where things overlap, the one on top knocks out what is under
    it, so no pixel takes more than the heaviest colour; overprinting black keeps the inks
    under it and sets K, so no more than the most C+M+Y of any colour plus 100 %. Paths drawn
    wholly outside the BleedBox (the crop marks, in registration colour) are not measured,
    as Ghostscript renders the BleedBox only. None: Ghostscript measures it. Most body pages
    are text and rules: their check needs no rendering (Ghostscript's start-up alone is a
    quarter of a second)."""
    if any("/AP" in annotation for annotation in page.obj.get("/Annots", pikepdf.Array())):
        return None  # appearance streams: drawn by Ghostscript, not read here
    box = [float(v) for v in page.obj.get("/BleedBox", page.obj.get("/MediaBox"))]
    inks = _PaintedInks((min(box[0], box[2]), min(box[1], box[3]), max(box[0], box[2]), max(box[1], box[3])))
    resources = page.obj.get("/Resources", pikepdf.Dictionary())
    if not inks.follow(page, resources, _Matrix.identity(), ColourState(), set()):
        return None
    bound = max(inks.heaviest, inks.most_cmy + 1.0 if inks.black_overprints else 0.0)
    peak = math.ceil(bound * 100 - 1e-6)
    return peak if peak <= MAX_INK else None


_TEXT_STATE = {"BT", "ET", "Tm", "Td", "TD", "T*", "Tf", "TL", "Tc", "Tw", "Tz", "Ts"}  # no ink of their own


class _PaintedInks:
    """The colours a content stream paints with inside `box` (x0, y0, x1, y1), as inks (0–1
    each): the heaviest C+M+Y+K, the most C+M+Y, and whether pure black overprints. `follow` is
    False where that does not bound the ink (see `flat_ink`)."""

    def __init__(self, box: tuple[float, float, float, float]):
        self.box = box
        self.heaviest = self.most_cmy = 0.0
        self.black_overprints = False

    def follow(self, container, resources, ctm: _Matrix, colour: ColourState, visited: set) -> bool:
        try:
            instructions = _instructions(container)
        except pikepdf.PdfError:
            return False
        extgstates = resources.get("/ExtGState", pikepdf.Dictionary())
        xobjects = resources.get("/XObject", pikepdf.Dictionary())
        spaces = resources.get("/ColorSpace", pikepdf.Dictionary())
        weighed: dict[tuple[ColourState, bool], bool] = {}  # text is painted in one colour again and again

        def paint(stroking: bool) -> bool:
            if (colour, stroking) not in weighed:
                weighed[colour, stroking] = self.weigh(colour, stroking, spaces)
            return weighed[colour, stroking]

        stack, stroked_text, width, path = [], False, 1.0, []
        for operands, operator in instructions:
            op = str(operator)
            if op in _TEXT_STATE:
                continue
            if op in TEXT:
                if not (paint(False) and (not stroked_text or paint(True))):
                    return False  # text is taken to be inside the box
                continue
            if op == "q":
                stack.append((ctm, colour, stroked_text, width))
            elif op == "Q" and stack:
                ctm, colour, stroked_text, width = stack.pop()
            elif op == "cm":
                ctm = ctm.then(operands)
            elif op == "w":
                width = float(operands[0])
            elif op == "Tr":
                stroked_text = int(operands[0]) in (1, 2, 5, 6)
            elif op in ("m", "l", "c", "v", "y"):
                path += [ctm.apply(operands[i], operands[i + 1]) for i in range(0, len(operands) - 1, 2)]
            elif op == "re":
                x, y, w, h = (float(v) for v in operands)
                path += [ctm.apply(x + dx, y + dy) for dx in (0, w) for dy in (0, h)]
            elif op in ("sh", "BI", "INLINE IMAGE"):
                return False
            elif op == "gs" and _translucent(extgstates.get(operands[0], pikepdf.Dictionary())):
                return False
            elif op == "Do" and not self.form(xobjects.get(operands[0]), resources, ctm, colour, visited):
                return False
            if op in COLOUR:
                colour = after(colour, op, operands, extgstates)
            if op in FILLS or op in BOTH:
                if self.inside(path, 0.0) and not paint(False):
                    return False
            if op in STROKES or op in BOTH:
                if self.inside(path, width * ctm.scale() / 2) and not paint(True):
                    return False
            if op in FILLS or op in STROKES or op in BOTH or op == "n":
                path = []
        return True

    def form(self, xobject, resources, ctm: _Matrix, colour: ColourState, visited: set) -> bool:
        """`follow` into a form XObject drawn with `Do` (an image, or anything else: False)."""
        if xobject is None or xobject.get("/Subtype") != "/Form":
            return False
        if xobject.objgen in visited:
            return True
        visited.add(xobject.objgen)
        inner = ctm.then(xobject.get("/Matrix", [1, 0, 0, 1, 0, 0]))
        return self.follow(xobject, xobject.get("/Resources", resources), inner, colour, visited)

    def inside(self, path: list[tuple[float, float]], reach: float) -> bool:
        """Whether a path (its points and control points: they bound it), `reach` wider all
        round, meets the box."""
        if not path:
            return True
        x0, y0, x1, y1 = self.box
        return min(x for x, _ in path) - reach < x1 and max(x for x, _ in path) + reach > x0 \
            and min(y for _, y in path) - reach < y1 and max(y for _, y in path) + reach > y0

    def weigh(self, colour: ColourState, stroking: bool, spaces) -> bool:
        """Take in the fill (or stroke) colour painted with; False where it does not bound the ink.
        `spaces`: the resources' colour spaces, by name."""
        space, values = (colour.stroke_space, colour.stroke) if stroking else (colour.fill_space, colour.fill)
        space = str(spaces.get(space, space))
        if space == "/DeviceCMYK":
            inks = tuple(values) if len(values) == 4 else (0.0, 0.0, 0.0, 1.0)  # a space's initial colour: black
        elif space == "/DeviceGray":
            inks = (0.0, 0.0, 0.0, 1.0 - (values[0] if len(values) == 1 else 0.0))
        else:
            return False
        if colour.overprint[1 if stroking else 0]:
            if inks != PURE_K:
                return False
            self.black_overprints = True
        self.heaviest = max(self.heaviest, sum(inks))
        self.most_cmy = max(self.most_cmy, sum(inks[:3]))
        return True


class _Separation:
    """Ghostscript rendering the pages `numbers` (1-based) of `pdf` (its font programs taken out)
    to CMYK in the background, the pages shared out among the processes a build may use (`-j N`);
    `peaks` waits for it: the peak total ink (%) of each page, or None (and a finding) when it cannot."""

    def __init__(self, pdf: pikepdf.Pdf, numbers: list[int]):
        self.numbers, self.processes, self.shares = numbers, [], []
        self.gs = shutil.which("gs")
        if self.gs is None:
            return
        self.folder = tempfile.TemporaryDirectory()
        source = Path(self.folder.name) / "input.pdf"
        _without_font_programs(pdf, source)
        # a process's start-up, the file read, (0.05-0.1 s of a core) costs as much as separating a
        # few pages: a few pages go to one process, more are shared out
        processes_wanted = max(1, min(workers(), len(numbers) // PAGES_PER_PROCESS))
        self.shares = [numbers[i::processes_wanted] for i in range(min(processes_wanted, len(numbers)))]
        # UseFastColor: DeviceCMYK colours and images reach the separations as the file has them,
        # the inks the press lays down, where ICC colour management would set up a transform from
        # a default CMYK profile to the device's first (0.09 s of every process; ICC-based colour
        # spaces are still converted). The peaks of the reference issue's 52 pages are the same.
        self.processes = [subprocess.Popen([self.gs, "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-dUseBleedBox",
                                            "-dUseFastColor", "-sDEVICE=tiff32nc", f"-r{INK_DPI}", "-sPageList=" + ",".join(map(str, share)),
                                            f"-sOutputFile={self.folder.name}/{index}-%04d.tif", str(source)],
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                          for index, share in enumerate(self.shares)]

    def peaks(self, report: PreflightReport) -> list[int] | None:
        if self.gs is None:
            report.findings.append(_finding("warning", "ink", None,
                                            _("total ink not checked: Ghostscript (gs) is not installed")))
            return None
        errors = [process.communicate()[1] for process in self.processes]
        failed = [error for process, error in zip(self.processes, errors) if process.returncode != 0]
        if failed:
            report.findings.append(_finding("error", "render", None, _("Ghostscript cannot render the file: {reason}",
                                                                       reason=failed[0].strip()[:200])))
            return None
        peaks = {}
        for index, share in enumerate(self.shares):
            for number, tiff in zip(share, sorted(Path(self.folder.name).glob(f"{index}-*.tif"))):
                peaks[number] = _peak_ink(tiff)
        return [peaks[number] for number in self.numbers]

    def stop(self) -> None:
        """Ghostscript stopped if it still runs (the check failed before it was waited for); its files removed."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        if self.gs is not None:
            self.folder.cleanup()


def _peak_ink(tiff: Path) -> int:
    """The largest sum of the four inks over any pixel of a separated page, in %."""
    with Image.open(tiff) as image:
        c, m, y, k = (band.convert("I") for band in image.split())
    total = ImageMath.lambda_eval(lambda v: v["c"] + v["m"] + v["y"] + v["k"], c=c, m=m, y=y, k=k)
    return round(total.getextrema()[1] / 255 * 100)


def ink_digest(page) -> str:
    """A digest of everything that sets a page's inks: its boxes, content and resources, fonts
    left out (the ink check draws text without them; text is black alone)."""
    return _digest(page, fonts=False)


def content_digest(page, pdfx: bool, fonts_seen: dict | None = None) -> str:
    """A digest of everything the content checks read of a page: its content and resources, the
    fonts' dictionaries with them (not their programs: their length stands for them).
    `fonts_seen` keeps each font's digest for the pages after (the pages of a file share them)."""
    return _digest(page, fonts=True, salt=b"pdfx" if pdfx else b"", fonts_seen=fonts_seen if fonts_seen is not None else {})


def _digest(page, fonts: bool, salt: bytes = b"", fonts_seen: dict | None = None) -> str:
    left_out = ("/Parent", "/Length") if fonts else ("/Parent", "/Font", "/Length")

    def walk(obj, hashed, seen: set) -> None:
        if isinstance(obj, (pikepdf.Dictionary, pikepdf.Array, pikepdf.Stream)) and obj.is_indirect:
            if obj.objgen in seen:
                hashed.update(b"ref")
                return
            seen.add(obj.objgen)
        if isinstance(obj, pikepdf.Stream):
            hashed.update(b"stream" + obj.read_raw_bytes())
        if isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream)):
            for key in sorted(obj.keys()):
                if key in _FONT_PROGRAMS:
                    hashed.update(key.encode() + str(obj[key].get("/Length")).encode())
                elif key == "/Font" and fonts_seen is not None:
                    for name, font in sorted(obj[key].items()):
                        hashed.update(name.encode() + font_digest(font))
                elif key not in left_out:
                    hashed.update(key.encode())
                    walk(obj[key], hashed, seen)
        elif isinstance(obj, pikepdf.Array):
            for item in obj:
                walk(item, hashed, seen)
        else:
            hashed.update(repr(obj).encode())

    def font_digest(font) -> bytes:
        """Each font walked on its own, once a file: the same digest whichever page meets it first."""
        if font.objgen not in fonts_seen or font.objgen == (0, 0):
            own = hashlib.sha256()
            walk(font, own, set())
            fonts_seen[font.objgen] = own.digest()
        return fonts_seen[font.objgen]

    hashed = hashlib.sha256(salt)
    walk(page.obj, hashed, set())
    return hashed.hexdigest()


_FONT_PROGRAMS = ("/FontFile", "/FontFile2", "/FontFile3")


def _without_font_programs(pdf: pikepdf.Pdf, target: Path) -> None:
    """`pdf` saved to `target` with its embedded font programs taken out, for the ink check only.

    Ghostscript 10 spends seconds reading each of WeasyPrint's CJK subsets (they keep every
    glyph id of the font); without them it draws the text in a substitute font — other shapes,
    the same inks — so the total ink per pixel is the same (checked page by page on the
    reference issue) and the check takes about 1 s instead of 7 s."""
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Dictionary) and obj.get("/Type") == "/FontDescriptor":
            for key in ("/FontFile", "/FontFile2", "/FontFile3"):
                if key in obj:
                    del obj[key]
    pdf.save(target)


def _check_boxes(page, number: int, report: PreflightReport) -> None:
    obj = page.obj
    for box in ("/TrimBox", "/BleedBox"):
        if box not in obj:
            report.findings.append(_finding("error", "boxes", number, _("no {box}", box=box[1:])))
    if "/TrimBox" in obj and "/BleedBox" in obj:
        trim = [float(v) for v in obj.TrimBox]
        bleed = [float(v) for v in obj.BleedBox]
        least = min(trim[0] - bleed[0], trim[1] - bleed[1], bleed[2] - trim[2], bleed[3] - trim[3]) * 25.4 / 72
        if least < MIN_BLEED_MM - 0.01:
            report.findings.append(_finding("error", "bleed", number, _("bleed {bleed:.1f} mm, less than {least:g} mm",
                                                                          bleed=least, least=MIN_BLEED_MM)))


class _Matrix(tuple):
    @staticmethod
    def identity() -> "_Matrix":
        return _Matrix((1.0, 0.0, 0.0, 1.0, 0.0, 0.0))

    def then(self, other) -> "_Matrix":
        """`other` applied first, then self (PDF's cm: new = other × current)."""
        a, b, c, d, e, f = (float(v) for v in other)
        A, B, C, D, E, F = self
        return _Matrix((a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D,
                        e * A + f * C + E, e * B + f * D + F))

    def scale(self) -> float:
        a, b, c, d = self[:4]
        return math.sqrt(abs(a * d - b * c))

    def apply(self, x, y) -> tuple[float, float]:
        """The point (x, y) of user space on the page."""
        a, b, c, d, e, f = self
        x, y = float(x), float(y)
        return a * x + c * y + e, b * x + d * y + f


_parsed: contextvars.ContextVar[dict | None] = contextvars.ContextVar("parsed_content", default=None)

_OPERATORS = set("""b B b* B* BDC BI BMC BT BX c cm CS cs d d0 d1 Do DP EI EMC ET EX f F f* G g gs h i ID j J K k
    l m M MP n q Q re RG rg ri s S SC sc SCN scn sh T* Tc Td TD Tf Tj TJ TL Tm Tr Ts Tw Tz v w W W* y ' \"""".split())
# every operator of ISO 32000 but those that only place text, which no check reads: a third of a
# body page's instructions (a Tm before each run of text), not made into Python objects (Tf
# stays: the content check follows the font in use)
_READ = " ".join(sorted(_OPERATORS - (_TEXT_STATE - {"Tf"})))


def _instructions(container) -> list:
    """The content stream of a page or form parsed, once per file checked (`preflight`)."""
    parsed = _parsed.get()
    obj = getattr(container, "obj", container)  # a page, or its dictionary, or a form
    if parsed is None or not obj.is_indirect:
        return pikepdf.parse_content_stream(container, _READ)
    if obj.objgen not in parsed:
        parsed[obj.objgen] = pikepdf.parse_content_stream(container, _READ)
    return parsed[obj.objgen]


def _walk(container, resources, ctm: _Matrix, number: int, report: PreflightReport, seen_fonts: set,
          visited: set) -> None:
    """Follow a content stream: fonts used, images placed, strokes drawn."""
    _check_fonts(resources, number, report, seen_fonts)
    try:
        instructions = _instructions(container)
    except pikepdf.PdfError as exc:
        report.findings.append(_finding("error", "content", number, _("unreadable content: {reason}", reason=exc)))
        return
    _ContentWalk(resources, ctm, number, report, seen_fonts, visited).run(instructions)


class _ContentWalk:
    """The graphics state along one content stream, and what it draws that preflight checks."""

    def __init__(self, resources, ctm: _Matrix, number: int, report: PreflightReport, seen_fonts: set, visited: set):
        self.resources, self.ctm, self.number, self.report = resources, ctm, number, report
        self.seen_fonts, self.visited = seen_fonts, visited
        self.xobjects = resources.get("/XObject", pikepdf.Dictionary())
        self.fonts = resources.get("/Font", pikepdf.Dictionary())
        self.stack: list = []
        self.line_width = 1.0
        self.composite = False  # the current font is a CID font: two-byte codes, 0 is .notdef (Identity)
        self.colour = ColourState()  # fill and stroke colour, and whether they overprint
        self.rgb_reported = self.notdef_reported = self.knockout_reported = False

    def run(self, instructions) -> None:
        for operands, operator in instructions:
            op = str(operator)
            if op == "q":
                self.stack.append((self.ctm, self.line_width, self.colour))
            elif op == "Q" and self.stack:
                self.ctm, self.line_width, self.colour = self.stack.pop()
            elif op == "cm":
                self.ctm = self.ctm.then(operands)
            elif op == "w":
                self.line_width = float(operands[0])
            elif op == "Tf":
                font = self.fonts.get(operands[0])
                self.composite = font is not None and font.get("/Subtype") == "/Type0" and \
                    str(font.get("/Encoding", "")) == "/Identity-H"
            elif op in ("Tj", "TJ", "'", '"'):
                self.text(op, operands)
            elif op in ("rg", "RG"):
                self.rgb(_("{operator} operator", operator=op))
            elif op in ("cs", "CS") and _is_rgb(operands[0], self.resources):
                self.rgb(_("colour space {name}", name=operands[0]))
            elif op in ("S", "s", "B", "B*", "b", "b*"):
                width = self.line_width * self.ctm.scale()
                if width < HAIRLINE_PT:
                    self.report.findings.append(_finding("error", "hairline", self.number, _(
                        "a stroke of {width:.2f} pt (less than {least} pt)", width=width, least=HAIRLINE_PT)))
            elif op == "Do":
                self.xobject(operands[0])
            if op in COLOUR:
                self.colour = after(self.colour, op, operands, self.resources.get("/ExtGState", pikepdf.Dictionary()))

    def rgb(self, where: str) -> None:
        if self.report.pdfx and not self.rgb_reported:
            self.report.findings.append(_finding("error", "colour", self.number,
                                                 _("RGB colour in a PDF/X file ({where})", where=where)))
            self.rgb_reported = True

    def text(self, op: str, operands) -> None:
        if self.report.pdfx and not self.knockout_reported and self.colour.black(False) \
                and not self.colour.overprint[0]:
            self.report.findings.append(_finding("warning", "overprint", self.number, _(
                "black text knocks out: pure K text should overprint")))
            self.knockout_reported = True
        if not self.composite or self.notdef_reported:
            return
        if _draws_notdef(op, operands):
            self.report.findings.append(_finding("error", "glyphs", self.number, _(
                "text drawn with the .notdef glyph (a character the font lacks)")))
            self.notdef_reported = True

    def xobject(self, name) -> None:
        xobject = self.xobjects.get(name)
        if xobject is None:
            return
        subtype = xobject.get("/Subtype")
        if subtype == "/Image":
            _check_image(xobject, self.ctm, self.number, self.report)
        elif subtype == "/Form" and xobject.objgen not in self.visited:
            matrix = xobject.get("/Matrix", [1, 0, 0, 1, 0, 0])
            _walk(xobject, xobject.get("/Resources", self.resources), self.ctm.then(matrix), self.number, self.report,
                  self.seen_fonts, self.visited | {xobject.objgen})


_HEX_STRING = re.compile(rb"<([0-9a-fA-F]*)>")


def _draws_notdef(op: str, operands) -> bool:
    """Whether a text operator's two-byte codes (a composite font's) include 0, the .notdef glyph.
    Read from qpdf's text of the operand, which writes every string holding a zero byte in hex: a
    regular expression over it, not a loop in Python over each glyph (a third of the content check)."""
    unparsed = (operands[-1] if op == "TJ" else pikepdf.Array(operands[-1:])).unparse()
    for digits in _HEX_STRING.findall(unparsed):
        at = digits.find(b"0000")
        while at >= 0:
            if at % 4 == 0:
                return True
            at = digits.find(b"0000", at + 1)
    return False


def _is_rgb(name, resources) -> bool:
    """A colour space named in a content stream, looked up in the resources, is RGB."""
    return name == "/DeviceRGB" or _rgb_space(resources.get("/ColorSpace", pikepdf.Dictionary()).get(name))


def _rgb_space(space) -> bool:
    if space == "/DeviceRGB":
        return True
    return isinstance(space, pikepdf.Array) and len(space) > 1 and space[0] == "/ICCBased" and \
        int(space[1].get("/N", 0)) == 3


def _check_image(image, ctm: _Matrix, number: int, report: PreflightReport) -> None:
    space = image.get("/ColorSpace")
    if report.pdfx and space is not None and _rgb_space(space):
        report.findings.append(_finding("error", "colour", number, _("RGB image in a PDF/X file")))
    a, b, c, d = ctm[:4]
    width_in = math.hypot(a, b) / 72
    height_in = math.hypot(c, d) / 72
    if width_in <= 0 or height_in <= 0:
        return
    ppi = round(min(int(image.Width) / width_in, int(image.Height) / height_in), 1)  # 299.99 is 300
    size = _("{width}×{height} px placed at {placed_width:.0f}×{placed_height:.0f} mm", width=int(image.Width),
             height=int(image.Height), placed_width=width_in * 25.4, placed_height=height_in * 25.4)
    if ppi < ERROR_PPI:
        report.findings.append(_finding("error", "image", number, _("image at {ppi:.1f} ppi, under {least} ({size})",
                                                                      ppi=ppi, least=ERROR_PPI, size=size)))
    elif ppi < WARNING_PPI:
        report.findings.append(_finding("warning", "image", number, _("image at {ppi:.1f} ppi, under {least} ({size})",
                                                                        ppi=ppi, least=WARNING_PPI, size=size)))


def _check_all_fonts(resources, number: int, report: PreflightReport, seen_fonts: set, visited: set) -> None:
    """The fonts of a page and of the forms it draws, without reading its content."""
    _check_fonts(resources, number, report, seen_fonts)
    for xobject in resources.get("/XObject", pikepdf.Dictionary()).values():
        if xobject.get("/Subtype") == "/Form" and xobject.objgen not in visited:
            _check_all_fonts(xobject.get("/Resources", resources), number, report, seen_fonts,
                             visited | {xobject.objgen})


def _check_fonts(resources, number: int, report: PreflightReport, seen: set) -> None:
    fonts = resources.get("/Font", pikepdf.Dictionary())
    for font in fonts.values():
        if font.objgen in seen:
            continue
        seen.add(font.objgen)
        name = str(font.get("/BaseFont", "?"))
        if font.get("/Subtype") == "/Type3":
            report.findings.append(_finding("error", "fonts", number, _("Type 3 font {name}", name=name)))
            continue
        descendant = font.DescendantFonts[0] if "/DescendantFonts" in font else font
        descriptor = descendant.get("/FontDescriptor")
        if descriptor is None or not any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")):
            report.findings.append(_finding("error", "fonts", number, _("font {name} is not embedded", name=name)))
