"""Stage 5a: the cover pages with ReportLab: 封一 (front), 封二 (inside front), 封三, 封四.

Pages are trim size plus bleed (TrimBox and BleedBox set); photos that reach the edge are
scaled to cover the bleed box and cropped, never distorted; text stays in a safe area
inside the trim by the safe margin. Colours and sizes come from the house style (styles/house.yaml).
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode import eanbc
from reportlab.graphics.shapes import Drawing
from reportlab.lib.colors import CMYKColor
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth

from ..diagnostics import Diagnostics
from ..i18n import _
from ..inputs.housestyle import HouseStyle, points
from ..inputs.manifest import Manifest
from ..pdf.printfiles import PDFX
from ..store import ensure
from .fonts import CoverFonts
from .text import PageGeometry, break_lines, draw_paragraph, new_canvas, start_page


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


def build_covers(manifest: Manifest, style: HouseStyle, fonts: CoverFonts, diagnostics: Diagnostics) -> bytes:
    """A four-page PDF: 封一, 封二, 封三, 封四."""
    geometry = PageGeometry.of(manifest)
    title = manifest.title
    canvas, buffer = new_canvas(geometry, fonts.song, title)

    start_page(canvas, geometry)
    _front_cover(canvas, geometry, manifest, style, fonts)
    canvas.showPage()

    start_page(canvas, geometry)
    if manifest.inside_front_cover:
        _inside_front_cover(canvas, geometry, manifest, style, fonts)
    else:
        diagnostics.warning(_("no inside_front_cover in issue.yaml: 封二 is blank"),
                            hint=_("add inside_front_cover: {title, text, image, caption}"))
    canvas.showPage()

    for key, name in (("inside_back_cover", "封三"), ("back_cover", "封四")):
        start_page(canvas, geometry)
        page = getattr(manifest, key)
        if page is not None:
            _full_bleed_image(canvas, geometry, page.image)
        else:
            diagnostics.warning(_("no {key} in issue.yaml: {name} is blank", key=key, name=name),
                                hint=_("add {key}: {{image: images/…}} (an advertisement or a photo page)", key=key))
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


@dataclass(frozen=True)
class Placed:
    """A photo on the page: its file, where it stands (x, y, width, height) and its pixels."""

    path: Path
    box: tuple[float, float, float, float]
    pixels: tuple[int, int]


def _full_bleed_image(canvas, geometry: PageGeometry, path) -> Placed:
    """Scale the photo to cover trim + bleed and centre it; the page edge crops the rest."""
    path = ensure(path)  # a CMYK photo from the cache
    with Image.open(path) as image:
        width, height = image.size
    media_w, media_h = geometry.media
    scale = max(media_w / width, media_h / height)
    w, h = width * scale, height * scale
    b = geometry.bleed
    box = (-b - (w - media_w) / 2, -b - (h - media_h) / 2, w, h)
    canvas.drawImage(_NamedByFile(path), *box)
    return Placed(path, box, (width, height))


class _NamedByFile(str):
    """A photo's path whose text is its file name. ReportLab names a photo in the PDF after the
    text of its path; the file name in the photo cache is a digest of the photo, the rest of the
    path is where this user's cache is, which must not change the bytes of a build."""

    def __str__(self) -> str:
        return os.path.basename(str.__str__(self))  # ReportLab opens the file by the string itself


def _fit_size(text: str, font: str, size: float, width: float, minimum: float) -> float:
    while size > minimum and stringWidth(text, font, size) > width:
        size -= 0.5
    return size


def _front_cover(canvas, geometry: PageGeometry, manifest: Manifest, style: HouseStyle, fonts: CoverFonts) -> None:
    cover = manifest.cover
    photo = _full_bleed_image(canvas, geometry, cover.image) if cover and cover.image else None
    _masthead_band(canvas, geometry, manifest, style, fonts)
    if cover and cover.lines:
        opaque = not PDFX[manifest.page.pdfx].transparency
        _cover_lines(canvas, geometry, cover.lines, bool(cover.barcode), style, fonts, photo if opaque else False)
    if cover and cover.barcode:
        safe, box = points(style.cover.safe_margin), points(style.cover.barcode_width)
        _barcode(canvas, geometry.trim_w - safe - box, safe, cover.barcode, style, fonts.hei)


def _masthead_band(canvas, geometry: PageGeometry, manifest: Manifest, style: HouseStyle, fonts: CoverFonts) -> None:
    """The band at the head: the magazine name large in the title face, slogan and issue on it."""
    w, h, b = geometry.trim_w, geometry.trim_h, geometry.bleed
    safe, colours, sizes = points(style.cover.safe_margin), style.colours, style.cover
    band_bottom = h - points(sizes.band_height)
    canvas.setFillColor(colours.reportlab("red"))
    canvas.rect(-b, band_bottom, w + 2 * b, h - band_bottom + b, stroke=0, fill=1)
    name = manifest.magazine.name
    name_size = _fit_size(name, fonts.title, sizes.name_size, w - 2 * safe - 45 * mm, 24)
    canvas.setFillColor(colours.reportlab("paper"))
    text = canvas.beginText(safe, h - safe - name_size * 0.95)
    text.setFont(fonts.title, name_size)
    text.setCharSpace(name_size * 0.12)
    text.textOut(name)
    text.setCharSpace(0)  # Tc outlives the text object
    canvas.drawText(text)
    if manifest.magazine.slogan:
        slogan = "　".join(manifest.magazine.slogan)
        size = _fit_size(slogan, fonts.hei, sizes.slogan_size, w - 2 * safe, 6)
        canvas.setFont(fonts.hei, size)
        canvas.drawString(safe, band_bottom + 7 * mm, slogan)
    canvas.setFont(fonts.hei_bold, sizes.issue_size)
    canvas.drawRightString(w - safe, h - safe - sizes.issue_size, manifest.issue.label)
    if manifest.issue.serial:
        canvas.setFont(fonts.hei, 10)
        canvas.drawRightString(w - safe, h - safe - sizes.issue_size - 18, f"总第{manifest.issue.serial}期")


def _cover_lines(canvas, geometry: PageGeometry, lines: list[str], barcode: bool, style: HouseStyle,
                 fonts: CoverFonts, baked: Placed | None | bool = False) -> None:
    """The cover lines on a dark translucent band at the foot, each with a red mark. Where the
    standard allows no transparency (`baked` is the photo under the band, or None for paper),
    the band is baked into what lies under it instead."""
    w, b = geometry.trim_w, geometry.bleed
    safe, sizes, colours = points(style.cover.safe_margin), style.cover, style.colours
    beside_barcode = points(sizes.barcode_width) + 4 * mm if barcode else 0
    band_height = sizes.lines_leading * len(lines) + 14 * mm
    band = (-b, safe + 6 * mm, w + b - safe - 4 * mm - beside_barcode, band_height)
    if baked is False:
        canvas.setFillColor(colours.reportlab("shade"))
        canvas.rect(*band, stroke=0, fill=1)
    else:
        _opaque_band(canvas, band, baked, colours)
    y = safe + 6 * mm + band_height - 7 * mm - sizes.lines_size
    for line in lines:
        fitted = _fit_size(line, fonts.hei_bold, sizes.lines_size, w - 2 * safe - 8 * mm - beside_barcode, 10)
        canvas.setFillColor(colours.reportlab("red"))
        canvas.rect(safe, y + 1, 2.2 * mm, fitted * 0.8, stroke=0, fill=1)
        canvas.setFillColor(colours.reportlab("paper"))
        canvas.setFont(fonts.hei_bold, fitted)
        canvas.drawString(safe + 5 * mm, y, line)
        y -= sizes.lines_leading


def _opaque_band(canvas, band: tuple[float, float, float, float], photo: Placed | None, colours) -> None:
    """The translucent band as opaque colour: blended into the photo's pixels under it (whole
    pixels, so the baked piece lies exactly on the photo), or with white paper."""
    x, y, width, height = band
    alpha = colours.shade_opacity
    if photo is None:
        canvas.setFillColor(CMYKColor(*(ink * alpha for ink in colours.shade)))
        canvas.rect(x, y, width, height, stroke=0, fill=1)
        return
    (px, py, pw, ph), (iw, ih) = photo.box, photo.pixels
    left, right = max(0, math.floor((x - px) / pw * iw)), min(iw, math.ceil((x + width - px) / pw * iw))
    top, bottom = max(0, math.floor((py + ph - y - height) / ph * ih)), min(ih, math.ceil((py + ph - y) / ph * ih))
    with Image.open(photo.path) as image:
        piece = image.convert("CMYK").crop((left, top, right, bottom))
    shade = Image.new("CMYK", piece.size, tuple(round(ink * 255) for ink in colours.shade))
    buffer = io.BytesIO()
    Image.blend(piece, shade, alpha).save(buffer, "JPEG", quality=90)
    canvas.drawImage(ImageReader(buffer), px + left / iw * pw, py + ph - bottom / ih * ph,
                     (right - left) / iw * pw, (bottom - top) / ih * ph)


def _barcode(canvas, x: float, y: float, digits: str, style: HouseStyle, font: str) -> None:
    """An EAN-13 (ISSN) barcode on a white ground, in black ink and the house font (no Helvetica)."""
    ink = style.colours.reportlab("ink")
    width, height = points(style.cover.barcode_width), points(style.cover.barcode_height)
    widget = eanbc.Ean13BarcodeWidget(digits[:12])
    widget.fontName, widget.barFillColor, widget.textColor = font, ink, ink
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(width, height)
    scale = min((width - 4 * mm) / (x1 - x0), (height - 4 * mm) / (y1 - y0))
    widget.x, widget.y = 0, 0
    drawing.add(widget)
    drawing.scale(scale, scale)
    canvas.setFillColor(style.colours.reportlab("paper"))
    canvas.rect(x, y, width, height, stroke=0, fill=1)
    renderPDF.draw(drawing, canvas, x + 2 * mm - x0 * scale, y + 2 * mm - y0 * scale)


def _inside_front_cover(canvas, geometry: PageGeometry, manifest: Manifest, style: HouseStyle,
                        fonts: CoverFonts) -> None:
    w, h = geometry.trim_w, geometry.trim_h
    item, sizes, colours = manifest.inside_front_cover, style.inside_front_cover, style.colours
    margin = points(sizes.margin)
    width = w - 2 * margin
    y = h - 22 * mm
    # a red rule and the title (a space in the title marks a line break, as printed)
    canvas.setFillColor(colours.reportlab("red"))
    canvas.rect(margin, y, width, 1.2 * mm, stroke=0, fill=1)
    y -= 6 * mm
    canvas.setFillColor(colours.reportlab("ink"))
    for phrase in item.title.split():
        size = _fit_size(phrase, fonts.hei_bold, sizes.title_size, width, 12)
        for line in break_lines(phrase, fonts.hei_bold, size, width):
            canvas.setFont(fonts.hei_bold, size)
            canvas.drawCentredString(w / 2, y - size, line)
            y -= size * 1.45
    y -= 4 * mm
    if item.image:
        with Image.open(ensure(item.image)) as image:
            iw, ih = image.size
        photo_h = min(width * ih / iw, points(sizes.photo_height))
        photo_w = photo_h * iw / ih
        canvas.drawImage(_NamedByFile(ensure(item.image)), (w - photo_w) / 2, y - photo_h, photo_w, photo_h)
        y -= photo_h + 2.5 * mm
    if item.caption:
        canvas.setFont(fonts.kai, sizes.caption_size)
        canvas.setFillColor(colours.reportlab("grey"))
        canvas.drawCentredString(w / 2, y - sizes.caption_size, item.caption)
        y -= sizes.caption_size + 6 * mm
    if item.text:
        canvas.setFillColor(colours.reportlab("ink"))
        draw_paragraph(canvas, item.text, margin, y, width, fonts.song, sizes.text_size, sizes.text_leading,
                       indent=2 * sizes.text_size)
