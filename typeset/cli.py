"""The command line: options, and the printing of what a command did. The work is elsewhere
(build.py runs the stages); problems are printed by `show` and `fail` only.

Exit codes: 0 built clean, 1 input error (nothing written), 2 usage, 3 built but the page
plan is violated (overset text).
"""

from __future__ import annotations

import gc
import json
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import click

from .diagnostics import Diagnostic, Diagnostics, InputError, OutputError
from .i18n import _, n_, translate_click
from .progress import Progress

# The stages (WeasyPrint, pikepdf, ReportLab …) take a second to import: each command imports
# what it needs once its progress line shows, so a build says what it does from its start.

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_PLAN = 0, 1, 2, 3


translate_click()


@click.group(context_settings={"help_option_names": ["-h", "--help"]},
             help=_("Lay out a Chinese periodical's issue (issue.yaml + Markdown articles) as a print-ready PDF."))
@click.version_option(package_name="typeset")
def main() -> None:
    pass


def show(diagnostics: list[Diagnostic], summary: str | None = None) -> None:
    """Print diagnostics (errors by file and line), then the summary line, on stderr: the one
    place the command line reports problems."""
    ordered = sorted(diagnostics, key=lambda d: (d.file or "", d.line or 0)) if any(
        d.severity == "error" for d in diagnostics) else diagnostics
    for diagnostic in ordered:
        click.echo(diagnostic.format(), err=True)
    if summary:
        click.echo(summary, err=True)


def fail(message: str, hint: str) -> None:
    """Stop with an error that concerns the command, not an input file (exit 1)."""
    click.echo(_("error: {message}", message=message), err=True)
    click.echo(_("  hint: {hint}", hint=hint), err=True)
    sys.exit(EXIT_INPUT)


def _input_error_summary(diagnostics: Diagnostics) -> str:
    errors = len(diagnostics.errors)
    return n_("error: {count} problem in the input; nothing was written",
              "error: {count} problems in the input; nothing was written", errors, count=errors)


def _build(request, quiet: bool) -> None:
    """Build (package, or proof) the issue, print what happened, exit with the build's code."""
    from .report import fit_table
    from .request import last_build

    started = time.monotonic()
    diagnostics = Diagnostics()
    try:
        inputs, outcome = last_build(request)  # before the build's modules are imported: an unchanged issue at once
        if outcome is None:
            if request.proof is None:
                _read_ahead(request.issue_dir, request.strict, request.display_root)
            with _kept_for_good():
                from .build import run

            outcome = run(request, diagnostics, inputs)
    except InputError:
        show(diagnostics.items, _input_error_summary(diagnostics))
        sys.exit(EXIT_INPUT)
    except OutputError:
        show(diagnostics.errors)
        sys.exit(EXIT_INPUT)
    report = outcome.report
    if outcome.up_to_date:
        if not quiet:
            click.echo(fit_table(report))
            click.echo("\n" + _("up to date: {folder} ({seconds:.1f} s)", folder=outcome.out_dir,
                                   seconds=time.monotonic() - started))
    else:
        show(diagnostics.warnings)
        if not quiet:
            click.echo(fit_table(report))
            made = ", ".join(str(outcome.out_dir / path) for path in report.outputs.values())
            click.echo("\n" + _("{pages} pages → {files} ({seconds:.1f} s)", pages=len(report.page_labels), files=made,
                                   seconds=time.monotonic() - started))
    if report.plan_violated:
        if not outcome.up_to_date:
            click.echo(_("page plan violated: see the overset articles above"), err=True)
        sys.exit(EXIT_PLAN)


@contextmanager
def _kept_for_good():
    """The layout engine's imports: half a million objects that live as long as the command,
    made with the collector off and then left out of its runs (`gc.freeze`). It looked through
    them all as they were made and again and again after: 0.06 s of a one-article edit's
    collections, against 0.02 s."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.freeze()


def _read_ahead(issue_dir: Path, strict: bool, display_root: str) -> None:
    """The issue's reading started in a child process while this one imports the layout engine and
    the PDF libraries (a fresh command: 0.8 s of imports against 0.7 s of reading the reference
    issue). Not with -j 1, and not in a resident process's child, which has them imported."""
    from .processes import workers

    if "weasyprint" not in sys.modules and workers() > 1:
        from .inputs.issue import read_ahead

        read_ahead(issue_dir, strict, display_root)


_ISSUE = click.argument("issue_dir", type=click.Path(file_okay=False, path_type=Path))
_OUT = click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
                    help=_("Output folder (default: ISSUE_DIR/build)."))
_STRICT = click.option("--strict", is_flag=True, help=_("Unknown keys in issue.yaml or front matter are errors."))
_QUIET = click.option("-q", "--quiet", is_flag=True, help=_("Print only warnings and errors."))
_FORCE = click.option("--force", is_flag=True, help=_("Build even when nothing changed since the last build."))
_VERBOSE = click.option("-v", "--verbose", is_flag=True, help=_("Print each stage's time when it ends."))
_JOBS = click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
                     help=_("Lay articles out on N processes (default: one per core); the output is the same."))


def _progress(quiet: bool, verbose: bool, machine_output: bool = False) -> Progress:
    """A live status line on a terminal (not on a pipe, with -q or when the output is JSON)."""
    live = sys.stderr.isatty() and not quiet and not machine_output
    return Progress(live=live, verbose=verbose and not machine_output)


@main.command(help=_('Build ISSUE_DIR: issue.pdf (reading order), interior.pdf and cover.pdf (for the'
                     ' printer), report.json. When nothing the build reads has changed since the last'
                     ' build into OUT_DIR, its outputs stand.'))
@_ISSUE
@_OUT
@_STRICT
@_QUIET
@_VERBOSE
@_FORCE
@_JOBS
def build(issue_dir: Path, out_dir: Path | None, strict: bool, quiet: bool, verbose: bool, force: bool,
          jobs: int | None) -> None:
    with _progress(quiet, verbose):
        from .processes import use_workers
        from .request import Request

        with use_workers(jobs):
            _build(Request(issue_dir, out_dir, strict=strict, force=force), quiet)


@main.command(help=_('A proof (校样) for editors: trim-size pages, watermark with build time and input '
                     'hash, file names.'))
@_ISSUE
@_OUT
@click.option("--article", "articles", multiple=True, help=_("Proof only this article (its file's stem); repeatable."))
@click.option("--png", is_flag=True, help=_("Also write page images (proof-png/)."))
@click.option("--spreads", is_flag=True, help=_("Lay facing pages side by side."))
@_QUIET
@_VERBOSE
@_JOBS
def proof(issue_dir: Path, out_dir: Path | None, articles: tuple[str, ...], png: bool, spreads: bool,
          quiet: bool, verbose: bool, jobs: int | None) -> None:
    with _progress(quiet, verbose):
        from .processes import use_workers
        from .request import ProofOptions, Request

        with use_workers(jobs):
            _build(Request(issue_dir, out_dir, proof=ProofOptions(articles, png, spreads)), quiet)


@main.command(help=_('Build ISSUE_DIR and zip the PDFs with the preflight reports and SHA-256 '
                     'checksums (package.zip).'))
@_ISSUE
@_OUT
@_STRICT
@_QUIET
@_VERBOSE
@_FORCE
@_JOBS
def package(issue_dir: Path, out_dir: Path | None, strict: bool, quiet: bool, verbose: bool, force: bool,
            jobs: int | None) -> None:
    with _progress(quiet, verbose):
        from .processes import use_workers
        from .request import Request

        with use_workers(jobs):
            _build(Request(issue_dir, out_dir, strict=strict, force=force, package=True), quiet)


@main.command(help=_('Print how every article fits its planned pages (copyfitting applied); write nothing.'))
@click.argument("issue_dir", type=click.Path(file_okay=False, path_type=Path))
@_STRICT
@click.option("--json", "as_json", is_flag=True, help=_("Print the report's articles as JSON instead of a table."))
@_VERBOSE
@_JOBS
def fit(issue_dir: Path, strict: bool, as_json: bool, verbose: bool, jobs: int | None) -> None:
    diagnostics = Diagnostics()
    try:
        with _progress(False, verbose, machine_output=as_json):
            from .processes import use_workers

            with use_workers(jobs):
                _read_ahead(issue_dir, strict, str(issue_dir))
                from .build import fit_issue

                report = fit_issue(issue_dir, diagnostics, strict=strict, display_root=str(issue_dir))
    except InputError:
        show(diagnostics.items)
        sys.exit(EXIT_INPUT)
    show(diagnostics.warnings)
    if as_json:
        click.echo(json.dumps(report.as_json()["articles"], ensure_ascii=False, indent=2))
    else:
        from .report import fit_table

        click.echo(fit_table(report))
    if report.plan_violated:
        sys.exit(EXIT_PLAN)


@main.command(help=_("Proofread the issue's text: punctuation (GB/T 15834), numbers (GB/T 15835), confusable "
                     "and doubled words, traditional characters, stray spaces. Exit 1 when anything is found."))
@_ISSUE
@click.option("--json", "as_json", is_flag=True, help=_("Print the findings as JSON."))
@click.option("--fix", is_flag=True, help=_("Correct the safe kinds in the files (half-width punctuation, full-width "
                                             "digits and letters, spaces, ellipses and dashes) and list each change."))
def check(issue_dir: Path, as_json: bool, fix: bool) -> None:
    from .inputs.proofread import check_issue, hint_of

    diagnostics = Diagnostics()
    try:
        result = check_issue(issue_dir, str(issue_dir), diagnostics, fix)
    except InputError:
        show(diagnostics.items)
        sys.exit(EXIT_INPUT)
    if as_json:
        click.echo(json.dumps([f.as_json() for f in result.findings], ensure_ascii=False, indent=2))
    else:
        for change in result.fixed:
            click.echo(_("{file}:{line}:{column} {rule}: fixed {found} → {suggestion}", file=change.display,
                         line=change.line, column=change.column, rule=change.rule, found=repr(change.found),
                         suggestion=repr(change.suggestion)))
        for finding in result.findings:
            click.echo(f"{finding.display}:{finding.line}:{finding.column} {finding.rule}: {finding.message}")
            click.echo(_("  hint: {hint}", hint=hint_of(finding)))
        counts = ", ".join(f"{rule} {count}" for rule, count in _count_rules(result.findings))
        click.echo(n_("{count} finding", "{count} findings", len(result.findings), count=len(result.findings))
                   + (f" ({counts})" if counts else ""), err=True)
    sys.exit(EXIT_INPUT if result.findings else EXIT_OK)


def _count_rules(findings) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.rule] = counts.get(finding.rule, 0) + 1
    return sorted(counts.items(), key=lambda item: -item[1])


@main.command(name="preflight", help=_('Check a print PDF: boxes and bleed, fonts embedded, image '
                                       'resolution, hairlines. Exit 1 on errors.'))
@click.argument("pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--binding", type=click.Choice(["saddle", "perfect"]),
              help=_("Check the page count rule of this binding."))
@click.option("--json", "as_json", is_flag=True, help=_("Print the findings as JSON."))
def preflight_command(pdf: Path, binding: str | None, as_json: bool) -> None:
    import pikepdf

    from .pdf.preflight import preflight

    try:
        checked = preflight(pdf, binding=binding)
    except pikepdf.PdfError as exc:
        fail(_("{file}: not a readable PDF ({reason})", file=pdf, reason=exc),
             _("preflight checks PDF files; is this one damaged or not a PDF?"))
    click.echo(json.dumps(checked.as_json(), ensure_ascii=False, indent=2) if as_json else checked.table())
    if checked.errors:
        sys.exit(EXIT_INPUT)


@main.command(name="import", help=_("Turn an author's Word file into an article: front matter, "
                                    'Markdown, images, a cleaning report.'))
@click.argument("docx_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--into", "issue_dir", type=click.Path(file_okay=False, path_type=Path),
              help=_("Write the article into this issue: articles/, images/ and its section in issue.yaml."))
@click.option("--section", help=_("The section (栏目) to add the article to (created if missing)."))
@click.option("--pages", help=_("Its planned pages, e.g. 9-12."))
@click.option("--accept-changes", is_flag=True, help=_("Accept the tracked changes instead of refusing the file."))
@click.option("--drop-comments", is_flag=True, help=_("Drop Word comments instead of refusing the file."))
@click.option("--verbatim", is_flag=True, help=_("Keep the characters as typed (no punctuation or quote fixes)."))
def import_command(docx_file: Path, issue_dir: Path | None, section: str | None, pages: str | None,
                   accept_changes: bool, drop_comments: bool, verbatim: bool) -> None:
    from .importer import add_to_manifest, import_docx, slug_for
    from .store import write_atomic

    if issue_dir is not None and not section:
        raise click.UsageError(_("--into needs --section (the 栏目 the article belongs to)"))
    if pages is not None and not re.match(r"^\d+(-\d+)?$", pages):
        raise click.UsageError(_("--pages must be N or N-M, got {value!r}", value=pages))
    diagnostics = Diagnostics()
    articles_dir = issue_dir / "articles" if issue_dir else None
    if issue_dir is not None and not (issue_dir / "issue.yaml").is_file():
        diagnostics.error(_("no issue.yaml in this folder"), file=str(issue_dir),
                          hint=_("--into names an issue folder (with issue.yaml)"))
    slug = slug_for(docx_file, articles_dir) if articles_dir and articles_dir.parent.is_dir() else "article"
    try:
        diagnostics.raise_if_errors()
        imported = import_docx(docx_file, diagnostics, accept_changes=accept_changes, drop_comments=drop_comments,
                               verbatim=verbatim, image_prefix=slug)
        if imported.images and issue_dir is None:
            diagnostics.error(n_("the document has {count} image", "the document has {count} images",
                                 len(imported.images), count=len(imported.images)), file=str(docx_file),
                              hint=_("import it --into an issue folder, where its images/ can take them"))
            diagnostics.raise_if_errors()
    except InputError:
        show(diagnostics.items, _("error: the file was not imported; nothing was written"))
        sys.exit(EXIT_INPUT)
    if issue_dir is None:
        click.echo(imported.markdown(), nl=False)
        click.echo(imported.report(), err=True)
        return
    manifest = add_to_manifest(issue_dir / "issue.yaml", section, f"articles/{slug}.md", pages)
    for name, data in imported.images.items():
        write_atomic(issue_dir / "images" / name, data)
    write_atomic(articles_dir / f"{slug}.md", imported.markdown().encode())
    write_atomic(issue_dir / "issue.yaml", manifest.encode())
    click.echo(f"{issue_dir / 'articles' / (slug + '.md')}: {imported.front.get('title', '')}")
    click.echo(imported.report())


@main.command(name="diff", help=_('List the pages that changed from OLD.pdf to NEW.pdf and write an '
                                  'image of each, changes in red. With an issue folder (or an output '
                                  'folder) instead: the latest proof against the one it replaced.'))
@click.argument("old", type=click.Path(exists=True, path_type=Path))
@click.argument("new", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help=_("Where to write the highlighted page images (default: next to NEW, in diff/)."))
def diff_command(old: Path, new: Path | None, out_dir: Path | None) -> None:
    import pikepdf

    from .build import PREVIOUS_PROOF_PDF, PROOF_PDF
    from .pdf.diff import compare
    from .store import write_atomic

    if new is None:
        if not old.is_dir():
            raise click.UsageError(_("give two PDFs, or one issue folder to compare its last two proofs"))
        folder = old / "build" if (old / "issue.yaml").is_file() else old
        old, new = folder / PREVIOUS_PROOF_PDF, folder / PROOF_PDF
        if not old.is_file() or not new.is_file():
            fail(_("no previous proof in {folder}", folder=folder),
                 _("each `typeset proof` keeps the proof it replaces as {file}; make a proof, edit, make another",
                   file=PREVIOUS_PROOF_PDF))
    elif old.is_dir():
        raise click.UsageError(_("OLD must be a PDF when NEW is given"))
    try:
        changes, images = compare(old, new)
    except (pikepdf.PdfError, subprocess.CalledProcessError) as exc:
        fail(_("cannot compare the files: {reason}", reason=exc),
             _("give two PDFs that typeset built, or an issue folder"))
    out_dir = out_dir if out_dir is not None else new.parent / "diff"
    for name, data in images.items():
        write_atomic(out_dir / name, data)
    if not changes:
        click.echo(_("no page changed"))
        return
    for change in changes:
        where = f"  {out_dir / change.image}" if change.image else ""
        click.echo(f"{change.label:>6}  {change.describe()}{where}")
    click.echo(n_("{count} page changed", "{count} pages changed", len(changes), count=len(changes)))


@main.command(help=_('Show the issue as a flatplan board in the browser and rebuild it whenever a file is saved.'))
@_ISSUE
@_OUT
@click.option("--port", type=click.IntRange(0, 65535), default=8421, show_default=True,
              help=_("Port on 127.0.0.1 (0: any free port)."))
def serve(issue_dir: Path, out_dir: Path | None, port: int) -> None:
    import errno

    from .serve.app import serve as run_server

    if not (issue_dir / "issue.yaml").is_file():
        fail(_("{folder}: no issue.yaml in this folder", folder=issue_dir),
             _("name the issue folder, the one that holds issue.yaml"))
    try:
        run_server(issue_dir, out_dir if out_dir is not None else issue_dir / "build", port,
                   lambda url: click.echo(_("typeset serve: {url}  (Ctrl-C stops)", url=url)),  # click.echo flushes
                   click.echo)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        fail(_("port {port} on 127.0.0.1 is in use", port=port),
             _("choose another with --port, or --port 0 for any free one"))
    except KeyboardInterrupt:
        pass
