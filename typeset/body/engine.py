"""WeasyPrint glue: the one place the body's HTML becomes laid-out pages.

An `Engine` renders articles with the issue's fonts (one FontConfiguration per set of font
files in a process), through a fetcher that loads files from the issue, the house style and
the font and photo caches only, and turns WeasyPrint's warnings into build errors. WeasyPrint's
font subsetting is made to run on all cores.
"""

from __future__ import annotations

import atexit
import contextvars
import hashlib
import logging
import mmap
import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote

import weasyprint
import weasyprint.css.computed_values
import weasyprint.css.units
import weasyprint.document
import weasyprint.layout
import weasyprint.layout.inline
import weasyprint.pdf
import weasyprint.text.line_break
from weasyprint.images import RasterImage
from weasyprint.pdf import fonts as pdf_fonts
from weasyprint.text.ffi import FROM_UNITS, ffi, harfbuzz, pango
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from ..diagnostics import Diagnostics
from ..i18n import _
from ..inputs.articles import Article
from ..inputs.fonts import FontSet
from ..inputs.house import House
from ..inputs.housestyle import load_house_style
from ..inputs.manifest import Manifest
from ..progress import current
from ..pdf.overprint import overprint_painted
from ..store import Inputs, digest, ensure, user_cache
from . import columns, decorations, heads, justify, pushin, shaping, stylesheets
from .html import ArticleBlock, render_html
from .measure import block_heights


class Engine:
    """Renders articles of one issue, each as a named page group starting on its folio."""

    def __init__(self, manifest: Manifest, articles: list[Article], house: House, fonts: FontSet,
                 diagnostics: Diagnostics):
        install_extensions()
        if house.style is None:  # callers that did not read the house style with the inputs
            house = replace(house, style=load_house_style(house, diagnostics))
        self.manifest, self.house, self.fonts, self.diagnostics = manifest, house, fonts, diagnostics
        font_files = fonts.files()
        self.font_config = _font_configuration(digest(Inputs(stamped=font_files)))
        self.fetcher = _SandboxedFetcher([manifest.root, *house.roots, user_cache("cmyk"),
                                          *(path.parent for path in font_files)], diagnostics,
                                         faces=frozenset(path.resolve() for path in font_files))
        self.names = {a.slug: f"a{i}" for i, a in enumerate(articles)}  # CSS page names

    def html(self, articles: list[Article], starts: dict[str, int | None]) -> str:
        blocks = [ArticleBlock(a, self.names[a.slug], starts[a.slug]) for a in articles]
        return render_html(self.manifest, blocks, self.house, self.fonts, self.diagnostics)

    def render(self, articles: list[Article], starts: dict[str, int | None],
               pages: int | None = None) -> weasyprint.Document:
        """The articles laid out; with `pages`, only the first `pages` pages of the one article
        (the pages after them are never made: those made are the full layout's first pages)."""
        html = self.html(articles, starts)
        shown = _article_of_page.set({self.names[a.slug]: (f"{a.slug} {a.title}", i) for i, a in
                                      enumerate(articles, start=1)})
        wanted = _pages_wanted.set((self.names[articles[0].slug], pages) if pages is not None else None)
        try:
            return self._lay_out(html)
        finally:
            _pages_wanted.reset(wanted)
            _article_of_page.reset(shown)

    def filler_html(self, fillers: list) -> str:
        """The fillers set one under another on pages of their own, to be measured."""
        return render_html(self.manifest, [], self.house, self.fonts, self.diagnostics, filler_samples=tuple(fillers))

    def filler_heights(self, html: str) -> dict[str, float]:
        """The height (CSS px) each filler of `filler_html` takes under an article, the rule above it included."""
        return block_heights([page._page_box for page in self._lay_out(html).pages], "data-sample")

    def _lay_out(self, html: str) -> weasyprint.Document:
        with _weasyprint_messages(self.diagnostics), decorations.later():
            document = with_stack_room(weasyprint.HTML(string=html, base_url=str(self.manifest.root) + "/",
                                                       url_fetcher=self.fetcher).render, font_config=self.font_config)
        self.diagnostics.raise_if_errors()
        self.font_config.typeset_warm = True
        return document

    @property
    def warm(self) -> bool:
        """Whether this process has laid out with these fonts: the faces are loaded (half a second
        the first time, in each process that has not), and processes forked now inherit them."""
        return getattr(self.font_config, "typeset_warm", False)

    def pages_of(self, document, article: Article) -> list[int]:
        """The indexes of the article's pages in `document`."""
        return pages_by_name(document).get(self.names[article.slug], [])


def with_stack_room(function, *args, **kwargs):
    """`function(*args, **kwargs)`, with room for its frames on Python's frame stack.

    CPython 3.11 keeps the frames of Python calls in chunks of 16 KiB and more, mapped from the
    system, and unmaps a chunk as soon as the frame at its base returns. WeasyPrint's layout and
    drawing go up and down a hundred frames deep, line after line: wherever a chunk ends inside
    that range, every line mapped a chunk, touched its pages and unmapped it. A layout of the
    reference issue's 25 articles made 25,000 such maps and unmaps and 32,000 page faults, 0.25 s
    of system time of some 3 s (`strace -c`, `getrusage`). This function's frame is given
    `_STACK_ROOM` slots: CPython allocates it a chunk twice the size it needs, and the frames
    `function` makes stay in the other half, mapped once (1,900 page faults, 0.01 s)."""
    return function(*args, **kwargs)


# slots of 8 bytes: with CPython's 1,000 of overhead, a chunk of 256 KiB, 120 KiB of it free
# for the frames above (a layout needs about 100 frames, 30 KiB)
_STACK_ROOM = 16_500
_room_code = with_stack_room.__code__
with_stack_room.__code__ = _room_code.replace(
    co_varnames=_room_code.co_varnames + tuple(f"room{i}" for i in range(_STACK_ROOM)),
    co_nlocals=_room_code.co_nlocals + _STACK_ROOM)


def install_extensions() -> None:
    """Every extension of WeasyPrint typeset makes (`typeset.install_weasyprint_extensions`)."""
    justify.install()
    pushin.install()
    heads.install()
    columns.install()
    stylesheets.install()
    decorations.install()
    shaping.install()
    _subset_fonts_in_parallel()
    _face_files_read_when_needed()
    _pages_shown_and_cut()
    _photos_named_by_content()
    _struts_kept_with_their_styles()
    _first_lines_shaped_once()
    _parts_overprint_as_painted()


def pages_by_name(document) -> dict[str, list[int]]:
    """Page indexes by page name; the blank pages inserted to start an article on its side are left out."""
    by_name: dict[str, list[int]] = {}
    for index, page in enumerate(document.pages):
        page_type = page._page_box.page_type
        if not page_type.blank:
            by_name.setdefault(page_type.name, []).append(index)
    return by_name


@lru_cache(maxsize=1)
def _photos_named_by_content() -> None:
    """WeasyPrint names a photo in the PDF after its URL, which holds where the issue folder and
    the photo cache are: the same build elsewhere would differ in those bytes. Named after the
    photo's content instead."""
    original = weasyprint.document.original_get_image_from_uri

    def get_image_from_uri(cache, url_fetcher, options, url, *args, **kwargs):
        fresh = url not in cache
        image = original(cache, url_fetcher, options, url, *args, **kwargs)
        if fresh and isinstance(image, RasterImage) and url.startswith("file://"):
            image.id = hashlib.md5(_path_of(url).read_bytes(), usedforsecurity=False).hexdigest()
        return image

    weasyprint.document.original_get_image_from_uri = get_image_from_uri


@lru_cache(maxsize=1)
def _struts_kept_with_their_styles() -> None:
    """WeasyPrint looks up a line's strut (its line height and baseline) for every line and inline
    box, by a key it makes each time from 16 values of the style: 10,000 lookups and 0.13 s of
    the 2.4 s the reference issue's articles take to lay out once. The strut depends on nothing
    else, and WeasyPrint changes a style's font or size only on a copy of it (`style.copy()`,
    which keeps none of its attributes), so each style keeps its own."""
    original = weasyprint.text.line_break.strut

    def strut(style):
        kept = style.__dict__.get("_typeset_strut")
        if kept is None:
            kept = style._typeset_strut = original(style)
        return kept

    for module in (weasyprint.text.line_break, weasyprint.layout.inline, weasyprint.css.units,
                   weasyprint.css.computed_values):
        if module.strut is original:
            module.strut = strut


@lru_cache(maxsize=1)
def _first_lines_shaped_once() -> None:
    """WeasyPrint finds a line in a draft of the paragraph (`split_first_line`), then sets the
    line's text alone in the layout and lets Pango shape and measure it again: a second layout
    of every line, 40 us where measuring the draft's first line takes 10 us. Pango shapes
    a line broken out of a run on its own already, so the draft's first line measures the same:
    in a cold build of the reference issue (every copyfitting setting, tracking included) the
    10,347 lines this applies to gave the same length, width, height and baseline both ways.
    It applies where nothing is taken off the line's end (no hyphen added, no trailing space
    dropped, no newline in it) and words break only where they may (not `break-all` or an
    `overflow-wrap` that breaks them anywhere); the layout keeps the line's text, as
    WeasyPrint's would, for when it is drawn (`Layout.reactivate` sets it again)."""
    original = weasyprint.text.line_break.first_line_metrics
    line_size = weasyprint.text.line_break.line_size

    def first_line_metrics(first_line, text, layout, resume_at, space_collapse, style, hyphenated=False,
                           hyphenation_character=None):
        if resume_at and not hyphenated and style["word_break"] != "break-all" \
                and style["overflow_wrap"] not in ("anywhere", "break-word"):  # lines Pango breaks by character
            length = first_line.length
            line_text = text.encode()[:length].decode()
            if not (space_collapse and line_text.endswith(" ")) and "\n" not in line_text:
                width, height = line_size(first_line, style)
                baseline = pango.pango_layout_get_baseline(layout.layout) * FROM_UNITS
                layout.text = line_text
                layout.deactivate()
                return layout, length, resume_at, width, height, baseline
        return original(first_line, text, layout, resume_at, space_collapse, style, hyphenated, hyphenation_character)

    first_line_metrics.weasyprint = original
    weasyprint.text.line_break.first_line_metrics = first_line_metrics


def _path_of(file_url: str) -> Path:
    return Path(unquote(file_url[len("file://"):].split("?")[0].split("#")[0])).resolve()


# page name -> (the article as shown, its number) while an Engine renders
_article_of_page: contextvars.ContextVar[dict | None] = contextvars.ContextVar("article_of_page", default=None)
# (page name, how many of its pages) where a render asks for no more
_pages_wanted: contextvars.ContextVar[tuple[str, int] | None] = contextvars.ContextVar("pages_wanted", default=None)


@lru_cache(maxsize=1)
def _pages_shown_and_cut() -> None:
    """WeasyPrint lays out one page after another: the article on each is shown as the one being
    set, so a long layout shows where it is; and it stops after the pages a render asks for."""
    original = weasyprint.layout.make_all_pages

    def make_all_pages(*args, **kwargs):
        wanted, made = _pages_wanted.get(), 0
        for page in original(*args, **kwargs):
            article = (_article_of_page.get() or {}).get(page.page_type.name)
            if article is not None:
                current().doing(*article)
            yield page
            if wanted is not None and page.page_type.name == wanted[0] and not page.page_type.blank:
                made += 1
                if made == wanted[1]:
                    return

    weasyprint.layout.make_all_pages = make_all_pages


@contextmanager
def _weasyprint_messages(diagnostics: Diagnostics):
    """WeasyPrint's warnings (failed fetches, ignored CSS) become build errors instead of log noise."""

    class Collect(logging.Handler):
        def emit(self, record):
            diagnostics.error(_("layout: {message}", message=record.getMessage()),
                              hint=_("a stylesheet or template of the house style asks for something WeasyPrint "
                                     "cannot do; fix it there"))

    logger = logging.getLogger("weasyprint")
    handler = Collect(logging.WARNING)
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


class _SandboxedFetcher(URLFetcher):
    """Resources may come only from the issue, the house style and the resolved font files;
    the font files (`faces`) are handed over mapped (`_MappedFace`)."""

    def __init__(self, roots: list[Path], diagnostics: Diagnostics, faces: frozenset[Path] = frozenset()):
        super().__init__(allowed_protocols={"file", "data"}, allow_redirects=False)
        self.roots = sorted({r.resolve() for r in roots})
        self.diagnostics = diagnostics
        self.faces = faces

    def fetch(self, url, headers=None):
        if url.startswith("file://"):
            path = _path_of(url)
            if any(path == r or r in path.parents for r in self.roots):
                ensure(path)  # a cached font face or photo may have been removed since it was checked
                if path in self.faces:
                    return URLFetcherResponse(url, _MappedFace(path))
                return super().fetch(url, headers)
        elif url.startswith("data:"):
            return super().fetch(url, headers)
        self.diagnostics.error(_("refused to load '{url}': only files inside the issue folder may be used", url=url),
                               hint=_("copy the file into the issue folder and name it by a relative path"))
        raise ValueError(f"refused: {url}")


class _MappedFace:
    """A font file as WeasyPrint reads a face for its font folder (`add_font_face`): mapped, not
    read. It looked at the first bytes (a WOFF to unpack?) and handed the rest to `_FontFolder`,
    which links the file by its size and ends: reading each face whole, 143 MB for the reference
    issue's six, took 0.07-0.09 s of every process's first layout (each worker's after an edit)."""

    def __init__(self, path: Path):
        self.path = path

    def read(self) -> mmap.mmap:
        with self.path.open("rb") as file:
            return mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)

    def close(self) -> None:
        pass  # the mapping goes with the last reference to it


# A dict in a process that only draws previews (typeset serve, by `reuse_font_subsets`): each font
# file is then subset once for all the glyphs its previews have used so far, and that subset is
# reused for as long as it covers a page's glyphs. A preview is a little larger and much sooner;
# the PDFs a build writes never use this.
_preview_subsets: dict | None = None


def reuse_font_subsets() -> None:
    """For a process that draws previews only: font subsets are kept and reused across PDFs."""
    global _preview_subsets
    _preview_subsets = {}


@lru_cache(maxsize=1)
def _subset_fonts_in_parallel() -> None:
    """WeasyPrint subsets the fonts of a PDF one after another, each a HarfBuzz call of some
    50 ms on a CJK face; the calls release the GIL, so they run on all cores first here and
    WeasyPrint's own pass finds them done. Same calls, same bytes: only sooner."""
    original_build, original_subset = weasyprint.pdf.build_fonts_dictionary, pdf_fonts.Font.subset

    def subset_once(font, to_unicode, hinting):
        if not getattr(font, "_typeset_subset", False):
            original_subset(font, to_unicode, hinting)

    def build_fonts_dictionary(pdf, fonts, compress, subset, options):
        by_file: dict = {}
        for font in fonts.values():
            by_file.setdefault(font.hash, []).append(font)
        jobs = []
        for same_file in by_file.values():  # as WeasyPrint groups them: one subset per font file
            font = same_file[0]
            if font.bitmap:
                continue
            to_unicode = {}
            if subset and not font.used_in_forms:
                for file_font in same_file:
                    to_unicode = {**to_unicode, **file_font.to_unicode}
            jobs.append((font, to_unicode))

        left_out = _leave_faces_out(jobs) if _writing_part else {}
        jobs = [(font, to_unicode) for font, to_unicode in jobs if id(font) not in left_out]

        def run(job):
            font, to_unicode = job
            if _preview_subsets is None or not to_unicode:
                original_subset(font, to_unicode, options["hinting"])
            else:
                key = (font.hash, bool(font.missing), options["hinting"])
                glyphs, data = _preview_subsets.get(key, (frozenset(), b""))
                if not data or not glyphs.issuperset(to_unicode):
                    glyphs = glyphs.union(to_unicode)
                    original_subset(font, dict.fromkeys(glyphs, ""), options["hinting"])
                    _preview_subsets[key] = (glyphs, font.file_content)
                font.file_content = _preview_subsets[key][1]
            font._typeset_subset = True

        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            list(pool.map(run, jobs))
        try:
            return original_build(pdf, fonts, compress, subset, options)
        finally:
            for font, _ in jobs:  # a document's fonts live on: its next PDF subsets them anew
                font._typeset_subset = False
            for font, content in left_out.values():
                font.file_content, font._typeset_subset = content, False

    pdf_fonts.Font.subset = subset_once
    weasyprint.pdf.build_fonts_dictionary = build_fonts_dictionary


_NOT_READ = object()
_making_font = threading.local()


@lru_cache(maxsize=1)
def _face_files_read_when_needed() -> None:
    """WeasyPrint copies a face's whole file out of HarfBuzz for each font it draws with (80 ms
    for the six CJK faces of a page), though a part names its faces instead of embedding them
    (`write_part`): the copy is made when the content is first asked for, as subsetting does."""
    original_init, original_data = pdf_fonts.Font.__init__, pdf_fonts.get_hb_object_data

    def init(font, *args, **kwargs):
        _making_font.active = True
        try:
            original_init(font, *args, **kwargs)
        finally:
            _making_font.active = False

    def get_hb_object_data(hb_object, *args, **kwargs):
        if getattr(_making_font, "active", False) and not args and not kwargs:
            return _NOT_READ  # the face's file, in Font.__init__: read by `file_content` when asked for
        return original_data(hb_object, *args, **kwargs)

    def read(font):
        content = font.__dict__.get("_file_content", _NOT_READ)
        if content is _NOT_READ:
            content = font.__dict__["_file_content"] = original_data(font.hb_face)
        return content

    def store(font, content):
        font.__dict__["_file_content"] = content

    pdf_fonts.Font.__init__ = init
    pdf_fonts.get_hb_object_data = get_hb_object_data
    pdf_fonts.Font.file_content = property(read, store)


# True while `write_part` writes: the faces are left out of the PDF, `pdf.link` embeds them
_writing_part = False
FACE_MARKER = b"typeset-face:"


def write_part(document: weasyprint.Document, indexes: list[int]) -> bytes:
    """The pages `indexes` of `document` as a part of the issue's PDF, to be joined by `pdf.link`.

    A part names the face of each font instead of embedding a subset of it: the linker embeds
    each face once, subset to the glyphs all parts use, where WeasyPrint would embed one subset
    per part. The glyph IDs (CIDs) are the face's own in every part, so the pages need no change.
    Its pure black overprints already (`pdf.overprint`): the print files take its pages as they are."""
    global _writing_part
    _writing_part = True
    try:
        return with_stack_room(document.copy([document.pages[i] for i in indexes]).write_pdf)
    finally:
        _writing_part = False


@lru_cache(maxsize=1)
def _parts_overprint_as_painted() -> None:
    """The pages of a part made to overprint pure black as they are painted (`write_part`)."""
    original = weasyprint.document.Page.paint

    def paint(page, stream, scale=1):
        original(page, stream, scale)
        if _writing_part:
            overprint_painted(stream)

    weasyprint.document.Page.paint = paint


def _leave_faces_out(jobs: list) -> dict[int, tuple]:
    """While a part is written: each face it may name instead of embedding gets its placeholder
    for file content, and counts as subset. id(font) -> (font, its content), to put back."""
    left_out = {}
    for font, _to_unicode in jobs:
        if _can_leave_out(font):
            left_out[id(font)] = (font, font.__dict__.get("_file_content", _NOT_READ))  # not read for this
            font.file_content, font._typeset_subset = _face_placeholder(font), True
    return left_out


def _can_leave_out(font) -> bool:
    """A face WeasyPrint embeds as it is, subset: not a bitmap, variable or colour font (those it
    rewrites), nor one with glyphs missing (a CMap of its own) or drawn in a pattern (all glyphs)."""
    return not (font.bitmap or "fvar" in font.tables or font.png or font.svg or font.colr or font.missing
                or font.used_in_forms)


_face_placeholders: dict[int, bytes] = {}  # by HarfBuzz face: they live as long as their font configuration
# (size, its ends) -> (digest, file), of the font files: the part writer names a face by
# its digest, and the font folders link a face to its file (`_FontFolder`)
_known_faces: dict[tuple[int, bytes], tuple[str, Path] | None] = {}
_ENDS = 4096  # bytes at each end of a face's file that tell it from the other files of the issue


def know_faces(faces: dict[str, Path]) -> None:
    """The digests of the issue's font files (`link.face_files`: digest -> file), known before
    the worker processes are forked: a face's placeholder is then found by its file's size and
    ends, where hashing the whole face (some 20 ms) was repeated in every process for every face."""
    for face, path in faces.items():
        with path.open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            head = file.read(_ENDS)
            file.seek(max(0, size - _ENDS))
            key = (size, head + file.read(_ENDS))
        # two files alike in size and ends (never seen) would name each other: such faces are
        # hashed, and copied to the font folders
        known = _known_faces.get(key, (face, path))
        _known_faces[key] = known if known is not None and known[0] == face else None


def _ends_of(data) -> tuple[int, bytes]:
    """A face's size and its first and last `_ENDS` bytes, as `know_faces` keys its file."""
    size = len(data)
    return size, bytes(data[:_ENDS]) + bytes(data[max(0, size - _ENDS):])


def _face_placeholder(font) -> bytes:
    """What a part holds for a face: its first four bytes (OTTO: CFF outlines) and its digest."""
    address = int(ffi.cast("uintptr_t", font.hb_face))
    if address not in _face_placeholders:
        blob = ffi.gc(harfbuzz.hb_face_reference_blob(font.hb_face), harfbuzz.hb_blob_destroy)
        with ffi.new("unsigned int *") as length:
            data = ffi.buffer(harfbuzz.hb_blob_get_data(blob, length), length[0])
        known = _known_faces.get(_ends_of(data))
        # not one of the files (the linker will say so), or one of two alike: hashed
        face = known[0] if known is not None else hashlib.sha256(data).hexdigest()
        _face_placeholders[address] = data[:4] + FACE_MARKER + face.encode()
    return _face_placeholders[address]


_font_configurations: dict[str, FontConfiguration] = {}


def _font_configuration(fonts_key: str) -> FontConfiguration:
    """One per set of font files in a process: WeasyPrint then reads each face once, not at every
    layout (`typeset serve` lays out an article on every save)."""
    config = _font_configurations.get(fonts_key)
    if config is None and not _font_configurations:
        _use_own_temporary_folder()
    if config is None:
        if len(_font_configurations) >= 4:  # WeasyPrint removes its folder once no engine holds it
            del _font_configurations[next(iter(_font_configurations))]
            _face_placeholders.clear()  # its faces' addresses may be taken by others
        config = _font_configurations[fonts_key] = _FontConfiguration()
    return config


class _FontConfiguration(FontConfiguration):
    """WeasyPrint's, its faces linked rather than copied (`_FontFolder`). The folder is still
    WeasyPrint's to make when the first face is added: a worker forked before then makes its
    own, as WeasyPrint takes a face whose file is in the folder for one it added itself."""

    @property
    def _folder(self) -> Path | None:
        return self.__dict__.get("_face_folder")

    @_folder.setter
    def _folder(self, folder: Path | None) -> None:
        self.__dict__["_face_folder"] = None if folder is None else _FontFolder(folder)


class _FontFolder(type(Path())):
    """Where a font configuration puts the faces it hands to fontconfig. WeasyPrint writes a copy
    of each face there, 150 MB with the CJK faces: 0.3 s of the first layout in a process (a
    build without the resident process, the resident process's warm-up). A face read from one
    of the issue's font files (`know_faces`) is linked to that file instead; fontconfig, FreeType and
    HarfBuzz read the same bytes through the link. Nothing is written into a file that is there:
    a worker reading a face while another truncated it to write it died of a bus error, and a
    write through a link would go into the font file itself."""

    def write_bytes(self, data):
        known = _known_faces.get(_ends_of(data))
        if known is not None:
            try:
                os.symlink(os.path.abspath(known[1]), self)
                return len(data)
            except FileExistsError:  # another process added the face (the name is its descriptors')
                return len(data)
            except OSError:  # a file system without symbolic links: copied
                pass
        handle, temporary = tempfile.mkstemp(dir=self.parent, prefix=f".{self.name}-")
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, self)
        return len(data)


def font_folders() -> frozenset[str]:
    """Where this process's font configurations put their faces (what a forked worker inherits)."""
    return frozenset(str(c._folder) for c in _font_configurations.values() if c._folder is not None)


def remove_font_folders(inherited: frozenset[str] = frozenset()) -> None:
    """Remove the folders the font configurations copied their fonts to (about 150 MB with the CJK
    faces). The configurations live as long as the process, so WeasyPrint's clean-up when one is
    collected would never run and the folders would outlive every build. A forked worker passes
    the folders it `inherited`: the process that forked it removes those."""
    for config in _font_configurations.values():
        if config._folder is not None and str(config._folder) not in inherited:
            shutil.rmtree(config._folder, ignore_errors=True)
            config._folder = None


atexit.register(remove_font_folders)


def leave_inherited_folders() -> None:
    """In a process forked to run one command (`typeset.resident`): the font configurations'
    folders and the temporary folder it inherited are its parent's, which removes them when it
    ends; this process removes only what it makes, in a temporary folder of its own."""
    for config in _font_configurations.values():
        config._folder = None  # the configurations stay: their fonts are loaded
    atexit.unregister(shutil.rmtree)  # the parent's temporary folders
    if _font_configurations:
        tempfile.tempdir = None
        _use_own_temporary_folder()


def _use_own_temporary_folder() -> None:
    """Temporary files of this process (WeasyPrint's font copies above all) go to a folder of its
    own, `typeset-<pid>` in the system's. A process killed before its clean-up ran (SIGKILL,
    SIGTERM, a power cut) leaves that folder behind, and the next process removes it: its
    process is gone. Forked workers write into it too; it goes when its process ends."""
    base = Path(tempfile.gettempdir())
    for stale in base.glob("typeset-*"):
        pid = stale.name.split("-", 1)[1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    own = base / f"typeset-{os.getpid()}"
    try:
        own.mkdir(mode=0o700, exist_ok=True)
    except OSError:
        return  # the system's folder as it is
    tempfile.tempdir = str(own)
    atexit.register(shutil.rmtree, own, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's
    return True
