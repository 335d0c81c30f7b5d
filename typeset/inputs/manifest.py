"""Stage 1: load and validate `issue.yaml` into a typed `Manifest`.

Each dataclass below declares the keys of one mapping of the manifest (`schema.key`: type,
default, hint, documentation); `yamlnodes.NodeReader` reads them with their positions, and a
class's `from_manifest` checks what goes beyond one key. All problems are collected before
giving up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..diagnostics import Diagnostics, InputError
from ..i18n import N_, _
from .schema import key
from .yamlnodes import Entries, NodeReader, compose

MANIFEST_NAME = "issue.yaml"
SECTION_STYLES = ("article", "foreword")


@dataclass(frozen=True)
class Span:
    """Where a value stands in the manifest, for diagnostics."""

    file: str
    line: int
    column: int
    key: str


@dataclass(frozen=True)
class PageRange:
    first: int
    last: int

    @property
    def count(self) -> int:
        return self.last - self.first + 1

    def __contains__(self, page: int) -> bool:
        return self.first <= page <= self.last

    def as_list(self) -> list[int]:
        return [self.first, self.last]

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"


@dataclass
class Magazine:
    name: str = key("text", "", required=True, example="机关党建", doc="required: printed in the running heads")
    slogan: list[str] = key("texts", factory=list, single=True, example="[理论研究的阵地, …]",
                            doc="one string or a list")
    sponsor: str = key("text", "", example="中共吉林省直属机关工作委员会")


@dataclass
class IssueInfo:
    year: int | None = key("integer", minimum=1, example="2024")
    number: int | None = key("integer", minimum=1, example="5", doc="期")
    serial: int | None = key("integer", minimum=1, example="241", doc="总第N期")
    period: str = key("text", "", example="月")
    label: str = key("text", "", example="2024年第5期", doc="default: {year}年第{number}期")

    def __post_init__(self):
        if not self.label and self.year and self.number:
            self.label = f"{self.year}年第{self.number}期"


@dataclass
class PageSpec:
    trim_mm: tuple[float, float] = key("size", (210.0, 285.0), name="trim", required=True,
                                       hint=N_("trim is the finished page size, e.g. [210mm, 285mm]"),
                                       example="[210mm, 285mm]", doc="required: finished page size (mm, cm, in or pt)")
    bleed_mm: float = key("length", 3.0, name="bleed", example="3mm", doc="default 3mm")
    binding: str = key("choice", "saddle", choices=("saddle", "perfect"),
                       hint=N_("saddle (骑马订, pages in multiples of 4) or perfect (胶装)"),
                       example="saddle", doc="saddle (default; warns unless pages come in fours) or perfect")
    output_profile: str = key("text", "FOGRA39L_coated.icc", example="FOGRA39L_coated.icc",
                              doc="the printing condition's ICC profile (issue or styles/)")
    caliper_mm: float = key("length", 0.1, name="caliper", example="0.1mm",
                            doc="one leaf of paper: the spine width of a perfect-bound cover")
    pdfx: str = key("choice", "X-4", choices=("X-4", "X-1a"), example="X-4",
                    doc="the print files' standard: X-4, or X-1a (no transparency, PDF 1.4)")


@dataclass
class MastheadEntry:
    label: str = key("text", "", required=True, example="主管单位")
    value: str = key("text", "", example='"…"')


@dataclass
class Cover:
    image: Path | None = key("image", example="images/cover.jpg",
                             doc="the photo fills trim + bleed (cropped, never distorted)")
    lines: list[str] = key("texts", factory=list, example="[封面要目, …]", doc="up to four cover lines")
    barcode: str = key("barcode", "",
                       hint=N_("12 digits, or 13 with a correct check digit (an ISSN barcode starts with 977)"),
                       example='"9771234567003"', doc="optional EAN-13 (ISSN) barcode")


@dataclass
class InsideFrontCover:
    title: str = key("text", "", example="…", doc="a space marks a line break, as printed")
    text: str = key("text", "", example="…")
    image: Path | None = key("image", example="images/inside-cover.jpg")
    caption: str = key("text", "", example="…")


@dataclass
class FullPageImage:
    image: Path | None = key("image", required=True, example="images/ad.jpg")


@dataclass
class Contents:
    pages: PageRange | None = key("pages", example='"2-3"', doc="the contents (目录) with the masthead")


@dataclass
class ArticleEntry:
    file: Path = key("markdown", required=True, example="articles/01-qieshi.md")  # absolute
    pages: PageRange | None = key("pages", example='"1"', doc='the page plan: "N" or "N-M" (folios); omit to flow on')
    continued_on: int | None = key("integer", minimum=1, example="32", doc="optional: 转页 target page")
    fillers: list[Path] | None = key("fillers", example="[fillers/01-x.md]",
                                     doc="optional: 补白 pinned under this article; false: none")
    rel: str = ""  # as written in the manifest, relative to the issue folder
    section: str = ""
    section_style: str = ""
    spans: dict[str, Span] = field(default_factory=dict)  # "file", and "pages"/"continued_on" where given

    @property
    def span(self) -> Span:
        return self.spans["file"]

    @classmethod
    def from_manifest(cls, values: dict, entries: Entries, reader: NodeReader, key: str) -> ArticleEntry | None:
        if values["file"] is None:
            return None
        spans = {name: Span(reader.file, entries[name][0].start_mark.line + 1, entries[name][0].start_mark.column + 1,
                            f"{key}.{name}") for name in ("file", "pages", "continued_on", "fillers")
                 if name in entries}
        return cls(**values, rel=str(entries["file"][0].value), spans=spans)


@dataclass
class Section:
    title: str = key("text", "", required=True, example="卷首语")
    style: str = key("choice", "", choices=SECTION_STYLES, example="foreword",
                     doc="optional: foreword | article; 卷首语 defaults to foreword")
    articles: list[ArticleEntry] = key("list", factory=list, required=True, item=ArticleEntry)

    @classmethod
    def from_manifest(cls, values: dict, entries: Entries, reader: NodeReader, key: str) -> Section:
        section = cls(**values)
        section.style = section.style or ("foreword" if section.title == "卷首语" else "article")
        if "articles" in entries and not section.articles and not reader.sequence(entries["articles"][0], key):
            reader.error(entries["articles"][0], f"{key}.articles", _("no articles listed"))
        for entry in section.articles:
            entry.section, entry.section_style = section.title, section.style
        return section


@dataclass
class Manifest:
    root: Path  # the issue folder
    display_root: str  # the issue folder as the user named it
    magazine: Magazine = key("mapping", factory=Magazine, required=True, item=Magazine,
                             hint=N_("add magazine: with at least name:"))
    issue: IssueInfo = key("mapping", factory=IssueInfo, item=IssueInfo)
    page: PageSpec = key("mapping", factory=PageSpec, required=True, item=PageSpec,
                         hint=N_("add page: {trim: [210mm, 285mm], bleed: 3mm}"))
    masthead: list[MastheadEntry] = key("list", factory=list, item=MastheadEntry,
                                        doc="the contents page's masthead, in printed order")
    cover: Cover | None = key("mapping", item=Cover, doc="封一")
    inside_front_cover: InsideFrontCover | None = key("mapping", item=InsideFrontCover, doc="封二")
    inside_back_cover: FullPageImage | None = key("mapping", item=FullPageImage,
                                                  doc="封三, a full-page image; blank with a warning if absent")
    back_cover: FullPageImage | None = key("mapping", item=FullPageImage, doc="封四, likewise")
    contents: Contents | None = key("mapping", item=Contents, doc="an error if the contents do not fit its pages")
    sections: list[Section] = key("list", factory=list, required=True, item=Section,
                                  hint=N_("list the sections (栏目) with their articles in printed order"),
                                  doc="the 栏目, in printed order")
    filling: bool = key("flag", True, example="true",
                        doc="false: no 补白 (fillers/*.md) under articles; loosening still closes holes")

    @classmethod
    def from_manifest(cls, values: dict, entries: Entries, reader: NodeReader, key: str) -> Manifest:
        manifest = cls(reader.root, reader.display_root, **values)
        if "sections" in entries and not manifest.sections and not reader.diagnostics.errors:
            reader.error(entries["sections"][0], "sections", _("no sections listed"),
                         hint=_("an issue needs at least one section with one article"))
        seen: dict[Path, str] = {}
        for section in manifest.sections:
            for entry in list(section.articles):
                if entry.file in seen:
                    reader.diagnostics.error(_("'{file}' is already listed at {key}", file=entry.rel,
                                               key=seen[entry.file]),
                                             hint=_("an article appears once in an issue"), **_where(entry.span))
                    section.articles.remove(entry)
                else:
                    seen[entry.file] = entry.span.key.rsplit(".", 1)[0]
        return manifest

    @property
    def articles(self) -> list[ArticleEntry]:
        return [a for s in self.sections for a in s.articles]

    @property
    def title(self) -> str:
        """The magazine's name and the issue's label: what the PDFs are titled by."""
        return f"{self.magazine.name} {self.issue.label}"

    @property
    def contents_pages(self) -> PageRange | None:
        return self.contents.pages if self.contents else None

    def display(self, path: Path) -> str:
        """A path inside the issue as the user would type it."""
        return display_path(self.display_root, path.relative_to(self.root))


def display_path(display_root: str, rel: Path | str) -> str:
    root = display_root.rstrip("/")
    return f"{root}/{rel}" if root not in ("", ".") else str(rel)


def load_manifest(issue_dir: Path, diagnostics: Diagnostics, strict: bool = False,
                  display_root: str | None = None) -> Manifest:
    """Read and validate ISSUE_DIR/issue.yaml; raises InputError after collecting every error."""
    display_root = display_root if display_root is not None else str(issue_dir)
    issue_dir = issue_dir.resolve()
    file = display_path(display_root, MANIFEST_NAME)
    path = issue_dir / MANIFEST_NAME
    if not issue_dir.is_dir():
        diagnostics.error(_("'{folder}' is not a folder", folder=display_root),
                          hint=_("name the folder that holds issue.yaml"))
        raise InputError(diagnostics)
    if not path.is_file():
        diagnostics.error(_("no issue.yaml in this folder"), file=display_root,
                          hint=_("an issue folder holds issue.yaml, articles/ and images/; see the README"))
        raise InputError(diagnostics)
    root_node = _compose(path, file, diagnostics)
    reader = NodeReader(file, issue_dir, diagnostics, strict, display_root)
    manifest = reader.read_object(Manifest, root_node, "")
    if manifest is None:
        raise InputError(diagnostics)
    _check_page_plan(manifest, diagnostics)
    diagnostics.raise_if_errors()
    return manifest


def _compose(path: Path, file: str, diagnostics: Diagnostics) -> yaml.Node:
    """issue.yaml as YAML nodes, which keep every value's line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        diagnostics.error(_("not UTF-8 text (byte {byte})", byte=exc.start), file=file,
                          hint=_("save issue.yaml as UTF-8"))
        raise InputError(diagnostics) from None
    try:
        root_node = compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        diagnostics.error(
            _("YAML syntax error: {problem}", problem=exc.problem or exc.context),
            file=file, line=mark.line + 1 if mark else None, column=mark.column + 1 if mark else None,
            hint=_("check the indentation and the quoting of this line and the one before it"))
        raise InputError(diagnostics) from None
    except yaml.YAMLError as exc:
        diagnostics.error(_("YAML error: {reason}", reason=exc), file=file)
        raise InputError(diagnostics) from None
    if root_node is None:
        diagnostics.error(_("issue.yaml is empty"), file=file, hint=_("start from issues/demo/issue.yaml"))
        raise InputError(diagnostics)

    return root_node


def _check_page_plan(manifest: Manifest, diagnostics: Diagnostics) -> None:
    """Planned ranges must increase in reading order, not overlap, and leave the contents pages free."""
    contents = manifest.contents_pages
    previous: ArticleEntry | None = None
    planned = [a for a in manifest.articles if a.pages]
    for entry in planned:
        where = _where(entry.spans["pages"])
        if contents and (entry.pages.first in contents or entry.pages.last in contents
                         or entry.pages.first < contents.first <= entry.pages.last):
            diagnostics.error(_("pages {pages} overlap the contents pages {contents}", pages=entry.pages,
                                contents=contents),
                              hint=_("the contents pages are kept free for the contents (contents.pages)"), **where)
        if previous is not None:
            if entry.pages.first <= previous.pages.last:
                if entry.pages.last >= previous.pages.first:
                    message = _("pages {pages} overlap the pages {other} of '{file}'")
                else:
                    message = _("pages {pages} come before the pages {other} of '{file}'")
                diagnostics.error(message.format(pages=entry.pages, other=previous.pages, file=previous.rel),
                                  hint=_("articles are listed in printed order; each starts after the one before ends"),
                                  **where)
        previous = entry
    by_page = {p: a for a in planned for p in range(a.pages.first, a.pages.last + 1)}
    for entry in manifest.articles:
        if entry.continued_on is None:
            continue
        where = _where(entry.spans["continued_on"])
        if entry.pages is None and "pages" in entry.spans:
            continue  # the pages themselves are wrong and already reported
        if entry.pages is None:
            diagnostics.error(_("continued_on needs pages"), hint=_("give the article its planned pages first"),
                              **where)
        elif entry.continued_on <= entry.pages.last:
            diagnostics.error(_("continues on page {page}, which is not after its pages {pages}",
                                page=entry.continued_on, pages=entry.pages),
                              hint=_("a continuation (转页) goes to a later page"), **where)
        elif entry.continued_on not in by_page:
            diagnostics.error(_("continues on page {page}, which no article is planned on", page=entry.continued_on),
                              hint=_("continuations are set after the article planned on that page"), **where)


def _where(span: Span) -> dict:
    return {"file": span.file, "line": span.line, "column": span.column, "key": span.key}
