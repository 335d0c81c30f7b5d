"""Stage 1: load and validate `issue.yaml` into a typed `Manifest`.

The YAML is composed into nodes (not just loaded) so that every value keeps its
line and column; each problem becomes a diagnostic `issue.yaml:LINE:COL key: message`.
All problems are collected before giving up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .diagnostics import Diagnostics, InputError
from .images import check_image

MANIFEST_NAME = "issue.yaml"
SECTION_STYLES = ("article", "foreword")

_LENGTH = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mm|cm|in|pt)\s*$")
_MM_PER_UNIT = {"mm": 1.0, "cm": 10.0, "in": 25.4, "pt": 25.4 / 72}
_PAGE_RANGE = re.compile(r"^\s*(\d+)\s*(?:[-–—]\s*(\d+)\s*)?$")


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
    name: str
    slogan: list[str] = field(default_factory=list)
    sponsor: str = ""


@dataclass
class IssueInfo:
    year: int | None = None
    number: int | None = None
    serial: int | None = None
    period: str = ""
    label: str = ""


@dataclass
class PageSpec:
    trim_mm: tuple[float, float]
    bleed_mm: float = 3.0
    binding: str = "saddle"  # saddle (骑马订: pages in fours) or perfect (胶装)
    output_profile: str = "FOGRA39L_coated.icc"  # ICC profile of the printing condition
    caliper_mm: float = 0.1  # thickness of one leaf (two pages) of the paper: the spine of a perfect-bound issue


@dataclass
class MastheadEntry:
    label: str
    value: str


@dataclass
class Cover:
    image: Path | None = None
    lines: list[str] = field(default_factory=list)
    barcode: str = ""  # EAN-13 (ISSN) digits


@dataclass
class InsideFrontCover:
    title: str = ""
    text: str = ""
    image: Path | None = None
    caption: str = ""


@dataclass
class ArticleEntry:
    file: Path  # absolute
    rel: str  # as written in the manifest, relative to the issue folder
    pages: PageRange | None
    continued_on: int | None
    section: str
    section_style: str
    spans: dict[str, Span]  # "file", and "pages"/"continued_on" where given

    @property
    def span(self) -> Span:
        return self.spans["file"]


@dataclass
class Section:
    title: str
    style: str
    articles: list[ArticleEntry]


@dataclass
class Manifest:
    root: Path  # the issue folder
    display_root: str  # the issue folder as the user named it
    magazine: Magazine
    issue: IssueInfo
    page: PageSpec
    masthead: list[MastheadEntry]
    cover: Cover | None
    inside_front_cover: InsideFrontCover | None
    contents_pages: PageRange | None
    sections: list[Section]
    inside_back_cover: Path | None = None  # 封三: a full-page image
    back_cover: Path | None = None  # 封四

    @property
    def articles(self) -> list[ArticleEntry]:
        return [a for s in self.sections for a in s.articles]

    def display(self, path: Path) -> str:
        """A path inside the issue as the user would type it."""
        return display_path(self.display_root, path.relative_to(self.root))


def display_path(display_root: str, rel: Path | str) -> str:
    root = display_root.rstrip("/")
    return f"{root}/{rel}" if root not in ("", ".") else str(rel)


# Keys each mapping may hold. Unknown keys warn (errors with --strict).
_KNOWN = {
    "": {"magazine", "issue", "page", "masthead", "cover", "inside_front_cover", "inside_back_cover",
         "back_cover", "contents", "sections"},
    "magazine": {"name", "slogan", "sponsor"},
    "issue": {"year", "number", "serial", "period", "label"},
    "page": {"trim", "bleed", "binding", "output_profile", "caliper"},
    "masthead[]": {"label", "value"},
    "cover": {"image", "lines", "barcode"},
    "inside_back_cover": {"image"},
    "back_cover": {"image"},
    "inside_front_cover": {"title", "text", "image", "caption"},
    "contents": {"pages"},
    "sections[]": {"title", "style", "articles"},
    "sections[].articles[]": {"file", "pages", "continued_on"},
}


class _Reader:
    """Typed access to composed YAML nodes that records diagnostics with positions."""

    def __init__(self, file: str, root: Path, diagnostics: Diagnostics, strict: bool):
        self.file = file
        self.root = root
        self.diagnostics = diagnostics
        self.strict = strict
        self._constructor = yaml.constructor.SafeConstructor()

    def where(self, node: yaml.Node, key: str) -> dict:
        mark = node.start_mark
        return {"file": self.file, "line": mark.line + 1, "column": mark.column + 1, "key": key}

    def error(self, node: yaml.Node, key: str, message: str, hint: str | None = None) -> None:
        self.diagnostics.error(message, hint=hint, **self.where(node, key))

    def mapping(self, node: yaml.Node | None, key: str, schema: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """The mapping's entries by key name (value node, key node); {} after an error."""
        if node is None:
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.error(node, key or "(top level)", f"expected a mapping, got {_kind(node)}")
            return {}
        entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        known = _KNOWN[schema]
        for key_node, value_node in node.value:
            name = str(key_node.value)
            child = f"{key}.{name}" if key else name
            if name in entries:
                self.error(key_node, child, "duplicate key", hint="a key may appear once; delete one of the two")
                continue
            entries[name] = (value_node, key_node)
            if name not in known:
                message = f"unknown key '{name}'"
                hint = f"known keys here: {', '.join(sorted(known))}"
                if self.strict:
                    self.error(key_node, child, message, hint)
                else:
                    self.diagnostics.warning(message, hint=hint, **self.where(key_node, child))
        return entries

    def sequence(self, node: yaml.Node | None, key: str) -> list[yaml.Node]:
        if node is None or _is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, key, f"expected a list, got {_kind(node)}")
            return []
        return list(node.value)

    def scalar(self, node: yaml.Node | None, key: str):
        if node is None or _is_null(node):
            return None
        if not isinstance(node, yaml.ScalarNode):
            self.error(node, key, f"expected a single value, got {_kind(node)}")
            return None
        return self._constructor.construct_object(node)

    def string(self, entries: dict, name: str, key: str, required: bool = False) -> str:
        node = entries.get(name, (None,))[0]
        value = self.scalar(node, key)
        if value is None:
            if required:
                self._missing(entries, name, key)
            return ""
        if isinstance(value, (bool, list, dict)):
            self.error(node, key, f"expected text, got {_kind(node)}")
            return ""
        return str(value)

    def integer(self, entries: dict, name: str, key: str, minimum: int = 0) -> int | None:
        node = entries.get(name, (None,))[0]
        value = self.scalar(node, key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(node, key, f"expected a whole number, got {value!r}", hint="write it in digits, e.g. 2024")
            return None
        if value < minimum:
            self.error(node, key, f"must be {minimum} or more, got {value}")
            return None
        return value

    def length_mm(self, node: yaml.Node | None, key: str) -> float | None:
        value = self.scalar(node, key)
        if value is None:
            return None
        match = _LENGTH.match(str(value))
        if not match or isinstance(value, bool):
            self.error(node, key, f"expected a length such as 210mm, got {value!r}",
                       hint="write a number with a unit: mm, cm, in or pt")
            return None
        return round(float(match.group(1)) * _MM_PER_UNIT[match.group(2)], 3)

    def page_range(self, node: yaml.Node | None, key: str) -> PageRange | None:
        value = self.scalar(node, key)
        if value is None:
            return None
        match = _PAGE_RANGE.match(str(value)) if not isinstance(value, bool) else None
        if not match:
            self.error(node, key, f"expected a page or a page range such as \"9-12\", got {value!r}")
            return None
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if first < 1:
            self.error(node, key, f"page numbers start at 1, got {first}")
            return None
        if last < first:
            self.error(node, key, f"page range {value!r} runs backwards",
                       hint=f"write \"{last}-{first}\"")
            return None
        return PageRange(first, last)

    def image(self, entries: dict, name: str, key: str, required: bool = False) -> Path | None:
        path, rel = self.path(entries, name, key, required)
        if path is not None:
            problem = check_image(path)
            if problem:
                self.error(entries[name][0], key, f"image '{rel}' {problem}", hint="save it again as JPEG or PNG")
                return None
        return path

    def path(self, entries: dict, name: str, key: str, required: bool = False) -> tuple[Path | None, str]:
        node = entries.get(name, (None,))[0]
        rel = self.string(entries, name, key, required)
        if not rel:
            return None, ""
        path = resolve_inside(self.root, rel)
        if path is None:
            self.error(node, key, f"'{rel}' is outside the issue folder",
                       hint="files of an issue must sit inside its folder; copy the file in and name it relative to issue.yaml")
            return None, rel
        if not path.is_file():
            self.error(node, key, f"'{rel}' does not exist",
                       hint=_near_miss_hint(path) or "paths are relative to the folder that holds issue.yaml")
            return None, rel
        return path, rel

    def _missing(self, entries: dict, name: str, key: str) -> None:
        # Point at the mapping that lacks the key: its first key is the best position we have.
        anchor = next(iter(entries.values()), (None, None))[1]
        if anchor is None:
            self.diagnostics.error(f"'{name}' is required", file=self.file, key=key)
        else:
            self.error(anchor, key, f"'{name}' is required")


def resolve_inside(root: Path, rel: str) -> Path | None:
    """`rel` resolved against `root`, or None when it leaves `root` (.., absolute paths, symlinks out)."""
    if rel.startswith(("/", "\\")) or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", rel):
        return None
    path = (root / rel).resolve()
    if path != root.resolve() and root.resolve() not in path.parents:
        return None
    return path


def _near_miss_hint(path: Path) -> str | None:
    folder = path.parent
    if not folder.is_dir():
        return None
    stem = path.stem.split("-")[0]
    similar = sorted(p.name for p in folder.iterdir() if p.name.split("-")[0] == stem and p.name != path.name)
    return f"did you mean '{similar[0]}'?" if similar else None


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return {
        "tag:yaml.org,2002:int": "a number",
        "tag:yaml.org,2002:float": "a number",
        "tag:yaml.org,2002:bool": "true/false",
        "tag:yaml.org,2002:null": "nothing",
    }.get(node.tag, f"'{node.value}'")


def load_manifest(issue_dir: Path, diagnostics: Diagnostics, strict: bool = False,
                  display_root: str | None = None) -> Manifest:
    """Read and validate ISSUE_DIR/issue.yaml; raises InputError after collecting every error."""
    display_root = display_root if display_root is not None else str(issue_dir)
    issue_dir = issue_dir.resolve()
    file = display_path(display_root, MANIFEST_NAME)
    path = issue_dir / MANIFEST_NAME
    if not issue_dir.is_dir():
        diagnostics.error(f"'{display_root}' is not a folder", hint="name the folder that holds issue.yaml")
        raise InputError(diagnostics)
    if not path.is_file():
        diagnostics.error("no issue.yaml in this folder", file=display_root,
                          hint="an issue folder holds issue.yaml, articles/ and images/; see the README")
        raise InputError(diagnostics)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        diagnostics.error(f"not UTF-8 text (byte {exc.start})", file=file, hint="save issue.yaml as UTF-8")
        raise InputError(diagnostics) from None
    try:
        root_node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        diagnostics.error(
            f"YAML syntax error: {exc.problem or exc.context}",
            file=file, line=mark.line + 1 if mark else None, column=mark.column + 1 if mark else None,
            hint="check the indentation and the quoting of this line and the one before it")
        raise InputError(diagnostics) from None
    except yaml.YAMLError as exc:
        diagnostics.error(f"YAML error: {exc}", file=file)
        raise InputError(diagnostics) from None
    if root_node is None:
        diagnostics.error("issue.yaml is empty", file=file, hint="start from issues/demo/issue.yaml")
        raise InputError(diagnostics)

    r = _Reader(file, issue_dir, diagnostics, strict)
    top = r.mapping(root_node, "", "")
    if not top:
        raise InputError(diagnostics)

    # magazine
    mag = r.mapping(top.get("magazine", (None,))[0], "magazine", "magazine")
    if "magazine" not in top:
        diagnostics.error("'magazine' is required", file=file, key="magazine",
                          hint="add magazine: with at least name:")
    slogan_node = mag.get("slogan", (None,))[0]
    if slogan_node is not None and isinstance(slogan_node, yaml.SequenceNode):
        slogan = [str(r.scalar(n, f"magazine.slogan[{i}]") or "") for i, n in enumerate(slogan_node.value)]
    else:
        slogan = [s for s in [r.string(mag, "slogan", "magazine.slogan")] if s]
    magazine = Magazine(
        name=r.string(mag, "name", "magazine.name", required="magazine" in top),
        slogan=slogan,
        sponsor=r.string(mag, "sponsor", "magazine.sponsor"),
    )

    # issue
    iss = r.mapping(top.get("issue", (None,))[0], "issue", "issue")
    info = IssueInfo(
        year=r.integer(iss, "year", "issue.year", minimum=1),
        number=r.integer(iss, "number", "issue.number", minimum=1),
        serial=r.integer(iss, "serial", "issue.serial", minimum=1),
        period=r.string(iss, "period", "issue.period"),
        label=r.string(iss, "label", "issue.label"),
    )
    if not info.label and info.year and info.number:
        info.label = f"{info.year}年第{info.number}期"

    # page
    page_node = top.get("page", (None,))[0]
    pg = r.mapping(page_node, "page", "page")
    trim = (210.0, 285.0)
    if "trim" not in pg:
        if "page" in top:
            r._missing(pg, "trim", "page.trim")
        else:
            diagnostics.error("'page' is required", file=file, key="page",
                              hint="add page: {trim: [210mm, 285mm], bleed: 3mm}")
    else:
        trim_node = pg["trim"][0]
        items = r.sequence(trim_node, "page.trim")
        if trim_node is not None and isinstance(trim_node, yaml.SequenceNode) and len(items) != 2:
            r.error(trim_node, "page.trim", f"expected [width, height], got {len(items)} values")
        elif len(items) == 2:
            w = r.length_mm(items[0], "page.trim[0]")
            h = r.length_mm(items[1], "page.trim[1]")
            if w and h:
                if not (50 <= w <= 1000 and 50 <= h <= 1000):
                    r.error(trim_node, "page.trim", f"trim {w:g}×{h:g} mm is not a page size",
                            hint="trim is the finished page size, e.g. [210mm, 285mm]")
                trim = (w, h)
    bleed = 3.0
    if "bleed" in pg:
        value = r.length_mm(pg["bleed"][0], "page.bleed")
        if value is not None:
            bleed = value
    binding = r.string(pg, "binding", "page.binding") or "saddle"
    if binding not in ("saddle", "perfect"):
        r.error(pg["binding"][0], "page.binding", f"unknown binding '{binding}'",
                hint="saddle (骑马订, pages in multiples of 4) or perfect (胶装)")
    caliper = r.length_mm(pg["caliper"][0], "page.caliper") if "caliper" in pg else None
    page = PageSpec(trim_mm=trim, bleed_mm=bleed, binding=binding,
                    output_profile=r.string(pg, "output_profile", "page.output_profile") or "FOGRA39L_coated.icc",
                    caliper_mm=caliper if caliper else 0.1)

    # masthead
    masthead = []
    for i, node in enumerate(r.sequence(top.get("masthead", (None,))[0], "masthead")):
        m = r.mapping(node, f"masthead[{i}]", "masthead[]")
        if m:
            masthead.append(MastheadEntry(r.string(m, "label", f"masthead[{i}].label", required=True),
                                          r.string(m, "value", f"masthead[{i}].value")))

    # cover and inside front cover
    cover = None
    if "cover" in top:
        cv = r.mapping(top["cover"][0], "cover", "cover")
        image = r.image(cv, "image", "cover.image")
        lines = [str(r.scalar(n, f"cover.lines[{i}]") or "")
                 for i, n in enumerate(r.sequence(cv.get("lines", (None,))[0], "cover.lines"))]
        barcode = r.string(cv, "barcode", "cover.barcode").replace(" ", "").replace("-", "")
        if barcode and not _valid_ean13(barcode):
            r.error(cv["barcode"][0], "cover.barcode", f"'{barcode}' is not an EAN-13 code",
                    hint="12 digits, or 13 with a correct check digit (an ISSN barcode starts with 977)")
            barcode = ""
        cover = Cover(image=image, lines=lines, barcode=barcode)
    ifc = None
    if "inside_front_cover" in top:
        m = r.mapping(top["inside_front_cover"][0], "inside_front_cover", "inside_front_cover")
        image = r.image(m, "image", "inside_front_cover.image")
        ifc = InsideFrontCover(
            title=r.string(m, "title", "inside_front_cover.title"),
            text=r.string(m, "text", "inside_front_cover.text"),
            image=image,
            caption=r.string(m, "caption", "inside_front_cover.caption"),
        )

    back_images = {}
    for key in ("inside_back_cover", "back_cover"):
        if key in top:
            m = r.mapping(top[key][0], key, key)
            back_images[key] = r.image(m, "image", f"{key}.image", required=True)

    # contents
    contents_pages = None
    if "contents" in top:
        c = r.mapping(top["contents"][0], "contents", "contents")
        contents_pages = r.page_range(c.get("pages", (None,))[0], "contents.pages")

    # sections and the page plan
    sections = []
    section_nodes = r.sequence(top.get("sections", (None,))[0], "sections")
    if "sections" not in top:
        diagnostics.error("'sections' is required", file=file, key="sections",
                          hint="list the sections (栏目) with their articles in printed order")
    elif not section_nodes and not diagnostics.errors:
        r.error(top["sections"][0], "sections", "no sections listed",
                hint="an issue needs at least one section with one article")
    seen_files: dict[Path, str] = {}
    for si, snode in enumerate(section_nodes):
        skey = f"sections[{si}]"
        s = r.mapping(snode, skey, "sections[]")
        if not s:
            continue
        title = r.string(s, "title", f"{skey}.title", required=True)
        style = r.string(s, "style", f"{skey}.style") or ("foreword" if title == "卷首语" else "article")
        if style not in SECTION_STYLES:
            r.error(s["style"][0], f"{skey}.style", f"unknown style '{style}'",
                    hint=f"one of: {', '.join(SECTION_STYLES)}")
            style = "article"
        entries = []
        article_nodes = r.sequence(s.get("articles", (None,))[0], f"{skey}.articles")
        if not article_nodes and "articles" in s:
            r.error(s["articles"][0], f"{skey}.articles", "no articles listed")
        elif "articles" not in s:
            r._missing(s, "articles", f"{skey}.articles")
        for ai, anode in enumerate(article_nodes):
            akey = f"{skey}.articles[{ai}]"
            a = r.mapping(anode, akey, "sections[].articles[]")
            if not a:
                continue
            path, rel = r.path(a, "file", f"{akey}.file", required=True)
            if path is not None and path.suffix.lower() not in (".md", ".markdown"):
                r.error(a["file"][0], f"{akey}.file", f"'{rel}' is not a Markdown file",
                        hint="articles are .md files with YAML front matter")
                path = None
            if path is not None and path in seen_files:
                r.error(a["file"][0], f"{akey}.file", f"'{rel}' is already listed at {seen_files[path]}",
                        hint="an article appears once in an issue")
                path = None
            pages = r.page_range(a.get("pages", (None,))[0], f"{akey}.pages")
            cont = r.integer(a, "continued_on", f"{akey}.continued_on", minimum=1)
            if path is None:
                continue
            seen_files[path] = akey
            spans = {name: Span(file, a[name][0].start_mark.line + 1, a[name][0].start_mark.column + 1,
                                f"{akey}.{name}")
                     for name in ("file", "pages", "continued_on") if name in a}
            entries.append(ArticleEntry(path, rel, pages, cont, title, style, spans))
        sections.append(Section(title, style, entries))

    manifest = Manifest(issue_dir, display_root, magazine, info, page, masthead, cover, ifc,
                        contents_pages, sections, **back_images)
    _check_page_plan(manifest, diagnostics)
    diagnostics.raise_if_errors()
    return manifest


def _check_page_plan(manifest: Manifest, diagnostics: Diagnostics) -> None:
    """Planned ranges must increase in reading order, not overlap, and leave the contents pages free."""
    contents = manifest.contents_pages
    previous: ArticleEntry | None = None
    planned = [a for a in manifest.articles if a.pages]
    for entry in planned:
        where = _where(entry.spans["pages"])
        if contents and (entry.pages.first in contents or entry.pages.last in contents
                         or entry.pages.first < contents.first <= entry.pages.last):
            diagnostics.error(f"pages {entry.pages} overlap the contents pages {contents}",
                              hint="the contents pages are kept free for the contents (contents.pages)", **where)
        if previous is not None:
            if entry.pages.first <= previous.pages.last:
                relation = "overlap" if entry.pages.last >= previous.pages.first else "come before"
                diagnostics.error(
                    f"pages {entry.pages} {relation} the pages {previous.pages} of '{previous.rel}'",
                    hint="articles are listed in printed order; each starts after the one before ends", **where)
        previous = entry
    by_page = {p: a for a in planned for p in range(a.pages.first, a.pages.last + 1)}
    for entry in manifest.articles:
        if entry.continued_on is None:
            continue
        where = _where(entry.spans["continued_on"])
        if entry.pages is None and "pages" in entry.spans:
            continue  # the pages themselves are wrong and already reported
        if entry.pages is None:
            diagnostics.error("continued_on needs pages", hint="give the article its planned pages first", **where)
        elif entry.continued_on <= entry.pages.last:
            diagnostics.error(f"continues on page {entry.continued_on}, which is not after its pages {entry.pages}",
                              hint="a continuation (转页) goes to a later page", **where)
        elif entry.continued_on not in by_page:
            diagnostics.error(f"continues on page {entry.continued_on}, which no article is planned on",
                              hint="continuations are set after the article planned on that page", **where)


def _valid_ean13(digits: str) -> bool:
    if not digits.isdigit() or len(digits) not in (12, 13):
        return False
    check = (10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits[:12])) % 10) % 10
    return len(digits) == 12 or int(digits[12]) == check


def _where(span: Span) -> dict:
    return {"file": span.file, "line": span.line, "column": span.column, "key": span.key}
