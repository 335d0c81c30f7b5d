"""The command line: options, and the printing of what a command did. The work is elsewhere
(build.py runs the stages); problems are printed by `show` and `fail` only.

Exit codes: 0 built clean, 1 input error (nothing written), 2 usage, 3 built but the page
plan is violated (overset text).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import click
import pikepdf

from .build import PREVIOUS_PROOF_PDF, PROOF_PDF, OutputError, ProofOptions, Request, fit_issue, run
from .diagnostics import Diagnostic, Diagnostics, InputError
from .importer import add_to_manifest, import_docx, slug_for
from .pdf.diff import compare
from .pdf.preflight import preflight
from .report import fit_table
from .store import write_atomic

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_PLAN = 0, 1, 2, 3


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="typeset")
def main() -> None:
    """Lay out a Chinese periodical's issue (issue.yaml + Markdown articles) as a print-ready PDF."""


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
    click.echo(f"error: {message}", err=True)
    click.echo(f"  hint: {hint}", err=True)
    sys.exit(EXIT_INPUT)


def _input_error_summary(diagnostics: Diagnostics) -> str:
    errors = len(diagnostics.errors)
    return f"error: {errors} problem{'s' * (errors != 1)} in the input; nothing was written"


def _build(request: Request, quiet: bool) -> None:
    """Build (package, or proof) the issue, print what happened, exit with the build's code."""
    started = time.monotonic()
    diagnostics = Diagnostics()
    try:
        outcome = run(request, diagnostics)
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
            click.echo(f"\nup to date: {outcome.out_dir} ({time.monotonic() - started:.1f} s)")
    else:
        show(diagnostics.warnings)
        if not quiet:
            click.echo(fit_table(report))
            made = ", ".join(str(outcome.out_dir / path) for path in report.outputs.values())
            click.echo(f"\n{len(report.page_labels)} pages → {made} ({time.monotonic() - started:.1f} s)")
    if report.plan_violated:
        if not outcome.up_to_date:
            click.echo("page plan violated: see the overset articles above", err=True)
        sys.exit(EXIT_PLAN)


_ISSUE = click.argument("issue_dir", type=click.Path(file_okay=False, path_type=Path))
_OUT = click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
                    help="Output folder (default: ISSUE_DIR/build).")
_STRICT = click.option("--strict", is_flag=True, help="Unknown keys in issue.yaml or front matter are errors.")
_QUIET = click.option("-q", "--quiet", is_flag=True, help="Print only warnings and errors.")
_FORCE = click.option("--force", is_flag=True, help="Build even when nothing changed since the last build.")


@main.command()
@_ISSUE
@_OUT
@_STRICT
@_QUIET
@_FORCE
def build(issue_dir: Path, out_dir: Path | None, strict: bool, quiet: bool, force: bool) -> None:
    """Build ISSUE_DIR: issue.pdf (reading order), interior.pdf and cover.pdf (for the printer), report.json.

    When nothing the build reads has changed since the last build into OUT_DIR, its outputs stand."""
    _build(Request(issue_dir, out_dir, strict=strict, force=force), quiet)


@main.command()
@_ISSUE
@_OUT
@click.option("--article", "articles", multiple=True, help="Proof only this article (its file's stem); repeatable.")
@click.option("--png", is_flag=True, help="Also write page images (proof-png/).")
@click.option("--spreads", is_flag=True, help="Lay facing pages side by side.")
@_QUIET
def proof(issue_dir: Path, out_dir: Path | None, articles: tuple[str, ...], png: bool, spreads: bool,
          quiet: bool) -> None:
    """A proof (校样) for editors: trim-size pages, watermark with build time and input hash, file names."""
    _build(Request(issue_dir, out_dir, proof=ProofOptions(articles, png, spreads)), quiet)


@main.command()
@_ISSUE
@_OUT
@_STRICT
@_QUIET
@_FORCE
def package(issue_dir: Path, out_dir: Path | None, strict: bool, quiet: bool, force: bool) -> None:
    """Build ISSUE_DIR and zip the PDFs with the preflight reports and SHA-256 checksums (package.zip)."""
    _build(Request(issue_dir, out_dir, strict=strict, force=force, package=True), quiet)


@main.command()
@click.argument("issue_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Unknown keys in issue.yaml or front matter are errors.")
@click.option("--json", "as_json", is_flag=True, help="Print the report's articles as JSON instead of a table.")
def fit(issue_dir: Path, strict: bool, as_json: bool) -> None:
    """Print how every article fits its planned pages (copyfitting applied); write nothing."""
    diagnostics = Diagnostics()
    try:
        report = fit_issue(issue_dir, diagnostics, strict=strict, display_root=str(issue_dir))
    except InputError:
        show(diagnostics.items)
        sys.exit(EXIT_INPUT)
    show(diagnostics.warnings)
    if as_json:
        click.echo(json.dumps(report.as_json()["articles"], ensure_ascii=False, indent=2))
    else:
        click.echo(fit_table(report))
    if report.plan_violated:
        sys.exit(EXIT_PLAN)


@main.command(name="preflight")
@click.argument("pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--binding", type=click.Choice(["saddle", "perfect"]), help="Check the page count rule of this binding.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def preflight_command(pdf: Path, binding: str | None, as_json: bool) -> None:
    """Check a print PDF: boxes and bleed, fonts embedded, image resolution, hairlines. Exit 1 on errors."""
    try:
        checked = preflight(pdf, binding=binding)
    except pikepdf.PdfError as exc:
        fail(f"{pdf}: not a readable PDF ({exc})", "preflight checks PDF files; is this one damaged or not a PDF?")
    click.echo(json.dumps(checked.as_json(), ensure_ascii=False, indent=2) if as_json else checked.table())
    if checked.errors:
        sys.exit(EXIT_INPUT)


@main.command(name="import")
@click.argument("docx_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--into", "issue_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write the article into this issue: articles/, images/ and its section in issue.yaml.")
@click.option("--section", help="The section (栏目) to add the article to (created if missing).")
@click.option("--pages", help="Its planned pages, e.g. 9-12.")
@click.option("--accept-changes", is_flag=True, help="Accept the tracked changes instead of refusing the file.")
@click.option("--drop-comments", is_flag=True, help="Drop Word comments instead of refusing the file.")
@click.option("--verbatim", is_flag=True, help="Keep the characters as typed (no punctuation or quote fixes).")
def import_command(docx_file: Path, issue_dir: Path | None, section: str | None, pages: str | None,
                   accept_changes: bool, drop_comments: bool, verbatim: bool) -> None:
    """Turn an author's Word file into an article: front matter, Markdown, images, a cleaning report."""
    if issue_dir is not None and not section:
        raise click.UsageError("--into needs --section (the 栏目 the article belongs to)")
    if pages is not None and not re.match(r"^\d+(-\d+)?$", pages):
        raise click.UsageError(f"--pages must be N or N-M, got {pages!r}")
    diagnostics = Diagnostics()
    articles_dir = issue_dir / "articles" if issue_dir else None
    if issue_dir is not None and not (issue_dir / "issue.yaml").is_file():
        diagnostics.error("no issue.yaml in this folder", file=str(issue_dir),
                          hint="--into names an issue folder (with issue.yaml)")
    slug = slug_for(docx_file, articles_dir) if articles_dir and articles_dir.parent.is_dir() else "article"
    try:
        diagnostics.raise_if_errors()
        imported = import_docx(docx_file, diagnostics, accept_changes=accept_changes, drop_comments=drop_comments,
                               verbatim=verbatim, image_prefix=slug)
        if imported.images and issue_dir is None:
            diagnostics.error(f"the document has {len(imported.images)} image(s)", file=str(docx_file),
                              hint="import it --into an issue folder, where its images/ can take them")
            diagnostics.raise_if_errors()
    except InputError:
        show(diagnostics.items, "error: the file was not imported; nothing was written")
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


@main.command(name="diff")
@click.argument("old", type=click.Path(exists=True, path_type=Path))
@click.argument("new", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where to write the highlighted page images (default: next to NEW, in diff/).")
def diff_command(old: Path, new: Path | None, out_dir: Path | None) -> None:
    """List the pages that changed from OLD.pdf to NEW.pdf and write an image of each, changes in red.

    With an issue folder (or an output folder) instead: the latest proof against the one it replaced."""
    if new is None:
        if not old.is_dir():
            raise click.UsageError("give two PDFs, or one issue folder to compare its last two proofs")
        folder = old / "build" if (old / "issue.yaml").is_file() else old
        old, new = folder / PREVIOUS_PROOF_PDF, folder / PROOF_PDF
        if not old.is_file() or not new.is_file():
            fail(f"no previous proof in {folder}", f"each `typeset proof` keeps the proof it replaces as "
                                                   f"{PREVIOUS_PROOF_PDF}; make a proof, edit, make another")
    elif old.is_dir():
        raise click.UsageError("OLD must be a PDF when NEW is given")
    try:
        changes, images = compare(old, new)
    except (pikepdf.PdfError, subprocess.CalledProcessError) as exc:
        fail(f"cannot compare the files: {exc}", "give two PDFs that typeset built, or an issue folder")
    out_dir = out_dir if out_dir is not None else new.parent / "diff"
    for name, data in images.items():
        write_atomic(out_dir / name, data)
    if not changes:
        click.echo("no page changed")
        return
    for change in changes:
        where = f"  {out_dir / change.image}" if change.image else ""
        click.echo(f"{change.label:>6}  {change.status}{where}")
    click.echo(f"{len(changes)} page(s) changed")


@main.command()
@_ISSUE
@_OUT
@click.option("--port", type=click.IntRange(0, 65535), default=8421, show_default=True,
              help="Port on 127.0.0.1 (0: any free port).")
def serve(issue_dir: Path, out_dir: Path | None, port: int) -> None:
    """Show the issue as a flatplan board in the browser and rebuild it whenever a file is saved."""
    import errno

    from .serve.app import serve as run_server

    if not (issue_dir / "issue.yaml").is_file():
        fail(f"{issue_dir}: no issue.yaml in this folder", "name the issue folder, the one that holds issue.yaml")
    try:
        run_server(issue_dir, out_dir if out_dir is not None else issue_dir / "build", port,
                   lambda url: click.echo(f"typeset serve: {url}  (Ctrl-C stops)"))  # click.echo flushes
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        fail(f"port {port} on 127.0.0.1 is in use", "choose another with --port, or --port 0 for any free one")
    except KeyboardInterrupt:
        pass
