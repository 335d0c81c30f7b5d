"""Images from the input: decoded once before layout, so a broken file is an input error, not a crash."""

from __future__ import annotations

import warnings
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageFile, UnidentifiedImageError

from ..i18n import _, language
from ..store import remembered

# A 300 ppi photo across an A3 spread is about 35 million pixels; far beyond that is a
# decompression bomb, not a photo.
MAX_PIXELS = 120_000_000


def check_image(path: Path) -> str | None:
    """None when `path` decodes as an image; else what is wrong with it (a predicate for a diagnostic)."""
    try:
        stat = path.stat()
    except OSError:
        return _checked(path, -1, -1, language())
    return _checked(path, stat.st_size, stat.st_mtime_ns, language())


@lru_cache(maxsize=512)
def _checked(path: Path, size: int, mtime_ns: int, lang: str) -> str | None:
    """Remembered by the file's size and time (and the language of the message), here and across
    runs (`store.remembered`): decoding a photo takes 15 ms, a cover photo more."""
    return remembered(f"decodes-{lang}", path, _decoded)


def _decoded(path: Path) -> str | None:
    # WeasyPrint lets Pillow load truncated files (ImageFile.LOAD_TRUNCATED_IMAGES) for the whole
    # process; here a truncated photo must be found.
    tolerant, ImageFile.LOAD_TRUNCATED_IMAGES = ImageFile.LOAD_TRUNCATED_IMAGES, False
    try:
        return _problem(path)
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = tolerant


def _problem(path: Path) -> str | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    return _("has {width}×{height} pixels, far more than print needs (a decompression bomb?)",
                             width=width, height=height)
                image.load()  # decodes every pixel: catches truncated files that verify() lets through
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        return _("is too large to decode safely ({reason})", reason=exc)
    except UnidentifiedImageError:
        return _("is not an image (not a JPEG, PNG, TIFF … that Pillow can read)")
    except (OSError, SyntaxError, ValueError) as exc:
        return _("cannot be decoded: {reason}", reason=exc)
    return None
