"""Pages as images: pdftoppm draws PDF pages as PNG for proofs, diffs and the serve board."""

from __future__ import annotations

import io
import os
import subprocess
import tempfile
from pathlib import Path

import pikepdf

Trim = tuple[float, float, float, float]  # left, top, width, height of the trimmed page, in CSS px


def page_images(pdf: bytes, dpi: int, pages: list[int] | None = None, trim: Trim | None = None) -> list[bytes]:
    """PNG images of pages (consecutive 1-based numbers; all when None) by pdftoppm, a run per core
    on a share of the pages; `trim` cuts pages with bleed to their trim size."""
    if pages is None:
        with pikepdf.open(io.BytesIO(pdf)) as document:
            pages = list(range(1, len(document.pages) + 1))
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "in.pdf"
        source.write_bytes(pdf)
        crop = []
        if trim is not None:
            left, top, width, height = (round(v * dpi / 96) for v in trim)
            crop = ["-x", str(left), "-y", str(top), "-W", str(width), "-H", str(height)]
        share = -(-len(pages) // (os.cpu_count() or 1))
        runs = [subprocess.Popen(["pdftoppm", "-r", str(dpi), "-png", *crop, "-f", str(chunk[0]), "-l", str(chunk[-1]),
                                  str(source), f"{folder}/run{i}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                for i, chunk in enumerate(pages[j:j + share] for j in range(0, len(pages), share))]
        for run in runs:
            _, error = run.communicate()
            if run.returncode:
                raise subprocess.CalledProcessError(run.returncode, run.args, stderr=error)
        by_number = {int(path.stem.rsplit("-", 1)[1]): path for path in Path(folder).glob("run*-*.png")}
        return [by_number[number].read_bytes() for number in pages]
