"""The build's result: each article's fit, the page plan's verdict, report.json and the fit table.

A fit status is one of `FIT_STATUSES`; `overset` and `moved` violate the page plan (exit 3).
The report is typed here and turned into report.json (English keys) only when it is written.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

from .diagnostics import Diagnostics
from .i18n import _
from .inputs.cjk import display_width
from .inputs.manifest import Manifest

if TYPE_CHECKING:  # the layout's types: reading a report (is the last build up to date?) needs no WeasyPrint
    from .body.planning import ArticleFit, BodyLayout

FIT_STATUSES = ("ok", "underfill", "overset", "moved")
PLAN_VIOLATIONS = ("overset", "moved")


def fit_status(fit: ArticleFit) -> str:
    from .body.filling import TOLERANCE

    if fit.overset:
        return "overset"
    if fit.planned and fit.first_folio != fit.planned.first:
        return "moved"
    if fit.blank_folios or fit.short_lines > TOLERANCE:
        return "underfill"
    return "ok"


def fit_word(status: str) -> str:
    """A fit status as a person reads it (the report keeps the English key)."""
    return {"ok": _("ok"), "underfill": _("underfill"), "overset": _("overset"), "moved": _("moved")}[status]


def knob_word(knob: str) -> str:
    return {"leading": _("leading"), "tracking": _("tracking"), "size": _("size"), "photo_scale": _("photo")}[knob]


def violates_plan(status: str) -> bool:
    """Overset text and an article moved off its planned first page break the page plan."""
    return status in PLAN_VIOLATIONS


@dataclass
class ArticleReport:
    """How one article fits its planned pages: an entry of report.json's `articles`."""

    file: str
    title: str
    section: str
    planned: list[int] | None
    actual: list[int]
    pages_needed: int
    overset_lines: int
    overset_chars: int
    underfill_lines: int
    underfill_mm: float
    blank_pages: list[int]
    continued_on: int | None
    continuation: dict | None
    fit_settings: dict | None
    fit: str
    fillers: list[dict] = field(default_factory=list)  # {file, page, lines} of the 补白 set under it

    @classmethod
    def of(cls, fit: ArticleFit) -> ArticleReport:
        entry = fit.article.entry
        return cls(file=entry.rel, title=fit.article.title, section=entry.section,
                   planned=fit.planned.as_list() if fit.planned else None,
                   actual=[fit.first_folio, fit.last_folio], pages_needed=fit.pages_needed,
                   overset_lines=fit.overset_lines, overset_chars=fit.overset_chars,
                   underfill_lines=fit.underfill_lines, underfill_mm=fit.underfill_mm,
                   blank_pages=fit.blank_folios, continued_on=entry.continued_on, continuation=fit.continuation,
                   fit_settings=fit.article.fit.changes() if fit.article.fit else None, fit=fit_status(fit),
                   fillers=fit.fillers)

    @property
    def stem(self) -> str:
        return Path(self.file).stem

    @property
    def violates_plan(self) -> bool:
        return violates_plan(self.fit)


@dataclass
class BuildReport:
    """report.json: what was built, from what, and how every article fits."""

    issue: dict  # magazine, label
    outputs: dict[str, str]  # kind -> path relative to the output folder
    page_labels: list[str]
    folios: list[int]
    blank_pages: list[dict]  # folio, purpose
    articles: list[ArticleReport]
    laid_out: list[str]  # the articles this build laid out to plan the issue; the others came from the cache
    warnings: list[dict]
    errors: list[dict]
    preflight: dict | None = None  # kind -> the preflight of that print file
    proof: dict | None = None  # stamp, articles, spreads: what a proof shows
    inputs: str | None = None  # the digest of everything the build read (the up-to-date check)
    timings: dict | None = None  # stage -> seconds it took, to explain a slow build

    @classmethod
    def of(cls, manifest: Manifest, body: BodyLayout, outputs: dict[str, str], diagnostics: Diagnostics,
           labels: list[str]) -> BuildReport:
        return cls(
            issue={"magazine": manifest.magazine.name, "label": manifest.issue.label},
            outputs=outputs,
            page_labels=labels,
            folios=body.folios,
            blank_pages=[{"folio": folio, "purpose": purpose} for folio, purpose in body.blank_pages],
            articles=[ArticleReport.of(fit) for fit in body.fits],
            laid_out=[fit.article.entry.rel for fit in body.fits if fit.article.slug in body.planned_anew],
            warnings=[d.as_json() for d in diagnostics.warnings],
            errors=[d.as_json() for d in diagnostics.errors],
        )

    @property
    def plan_violated(self) -> bool:
        return any(article.violates_plan for article in self.articles)

    def as_json(self) -> dict:
        data = {"issue": self.issue, "outputs": self.outputs, "pages": len(self.page_labels),
                "page_labels": self.page_labels, "folios": self.folios, "blank_pages": self.blank_pages,
                "articles": [asdict(article) for article in self.articles], "laid_out": self.laid_out,
                "warnings": self.warnings, "errors": self.errors}
        for optional in ("preflight", "proof", "inputs", "timings"):
            if getattr(self, optional) is not None:
                data[optional] = getattr(self, optional)
        return data

    def encode(self) -> bytes:
        return (json.dumps(self.as_json(), ensure_ascii=False, indent=2) + "\n").encode()

    @classmethod
    def from_json(cls, data: dict) -> BuildReport:
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["articles"] = [ArticleReport(**article) for article in data["articles"]]
        return cls(**values)


@dataclass
class BuildResult:
    """Everything a build made, in memory until `write_outputs`."""

    out_dir: Path
    report: BuildReport
    files: dict[str, bytes] = field(default_factory=dict)  # relative path -> content, before writing
    stale: list[Path] = field(default_factory=list)  # cache entries to remove once the outputs are written

    @property
    def outputs(self) -> dict[str, str]:
        return self.report.outputs

    @property
    def plan_violated(self) -> bool:
        return self.report.plan_violated


def fit_table(report: BuildReport) -> str:
    """The fit table printed after a build: section, title, planned and actual pages, settings, fit."""
    header = (_("section"), _("title"), _("planned"), _("actual"), _("settings"), _("fit"))
    widths = (18, 34, 8, 8, 30, 0)
    rows = [header] + [_row(article) for article in report.articles]
    lines = ["  ".join(_clip(cell, w) if w else cell for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "-" * (sum(widths) + 2 * (len(widths) - 1) + 8))
    return "\n".join(lines)


def _row(a: ArticleReport) -> tuple[str, ...]:
    planned = "-" if a.planned is None else _pages(a.planned)
    detail = fit_word(a.fit)
    if a.continuation:
        detail += _(" +{lines} lines on p.{page}", lines=a.continuation["lines"], page=a.continuation["page"])
    if a.overset_lines:
        detail += _(" +{lines} lines ({chars} chars)", lines=a.overset_lines, chars=a.overset_chars)
    elif a.blank_pages:
        detail += _(" {pages} blank page(s), {lines} lines free", pages=len(a.blank_pages), lines=a.underfill_lines)
    elif a.underfill_lines:
        detail += _(" ({lines} lines free)", lines=a.underfill_lines)
    if a.fillers:
        detail += _(" + fillers {files}", files=", ".join(Path(f["file"]).stem for f in a.fillers))
    settings = ", ".join(_("{knob} {value:+g}", knob=knob_word(k), value=v) if k != "photo_scale" else
                         _("photo {value:g}", value=v) for k, v in (a.fit_settings or {}).items()) or "-"
    return (a.section, a.title, planned, _pages(a.actual), settings, detail)


def _clip(text: str, width: int) -> str:
    if display_width(text) <= width:
        return text + " " * (width - display_width(text))
    out = ""
    for char in text:
        if display_width(out + char) > width - 1:
            break
        out += char
    return out + "…" + " " * (width - display_width(out) - 1)


def _pages(pair: list[int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}-{pair[1]}"
