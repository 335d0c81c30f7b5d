"""`typeset diff OLD.pdf NEW.pdf`: the pages that changed between two builds or proofs, with an
image of each changed page where the differences are highlighted, so an editor checks only
what moved."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pikepdf
from PIL import Image, ImageChops, ImageFilter

from ..i18n import _
from .pages import page_images

RESOLUTION = 60  # dpi: enough to see a changed line, quick to compare
STAMP_BAND_MM = 10  # the foot of the page where proofs carry their time stamp and hash: not compared


@dataclass
class PageChange:
    label: str
    status: str  # "changed", "added", "removed"
    image: str | None = None  # the highlighted page image, for changed and added pages

    def describe(self) -> str:
        return {"changed": _("changed"), "added": _("added"), "removed": _("removed")}[self.status]


def page_labels(path: Path) -> list[str]:
    """The page labels (封一, 1, 2 …), or page numbers where the file has none."""
    with pikepdf.open(path) as pdf:
        return [str(page.label or index + 1) for index, page in enumerate(pdf.pages)]


def _render(path: Path) -> list[Image.Image]:
    return [Image.open(io.BytesIO(png)).convert("RGB") for png in page_images(path.read_bytes(), RESOLUTION)]


def compare(old: Path, new: Path) -> tuple[list[PageChange], dict[str, bytes]]:
    """The changes page by page (paired by page label) and the highlight images by file name."""
    old_labels, new_labels = page_labels(old), page_labels(new)
    old_pages = dict(zip(old_labels, _render(old)))
    new_pages = dict(zip(new_labels, _render(new)))
    changes: list[PageChange] = []
    images: dict[str, bytes] = {}
    for label in new_labels:
        after = new_pages[label]
        before = old_pages.get(label)
        if before is None:
            changes.append(PageChange(label, "added"))
            continue
        if before.size != after.size:
            before = before.resize(after.size)
        difference = ImageChops.difference(before, after).convert("L").point(lambda v: 255 if v > 40 else 0)
        band = round(STAMP_BAND_MM / 25.4 * RESOLUTION)
        difference.paste(0, (0, difference.height - band, difference.width, difference.height))
        if difference.getbbox() is None:
            continue
        name = f"diff-{label}.png"
        images[name] = _highlight(after, difference)
        changes.append(PageChange(label, "changed", name))
    changes += [PageChange(label, "removed") for label in old_labels if label not in new_pages]
    return changes, images


def _highlight(page: Image.Image, mask: Image.Image) -> bytes:
    """The new page, faded, with the changed areas in red."""
    grown = mask.filter(ImageFilter.MaxFilter(9))
    faded = Image.blend(page, Image.new("RGB", page.size, "white"), 0.55)
    red = Image.new("RGB", page.size, (220, 30, 30))
    result = Image.composite(Image.blend(page, red, 0.45), faded, grown)
    buffer = io.BytesIO()
    result.save(buffer, "PNG")
    return buffer.getvalue()
