"""Stage 6–7: assemble the PDF (page labels, metadata), check the plan, write the report.

Everything is gathered in memory first; files are written to a temporary name in the
output folder and renamed, so a failed or killed build never leaves half a file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import time
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .diagnostics import Diagnostics
from .layout import ArticleFit, BodyLayout
from .manifest import Manifest


@dataclass
class BuildResult:
    out_dir: Path
    outputs: dict[str, str]  # kind -> path relative to out_dir
    report: dict
    plan_violated: bool
    files: dict[str, bytes] = field(default_factory=dict)  # relative path -> content, before writing
    stale: list[Path] = field(default_factory=list)  # cache entries to remove once the outputs are written


def fit_status(fit: ArticleFit) -> str:
    if fit.overset:
        return "overset"
    if fit.planned and fit.first_folio != fit.planned.first:
        return "moved"
    if fit.blank_folios or (fit.lines_per_page and fit.underfill_lines * 2 >= fit.lines_per_page):
        return "underfill"
    return "ok"


def make_report(manifest: Manifest, body: BodyLayout, outputs: dict[str, str], diagnostics: Diagnostics,
                labels: list[str]) -> dict:
    articles = []
    for fit in body.fits:
        entry = fit.article.entry
        articles.append({
            "file": entry.rel,
            "title": fit.article.title,
            "section": entry.section,
            "planned": fit.planned.as_list() if fit.planned else None,
            "actual": [fit.first_folio, fit.last_folio],
            "pages_needed": fit.pages_needed,
            "overset_lines": fit.overset_lines,
            "overset_chars": fit.overset_chars,
            "underfill_lines": fit.underfill_lines,
            "underfill_mm": fit.underfill_mm,
            "blank_pages": fit.blank_folios,
            "continued_on": entry.continued_on,
            "continuation": fit.continuation,
            "fit_settings": fit.article.fit.changes() if fit.article.fit else None,
            "fit": fit_status(fit),
        })
    return {
        "issue": {"magazine": manifest.magazine.name, "label": manifest.issue.label},
        "outputs": outputs,
        "pages": len(labels),
        "page_labels": labels,
        "folios": body.folios,
        "blank_pages": [{"folio": folio, "purpose": purpose} for folio, purpose in body.blank_pages],
        "articles": articles,
        # which articles this build had to lay out to plan the issue; the others came from the cache
        "laid_out": [fit.article.entry.rel for fit in body.fits if fit.article.slug in body.planned_anew],
        "warnings": [d.as_json() for d in diagnostics.warnings],
        "errors": [d.as_json() for d in diagnostics.errors],
    }


PACKAGE = "package.zip"


def input_digest(issue_dir: Path, out_dir: Path, kind: str, strict: bool) -> str:
    """A digest of everything a build reads: the issue folder, the house style and fonts it may
    use, typeset's own code, and the options; a build whose digest matches the last one's is up to date."""
    from . import __file__ as package_file
    from .house import find_house

    house = find_house(issue_dir, str(issue_dir))
    digest = hashlib.sha256(f"{kind}|{strict}|{os.environ.get('SOURCE_DATE_EPOCH', '')}".encode())
    out = out_dir.resolve()
    folders = [issue_dir.resolve(), *(root / k for root in house.roots for k in ("layout", "styles", "fonts")),
               Path(package_file).parent]
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_file() and out not in path.parents and "__pycache__" not in path.parts and \
                    not (path.is_relative_to(issue_dir.resolve()) and "build" in path.relative_to(issue_dir.resolve()).parts[:1]):
                digest.update(str(path.relative_to(folder)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def up_to_date(out_dir: Path, digest: str) -> dict | None:
    """The last report when the outputs in `out_dir` were built from exactly these inputs."""
    try:
        report = json.loads((out_dir / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if report.get("inputs") != digest or not all((out_dir / p).exists() for p in report.get("outputs", {}).values()):
        return None
    return report


def add_package(result: BuildResult) -> None:
    """A zip for the printer: the PDFs, the preflight reports and SHA-256 checksums of them all.

    Entries carry the SOURCE_DATE_EPOCH time (or 1980-01-01), so the same build zips the same."""
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "315532800"))
    stamp = time.gmtime(max(epoch, 315532800))[:6]
    members = {path: result.files[path] for kind, path in result.outputs.items()}
    members["preflight.json"] = (json.dumps(result.report.get("preflight", {}), ensure_ascii=False, indent=2)
                                 + "\n").encode()
    sums = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in members.items())
    members["SHA256SUMS"] = sums.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    result.files[PACKAGE] = buffer.getvalue()
    result.outputs["package"] = PACKAGE
    result.report["outputs"] = result.outputs


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def write_outputs(out_dir: Path, files: dict[str, bytes], report: dict, stale: list[Path] = ()) -> None:
    """Write every output, the report last, so a report always describes files that exist."""
    for rel, data in files.items():
        write_atomic(out_dir / rel, data)
    report_bytes = (json.dumps(report, ensure_ascii=False, indent=2) + "\n").encode()
    write_atomic(out_dir / "report.json", report_bytes)
    for path in stale:
        path.unlink(missing_ok=True)


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def _clip(text: str, width: int) -> str:
    if display_width(text) <= width:
        return text + " " * (width - display_width(text))
    out = ""
    for char in text:
        if display_width(out + char) > width - 1:
            break
        out += char
    return out + "…" + " " * (width - display_width(out) - 1)


def summary_table(report: dict) -> str:
    """The fit table printed after a build: section, title, planned and actual pages, fit."""
    header = ("section", "title", "planned", "actual", "settings", "fit")
    widths = (18, 34, 8, 8, 30, 0)
    rows = [header]
    for a in report["articles"]:
        planned = "-" if a["planned"] is None else _pages(a["planned"])
        detail = a["fit"]
        if a["continuation"]:
            detail += f" +{a['continuation']['lines']} lines on p.{a['continuation']['page']}"
        if a["overset_lines"]:
            detail += f" +{a['overset_lines']} lines ({a['overset_chars']} chars)"
        elif a["blank_pages"]:
            detail += f" {len(a['blank_pages'])} blank page(s), {a['underfill_lines']} lines free"
        elif a["underfill_lines"]:
            detail += f" ({a['underfill_lines']} lines free)"
        settings = ", ".join(f"{k} {v:+g}" if k != "photo_scale" else f"photo {v:g}"
                             for k, v in (a["fit_settings"] or {}).items()) or "-"
        rows.append((a["section"], a["title"], planned, _pages(a["actual"]), settings, detail))
    lines = ["  ".join(_clip(cell, w) if w else cell for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "-" * (sum(widths) + 2 * (len(widths) - 1) + 8))
    return "\n".join(lines)


def _pages(pair: list[int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}-{pair[1]}"
