"""Chinese text on ReportLab pages: line breaking with the clreq prohibitions, and justified paragraphs.

ReportLab's own CJK wrapping lets ，；：？！》”’…— start a line; the covers and the contents
set little text, so a small breaker of our own that follows the same rules as the body is
simpler and right.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from reportlab import rl_config
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas as rl_canvas

from ..inputs.cjk import NO_LINE_END, NO_LINE_START
from ..inputs.manifest import Manifest

# Streams binary, not ASCII85: ReportLab encodes ASCII85 in pure Python (half a second for a
# cover photo) and the text is a quarter longer; a PDF needs no 7-bit streams.
rl_config.useA85 = 0

_UNBREAKABLE = re.compile(r"[A-Za-z0-9]+(?:[.,%][A-Za-z0-9%]+)*%?|——|……")


def _units(text: str) -> list[str]:
    """Pieces that a line break may not split: Latin words and numbers, ——, ……, single characters."""
    units, position = [], 0
    for match in _UNBREAKABLE.finditer(text):
        units.extend(text[position:match.start()])
        units.append(match.group())
        position = match.end()
    units.extend(text[position:])
    return units


def break_lines(text: str, font: str, size: float, width: float, first_indent: float = 0) -> list[str]:
    """Lines of `text` no wider than `width`, never starting or ending with a forbidden mark."""
    lines: list[str] = []
    current: list[str] = []
    available = width - first_indent
    for unit in _units(text):
        candidate = "".join(current) + unit
        if current and stringWidth(candidate.rstrip(), font, size) > available:
            carry = [unit] if unit != " " else []
            # a mark that may not start a line pulls the unit before it down, and a mark that
            # may not end a line goes down with what follows it, as often as it takes
            while len(current) > 1 and ((carry and carry[0][0] in NO_LINE_START)
                                        or (current[-1] and current[-1][-1] in NO_LINE_END)):
                carry.insert(0, current.pop())
            lines.append("".join(current).rstrip())
            current = carry
            available = width
        else:
            current.append(unit)
    if current:
        lines.append("".join(current).rstrip())
    return lines


def draw_paragraph(canvas, text: str, x: float, top: float, width: float, font: str, size: float,
                   leading: float, indent: float = 0, justify: bool = True) -> float:
    """Draw a paragraph from `top` down; returns the y below its last line."""
    lines = break_lines(text, font, size, width, indent)
    y = top - size
    for number, line in enumerate(lines):
        start = x + (indent if number == 0 else 0)
        available = width - (indent if number == 0 else 0)
        text_object = canvas.beginText(start, y)
        text_object.setFont(font, size)
        if justify and number < len(lines) - 1 and len(line) > 1:
            # charSpace follows every character; the one after the last falls outside the line
            text_object.setCharSpace((available - stringWidth(line, font, size)) / (len(line) - 1))
        text_object.textOut(line)
        text_object.setCharSpace(0)  # Tc outlives the text object
        canvas.drawText(text_object)
        y -= leading
    return y + leading - size * 0.3 if lines else top


@dataclass
class PageGeometry:
    """A trim-size page with bleed around it, for pages that run to the edge (covers)."""

    trim_w: float
    trim_h: float
    bleed: float

    @classmethod
    def of(cls, manifest: Manifest) -> "PageGeometry":
        w, h = manifest.page.trim_mm
        return cls(w * mm, h * mm, manifest.page.bleed_mm * mm)

    @property
    def media(self) -> tuple[float, float]:
        return self.trim_w + 2 * self.bleed, self.trim_h + 2 * self.bleed


def new_canvas(geometry: PageGeometry, font: str, title: str) -> tuple[rl_canvas.Canvas, io.BytesIO]:
    """A canvas whose origin is the trim box's lower left corner; boxes set for every page."""
    buffer = io.BytesIO()
    b = geometry.bleed
    trim = (b, b, b + geometry.trim_w, b + geometry.trim_h)
    canvas = rl_canvas.Canvas(buffer, pagesize=geometry.media, initialFontName=font, initialFontSize=10,
                              invariant=1, trimBox=trim, bleedBox=(0, 0, *geometry.media), lang="zh-CN")
    canvas.setTitle(title)
    canvas.setCreator("typeset")
    return canvas, buffer


def start_page(canvas, geometry: PageGeometry) -> None:
    """Move the origin to the trim corner (call at the start of every page)."""
    canvas.translate(geometry.bleed, geometry.bleed)
