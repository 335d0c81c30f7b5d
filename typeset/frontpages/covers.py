"""Stage 5a: the cover pages with ReportLab: 封一 (front), 封二 (inside front), 封三, 封四.

Pages are trim size plus bleed (TrimBox and BleedBox set); photos that reach the edge are
scaled to cover the bleed box and cropped, never distorted; text stays in a safe area
10 mm inside the trim.
"""

from __future__ import annotations


from PIL import Image
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode import eanbc
from reportlab.graphics.shapes import Drawing
from reportlab.lib.colors import CMYKColor
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth

from ..diagnostics import Diagnostics
from ..inputs.manifest import Manifest
from .fonts import CoverFonts
from .text import PageGeometry, break_lines, draw_paragraph, new_canvas, start_page

# print colours, CMYK as in the house CSS; text is black ink only
HOUSE_RED = CMYKColor(0, 0.95, 0.85, 0.3)
INK = CMYKColor(0, 0, 0, 1)
GREY = CMYKColor(0, 0, 0, 0.7)
PAPER = CMYKColor(0, 0, 0, 0)
SHADE = CMYKColor(0, 0, 0, 0.85, alpha=0.45)  # the band under the cover lines
SAFE = 10 * mm  # text keeps this far inside the trim


def cover_text(manifest: Manifest) -> str:
    """Every character the cover pages print (for the font subsets)."""
    parts = [manifest.magazine.name, " ".join(manifest.magazine.slogan), manifest.issue.label,
             f"总第{manifest.issue.serial}期" if manifest.issue.serial else ""]
    if manifest.cover:
        parts += manifest.cover.lines
    if manifest.inside_front_cover:
        ifc = manifest.inside_front_cover
        parts += [ifc.title, ifc.text, ifc.caption]
    return "".join(parts)


def build_covers(manifest: Manifest, fonts: CoverFonts, diagnostics: Diagnostics) -> bytes:
    """A four-page PDF: 封一, 封二, 封三, 封四."""
    geometry = PageGeometry.of(manifest)
    title = f"{manifest.magazine.name} {manifest.issue.label}"
    canvas, buffer = new_canvas(geometry, fonts.song, title)

    start_page(canvas, geometry)
    _front_cover(canvas, geometry, manifest, fonts)
    canvas.showPage()

    start_page(canvas, geometry)
    if manifest.inside_front_cover:
        _inside_front_cover(canvas, geometry, manifest, fonts)
    else:
        diagnostics.warning("no inside_front_cover in issue.yaml: 封二 is blank",
                            hint="add inside_front_cover: {title, text, image, caption}")
    canvas.showPage()

    for key, name in (("inside_back_cover", "封三"), ("back_cover", "封四")):
        start_page(canvas, geometry)
        page = getattr(manifest, key)
        if page is not None:
            _full_bleed_image(canvas, geometry, page.image)
        else:
            diagnostics.warning(f"no {key} in issue.yaml: {name} is blank",
                                hint=f"add {key}: {{image: images/…}} (an advertisement or a photo page)")
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _full_bleed_image(canvas, geometry: PageGeometry, path) -> None:
    """Scale the photo to cover trim + bleed and centre it; the page edge crops the rest."""
    with Image.open(path) as image:
        width, height = image.size
    media_w, media_h = geometry.media
    scale = max(media_w / width, media_h / height)
    w, h = width * scale, height * scale
    b = geometry.bleed
    canvas.drawImage(str(path), -b - (w - media_w) / 2, -b - (h - media_h) / 2, w, h)


def _fit_size(text: str, font: str, size: float, width: float, minimum: float) -> float:
    while size > minimum and stringWidth(text, font, size) > width:
        size -= 0.5
    return size


def _front_cover(canvas, geometry: PageGeometry, manifest: Manifest, fonts: CoverFonts) -> None:
    w, h = geometry.trim_w, geometry.trim_h
    b = geometry.bleed
    cover = manifest.cover
    if cover and cover.image:
        _full_bleed_image(canvas, geometry, cover.image)

    # masthead band: the magazine name large in the title face, slogan and issue on it
    band_bottom = h - 62 * mm
    canvas.setFillColor(HOUSE_RED)
    canvas.rect(-b, band_bottom, w + 2 * b, h - band_bottom + b, stroke=0, fill=1)
    name = manifest.magazine.name
    name_size = _fit_size(name, fonts.title, 64, w - 2 * SAFE - 45 * mm, 24)
    canvas.setFillColor(PAPER)
    text = canvas.beginText(SAFE, h - SAFE - name_size * 0.95)
    text.setFont(fonts.title, name_size)
    text.setCharSpace(name_size * 0.12)
    text.textOut(name)
    text.setCharSpace(0)  # Tc outlives the text object
    canvas.drawText(text)
    if manifest.magazine.slogan:
        slogan = "　".join(manifest.magazine.slogan)
        size = _fit_size(slogan, fonts.hei, 10.5, w - 2 * SAFE, 6)
        canvas.setFont(fonts.hei, size)
        canvas.drawString(SAFE, band_bottom + 7 * mm, slogan)
    canvas.setFont(fonts.hei_bold, 14)
    canvas.drawRightString(w - SAFE, h - SAFE - 14, manifest.issue.label)
    if manifest.issue.serial:
        canvas.setFont(fonts.hei, 10)
        canvas.drawRightString(w - SAFE, h - SAFE - 32, f"总第{manifest.issue.serial}期")

    # cover lines on a dark translucent band at the foot
    lines = cover.lines if cover else []
    if lines:
        size, leading = 17, 27
        band_height = leading * len(lines) + 14 * mm
        canvas.setFillColor(SHADE)
        canvas.rect(-b, SAFE + 6 * mm, w + b - SAFE - 4 * mm - (42 * mm if cover.barcode else 0), band_height,
                    stroke=0, fill=1)
        y = SAFE + 6 * mm + band_height - 7 * mm - size
        for line in lines:
            fitted = _fit_size(line, fonts.hei_bold, size, w - 2 * SAFE - 8 * mm - (42 * mm if cover.barcode else 0),
                               10)
            canvas.setFillColor(HOUSE_RED)
            canvas.rect(SAFE, y + 1, 2.2 * mm, fitted * 0.8, stroke=0, fill=1)
            canvas.setFillColor(PAPER)
            canvas.setFont(fonts.hei_bold, fitted)
            canvas.drawString(SAFE + 5 * mm, y, line)
            y -= leading
    if cover and cover.barcode:
        _barcode(canvas, w - SAFE - 38 * mm, SAFE, cover.barcode, fonts.hei)


def _barcode(canvas, x: float, y: float, digits: str, font: str) -> None:
    """An EAN-13 (ISSN) barcode on a white ground, in black ink and the house font (no Helvetica)."""
    widget = eanbc.Ean13BarcodeWidget(digits[:12])
    widget.fontName, widget.barFillColor, widget.textColor = font, INK, INK
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(38 * mm, 24 * mm)
    scale = min(34 * mm / (x1 - x0), 20 * mm / (y1 - y0))
    widget.x, widget.y = 0, 0
    drawing.add(widget)
    drawing.scale(scale, scale)
    canvas.setFillColor(PAPER)
    canvas.rect(x, y, 38 * mm, 24 * mm, stroke=0, fill=1)
    renderPDF.draw(drawing, canvas, x + 2 * mm - x0 * scale, y + 2 * mm - y0 * scale)


def _inside_front_cover(canvas, geometry: PageGeometry, manifest: Manifest, fonts: CoverFonts) -> None:
    w, h = geometry.trim_w, geometry.trim_h
    item = manifest.inside_front_cover
    margin = 18 * mm
    width = w - 2 * margin
    y = h - 22 * mm
    # a red rule and the title (a space in the title marks a line break, as printed)
    canvas.setFillColor(HOUSE_RED)
    canvas.rect(margin, y, width, 1.2 * mm, stroke=0, fill=1)
    y -= 6 * mm
    canvas.setFillColor(INK)
    for phrase in item.title.split():
        size = _fit_size(phrase, fonts.hei_bold, 20, width, 12)
        for line in break_lines(phrase, fonts.hei_bold, size, width):
            canvas.setFont(fonts.hei_bold, size)
            canvas.drawCentredString(w / 2, y - size, line)
            y -= size * 1.45
    y -= 4 * mm
    if item.image:
        with Image.open(item.image) as image:
            iw, ih = image.size
        photo_h = min(width * ih / iw, 125 * mm)
        photo_w = photo_h * iw / ih
        canvas.drawImage(str(item.image), (w - photo_w) / 2, y - photo_h, photo_w, photo_h)
        y -= photo_h + 2.5 * mm
    if item.caption:
        canvas.setFont(fonts.kai, 10)
        canvas.setFillColor(GREY)
        canvas.drawCentredString(w / 2, y - 10, item.caption)
        y -= 10 + 6 * mm
    if item.text:
        canvas.setFillColor(INK)
        draw_paragraph(canvas, item.text, margin, y, width, fonts.song, 11, 19, indent=22)
