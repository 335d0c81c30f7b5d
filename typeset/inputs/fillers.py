"""Stage 2: read the issue's 补白 (fillers/*.md): short items set in the space left under articles.

A filler is an article's front matter plus `kind` (名言, 诗词, 知识…), with `title` and
`source` where they apply, and a short Markdown body: a 诗词 one verse per paragraph. The pool
is every file in fillers/; the manifest may pin files to an article (`fillers:`), turn a place
off (`fillers: false`) or the whole issue (`filling: false`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..diagnostics import Diagnostics
from ..i18n import _
from .articles import split_front_matter
from .cjk import refine
from .manifest import Manifest, Span

FOLDER = "fillers"
KEYS = ("kind", "title", "source", "author")
POEM_KINDS = ("诗词", "诗", "词", "poem")


@dataclass
class Filler:
    file: Path
    rel: str  # relative to the issue folder, as report.json names it
    display: str
    kind: str = ""
    title: str = ""
    source: str = ""
    author: str = ""
    body_html: str = ""
    text: str = ""  # the text as printed, for checks
    text_lines: list[tuple[int, str, str]] = field(default_factory=list)  # (line, font role, text)

    @property
    def slug(self) -> str:
        return self.file.stem

    @property
    def poem(self) -> bool:
        return self.kind in POEM_KINDS


@dataclass
class FillerPool:
    """The fillers an issue may set: `free` for any article, `pinned` by article file."""

    free: list[Filler]
    pinned: dict[Path, list[Filler]]
    off: set[Path]  # articles with `fillers: false`

    @property
    def all(self) -> list[Filler]:
        return self.free + [f for pinned in self.pinned.values() for f in pinned]


def read_fillers(manifest: Manifest, diagnostics: Diagnostics) -> FillerPool:
    """Every filler of the pool; the pinned ones taken out of it. Errors go to `diagnostics`."""
    from .markdown import make_parser  # as `articles.read_articles`

    parser = make_parser()
    read: dict[Path, Filler | None] = {}

    def get(path: Path) -> Filler | None:
        if path not in read:
            read[path] = _read_filler(path, manifest, parser, diagnostics)
        return read[path]

    pinned: dict[Path, list[Filler]] = {}
    off: set[Path] = set()
    where_pinned: dict[Path, str] = {}
    for entry in manifest.articles:
        if entry.fillers is None:
            continue
        if not entry.fillers:
            off.add(entry.file)
        for path in entry.fillers:
            span: Span = entry.spans["fillers"]
            if path in where_pinned:
                diagnostics.error(_("'{file}' is already pinned at {key}", file=manifest.display(path),
                                    key=where_pinned[path]), hint=_("a filler is printed once in an issue"),
                                  file=span.file, line=span.line, column=span.column, key=span.key)
                continue
            where_pinned[path] = span.key
            filler = get(path)
            if filler is not None:
                pinned.setdefault(entry.file, []).append(filler)
    folder = manifest.root / FOLDER
    free = []
    if manifest.filling and folder.is_dir():
        for path in sorted(folder.glob("*.md")):
            filler = get(path.resolve())
            if filler is not None and path.resolve() not in where_pinned:
                free.append(filler)
    return FillerPool(free, pinned, off)


def _read_filler(path: Path, manifest: Manifest, parser, diagnostics: Diagnostics) -> Filler | None:
    display = manifest.display(path)
    split = split_front_matter(path, display, diagnostics)
    if split is None:
        return None
    meta, lines, body_start = split
    filler = Filler(path, str(path.relative_to(manifest.root)), display)
    for key, (value, line, column) in meta.items():
        where = {"file": display, "line": line, "column": column, "key": key}
        if key not in KEYS:
            diagnostics.warning(_("unknown front-matter key '{key}'", key=key),
                                hint=_("known keys: {keys}", keys=", ".join(KEYS)), **where)
        elif value is None:
            continue
        elif isinstance(value, (dict, list, bool)):
            diagnostics.error(_("expected text, got {kind}", kind=type(value).__name__), **where)
        else:
            setattr(filler, key, str(value).strip())
            filler.text_lines.append((line, "hei" if key == "title" else "kai", getattr(filler, key)))
    body = "\n".join(lines[body_start:])
    if not body.strip():
        diagnostics.error(_("the filler has no text"), file=display, line=body_start + 1,
                          hint=_("write the text below the front matter"))
        return None
    paragraphs = [p.strip() for p in body.split("\n\n") if p.strip()]
    filler.text = "".join("".join(p.split()) for p in paragraphs)
    for offset, line in enumerate(lines[body_start:], start=body_start + 1):
        if line.strip():
            filler.text_lines.append((offset, "kai", line.strip()))
    filler.body_html = refine(parser.render(body))
    return filler
