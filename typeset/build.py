"""The build, stage by stage: manifest → articles → fonts → HTML + layout → covers and
contents → assemble → print files → check → write.

Nothing is written until every stage has succeeded; an input error leaves the output folder
as it was. The command line (cli.py) only turns options into a `Request`, asks whether the last
build still stands (request.py, before this module is imported) and prints the outcome.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from .body.engine import Engine, know_faces, write_part
from .body.layoutcache import LayoutCache
from .body.planning import BodyLayout, lay_out
from .diagnostics import Diagnostics, OutputError
from .frontpages.stage import COVER_PDF, FrontPagesInputs, front_pages_beside
from .i18n import _
from .inputs.copyfit import Setting
from .inputs.fonts import FontSet, load_fonts
from .inputs.house import House, find_house
from .inputs.housestyle import load_house_style
from .inputs.issue import read_for_layout, read_issue
from .inputs.manifest import MANIFEST_NAME, Manifest, load_manifest
from .pdf.assemble import assemble_issue
from .pdf.link import face_files
from .pdf.package import PACKAGE, package_zip
from .pdf.pages import page_images
from .pdf.preflight import PreflightReport, preflight, preflight_warning
from .pdf.printfiles import PrintCondition, print_file
from .pdf.proof import build_time, proof_pdf
from .processes import few_collections
from .progress import current, session
from .report import BuildReport, BuildResult, fit_status
from .request import REPORT_JSON, Outcome, ProofOptions, Request
from .store import PREFLIGHT_CACHE, Inputs, digest, take_notices, write_atomic

ISSUE_PDF = "issue.pdf"  # reading order, trimmed pages
INTERIOR_PDF = "interior.pdf"  # body pages for the printer, with marks
PROOF_PDF = "proof.pdf"
PROOF_PNG_DPI = 80
WRITERS = 4  # threads writing the outputs: the writes and syncs let go of the interpreter
PREVIOUS_PROOF_PDF = "proof-previous.pdf"  # the proof a new one replaced: `typeset diff ISSUE_DIR` compares them


def run(request: Request, diagnostics: Diagnostics, inputs: str | None) -> Outcome:
    """Build (package, or proof) and write the outputs, the last build's not standing
    (`request.last_build`, which gives `inputs`, their digest); raises InputError, or OutputError."""
    with session(), few_collections():
        return _run(request, diagnostics, inputs)


def _run(request: Request, diagnostics: Diagnostics, inputs: str | None) -> Outcome:
    if request.proof is not None:
        result = proof_issue(request.issue_dir, request.out_dir, diagnostics, request.proof, request.display_root)
    else:
        result = build_issue(request.issue_dir, request.out_dir, diagnostics, request.strict, request.display_root)
    if request.package:
        result.files[PACKAGE] = package_zip(result)
        result.report.outputs["package"] = PACKAGE
    result.report.inputs = inputs
    if "SOURCE_DATE_EPOCH" not in os.environ:  # a reproducible build's report is the same every time
        result.report.timings = dict(current().timings)
    with current().step("write"):
        write_outputs(result, diagnostics)
    return Outcome(result.report, result.out_dir)


def write_outputs(result: BuildResult, diagnostics: Diagnostics) -> None:
    """Every output, the report last, so a report always describes files that exist; then the
    cache entries this build no longer uses are removed."""
    try:
        # a few at a time: each is written and synced to disk (a cold build writes some 120 files)
        with ThreadPoolExecutor(WRITERS) as pool:
            list(pool.map(lambda item: write_atomic(result.out_dir / item[0], item[1]), result.files.items()))
        write_atomic(result.out_dir / REPORT_JSON, result.report.encode())
    except OSError as exc:
        diagnostics.error(_("cannot write to {folder}: {reason}", folder=result.out_dir, reason=exc.strerror or exc),
                          hint=_("choose another output folder with -o"))
        raise OutputError(diagnostics) from None
    for path in result.stale:
        path.unlink(missing_ok=True)


# -- the stages ----------------------------------------------------------------------------------


@dataclass
class LaidOut:
    """Stages 1–4: the issue read and its body laid out on the page plan."""

    house: House
    manifest: Manifest
    fonts: FontSet
    body: BodyLayout
    profile: Path


def lay_out_issue(issue_dir: Path, diagnostics: Diagnostics, strict: bool = False,
                  display_root: str | None = None, cache: LayoutCache | None = None,
                  out_dir: Path | None = None) -> LaidOut:
    """Stages 1–4: manifest, articles, fonts, the body laid out on the plan and its fit checked
    (with what the last build into `out_dir` printed, for the layouts made ahead after an edit)."""
    with current().step("read"):
        read = read_issue(issue_dir, diagnostics, strict, display_root)
    body = lay_out(read.manifest, read.articles, read.house, read.fonts, diagnostics, cache, fillers=read.fillers,
                   parts=True, printed_before=_printed_before(out_dir))
    _report_fit(read.manifest, body, diagnostics)
    return LaidOut(read.house, read.manifest, read.fonts, body, read.profile)


def _printed_before(out_dir: Path | None) -> dict[str, Setting | None]:
    """The setting the last build into `out_dir` printed each article at, by file: those printed
    without fillers (a guess planning may lay out ahead; a report it cannot read gives none)."""
    if out_dir is None:
        return {}
    try:
        report = BuildReport.from_json(json.loads((out_dir / REPORT_JSON).read_text(encoding="utf-8")))
        return {a.file: Setting(**a.fit_settings) if a.fit_settings else None for a in report.articles if not a.fillers}
    except (OSError, ValueError, KeyError, TypeError):  # as `request.last_build` reads it
        return {}


def _report_fit(manifest: Manifest, body: BodyLayout, diagnostics: Diagnostics) -> None:
    """A warning for each article off its plan, and for each page no article is planned on."""
    for fit in body.fits:
        status = fit_status(fit)
        where = {"file": manifest.display(fit.article.entry.file)}
        if status == "overset":
            diagnostics.warning(
                _("overset: {lines} lines ({chars} characters) do not fit pages {pages}", lines=fit.overset_lines,
                  chars=fit.overset_chars, pages=fit.planned),
                hint=_("cut the text, or give the article more pages in issue.yaml"), **where)
        elif status == "moved":
            diagnostics.warning(_("starts on page {page}, planned for {planned}", page=fit.first_folio,
                                  planned=fit.planned.first),
                                hint=_("an article before it without planned pages ran long"), **where)
        elif fit.blank_folios:
            pages = ", ".join(map(str, fit.blank_folios))
            diagnostics.warning(_("ends early: page(s) {blank} of its planned pages {pages} stay blank", blank=pages,
                                  pages=fit.planned),
                                hint=_("add text or a photo, or plan fewer pages"), **where)
    for folio, purpose in body.blank_pages:
        if purpose == "unplanned":
            diagnostics.warning(_("page {page} is not planned for any article and stays blank", page=folio),
                                file=manifest.display(manifest.root / MANIFEST_NAME),
                                hint=_("plan an article on it, or let the articles before it run on"))


def warm_up(issue_dir: Path) -> None:
    """Read `issue_dir` and lay out its shortest article, as a resident process does before it
    forks commands (`typeset.resident`): their layouts find the fonts loaded and the house
    stylesheet parsed (half a second in each process that would do it), the articles refined
    and proofread (`cjk.refine`), the font files' digests known (`link.face_files`, `know_faces`), and the
    part writer's first use done (its faces' placeholders made: 0.05–0.1 s of the part an edit
    waits for)."""
    diagnostics = Diagnostics()
    read = read_issue(issue_dir, diagnostics)
    know_faces(face_files(list(read.fonts.files())))
    if read.articles:
        shortest = min(read.articles, key=lambda a: len(a.body_html))
        engine = Engine(read.manifest, read.articles, read.house, read.fonts, diagnostics)
        document = engine.render([shortest], {shortest.slug: None})
        write_part(document, engine.pages_of(document, shortest))


def fit_issue(issue_dir: Path, diagnostics: Diagnostics, strict: bool = False,
              display_root: str | None = None) -> BuildReport:
    """The fit report of the issue without building the PDF. It reads the layout cache of the
    default output folder and writes nothing."""
    laid_out = lay_out_issue(issue_dir, diagnostics, strict, display_root, LayoutCache(issue_dir / "build"))
    _cache_warnings(diagnostics)
    return BuildReport.of(laid_out.manifest, laid_out.body, {}, diagnostics, [str(f) for f in laid_out.body.folios])


def build_issue(issue_dir: Path, out_dir: Path | None, diagnostics: Diagnostics, strict: bool = False,
                display_root: str | None = None) -> BuildResult:
    """Build the issue in memory; `write_outputs` writes it."""
    out_dir = out_dir if out_dir is not None else issue_dir / "build"
    cache = LayoutCache(out_dir)
    laid_out = lay_out_issue(issue_dir, diagnostics, strict, display_root, cache, out_dir)
    manifest, body = laid_out.manifest, laid_out.body
    condition = PrintCondition(laid_out.profile, manifest.page.pdfx)
    known = _pages_checked(out_dir)
    outputs = {"issue": ISSUE_PDF, "interior": INTERIOR_PDF, "cover": COVER_PDF}
    progress = current()
    with ThreadPoolExecutor(1) as beside, progress.step("assemble"):
        front_pages = front_pages_beside(FrontPagesInputs(manifest, laid_out.house.style, laid_out.fonts, body.fits,
                                                          len(body.folios), condition, known.ink, known.clean),
                                         cache, beside)
        body_pdf = body.write_pdf()
        front = front_pages(diagnostics)
        assembled = assemble_issue(manifest, body, body_pdf, front.covers, front.contents)
    if manifest.page.binding == "saddle" and len(assembled.labels) % 4:
        diagnostics.warning(_("{pages} pages: a saddle-stitched issue needs a multiple of 4",
                              pages=len(assembled.labels)),
                            file=manifest.display(manifest.root / MANIFEST_NAME), key="sections",
                            hint=_("plan pages so that covers + body come to a multiple of 4, "
                                   "or set page.binding: perfect"))
    with progress.step("printfiles"):
        interior = print_file(assembled.pdf, [i for i, label in enumerate(assembled.labels) if label.isdigit()],
                              f"{manifest.title} 内文", condition)
    with progress.step("preflight"):
        checked = {"interior": preflight(INTERIOR_PDF, data=interior, known_ink=known.ink, known_clean=known.clean),
                   "cover": front.cover_check}
    checks, pages_checked = _preflight_findings(checked, outputs, diagnostics)
    _cache_warnings(diagnostics)
    report = BuildReport.of(manifest, body, outputs, diagnostics, assembled.labels)
    report.preflight = checks
    files = {ISSUE_PDF: assembled.pdf, INTERIOR_PDF: interior, COVER_PDF: front.cover_file,
             str(PREFLIGHT_CACHE): pages_checked.as_json()}
    return BuildResult(out_dir, report, files={**files, **cache.files()}, stale=cache.stale())


def _cache_warnings(diagnostics: Diagnostics) -> None:
    """What the caches had to say (a damaged entry rebuilt, a folder that could not be used)."""
    for notice in take_notices():
        diagnostics.warning(notice, hint=_("the build is right all the same; nothing to do unless it repeats"))


@dataclass
class _PagesChecked:
    """What the preflight found of pages by digest: their peak ink (`ink_digest`), and the pages
    whose content had nothing to report (`content_digest`)."""

    ink: dict[str, int] = field(default_factory=dict)
    clean: set[str] = field(default_factory=set)

    def as_json(self) -> bytes:
        return json.dumps({"ink": self.ink, "clean": sorted(self.clean)}, sort_keys=True).encode()


def _preflight_findings(checked: dict[str, PreflightReport], outputs: dict[str, str],
                        diagnostics: Diagnostics) -> tuple[dict, _PagesChecked]:
    """The print files' preflight reports (by kind: interior, cover) as the build's report has
    them, every finding a warning of the build; and what they found of their pages by digest, for
    the next build (pages it finds unchanged are not checked again)."""
    checks, pages = {}, _PagesChecked()
    for kind, report in checked.items():
        pages.ink.update(report.ink)
        pages.clean |= report.clean
        checks[kind] = report.as_json()
        for finding in report.findings:
            diagnostics.warning(preflight_warning(outputs[kind], finding),
                                hint=_("run `typeset preflight` on the file for the full table"))
    return checks, pages


def _pages_checked(out_dir: Path) -> _PagesChecked:
    """What the last build into `out_dir` found of its pages (nothing if it cannot be read)."""
    try:
        known = json.loads((out_dir / PREFLIGHT_CACHE).read_text(encoding="utf-8"))
        return _PagesChecked({str(page): int(peak) for page, peak in known["ink"].items()},
                             {str(page) for page in known["clean"]})
    except (OSError, ValueError, AttributeError, TypeError, KeyError):
        return _PagesChecked()


# -- proofs ----------------------------------------------------------------------------------------


def lay_out_articles(issue_dir: Path, article_ids: tuple[str, ...], diagnostics: Diagnostics, display_root: str,
                     cache: LayoutCache | None = None, settings: dict[str, Setting] | None = None,
                     manifest: Manifest | None = None, fillers: dict[str, list[str]] | None = None,
                     parts: bool = False) -> LaidOut:
    """Some articles laid out alone, each from its planned folio, with a manifest of just them.

    With `settings` (file stem → copyfitting of the last build; `fillers`: file stem → the
    filler files it set) each article is set exactly so and nothing is fitted or filled anew:
    the quick preview of an edit, the whole build to follow. `manifest` is the issue's, when
    the caller has it loaded already. `parts`: as `planning.lay_out` takes it."""
    house = find_house(issue_dir, display_root)
    if manifest is None:
        manifest = load_manifest(issue_dir, diagnostics, display_root=display_root)
    known = [a.file.stem for a in manifest.articles]
    for wanted in article_ids:
        if wanted not in known:
            diagnostics.error(_("no article '{name}' in this issue", name=wanted),
                              file=manifest.display(issue_dir / MANIFEST_NAME),
                              hint=_("articles are named by their file's stem, e.g. {example}",
                                     example=known[0] if known else "01-name"))
    diagnostics.raise_if_errors()
    sections = [replace(s, articles=[a for a in s.articles if a.file.stem in article_ids]) for s in manifest.sections]
    chosen = replace(manifest, sections=[s for s in sections if s.articles], contents=None)
    read = read_for_layout(chosen, house, diagnostics)
    articles = read.articles
    if settings is not None:
        by_file = {f.rel: f for f in read.fillers.all}
        articles = [replace(a, fit=settings.get(a.entry.file.stem),
                            fillers=[by_file[rel] for rel in (fillers or {}).get(a.entry.file.stem, []) if rel in by_file])
                    for a in articles]
    body = lay_out(read.manifest, articles, read.house, read.fonts, diagnostics, cache, fitting=settings is None,
                   fillers=read.fillers, parts=parts)
    return LaidOut(read.house, read.manifest, read.fonts, body, read.profile)


@dataclass
class _Proofed:
    """What a proof is made of: the pages, the note in each page's margin, and the build behind it."""

    pdf: bytes
    notes: list[str]
    manifest: Manifest
    fonts: FontSet
    report: BuildReport
    files: dict[str, bytes] = field(default_factory=dict)  # cache entries to write with the proof
    stale: list[Path] = field(default_factory=list)


def proof_issue(issue_dir: Path, out_dir: Path | None, diagnostics: Diagnostics, options: ProofOptions,
                display_root: str | None = None) -> BuildResult:
    """A proof (校样) of the whole issue, or of some articles each on its planned folios."""
    display_root = display_root if display_root is not None else str(issue_dir)
    out_dir = out_dir if out_dir is not None else issue_dir / "build"
    if options.article_ids:
        proofed = _proof_articles(issue_dir, out_dir, diagnostics, options.article_ids, display_root)
    else:
        proofed = _proof_whole_issue(issue_dir, out_dir, diagnostics, display_root)
    house = find_house(issue_dir, display_root)
    stamp = f"{build_time()} · {proof_inputs_digest(proofed.manifest, house)}"
    colours = load_house_style(house, diagnostics).colours
    with current().step("proof"):
        proof = proof_pdf(proofed.pdf, proofed.notes, proofed.fonts, colours, stamp, options.spreads)
    files = {PROOF_PDF: proof, **proofed.files}
    outputs = {"proof": PROOF_PDF}
    try:
        files[PREVIOUS_PROOF_PDF] = (out_dir / PROOF_PDF).read_bytes()
        outputs["proof_previous"] = PREVIOUS_PROOF_PDF
    except OSError:
        pass  # the first proof into this folder
    if options.png:
        images = page_images(proof, PROOF_PNG_DPI)
        width = len(str(len(images)))  # numbered as pdftoppm numbers them: proof-01.png … proof-10.png
        files.update({f"proof-png/proof-{number:0{width}d}.png": data for number, data in enumerate(images, start=1)})
        outputs["proof_images"] = "proof-png/"
    report = replace(proofed.report, outputs=outputs,
                     proof={"stamp": stamp, "articles": list(options.article_ids) or "all", "spreads": options.spreads})
    return BuildResult(out_dir, report, files=files, stale=proofed.stale)


def _proof_whole_issue(issue_dir: Path, out_dir: Path, diagnostics: Diagnostics, display_root: str) -> _Proofed:
    result = build_issue(issue_dir, out_dir, diagnostics, display_root=display_root)
    owner = {str(folio): article.stem for article in result.report.articles
             for folio in range(article.actual[0], article.actual[1] + 1)}
    notes = [owner.get(label, label) for label in result.report.page_labels]
    manifest = load_manifest(issue_dir, Diagnostics(), display_root=display_root)
    fonts = load_fonts(find_house(issue_dir, display_root).dirs("fonts"), {}, Diagnostics())
    cached = {path: data for path, data in result.files.items() if path not in result.outputs.values()}
    return _Proofed(result.files[ISSUE_PDF], notes, manifest, fonts, result.report, cached, result.stale)


def _proof_articles(issue_dir: Path, out_dir: Path, diagnostics: Diagnostics, article_ids: tuple[str, ...],
                    display_root: str) -> _Proofed:
    cache = LayoutCache(out_dir)
    laid_out = lay_out_articles(issue_dir, article_ids, diagnostics, display_root, cache, parts=True)
    body = laid_out.body
    notes = [fit.article.slug for fit in body.fits for _page in range(fit.pages_kept)]
    _cache_warnings(diagnostics)
    report = BuildReport.of(laid_out.manifest, body, {}, diagnostics,
                            [str(s.folio) for s in body.slots if s.kind == "article"])
    # the other articles' cache entries stay for the next build: nothing is stale
    return _Proofed(body.write_pdf(), notes, laid_out.manifest, laid_out.fonts, report, cache.files())


def proof_inputs_digest(manifest: Manifest, house: House) -> str:
    """A short digest of everything a proof was made from: manifest, articles, images, house style."""
    return digest(Inputs(files=(manifest.root / MANIFEST_NAME, *(a.file for a in manifest.articles)),
                         folders=(manifest.root / "images",
                                  *(root / kind for root in house.roots for kind in ("layout", "styles")))))[:8]
