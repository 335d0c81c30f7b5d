"""The house style file, styles/house.yaml: the house's colours and the geometry of the pages
ReportLab draws (covers and contents), so that their look lives outside the code.

Every styles/house.yaml on the house search path is read, from the package's to the issue's;
each key a nearer file sets wins. The stylesheets see the colours as custom properties
(`var(--colour-red)` …), ReportLab as CMYK colours.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import yaml
from reportlab.lib.colors import CMYKColor
from reportlab.lib.units import mm

from ..diagnostics import Diagnostics, InputError
from ..i18n import _
from .house import House
from .schema import key, keys_of
from .yamlnodes import NodeReader, compose

HOUSE_FILE = "house.yaml"
CMYK = tuple[float, float, float, float]


@dataclass(frozen=True)
class Colours:
    red: CMYK = key("cmyk", required=True)
    ink: CMYK = key("cmyk", required=True)
    muted: CMYK = key("cmyk", required=True)
    grey: CMYK = key("cmyk", required=True)
    paper: CMYK = key("cmyk", required=True)
    shade: CMYK = key("cmyk", required=True)
    shade_opacity: float = key("number", required=True)

    def css(self) -> str:
        """The colours as custom properties of the stylesheets."""
        names = [f.name for f in fields(self) if isinstance(getattr(self, f.name), tuple)]
        return ":root { " + " ".join(
            f"--colour-{name}: device-cmyk({' '.join(f'{ink:g}' for ink in getattr(self, name))});" for name in names
        ) + " }\n"

    def reportlab(self, name: str) -> CMYKColor:
        if name == "shade":
            return CMYKColor(*self.shade, alpha=self.shade_opacity)
        return CMYKColor(*getattr(self, name))


@dataclass(frozen=True)
class CoverGeometry:
    safe_margin: float = key("length", required=True)
    band_height: float = key("length", required=True)
    name_size: float = key("number", required=True)
    slogan_size: float = key("number", required=True)
    issue_size: float = key("number", required=True)
    lines_size: float = key("number", required=True)
    lines_leading: float = key("number", required=True)
    barcode_width: float = key("length", required=True)
    barcode_height: float = key("length", required=True)


@dataclass(frozen=True)
class InsideFrontCoverGeometry:
    margin: float = key("length", required=True)
    title_size: float = key("number", required=True)
    photo_height: float = key("length", required=True)
    caption_size: float = key("number", required=True)
    text_size: float = key("number", required=True)
    text_leading: float = key("number", required=True)


@dataclass(frozen=True)
class ContentsGeometry:
    margin: float = key("length", required=True)
    header_height: float = key("length", required=True)
    number_width: float = key("length", required=True)
    title_size: float = key("number", required=True)
    title_leading: float = key("number", required=True)
    author_size: float = key("number", required=True)
    author_leading: float = key("number", required=True)
    section_size: float = key("number", required=True)
    masthead_size: float = key("number", required=True)
    masthead_leading: float = key("number", required=True)


@dataclass(frozen=True)
class HouseStyle:
    colours: Colours = key("mapping", item=Colours, required=True)
    cover: CoverGeometry = key("mapping", item=CoverGeometry, required=True)
    inside_front_cover: InsideFrontCoverGeometry = key("mapping", item=InsideFrontCoverGeometry, required=True)
    contents: ContentsGeometry = key("mapping", item=ContentsGeometry, required=True)


def points(length_mm: float) -> float:
    """A house length (mm) in PDF points, as ReportLab draws."""
    return length_mm * mm


def load_house_style(house: House, diagnostics: Diagnostics) -> HouseStyle:
    """styles/house.yaml from the package defaults to the issue, nearer keys winning."""
    merged: dict[str, dict] = {}
    for folder in reversed(house.dirs("styles")):
        path = folder / HOUSE_FILE
        if path.is_file():
            _merge(merged, _read(path, house.shown(path), diagnostics))
    diagnostics.raise_if_errors()
    parts = {}
    for section_field, section in keys_of(HouseStyle):
        values = merged.get(section_field.name, {})
        missing = [f"{section_field.name}.{f.name}" for f, _declared in keys_of(section.item) if values.get(f.name) is None]
        for unset in missing:
            diagnostics.error(_("'{key}' is set in no {file}", key=unset, file=HOUSE_FILE),
                              file=HOUSE_FILE, hint=_("the package's styles/house.yaml sets every key; copy it"))
        if not missing:
            parts[section_field.name] = section.item(**values)
    diagnostics.raise_if_errors()
    return HouseStyle(**parts)


def _read(path, shown: str, diagnostics: Diagnostics) -> dict[str, dict]:
    """The keys one house.yaml sets: section -> {key: value}; what it leaves out is None."""
    try:
        node = compose(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        diagnostics.error(_("cannot read the house style: {reason}", reason=exc), file=shown)
        raise InputError(diagnostics) from None
    reader = NodeReader(shown, path.parent, diagnostics, strict=False)
    sections = reader.mapping(node, "", {f.name for f, _declared in keys_of(HouseStyle)}) or {}
    read = {}
    for section_field, section in keys_of(HouseStyle):
        if section_field.name in sections:
            values = reader.fields(section.item, sections[section_field.name][0], section_field.name, partial=True)
            read[section_field.name] = values[0] if values else {}
    return read


def _merge(merged: dict[str, dict], read: dict[str, dict]) -> None:
    for section, values in read.items():
        target = merged.setdefault(section, {})
        target.update({name: value for name, value in values.items() if value is not None})
