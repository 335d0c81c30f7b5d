"""The build, stage by stage: manifest → articles → fonts → HTML + layout → PDF → check → write.

Nothing is written until every stage has succeeded; an input error leaves the output
folder as it was.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from .articles import read_articles
from .assemble import assemble_issue
from .color import cmyk_image, find_profile
from .contents import build_contents, contents_text
from .copyfit import Setting
from .covers import CoverFonts, build_covers, cover_text
from .diagnostics import Diagnostics
from .fonts import FontSet, load_fonts
from .house import House, check_stylesheet_urls, find_house
from .layout import lay_out
from .layoutcache import LayoutCache
from .manifest import Manifest, load_manifest
from .output import BuildResult, fit_status, make_report
from .preflight import preflight
from .printfiles import cover_spreads, print_file
from .proof import build_time, input_hash, page_images, proof_pdf
from .rlfonts import register

ISSUE_PDF = "issue.pdf"  # reading order, trimmed pages
INTERIOR_PDF = "interior.pdf"  # body pages for the printer, with marks
COVER_PDF = "cover.pdf"  # 封一–封四 for the printer, with marks


def lay_out_issue(issue_dir: Path, diagnostics: Diagnostics, strict: bool = False,
                  display_root: str | None = None, cache: LayoutCache | None = None):
    """Stages 1–4: manifest, articles, fonts, the body laid out on the plan and its fit checked."""
    display_root = display_root if display_root is not None else str(issue_dir)
    manifest = load_manifest(issue_dir, diagnostics, strict=strict, display_root=display_root)
    house = find_house(issue_dir, display_root)
    manifest, articles, fonts, profile = _read_for_layout(manifest, house, diagnostics, strict)

    body = lay_out(manifest, articles, house, fonts, diagnostics, cache)
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
    for folio, purpose in body.blank_pages:
        if purpose == "unplanned":
            diagnostics.warning(f"page {folio} is not planned for any article and stays blank",
                                file=manifest.display(manifest.root / "issue.yaml"),
                                hint="plan an article on it, or let the articles before it run on")
    return manifest, fonts, body, profile


def _read_for_layout(manifest: Manifest, house: House, diagnostics: Diagnostics, strict: bool = False):
    """Stages 2–3 for the articles of `manifest`: read, the house style's stylesheets checked, fonts
    loaded and covering every character, photos in print colour: (manifest, articles, fonts, profile)."""
    articles = read_articles(manifest, diagnostics, strict=strict)
    check_stylesheet_urls(house, diagnostics)
    font_dirs = house.dirs("fonts")
    fonts = load_fonts(font_dirs, {d: house.shown(d) for d in font_dirs}, diagnostics)
    diagnostics.raise_if_errors()
    check_coverage(articles, fonts, diagnostics)
    profile = find_profile(manifest.page.output_profile, manifest.root, house, diagnostics)
    diagnostics.raise_if_errors()
    articles, manifest = _print_colour(articles, manifest, profile)
    return manifest, articles, fonts, profile


def _print_colour(articles, manifest, profile):
    """Photos converted to CMYK for the output profile (cached); the articles and manifest use them."""
    converted = []
    for article in articles:
        html = article.body_html
        for figure in article.figures:
            html = html.replace(figure.path.as_uri(), cmyk_image(figure.path, profile).as_uri())
        converted.append(replace(article, body_html=html))
    changes = {}
    if manifest.cover and manifest.cover.image:
        changes["cover"] = replace(manifest.cover, image=cmyk_image(manifest.cover.image, profile))
    if manifest.inside_front_cover and manifest.inside_front_cover.image:
        changes["inside_front_cover"] = replace(manifest.inside_front_cover,
                                                image=cmyk_image(manifest.inside_front_cover.image, profile))
    for key in ("inside_back_cover", "back_cover"):
        if getattr(manifest, key):
            changes[key] = cmyk_image(getattr(manifest, key), profile)
    return converted, replace(manifest, **changes)


def fit_issue(issue_dir: Path, diagnostics: Diagnostics, strict: bool = False,
              display_root: str | None = None) -> tuple[dict, bool]:
    """The fit report of the issue without building the PDF: (report, page plan violated).

    It reads the layout cache of the default output folder and writes nothing."""
    cache = LayoutCache(issue_dir / "build")
    manifest, _, body, _ = lay_out_issue(issue_dir, diagnostics, strict, display_root, cache)
    report = make_report(manifest, body, {}, diagnostics, [str(f) for f in body.folios])
    return report, any(a["fit"] in ("overset", "moved") for a in report["articles"])


def build_issue(issue_dir: Path, out_dir: Path | None, diagnostics: Diagnostics, strict: bool = False,
                display_root: str | None = None) -> BuildResult:
    """Build the issue in memory; the caller writes `result.files` and the report."""
    out_dir = out_dir if out_dir is not None else issue_dir / "build"
    cache = LayoutCache(out_dir)
    manifest, fonts, body, profile = lay_out_issue(issue_dir, diagnostics, strict, display_root, cache)
    fonts_rl = _reportlab_fonts(fonts, cover_text(manifest) + contents_text(manifest, body.fits))
    covers_pdf = build_covers(manifest, fonts_rl, diagnostics)
    contents_pdf = build_contents(manifest, body.fits, fonts_rl, diagnostics) if manifest.contents_pages else None
    assembled = assemble_issue(manifest, body, body.document.write_pdf(), covers_pdf, contents_pdf)
    pdf = assembled.pdf
    if manifest.page.binding == "saddle" and len(assembled.labels) % 4:
        diagnostics.warning(f"{len(assembled.labels)} pages: a saddle-stitched issue needs a multiple of 4",
                            file=manifest.display(manifest.root / "issue.yaml"), key="sections",
                            hint="plan pages so that covers + body come to a multiple of 4, "
                                 "or set page.binding: perfect")
    title = f"{manifest.magazine.name} {manifest.issue.label}"
    labels = assembled.labels
    files = {
        ISSUE_PDF: pdf,
        INTERIOR_PDF: print_file(pdf, [i for i, label in enumerate(labels) if label.isdigit()], f"{title} 内文",
                                 profile),
    }
    cover_pages = [i for i, label in enumerate(labels) if not label.isdigit()]
    if manifest.page.binding == "perfect":
        spine = math.ceil(len(body.folios) / 2) * manifest.page.caliper_mm
        files[COVER_PDF] = cover_spreads(pdf, cover_pages, spine, manifest.page.bleed_mm, f"{title} 封面", profile)
    else:
        files[COVER_PDF] = print_file(pdf, cover_pages, f"{title} 封面", profile)
    outputs = {"issue": ISSUE_PDF, "interior": INTERIOR_PDF, "cover": COVER_PDF}
    checks = {}
    for kind in ("interior", "cover"):
        checked = preflight(outputs[kind], data=files[outputs[kind]])
        checks[kind] = checked.as_json()
        for finding in checked.findings:
            where = f" page {finding.page}" if finding.page else ""
            diagnostics.warning(f"preflight {outputs[kind]}{where} ({finding.check}, {finding.severity}): "
                                f"{finding.message}", hint="run `typeset preflight` on the file for the full table")
    report = make_report(manifest, body, outputs, diagnostics, labels)
    report["preflight"] = checks
    violated = any(a["fit"] in ("overset", "moved") for a in report["articles"])
    return BuildResult(out_dir, outputs, report, violated, files={**files, **cache.files()}, stale=cache.stale())


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


def _reportlab_fonts(fonts: FontSet, text: str) -> CoverFonts:
    """The house roles registered with ReportLab, subset to every character the pages print."""
    return CoverFonts(
        title=register(fonts, "title", 900, text),
        hei_bold=register(fonts, "hei", 700, text),
        hei=register(fonts, "hei", 400, text),
        song=register(fonts, "song", 400, text),
        kai=register(fonts, "kai", 400, text),
    )


PROOF_PDF = "proof.pdf"
PROOF_PNG_DPI = 80
PREVIOUS_PROOF_PDF = "proof-previous.pdf"  # the proof a new one replaced: `typeset diff ISSUE_DIR` compares them


def lay_out_articles(issue_dir: Path, article_ids: tuple[str, ...], diagnostics: Diagnostics, display_root: str,
                     cache: LayoutCache | None = None, settings: dict[str, Setting] | None = None,
                     manifest: Manifest | None = None):
    """Some articles laid out alone, each from its planned folio: (manifest of just them, fonts, body).

    With `settings` (file stem → copyfitting of the last build) each article is set exactly so
    and nothing is fitted anew: the quick preview of an edit, the whole build to follow.
    `manifest` is the issue's, when the caller has it loaded already."""
    house = find_house(issue_dir, display_root)
    if manifest is None:
        manifest = load_manifest(issue_dir, diagnostics, display_root=display_root)
    known = [a.file.stem for a in manifest.articles]
    for wanted in article_ids:
        if wanted not in known:
            diagnostics.error(f"no article '{wanted}' in this issue", file=manifest.display(issue_dir / "issue.yaml"),
                              hint=f"articles are named by their file's stem, e.g. {known[0] if known else '01-name'}")
    diagnostics.raise_if_errors()
    sections = [replace(s, articles=[a for a in s.articles if a.file.stem in article_ids]) for s in manifest.sections]
    chosen = replace(manifest, sections=[s for s in sections if s.articles], contents_pages=None)
    chosen, articles, fonts, _ = _read_for_layout(chosen, house, diagnostics)
    if settings is not None:
        articles = [replace(a, fit=settings.get(a.entry.file.stem)) for a in articles]
    body = lay_out(chosen, articles, house, fonts, diagnostics, cache, fitting=settings is None)
    return chosen, fonts, body


def proof_issue(issue_dir: Path, out_dir: Path | None, diagnostics: Diagnostics, article_ids: tuple[str, ...] = (),
                spreads: bool = False, png: bool = False, display_root: str | None = None) -> BuildResult:
    """A proof (校样) of the whole issue, or of some articles each on its planned folios."""
    display_root = display_root if display_root is not None else str(issue_dir)
    out_dir = out_dir if out_dir is not None else issue_dir / "build"
    house = find_house(issue_dir, display_root)
    if not article_ids:
        result = build_issue(issue_dir, out_dir, diagnostics, display_root=display_root)
        pdf = result.files[ISSUE_PDF]
        owner = {str(folio): a["file"].split("/")[-1][:-3] for a in result.report["articles"]
                 for folio in range(a["actual"][0], a["actual"][1] + 1)}
        notes = [owner.get(label, label) for label in result.report["page_labels"]]
        manifest = load_manifest(issue_dir, Diagnostics(), display_root=display_root)
        fonts = load_fonts(house.dirs("fonts"), {}, Diagnostics())
        report = result.report
        cached = {path: data for path, data in result.files.items() if path not in result.outputs.values()}
        stale = result.stale
    else:
        cache = LayoutCache(out_dir)
        manifest, fonts, body = lay_out_articles(issue_dir, article_ids, diagnostics, display_root, cache)
        cached, stale = cache.files(), []  # the other articles' entries stay for the next build
        pdf = body.document.write_pdf()
        notes = [fit.article.slug for fit in body.fits for _ in range(fit.pages_kept)]
        report = make_report(manifest, body, {}, diagnostics, [str(s.folio) for s in body.slots if s.kind == "article"])
    stamp = f"{build_time()} · {input_hash(manifest, house)}"
    proof = proof_pdf(pdf, notes, fonts, stamp, spreads)
    files = {PROOF_PDF: proof, **cached}
    outputs = {"proof": PROOF_PDF}
    try:
        files[PREVIOUS_PROOF_PDF] = (out_dir / PROOF_PDF).read_bytes()
        outputs["proof_previous"] = PREVIOUS_PROOF_PDF
    except OSError:
        pass  # the first proof into this folder
    if png:
        images = page_images(proof, PROOF_PNG_DPI)
        width = len(str(len(images)))  # numbered as pdftoppm numbers them: proof-01.png … proof-10.png
        files.update({f"proof-png/proof-{number:0{width}d}.png": data for number, data in enumerate(images, start=1)})
        outputs["proof_images"] = "proof-png/"
    report = {**report, "outputs": outputs, "proof": {"stamp": stamp, "articles": list(article_ids) or "all",
                                                     "spreads": spreads}}
    violated = any(a["fit"] in ("overset", "moved") for a in report["articles"])
    return BuildResult(out_dir, outputs, report, violated, files=files, stale=stale)
