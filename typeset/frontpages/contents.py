"""Stage 5b: the contents (目录) with ReportLab, on the pages the manifest keeps for it.

Sections (栏目) in order; for each article its `toc_title` (else its title), its author and
the page it actually starts on in the laid-out body, joined by dot leaders; the masthead
(主管单位 … 发送范围) at the foot of the last contents page.
"""

from __future__ import annotations

from dataclasses import dataclass

from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth

from .covers import GREY, HOUSE_RED, INK, PAPER
from .fonts import CoverFonts
from ..diagnostics import Diagnostics, InputError
from ..body.planning import ArticleFit
from ..inputs.manifest import Manifest
from .text import PageGeometry, break_lines, new_canvas, start_page

MARGIN = 18 * mm
HEADER = 46 * mm  # the red band with 目录 on the first contents page
NUMBER_WIDTH = 10 * mm
TITLE_SIZE, TITLE_LEADING = 10.5, 15
AUTHOR_SIZE, AUTHOR_LEADING = 9, 13
SECTION_SIZE = 11.5
MASTHEAD_SIZE, MASTHEAD_LEADING = 7.5, 11


@dataclass
class Entry:
    kind: str  # "section" or "article"
    text: str
    author: str = ""
    page: int | None = None


def contents_text(manifest: Manifest, fits: list[ArticleFit]) -> str:
    parts = ["目录CONTENTS", manifest.magazine.name, manifest.issue.label, f"（{manifest.issue.period}·总第期）"]
    for fit in fits:
        parts += [fit.article.toc_title or fit.article.title, fit.article.author, fit.article.entry.section]
    for item in manifest.masthead:
        parts += [item.label, "：", item.value]
    return "".join(parts)


def contents_entries(fits: list[ArticleFit]) -> list[Entry]:
    entries: list[Entry] = []
    section = None
    for fit in fits:
        article = fit.article
        if article.entry.section != section:
            section = article.entry.section
            entries.append(Entry("section", section))
        entries.append(Entry("article", article.toc_title or article.title, article.author, fit.first_folio))
    return entries


def build_contents(manifest: Manifest, fits: list[ArticleFit], fonts: CoverFonts,
                   diagnostics: Diagnostics) -> bytes:
    """The contents pages as a PDF of exactly `contents.pages` pages; an error if they do not fit."""
    geometry = PageGeometry.of(manifest)
    w, h = geometry.trim_w, geometry.trim_h
    width = w - 2 * MARGIN
    page_count = manifest.contents_pages.count
    canvas, buffer = new_canvas(geometry, fonts.song, f"{manifest.magazine.name} {manifest.issue.label} 目录")
    masthead_lines = _masthead_lines(manifest, fonts, width)
    masthead_height = len(masthead_lines) * MASTHEAD_LEADING + (8 * mm if masthead_lines else 0)

    entries = contents_entries(fits)
    index = 0
    for page in range(page_count):
        start_page(canvas, geometry)
        top = h - MARGIN
        if page == 0:
            _header(canvas, geometry, manifest, fonts)
            top = h - HEADER - 8 * mm
        bottom = MARGIN + (masthead_height if page == page_count - 1 else 0)
        y = top
        while index < len(entries):
            at_top = y == top
            height = _entry_height(entries[index], fonts, width, at_top)
            # keep a section title with its first article
            if entries[index].kind == "section" and index + 1 < len(entries):
                height += _entry_height(entries[index + 1], fonts, width, False)
            if y - height < bottom:
                break
            y = _draw_entry(canvas, entries[index], fonts, MARGIN, y, width, at_top)
            index += 1
        if page == page_count - 1 and masthead_lines:
            _draw_masthead(canvas, masthead_lines, fonts, MARGIN, MARGIN + masthead_height - 8 * mm, width,
                           _label_width(manifest, fonts))
        canvas.showPage()
    if index < len(entries):
        left = sum(1 for e in entries[index:] if e.kind == "article")
        diagnostics.error(f"the contents do not fit pages {manifest.contents_pages}: {left} article entries are left over",
                          file=manifest.display(manifest.root / "issue.yaml"), key="contents.pages",
                          hint="give the contents more pages, or shorten the toc_title of long titles")
        raise InputError(diagnostics)
    canvas.save()
    return buffer.getvalue()


def _header(canvas, geometry: PageGeometry, manifest: Manifest, fonts: CoverFonts) -> None:
    w, h, b = geometry.trim_w, geometry.trim_h, geometry.bleed
    canvas.setFillColor(HOUSE_RED)
    canvas.rect(-b, h - HEADER, w + 2 * b, HEADER + b, stroke=0, fill=1)
    canvas.setFillColor(PAPER)
    text = canvas.beginText(MARGIN, h - HEADER + 14 * mm)
    text.setFont(fonts.title, 34)
    text.setCharSpace(12)
    text.textOut("目录")
    text.setCharSpace(0)  # Tc outlives the text object
    canvas.drawText(text)
    canvas.setFont(fonts.hei, 9)
    canvas.drawString(MARGIN + 2, h - HEADER + 8 * mm, "CONTENTS")
    canvas.setFont(fonts.hei_bold, 13)
    canvas.drawRightString(w - MARGIN, h - HEADER + 22 * mm, manifest.magazine.name)
    canvas.setFont(fonts.hei, 10)
    issue = manifest.issue
    detail = manifest.issue.label
    if issue.serial:
        detail += f"（{issue.period + '·' if issue.period else ''}总第{issue.serial}期）"
    canvas.drawRightString(w - MARGIN, h - HEADER + 14 * mm, detail)


def _title_lines(entry: Entry, fonts: CoverFonts, width: float) -> list[str]:
    return break_lines(entry.text, fonts.song, TITLE_SIZE, width - NUMBER_WIDTH - 8 * mm)


def _entry_height(entry: Entry, fonts: CoverFonts, width: float, at_top: bool) -> float:
    if entry.kind == "section":
        return SECTION_SIZE + (0 if at_top else 11) + 5
    height = len(_title_lines(entry, fonts, width)) * TITLE_LEADING
    return height + (AUTHOR_LEADING if entry.author else 0) + 4


def _draw_entry(canvas, entry: Entry, fonts: CoverFonts, x: float, y: float, width: float, at_top: bool) -> float:
    if entry.kind == "section":
        y -= 0 if at_top else 11
        canvas.setFillColor(HOUSE_RED)
        canvas.rect(x, y - SECTION_SIZE + 1, 3 * mm, SECTION_SIZE - 1, stroke=0, fill=1)
        canvas.setFont(fonts.hei_bold, SECTION_SIZE)
        canvas.drawString(x + 5 * mm, y - SECTION_SIZE + 1.5, entry.text)
        canvas.setStrokeColor(HOUSE_RED)
        canvas.setLineWidth(0.4)
        canvas.line(x, y - SECTION_SIZE - 2.5, x + width, y - SECTION_SIZE - 2.5)
        return y - SECTION_SIZE - 5
    lines = _title_lines(entry, fonts, width)
    canvas.setFillColor(INK)
    indent = 5 * mm
    for number, line in enumerate(lines):
        baseline = y - TITLE_SIZE - 2
        canvas.setFont(fonts.song, TITLE_SIZE)
        canvas.drawString(x + indent, baseline, line)
        if number == len(lines) - 1:
            end = x + indent + stringWidth(line, fonts.song, TITLE_SIZE) + 2 * mm
            right = x + width - NUMBER_WIDTH
            _leader(canvas, end, right, baseline + 2)
            canvas.setFont(fonts.hei_bold, TITLE_SIZE)
            canvas.drawRightString(x + width, baseline, str(entry.page))
        y -= TITLE_LEADING
    if entry.author:
        canvas.setFont(fonts.kai, AUTHOR_SIZE)
        canvas.setFillColor(GREY)
        canvas.drawString(x + indent + 2 * mm, y - AUTHOR_SIZE - 1, entry.author)
        y -= AUTHOR_LEADING
    return y - 4


def _leader(canvas, start: float, end: float, y: float) -> None:
    """Dot leaders drawn as a dotted rule: they carry the eye, not text."""
    if end - start < 4 * mm:
        return
    canvas.saveState()
    canvas.setStrokeColor(GREY)
    canvas.setLineWidth(0.9)
    canvas.setLineCap(1)
    canvas.setDash(0.01, 3)
    canvas.line(start, y, end - 2 * mm, y)
    canvas.restoreState()


def _label_width(manifest: Manifest, fonts: CoverFonts) -> float:
    return max((stringWidth(item.label, fonts.hei_bold, MASTHEAD_SIZE) for item in manifest.masthead if item.value),
               default=0) + 3 * mm


def _masthead_lines(manifest: Manifest, fonts: CoverFonts, width: float) -> list[tuple[str, str]]:
    """(label, text) lines of the masthead; long values wrap in their own column."""
    label_width = _label_width(manifest, fonts)
    lines = []
    for item in manifest.masthead:
        if not item.value:
            lines.append((item.label, ""))
            continue
        wrapped = break_lines(item.value, fonts.song, MASTHEAD_SIZE, width - label_width)
        lines.append((item.label, wrapped[0]))
        lines += [("", more) for more in wrapped[1:]]
    return lines


def _draw_masthead(canvas, lines: list[tuple[str, str]], fonts: CoverFonts, x: float, top: float,
                   width: float, label_width: float) -> None:
    canvas.setStrokeColor(HOUSE_RED)
    canvas.setLineWidth(0.6)
    canvas.line(x, top + 4 * mm, x + width, top + 4 * mm)
    y = top
    for label, text in lines:
        canvas.setFillColor(INK)
        if label:
            canvas.setFont(fonts.hei_bold, MASTHEAD_SIZE)
            canvas.drawString(x, y - MASTHEAD_SIZE, label)
        canvas.setFont(fonts.song, MASTHEAD_SIZE)
        canvas.drawString(x + label_width, y - MASTHEAD_SIZE, text)
        y -= MASTHEAD_LEADING
