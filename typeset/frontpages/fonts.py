"""The house fonts for ReportLab: subset to the characters used, converted to TrueType outlines.

ReportLab reads only TrueType outlines ("postscript outlines are not supported"), and its
UnicodeCIDFont is never embedded, so it is no use for print. Noto CJK is CFF: fontTools
subsets a face to the characters a page needs and converts the subset's cubic outlines to
quadratic ones (a whole 65k-glyph CJK font takes about 70 s, a subset a fraction of a second).
Results are cached by font file and character set. The cover and contents thus use the
same families as the body, fully embedded.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont, newTable
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont as ReportLabTTFont

from ..inputs.fonts import FontSet
from ..store import Inputs, cached_file, digest, ensure, user_cache

# A few characters every page may draw (digits, leaders, brackets) beyond the text itself.
_ALWAYS = set("0123456789 .·…—-()（）：:/第期总年月")


def _face_file(fonts: FontSet, role: str, weight: int) -> Path:
    faces = fonts.roles[role].faces
    return min(faces, key=lambda f: abs(f.weight - weight)).file


def _to_truetype(font: TTFont) -> None:
    """Replace the CFF outlines of `font` with quadratic TrueType ones (after fontTools' otf2ttf)."""
    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyphs[name] = pen.glyph()
    font["loca"] = newTable("loca")
    font["glyf"] = glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = glyphs
    del font["CFF "]
    for tag in ("VORG", "vhea", "vmtx"):
        if tag in font:
            del font[tag]
    glyf.compile(font)
    hmtx = font["hmtx"]
    for name, glyph in glyphs.items():
        advance, _ = hmtx[name]
        hmtx[name] = (advance, getattr(glyph, "xMin", 0) if glyph.numberOfContours else 0)
    font["maxp"] = maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for attribute in ("maxZones",):
        setattr(maxp, attribute, 1)
    for attribute in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                      "maxStackElements", "maxSizeOfInstructions", "maxComponentElements"):
        setattr(maxp, attribute, 0)
    maxp.compile(font)
    post = font["post"]
    post.formatType = 3.0
    font["head"].glyphDataFormat = 0
    font.sfntVersion = "\x00\x01\x00\x00"


def truetype_subset(source: Path, text: str) -> Path:
    """A cached TrueType file holding the glyphs of `text` from the font `source`."""
    chars = "".join(sorted(set(text) | _ALWAYS))
    key = digest(Inputs(values=(chars, "source-date"), stamped=(source,)))[:24]
    return cached_file(user_cache("reportlab"), f"{source.stem}-{key}.ttf", partial(_subset, source, chars))


def _subset(source: Path, chars: str, target: str) -> None:
    font = TTFont(source, recalcTimestamp=False)  # the subset must not depend on when it was made
    options = subset.Options()
    options.layout_features = []
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "VORG", "vhea", "vmtx", "DSIG"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in chars])
    subsetter.subset(font)
    if "CFF " in font:
        _to_truetype(font)
    font.save(target)


def register(fonts: FontSet, role: str, weight: int, text: str) -> str:
    """Register the role's face nearest `weight`, subset for `text`; returns the ReportLab font name."""
    path = truetype_subset(ensure(_face_file(fonts, role, weight)), text)
    name = f"{role}-{weight}-{path.stem.rsplit('-', 1)[-1][:10]}"
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(ReportLabTTFont(name, str(path)))
    return name


@dataclass
class CoverFonts:
    """ReportLab font names for the roles the cover and contents pages use."""

    title: str
    hei_bold: str
    hei: str
    song: str
    kai: str


def reportlab_fonts(fonts: FontSet, text: str) -> CoverFonts:
    """The house roles registered with ReportLab, subset to every character the pages print."""
    return CoverFonts(
        title=register(fonts, "title", 900, text),
        hei_bold=register(fonts, "hei", 700, text),
        hei=register(fonts, "hei", 400, text),
        song=register(fonts, "song", 400, text),
        kai=register(fonts, "kai", 400, text),
    )
