"""Print colour: photos converted to CMYK for the output profile, and the profile as the output intent.

The profile (`page.output_profile` in issue.yaml, by default FOGRA39L_coated.icc, CC0, from
Debian's texlive-base, kept in styles/) is looked for in the issue and then the house style.
Converted photos are cached by image and profile; text and rules are set in CMYK by the
house CSS (`device-cmyk()`), and black text is K only.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pikepdf
from PIL import Image, ImageCms

from .diagnostics import Diagnostics
from .fonts import cache_dir, save_cached
from .house import House

DEFAULT_PROFILE = "FOGRA39L_coated.icc"


def find_profile(name: str, issue_dir: Path, house: House, diagnostics: Diagnostics) -> Path | None:
    for folder in [issue_dir, *house.dirs("styles")]:
        candidate = (folder / name).resolve()
        if candidate.is_file():
            return candidate
    diagnostics.error(f"output profile '{name}' not found", key="page.output_profile",
                      hint="put the ICC profile into the issue folder or styles/, or name another one")
    return None


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def cmyk_image(path: Path, profile: Path) -> Path:
    """`path` as a CMYK JPEG for `profile` (cached); CMYK and grayscale images are left as they are."""
    with Image.open(path) as image:
        if image.mode in ("CMYK", "L", "1"):
            return path
    target = cache_dir().parent / "cmyk" / f"{path.stem}-{_digest(path)}-{_digest(profile)}.jpg"
    if target.exists():
        return target
    with Image.open(path) as image:
        source_profile = image.info.get("icc_profile")
        rgb = image.convert("RGB")
        dpi = image.info.get("dpi", (300, 300))
    source = ImageCms.ImageCmsProfile(ImageCms.io.BytesIO(source_profile)) if source_profile else \
        ImageCms.createProfile("sRGB")
    transform = ImageCms.buildTransform(source, ImageCms.getOpenProfile(str(profile)), "RGB", "CMYK",
                                        renderingIntent=ImageCms.Intent.PERCEPTUAL)
    converted = ImageCms.applyTransform(rgb, transform)
    save_cached(target, lambda temp: converted.save(temp, "JPEG", quality=90, dpi=dpi))
    return target


def add_output_intent(pdf: pikepdf.Pdf, profile: Path, condition: str = "FOGRA39") -> None:
    """A PDF/X-4 output intent with the embedded profile, and the PDF/X identification."""
    icc = pikepdf.Stream(pdf, profile.read_bytes())
    icc.N = 4
    intent = pikepdf.Dictionary(Type=pikepdf.Name.OutputIntent, S=pikepdf.Name.GTS_PDFX,
                                OutputConditionIdentifier=pikepdf.String(condition),
                                Info=pikepdf.String(profile.stem), RegistryName=pikepdf.String("http://www.color.org"),
                                DestOutputProfile=pdf.make_indirect(icc))
    pdf.Root.OutputIntents = pikepdf.Array([pdf.make_indirect(intent)])
    pdf.docinfo["/GTS_PDFXVersion"] = pikepdf.String("PDF/X-4")
    pdf.docinfo["/Trapped"] = pikepdf.Name("/False")
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["pdfx:GTS_PDFXVersion"] = "PDF/X-4"
        meta["pdfxid:GTS_PDFXVersion"] = "PDF/X-4"
        meta["pdf:Trapped"] = "False"
