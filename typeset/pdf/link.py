"""Joining the body's parts: the pages of every article's PDF part, in order, in one PDF in
which each face is embedded once.

A part (`body.engine.write_part`) names each face by its digest instead of embedding it. Here
the fonts of the same face and resource name are merged across the parts (their widths and
ToUnicode maps are unions: a glyph ID means the same glyph in every part) and the face is
subset once to every glyph the parts use, as WeasyPrint would subset it for one document.
Fonts a part embeds itself (bitmap, variable or colour faces) are left as they are.
"""

from __future__ import annotations

import io
import mmap
import re
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pikepdf
from weasyprint.pdf import fonts as pdf_fonts
from weasyprint.text.ffi import ffi, harfbuzz

from ..body.engine import FACE_MARKER
from ..processes import workers
from ..store import file_digest
from .overprint import overprint_states, share_states

_BFCHAR = re.compile(rb"beginbfchar(.*?)endbfchar", re.S)
_PAIR = re.compile(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>")
_W_RUN = re.compile(rb"(\d+)\s*\[([^\]]*)\]")


class LinkError(Exception):
    """A part names a face that is not among the issue's fonts (a part from other fonts)."""


@dataclass
class _Font:
    """One font (resource name and face) as the parts use it."""

    face: str  # the face's digest
    first: pikepdf.Dictionary  # the Type0 font of the first part that uses it
    widths: dict[int, float] = field(default_factory=dict)
    to_unicode: dict[int, bytes] = field(default_factory=dict)  # glyph ID -> UTF-16BE hex
    right: float = 0.0  # the largest width: the font box's right edge


def link(parts: list[tuple[bytes | Callable[[], bytes], int]], faces: dict[str, Path],
         subsets: Callable | None = None) -> bytes:
    """The first pages of each part, (part, how many), in order; `faces`: face digest -> the
    face's file (`face_files`). `subsets(recipe, make)`: a subset from a cache, or `make()`
    (`LayoutCache.subset`). A part still being written is given as a function that waits for
    it: the other parts' fonts are read meanwhile."""
    opened: list = [None] * len(parts)
    used: list = [None] * len(parts)
    for index in sorted(range(len(parts)), key=lambda index: callable(parts[index][0])):
        part, count = parts[index]
        pdf = pikepdf.open(io.BytesIO(part() if callable(part) else part))
        opened[index], used[index] = (pdf, count), _fonts_used(pdf, count)
    fonts: dict[tuple[str, str], _Font] = {}
    for part_fonts in used:  # merged in the parts' order: the first part's font is the one copied
        for name, face, font, widths, to_unicode in part_fonts:
            merged_font = fonts.setdefault((name, face), _Font(face, font))
            merged_font.widths.update(widths)
            merged_font.right = max(merged_font.right, max(widths.values(), default=merged_font.right))
            merged_font.to_unicode.update(to_unicode)
    out = pikepdf.new()
    merged = _merged_fonts(out, fonts, faces, subsets or (lambda recipe, make: make()))
    states = overprint_states(out)
    for part, count in opened:
        start = len(out.pages)
        out.pages.extend(part.pages[:count])
        for page in out.pages[start:]:
            share_states(page, states)
        for font_dict in _font_dicts(out, out.pages[start:]):
            for name, font in list(font_dict.items()):
                face = _face_of(font)
                if face is not None:
                    font_dict[name] = merged[(name, face)]
    buffer = io.BytesIO()
    out.save(buffer, compress_streams=True)
    return buffer.getvalue()


def face_files(files: list[Path]) -> dict[str, Path]:
    """Face digest -> file, for the issue's font files."""
    return {file_digest(path): path for path in files}


def _font_dicts(pdf: pikepdf.Pdf, pages):
    """Every distinct /Font resource dictionary of the pages and the forms they draw."""
    seen: set = set()
    pending = [page.obj.get("/Resources") for page in pages]
    while pending:
        resources = pending.pop()
        if not isinstance(resources, pikepdf.Dictionary):
            continue
        fonts = resources.get("/Font")
        if isinstance(fonts, pikepdf.Dictionary) and _identity(fonts) not in seen:
            seen.add(_identity(fonts))
            yield fonts
        for _, xobject in resources.get("/XObject", pikepdf.Dictionary()).items():
            if xobject.get("/Subtype") == "/Form" and _identity(xobject) not in seen:
                seen.add(_identity(xobject))
                pending.append(xobject.get("/Resources"))


def _identity(obj) -> tuple:
    return obj.objgen if obj.is_indirect else ("direct", id(obj))


def _descendant(font):
    return font.DescendantFonts[0] if "/DescendantFonts" in font else None


def _face_of(font) -> str | None:
    """The digest of the face a part left out, or None for a font the part embeds."""
    descendant = _descendant(font)
    descriptor = descendant.get("/FontDescriptor") if descendant is not None else None
    if descriptor is None:
        return None
    program = descriptor.get("/FontFile3", descriptor.get("/FontFile2"))
    if program is None:
        return None
    data = program.read_bytes()
    if data[4:4 + len(FACE_MARKER)] != FACE_MARKER:
        return None
    return data[4 + len(FACE_MARKER):].decode()


def _fonts_used(part: pikepdf.Pdf, count: int) -> list[tuple]:
    """(name, face, font, widths, ToUnicode) of each font the first `count` pages of `part` use
    that names its face (`_face_of`), with the glyphs those pages draw."""
    # a part's fonts list the glyphs of all its pages: those of the pages kept when some are not
    drawn = _glyphs_drawn(part.pages[:count]) if count < len(part.pages) else None
    used = []
    for font_dict in _font_dicts(part, part.pages[:count]):
        for name, font in font_dict.items():
            face = _face_of(font)
            if face is not None:
                used.append((name, face, font, *_glyphs(font, None if drawn is None else drawn.get(str(name), set()))))
    return used


def _glyphs(font, only: set[int] | None) -> tuple[dict[int, float], dict[int, bytes]]:
    """The widths and ToUnicode entries of the glyphs `font` has (`only` those of them, when given)."""
    widths = _widths(_descendant(font).get("/W", pikepdf.Array()))
    to_unicode = {int(glyph, 16): text.lower() for section in _BFCHAR.findall(font.ToUnicode.read_bytes())
                  for glyph, text in _PAIR.findall(section)}
    if only is not None:
        widths = {glyph: width for glyph, width in widths.items() if glyph in only}
        to_unicode = {glyph: text for glyph, text in to_unicode.items() if glyph in only}
    return widths, to_unicode


def _widths(w_array: pikepdf.Array) -> dict[int, float]:
    """Glyph ID -> width of a /W array of runs `first [w1 w2 …]`, as WeasyPrint writes it: read
    from its text in one call, not element by element through pikepdf (which took a third of
    the linking)."""
    widths: dict[int, float] = {}
    for first, run in _W_RUN.findall(w_array.unparse(resolved=True)):
        values = run.split()
        widths.update(zip(range(int(first), int(first) + len(values)), map(float, values)))
    return widths


def _glyphs_drawn(pages) -> dict[str, set[int]]:
    """Font resource name -> the glyph IDs the pages (and the forms they draw) show with it."""
    drawn: dict[str, set[int]] = {}
    seen: set = set()

    def walk(container, resources):
        font = None
        for operands, operator in pikepdf.parse_content_stream(container):
            op = str(operator)
            if op == "Tf":
                font = drawn.setdefault(str(operands[0]), set())
            elif op in ("Tj", "'", '"', "TJ") and font is not None:
                for operand in operands[0] if op == "TJ" else operands[-1:]:
                    if isinstance(operand, pikepdf.String):
                        codes = bytes(operand)
                        font.update(int.from_bytes(codes[i:i + 2], "big") for i in range(0, len(codes) - 1, 2))
            elif op == "Do":
                xobject = resources.get("/XObject", pikepdf.Dictionary()).get(str(operands[0]))
                if xobject is not None and xobject.get("/Subtype") == "/Form" and xobject.objgen not in seen:
                    seen.add(xobject.objgen)
                    walk(xobject, xobject.get("/Resources", resources))

    for page in pages:
        walk(page, page.obj.get("/Resources", pikepdf.Dictionary()))
    return drawn


def _merged_fonts(out: pikepdf.Pdf, fonts: dict[tuple[str, str], _Font], faces: dict[str, Path],
                  cached: Callable) -> dict:
    """One Type0 font in `out` per (resource name, face), each face's program once."""
    used: dict[str, set[int]] = {}
    for font in fonts.values():
        used.setdefault(font.face, set()).update(font.widths)
    glyphs = {face: sorted(ids) for face, ids in used.items()}

    def subset(face: str) -> bytes:
        recipe = f"subset {face} {' '.join(map(str, glyphs[face]))}"  # the cache adds code and libraries
        return cached(recipe, lambda: _compressed(_subset(face, glyphs[face], faces)))

    # HarfBuzz subsets a CJK face in some 100 ms and lets go of the GIL meanwhile: all faces at once
    with ThreadPoolExecutor(max(1, min(len(glyphs), workers()))) as pool:
        subsets = dict(zip(sorted(glyphs), pool.map(subset, sorted(glyphs))))
    programs = {face: _program(out, subset) for face, subset in subsets.items()}
    merged = {}
    for (name, face), font in sorted(fonts.items()):
        descendant = out.copy_foreign(_descendant(font.first))
        descriptor = out.copy_foreign(_descendant(font.first).FontDescriptor)
        file_key = "/FontFile3" if "/FontFile3" in descriptor else "/FontFile2"
        descriptor[file_key] = programs[face]
        bbox = [float(v) for v in descriptor.FontBBox]
        descriptor.FontBBox = pikepdf.Array([bbox[0], bbox[1], font.right, bbox[3]])
        fixed = len(font.widths) > 1 and len(set(font.widths.values())) == 1
        descriptor.Flags = (int(descriptor.Flags) & ~1) | int(fixed)
        descendant.FontDescriptor = out.make_indirect(descriptor)
        descendant.W = _width_array(font.widths)
        top = out.copy_foreign(font.first)
        top.DescendantFonts = pikepdf.Array([out.make_indirect(descendant)])
        top.ToUnicode = out.make_stream(_to_unicode_cmap(font.to_unicode))
        merged[(name, face)] = out.make_indirect(top)
    return merged


def _subset(face: str, glyphs: list[int], faces: dict[str, Path]) -> bytes:
    """The face subset to `glyphs`, keeping their IDs, as WeasyPrint subsets a face for a PDF."""
    path = faces.get(face)
    if path is None:
        raise LinkError(f"a part names face {face[:12]}, which is not among the issue's font files")
    with path.open("rb") as file:
        # mapped, not read: HarfBuzz reads the tables and glyphs it keeps of the 15-25 MB face (the
        # six faces of the reference issue were 120 MB copied into memory at every link)
        face_file = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    subset = _Face(face_file)
    subset.subset(dict.fromkeys(glyphs, ""), False)
    return subset.file_content


def _compressed(program: bytes) -> bytes:
    """A face's subset as the linker keeps it: its length, then the program Flate-compressed as
    the PDF holds it, once, not at every link (some 5 MB of CJK subsets: 0.07 s each time)."""
    return len(program).to_bytes(4, "big") + zlib.compress(program)


def _program(out: pikepdf.Pdf, kept: bytes) -> pikepdf.Stream:
    length, compressed = int.from_bytes(kept[:4], "big"), kept[4:]
    stream = out.make_stream(b"")
    stream.write(compressed, filter=pikepdf.Name.FlateDecode)  # saved as it is (qpdf recompresses no Flate)
    if zlib.decompressobj().decompress(compressed, 4) == b"OTTO":
        stream.Subtype = pikepdf.Name.OpenType
    else:
        stream.Length1 = length
    return stream


class _Face(pdf_fonts.Font):
    """A face as WeasyPrint's subsetting reads it: its HarfBuzz face, made here from the file."""

    def __init__(self, data: bytes | mmap.mmap):
        self.file_content, self.index, self.missing, self.family = data, 0, {}, ""
        self._buffer = ffi.from_buffer(data)  # HarfBuzz reads the bytes in place: they must live as long
        blob = ffi.gc(harfbuzz.hb_blob_create(self._buffer, len(data), _READONLY, ffi.NULL, ffi.NULL),
                      harfbuzz.hb_blob_destroy)
        self.hb_face = ffi.gc(harfbuzz.hb_face_create(blob, 0), harfbuzz.hb_face_destroy)
        self._blob = blob


_READONLY = 1  # HB_MEMORY_MODE_READONLY
ffi.cdef("""
    hb_blob_t * hb_blob_create (const char *data, unsigned int length, int mode, void *user_data, void *destroy);
    hb_face_t * hb_face_create (hb_blob_t *blob, unsigned int index);
""")


def _width_array(widths: dict[int, float]) -> pikepdf.Array:
    """/W as WeasyPrint writes it: a run of widths for each run of consecutive glyph IDs."""
    array: list = []
    for glyph in sorted(widths):
        if glyph - 1 not in widths:
            array += [glyph, []]
        array[-1].append(_number(widths[glyph]))
    return pikepdf.Array([v if isinstance(v, int) else pikepdf.Array(v) for v in array])


def _number(value: float):
    return int(value) if value == int(value) else value


def _to_unicode_cmap(to_unicode: dict[int, bytes]) -> bytes:
    lines = [b"/CIDInit /ProcSet findresource begin", b"12 dict begin", b"begincmap", b"/CIDSystemInfo",
             b"<< /Registry (Adobe)", b"/Ordering (UCS)", b"/Supplement 0", b">> def",
             b"/CMapName /Adobe-Identity-UCS def", b"/CMapType 2 def", b"1 begincodespacerange",
             b"<0000> <ffff>", b"endcodespacerange"]
    items = sorted(to_unicode.items())
    for start in range(0, len(items), 100):
        batch = items[start:start + 100]
        lines.append(f"{len(batch)} beginbfchar".encode())
        lines += [b"<%04x> <%s>" % (glyph, text) for glyph, text in batch]
        lines.append(b"endbfchar")
    lines += [b"endcmap", b"CMapName currentdict /CMap defineresource pop", b"end", b"end"]
    return b"\n".join(lines)
