"""Stage 5b: the contents (目录) with ReportLab, on the pages the manifest keeps for it.

Sections (栏目) in order; for each article its `toc_title` (else its title), its author and
the page it actually starts on in the laid-out body, joined by dot leaders; the masthead
(主管单位 … 发送范围) at the foot of the last contents page. Colours and sizes come from the
house style (styles/house.yaml, `contents:`).
"""

from __future__ import annotations

from dataclasses import dataclass

from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth

from ..body.measure import ArticleFit
from ..diagnostics import Diagnostics, InputError
from ..i18n import _
from ..inputs.housestyle import HouseStyle, points
from ..inputs.manifest import MANIFEST_NAME, Manifest
from .fonts import CoverFonts
from .text import PageGeometry, break_lines, new_canvas, start_page


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


def build_contents(manifest: Manifest, style: HouseStyle, fits: list[ArticleFit], fonts: CoverFonts,
                   diagnostics: Diagnostics) -> bytes:
    """The contents pages as a PDF of exactly `contents.pages` pages; an error if they do not fit."""
    geometry = PageGeometry.of(manifest)
    page = _ContentsPage(style, fonts, geometry.trim_w)
    page_count = manifest.contents_pages.count
    canvas, buffer = new_canvas(geometry, fonts.song, f"{manifest.title} 目录")
    masthead = page.masthead_lines(manifest)
    masthead_height = len(masthead) * page.sizes.masthead_leading + (8 * mm if masthead else 0)
    entries = contents_entries(fits)
    index = 0
    for number in range(page_count):
        start_page(canvas, geometry)
        top = geometry.trim_h - page.margin
        if number == 0:
            page.header(canvas, geometry, manifest)
            top = geometry.trim_h - points(page.sizes.header_height) - 8 * mm
        bottom = page.margin + (masthead_height if number == page_count - 1 else 0)
        index = page.entries(canvas, entries, index, top, bottom)
        if number == page_count - 1 and masthead:
            page.masthead(canvas, masthead, page.margin + masthead_height - 8 * mm, page.label_width(manifest))
        canvas.showPage()
    if index < len(entries):
        left = sum(1 for e in entries[index:] if e.kind == "article")
        diagnostics.error(_("the contents do not fit pages {pages}: {left} article entries are left over",
                            pages=manifest.contents_pages, left=left),
                          file=manifest.display(manifest.root / MANIFEST_NAME), key="contents.pages",
                          hint=_("give the contents more pages, or shorten the toc_title of long titles"))
        raise InputError(diagnostics)
    canvas.save()
    return buffer.getvalue()


class _ContentsPage:
    """Draws the parts of a contents page in the house's colours and sizes."""

    def __init__(self, style: HouseStyle, fonts: CoverFonts, trim_width: float):
        self.sizes, self.colours, self.fonts = style.contents, style.colours, fonts
        self.margin = points(self.sizes.margin)
        self.width = trim_width - 2 * self.margin

    def header(self, canvas, geometry: PageGeometry, manifest: Manifest) -> None:
        """The red band with 目录 and the magazine and issue."""
        w, h, b = geometry.trim_w, geometry.trim_h, geometry.bleed
        band, fonts, margin = points(self.sizes.header_height), self.fonts, self.margin
        canvas.setFillColor(self.colours.reportlab("red"))
        canvas.rect(-b, h - band, w + 2 * b, band + b, stroke=0, fill=1)
        canvas.setFillColor(self.colours.reportlab("paper"))
        text = canvas.beginText(margin, h - band + 14 * mm)
        text.setFont(fonts.title, 34)
        text.setCharSpace(12)
        text.textOut("目录")
        text.setCharSpace(0)  # Tc outlives the text object
        canvas.drawText(text)
        canvas.setFont(fonts.hei, 9)
        canvas.drawString(margin + 2, h - band + 8 * mm, "CONTENTS")
        canvas.setFont(fonts.hei_bold, 13)
        canvas.drawRightString(w - margin, h - band + 22 * mm, manifest.magazine.name)
        canvas.setFont(fonts.hei, 10)
        issue = manifest.issue
        detail = manifest.issue.label
        if issue.serial:
            detail += f"（{issue.period + '·' if issue.period else ''}总第{issue.serial}期）"
        canvas.drawRightString(w - margin, h - band + 14 * mm, detail)

    def entries(self, canvas, entries: list[Entry], index: int, top: float, bottom: float) -> int:
        """Draw entries from `index` on while they fit between `top` and `bottom`; the next index."""
        y = top
        while index < len(entries):
            at_top = y == top
            height = self.entry_height(entries[index], at_top)
            # keep a section title with its first article
            if entries[index].kind == "section" and index + 1 < len(entries):
                height += self.entry_height(entries[index + 1], False)
            if y - height < bottom:
                break
            y = self.entry(canvas, entries[index], y, at_top)
            index += 1
        return index

    def title_lines(self, entry: Entry) -> list[str]:
        return break_lines(entry.text, self.fonts.song, self.sizes.title_size,
                           self.width - points(self.sizes.number_width) - 8 * mm)

    def entry_height(self, entry: Entry, at_top: bool) -> float:
        if entry.kind == "section":
            return self.sizes.section_size + (0 if at_top else 11) + 5
        height = len(self.title_lines(entry)) * self.sizes.title_leading
        return height + (self.sizes.author_leading if entry.author else 0) + 4

    def entry(self, canvas, entry: Entry, y: float, at_top: bool) -> float:
        if entry.kind == "section":
            return self.section(canvas, entry, y, at_top)
        sizes, fonts, x = self.sizes, self.fonts, self.margin
        lines = self.title_lines(entry)
        canvas.setFillColor(self.colours.reportlab("ink"))
        indent = 5 * mm
        for number, line in enumerate(lines):
            baseline = y - sizes.title_size - 2
            canvas.setFont(fonts.song, sizes.title_size)
            canvas.drawString(x + indent, baseline, line)
            if number == len(lines) - 1:
                end = x + indent + stringWidth(line, fonts.song, sizes.title_size) + 2 * mm
                self.leader(canvas, end, x + self.width - points(sizes.number_width), baseline + 2)
                canvas.setFont(fonts.hei_bold, sizes.title_size)
                canvas.drawRightString(x + self.width, baseline, str(entry.page))
            y -= sizes.title_leading
        if entry.author:
            canvas.setFont(fonts.kai, sizes.author_size)
            canvas.setFillColor(self.colours.reportlab("grey"))
            canvas.drawString(x + indent + 2 * mm, y - sizes.author_size - 1, entry.author)
            y -= sizes.author_leading
        return y - 4

    def section(self, canvas, entry: Entry, y: float, at_top: bool) -> float:
        size, x, red = self.sizes.section_size, self.margin, self.colours.reportlab("red")
        y -= 0 if at_top else 11
        canvas.setFillColor(red)
        canvas.rect(x, y - size + 1, 3 * mm, size - 1, stroke=0, fill=1)
        canvas.setFont(self.fonts.hei_bold, size)
        canvas.drawString(x + 5 * mm, y - size + 1.5, entry.text)
        canvas.setStrokeColor(red)
        canvas.setLineWidth(0.4)
        canvas.line(x, y - size - 2.5, x + self.width, y - size - 2.5)
        return y - size - 5

    def leader(self, canvas, start: float, end: float, y: float) -> None:
        """Dot leaders drawn as a dotted rule: they carry the eye, not text."""
        if end - start < 4 * mm:
            return
        canvas.saveState()
        canvas.setStrokeColor(self.colours.reportlab("grey"))
        canvas.setLineWidth(0.9)
        canvas.setLineCap(1)
        canvas.setDash(0.01, 3)
        canvas.line(start, y, end - 2 * mm, y)
        canvas.restoreState()

    def label_width(self, manifest: Manifest) -> float:
        return max((stringWidth(item.label, self.fonts.hei_bold, self.sizes.masthead_size)
                    for item in manifest.masthead if item.value), default=0) + 3 * mm

    def masthead_lines(self, manifest: Manifest) -> list[tuple[str, str]]:
        """(label, text) lines of the masthead; long values wrap in their own column."""
        label_width = self.label_width(manifest)
        lines = []
        for item in manifest.masthead:
            if not item.value:
                lines.append((item.label, ""))
                continue
            wrapped = break_lines(item.value, self.fonts.song, self.sizes.masthead_size, self.width - label_width)
            lines.append((item.label, wrapped[0]))
            lines += [("", more) for more in wrapped[1:]]
        return lines

    def masthead(self, canvas, lines: list[tuple[str, str]], top: float, label_width: float) -> None:
        x, size = self.margin, self.sizes.masthead_size
        canvas.setStrokeColor(self.colours.reportlab("red"))
        canvas.setLineWidth(0.6)
        canvas.line(x, top + 4 * mm, x + self.width, top + 4 * mm)
        y = top
        for label, text in lines:
            canvas.setFillColor(self.colours.reportlab("ink"))
            if label:
                canvas.setFont(self.fonts.hei_bold, size)
                canvas.drawString(x, y - size, label)
            canvas.setFont(self.fonts.song, size)
            canvas.drawString(x + label_width, y - size, text)
            y -= self.sizes.masthead_leading
