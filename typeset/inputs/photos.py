"""Print colour: photos converted to CMYK for the output profile (pdf/printfiles.py embeds the
profile as the output intent).

The profile (`page.output_profile` in issue.yaml, by default FOGRA39L_coated.icc, CC0, from
Debian's texlive-base, kept in styles/) is looked for in the issue and then the house style.
Converted photos are cached by image and profile; text and rules are set in CMYK by the
house CSS (`device-cmyk()`), and black text is K only.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PIL import Image, ImageCms

from ..diagnostics import Diagnostics
from ..i18n import _
from ..store import Inputs, cached_file, digest, user_cache
from .house import House

DEFAULT_PROFILE = "FOGRA39L_coated.icc"


def find_profile(name: str, issue_dir: Path, house: House, diagnostics: Diagnostics) -> Path | None:
    for folder in [issue_dir, *house.dirs("styles")]:
        candidate = (folder / name).resolve()
        if candidate.is_file():
            return candidate
    diagnostics.error(_("output profile '{name}' not found", name=name), key="page.output_profile",
                      hint=_("put the ICC profile into the issue folder or styles/, or name another one"))
    return None


def cmyk_image(path: Path, profile: Path) -> Path:
    """`path` as a CMYK JPEG for `profile` (cached); CMYK and grayscale images are left as they are."""
    with Image.open(path) as image:
        if image.mode in ("CMYK", "L", "1"):
            return path
    name = f"{path.stem}-{digest(Inputs(files=(path, profile)))[:32]}.jpg"
    return cached_file(user_cache("cmyk"), name, partial(_convert, path, profile))


def _convert(path: Path, profile: Path, target: str) -> None:
    with Image.open(path) as image:
        source_profile = image.info.get("icc_profile")
        rgb = image.convert("RGB")
        dpi = image.info.get("dpi", (300, 300))
    source = ImageCms.ImageCmsProfile(ImageCms.io.BytesIO(source_profile)) if source_profile else \
        ImageCms.createProfile("sRGB")
    transform = ImageCms.buildTransform(source, ImageCms.getOpenProfile(str(profile)), "RGB", "CMYK",
                                        renderingIntent=ImageCms.Intent.PERCEPTUAL)
    ImageCms.applyTransform(rgb, transform).save(target, "JPEG", quality=90, dpi=dpi)
