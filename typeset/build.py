"""The build, stage by stage: manifest → articles → fonts → HTML + layout → PDF → check → write.

Nothing is written until every stage has succeeded; an input error leaves the output
folder as it was.
"""

from __future__ import annotations

from pathlib import Path

from .articles import read_articles
from .diagnostics import Diagnostics, InputError
from .fonts import FontSet, load_fonts
from .house import find_house
from .layout import lay_out
from .manifest import load_manifest
from .output import BuildResult, assemble_pdf, fit_status, make_report

ISSUE_PDF = "issue.pdf"


def build_issue(issue_dir: Path, out_dir: Path | None, diagnostics: Diagnostics, strict: bool = False,
                display_root: str | None = None) -> BuildResult:
    """Build the issue in memory; the caller writes `result.files` and the report."""
    display_root = display_root if display_root is not None else str(issue_dir)
    manifest = load_manifest(issue_dir, diagnostics, strict=strict, display_root=display_root)
    articles = read_articles(manifest, diagnostics, strict=strict)
    house = find_house(issue_dir, display_root)
    font_dirs = house.dirs("fonts")
    fonts = load_fonts(font_dirs, {d: house.shown(d) for d in font_dirs}, diagnostics)
    diagnostics.raise_if_errors()
    check_coverage(articles, fonts, diagnostics)
    diagnostics.raise_if_errors()

    body = lay_out(manifest, articles, house, fonts, diagnostics)
    for fit in body.fits:
        status = fit_status(fit)
        where = {"file": manifest.display(fit.article.entry.file)}
        if status == "overset":
            diagnostics.warning(
                f"overset: {fit.overset_lines} lines ({fit.overset_chars} characters) do not fit pages {fit.planned}",
                hint="cut the text, or give the article more pages in issue.yaml", **where)
        elif status == "moved":
            diagnostics.warning(f"starts on page {fit.first_folio}, planned for {fit.planned.first}",
                                hint="an article before it without planned pages ran long", **where)
        elif fit.blank_folios:
            pages = ", ".join(map(str, fit.blank_folios))
            diagnostics.warning(f"ends early: page(s) {pages} of its planned pages {fit.planned} stay blank",
                                hint="add text or a photo, or plan fewer pages", **where)
        if fit.article.entry.continued_on and fit.overset:
            diagnostics.warning(f"continued_on {fit.article.entry.continued_on}: continuations (转页) are not laid "
                                "out yet, the text that does not fit is reported as overset", **where)
    for folio, purpose in body.blank_pages:
        if purpose == "unplanned":
            diagnostics.warning(f"page {folio} is not planned for any article and stays blank",
                                file=manifest.display(manifest.root / "issue.yaml"),
                                hint="plan an article on it, or let the articles before it run on")

    pdf = assemble_pdf(manifest, body)
    out_dir = out_dir if out_dir is not None else issue_dir / "build"
    outputs = {"issue": ISSUE_PDF}
    report = make_report(manifest, body, outputs, diagnostics, pages=len(body.folios))
    violated = any(a["fit"] in ("overset", "moved") for a in report["articles"])
    return BuildResult(out_dir, outputs, report, violated, files={ISSUE_PDF: pdf})


def check_coverage(articles, fonts: FontSet, diagnostics: Diagnostics) -> None:
    """Every printed character must be in its role's font or a declared fallback."""
    for article in articles:
        for line, role, text in article.text_lines:
            if role not in fonts.roles:
                continue
            for char in fonts.uncovered(role, text):
                diagnostics.error(
                    f"character '{char}' (U+{ord(char):04X}) is in no font of role '{role}' "
                    f"({fonts.roles[role].family}) or its fallbacks", file=article.display, line=line,
                    hint="replace the character, or add a font that has it as a fallback in fonts/fonts.yaml")
