"""Line adjustment for CJK text, push-in then inter-character justification: a small extension
of WeasyPrint 70.

Push-in (clreq §3.8, JIS X 4051): where the piece of text after a break opportunity does not fit
and would leave the line more than half a character short (a character pushed out by a mark that may
not start a line, ，。」…, or held by a quotation mark or a number), the line keeps the piece if
compressing its full-width punctuation (the blank half of each mark, no more) makes room; the
line-end mark gives its blank first, the others share the rest evenly. Only when there is no room
is the piece pushed out, and only then does justification widen the line.

WeasyPrint justifies a line only by widening spaces, so a line of Chinese (which has none)
stays ragged on the right. Here every gap between two characters of a justified line that
holds Chinese is an expansion opportunity, following clreq's order: gaps next to CJK
characters and punctuation first; gaps inside Latin words and numbers only when a line has
no others. A line without Chinese (an English abstract or quotation), a right-to-left line
and one that holds boxes we do not widen (inline blocks, images) are left to WeasyPrint's
own justification, which widens the word spaces.

The text is never changed: the extra space is added to the advance width of the glyph
before each gap when the line is drawn, and the boxes after it are moved along, so text
copied out of the PDF stays the source text.

Pinned to WeasyPrint 70 (`justify_line` in layout/inline.py, `Layout.get_first_line` in
text/line_break.py); `install()` refuses other versions.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import weasyprint
from weasyprint.formatting_structure import boxes
from weasyprint.layout import inline
from weasyprint.text.ffi import FROM_UNITS, TO_UNITS, ffi, pango
from weasyprint.text.line_break import Layout, create_layout, line_size

from ..inputs.cjk import BREAK, CLOSING, OPENING
from ..inputs.markdown import is_cjk

SUPPORTED_MAJOR = "70"
_installed = False


@lru_cache(maxsize=4096)
def _is_latin_word_char(char: str) -> bool:
    """Letters and digits of Western text: gaps between two of them expand last."""
    return char.isascii() and char.isalnum() or unicodedata.category(char)[0] in "LN" and \
        unicodedata.east_asian_width(char) not in ("W", "F")


def _text_boxes(box, out: list) -> None:
    """The line's boxes in visual order (left to right): TextBoxes and atomic inlines."""
    if isinstance(box, boxes.TextBox):
        out.append(box)
    elif isinstance(box, (boxes.LineBox, boxes.InlineBox)):
        for child in box.children:
            if child.is_in_normal_flow():
                _text_boxes(child, out)
    else:
        out.append(box)


def expansion_gaps(chars: list[str]) -> list[int]:
    """Indexes i of the gaps after chars[i] that may expand, in clreq's order of preference.

    First the gaps between CJK characters and punctuation; failing those, the gaps inside
    Latin words and numbers; last, the gaps at a Latin word's edges and around spaces (the
    quarter em between Han and Latin, and a space, should keep their width) and between two
    punctuation marks set as a compressed pair (；“ must not open up to a full em again).
    """
    last = len(chars) - 1
    while last >= 0 and (chars[last].isspace() or chars[last] == BREAK):
        last -= 1
    cjk, latin, edges = [], [], []
    for i in range(last):
        left, right = chars[i], chars[i + 1]
        if left == BREAK:
            continue  # the gap is the one before the break: an invisible character takes no space
        left_latin, right_latin = _is_latin_word_char(left), _is_latin_word_char(right)
        if left.isspace() or right.isspace() or left_latin != right_latin or _compressed_pair(left, right):
            edges.append(i)
        elif left_latin:
            latin.append(i)
        else:
            cjk.append(i)
    return cjk or latin or edges


def _compressed_pair(left: str, right: str) -> bool:
    """Two adjacent punctuation marks of which one is set half width (cjk.py marks it)."""
    return left in CLOSING and (right in CLOSING or right in OPENING) or left in OPENING and right in OPENING


def justify_line(context, line, extra_width):
    """Spread `extra_width` over the inter-character gaps of `line` (replaces WeasyPrint's for
    lines that hold Chinese)."""
    if extra_width <= 0:
        return
    parts: list = []
    _text_boxes(line, parts)
    if not _ours(line, parts):
        _weasyprint_justify_line(context, line, extra_width)
        return
    chars, owners = [], []  # every character of the line, and (box, index in box.text)
    for part in parts:
        if isinstance(part, boxes.TextBox):
            for index, char in enumerate(part.text):
                chars.append(char)
                owners.append((part, index))
        else:
            chars.append("\ufffc")  # an atomic inline (image, inline-block) counts as one character
            owners.append((part, None))
    gaps = expansion_gaps(chars)
    if not gaps:
        return
    # A margin at either end of the line (the quarter em of a Latin word, cjk.py) would leave
    # the line short of the column edge: drop it and spread its width with the rest.
    lead = _drop_edge_margins(line, "left")
    extra_width += lead + _drop_edge_margins(line, "right")
    spacing = extra_width / len(gaps)
    extra_after: dict[int, dict[int, float]] = {}
    for gap in gaps:
        box, index = owners[gap]
        if index is not None:
            extra_after.setdefault(id(box), {})[index] = spacing
    x_advance = -lead
    for child in line.children:
        if child.is_in_normal_flow():
            x_advance = _apply(child, extra_after, spacing, x_advance)


def _ours(line, parts: list) -> bool:
    """A left-to-right line of text boxes only, with at least one wide (CJK) character."""
    if line.style["direction"] != "ltr":
        return False
    if not all(isinstance(part, boxes.TextBox) and part.style["direction"] == "ltr" for part in parts):
        return False
    return any(is_cjk(char) for part in parts for char in part.text)


def _drop_edge_margins(line, side: str) -> float:
    """Remove the margins of the inline boxes that open (or close) the line; their total width."""
    chain = []
    node = line
    while True:
        children = [c for c in node.children if c.is_in_normal_flow()]
        if not children or not isinstance(children[0 if side == "left" else -1], boxes.InlineBox):
            break
        node = children[0 if side == "left" else -1]
        chain.append(node)
    attribute = f"margin_{side}"
    total = sum(getattr(box, attribute) or 0 for box in chain)
    if side == "left":
        # Every box moves left by `total` in _apply; a box of the chain keeps the margins of
        # the boxes around it that are not dropped, i.e. none: pre-compensate its own shift.
        outer = 0.0
        for box in chain:
            box.position_x += total - outer
            outer += getattr(box, attribute) or 0
    for box in chain:
        setattr(box, attribute, 0)
    return total


def _apply(box, extra_after: dict, spacing: float, x_advance: float) -> float:
    """Move boxes by the space added before them and widen those that take some."""
    if isinstance(box, boxes.TextBox):
        box.position_x += x_advance
        extra = extra_after.get(id(box))
        if extra:
            added = sum(extra.values())
            box.width += added
            box.pango_layout.typeset_extra_after = extra
            x_advance += added
    elif isinstance(box, (boxes.LineBox, boxes.InlineBox)):
        box.position_x += x_advance
        before = x_advance
        for child in box.children:
            if child.is_in_normal_flow():
                x_advance = _apply(child, extra_after, spacing, x_advance)
        box.width += x_advance - before
    else:
        box.translate(x_advance, 0)
    return x_advance


_weasyprint_justify_line = inline.justify_line
_original_get_first_line = Layout.get_first_line


def _get_first_line(self):
    """Pango's first line, with the push-in compression and the justification space added to the
    glyph advances."""
    first_line, index = _original_get_first_line(self)
    if getattr(self, "_typeset_widened", None) != first_line:
        extra = dict(getattr(self, "typeset_shrink_after", None) or {})
        for char_index, width in (getattr(self, "typeset_extra_after", None) or {}).items():
            extra[char_index] = extra.get(char_index, 0.0) + width
        if extra:
            _widen_glyphs(first_line, self.text, extra)
        self._typeset_widened = first_line
    return first_line, index


_original_set_text = Layout.set_text


def _set_text(self, text, justify=False):
    self._typeset_widened = None  # a new text means a new Pango line to widen
    return _original_set_text(self, text, justify)


def _widen_glyphs(line, text: str, extra_after: dict[int, float]) -> None:
    """Add `extra_after[char index]` (CSS px) to the last glyph of that character's cluster."""
    for char_index, glyph, _font in _cluster_ends(line, text):
        spacing = extra_after.get(char_index)
        if spacing:
            glyph.geometry.width += int(round(spacing * TO_UNITS))


def _cluster_ends(line, text: str):
    """(index of a cluster's last character, the cluster's last glyph, its Pango font) for the
    clusters of a Pango line, in logical order within each run."""
    char_at_byte = {}
    position = 0
    for index, char in enumerate(text):
        char_at_byte[position] = index
        position += len(char.encode())
    char_at_byte[position] = len(text)
    run = line.runs
    while run != ffi.NULL:
        glyph_item = run.data
        run = run.next
        glyphs = glyph_item.glyphs
        offset, length = glyph_item.item.offset, glyph_item.item.length
        clusters = glyphs.log_clusters
        count = glyphs.num_glyphs
        for i in range(count):
            start = clusters[i]
            end = clusters[i + 1] if i + 1 < count else length
            if end == start:
                continue  # not the last glyph of its cluster
            last_char = char_at_byte.get(offset + end, None)
            if last_char is not None:
                yield last_char - 1, glyphs.glyphs[i], glyph_item.item.analysis.font


_original_split_first_line = inline.split_first_line


def _split_first_line(text, style, context, max_width, justification_spacing, is_line_start=True, minimum=False):
    """WeasyPrint's first line of `text`, pushed in where pushing out would leave it a character short."""
    result = _original_split_first_line(text, style, context, max_width, justification_spacing,
                                        is_line_start, minimum)
    if minimum or max_width is None or result[2] is None or style["text_align_all"] != "justify":
        return result
    return _pushed_in(text, style, context, max_width, justification_spacing, result) or result


def _pushed_in(text, style, context, max_width, justification_spacing, result):
    """The first line with the piece of text pushed out of it kept on it, its punctuation
    compressed to make room, as `split_first_line` returns it; None when the line lost less than
    half a character (widening it is then fine) or there is no room."""
    _layout, length, resume, width, height, _baseline = result
    encoded = text.encode()
    line_text, rest = encoded[:resume].decode(), encoded[resume:].decode()
    if max_width - width < style["font_size"] / 2 or length != resume or not line_text or line_text[-1].isspace():
        return None
    piece = _next_piece(line_text, rest, style, context, justification_spacing)
    if not piece or piece == len(rest) or any(c.isspace() for c in rest[:piece]):
        return None
    candidate = line_text + rest[:piece]
    layout = create_layout(candidate, style, context, None, justification_spacing)
    first_line, _ = layout.get_first_line()
    width, height = line_size(first_line, style)
    overflow = width - max_width + 0.01  # a hair under the edge, after rounding
    shrink = _compression(first_line, candidate, overflow, style["font_size"]) if overflow > 0 else None
    if shrink is None:
        return None
    # Applied to the glyphs whenever the line is drawn (`_get_first_line`); Pango keeps the extents
    # it measured, so the narrower width is counted here, in the units the glyphs are changed by.
    layout.typeset_shrink_after = shrink
    width += sum(int(round(v * TO_UNITS)) for v in shrink.values()) * FROM_UNITS
    baseline = pango.pango_layout_get_baseline(layout.layout) * FROM_UNITS
    layout.deactivate()
    end = len(candidate.encode())
    return layout, end, end, width, height, baseline


def _next_piece(line_text: str, rest: str, style, context, justification_spacing) -> int:
    """How many characters of `rest` come before its first line-break opportunity, as Pango
    sees them after `line_text` (a character and the marks that may not start a line after it,
    a quotation mark kept with its neighbours, a number); 0 when none comes soon."""
    sample = line_text + rest[:_LONGEST_PIECE + 1]
    layout = create_layout(sample, style, context, None, justification_spacing)
    count = ffi.new("int *")
    attrs = pango.pango_layout_get_log_attrs_readonly(layout.layout, count)
    piece = next((k - len(line_text) for k in range(len(line_text) + 1, min(count[0], len(sample) + 1))
                  if attrs[k].is_line_break), 0)
    layout.deactivate()
    return piece


_LONGEST_PIECE = 6  # characters: more than compressing a line's punctuation can make room for


def _compression(line, text: str, needed: float, font_size: float) -> dict[int, float] | None:
    """Negative advances (CSS px by character index) that take `needed` out of the line's
    full-width punctuation: each mark gives at most its blank half (measured on the glyph, less
    a twentieth of an em of clearance); the mark ending the line first, then all evenly."""
    room: list[tuple[int, float]] = []  # (index of the glyph whose advance shrinks, how much it can)
    ink = ffi.new("PangoRectangle *")
    last = len(text) - 1
    for index, glyph, font in _cluster_ends(line, text):
        char = text[index]
        if char not in CLOSING and char not in OPENING:
            continue
        pango.pango_font_get_glyph_extents(font, glyph.glyph, ink, ffi.NULL)
        advance = glyph.geometry.width * FROM_UNITS
        blank = advance - (ink.x + ink.width) * FROM_UNITS if char in CLOSING else ink.x * FROM_UNITS
        limit = min(advance / 2, blank - font_size / 20)
        before = index - 1
        while before >= 0 and text[before] == BREAK:
            before -= 1
        if limit > 0 and (char in CLOSING or before >= 0):
            room.append((index if char in CLOSING else before, limit))
    ffi.release(ink)
    shrink: dict[int, float] = {}
    ending = [r for r in room if r[0] == last]
    for index, limit in ending:
        shrink[index] = -min(limit, needed)
        needed += shrink[index]
    others = sorted((r for r in room if r[0] != last), key=lambda r: r[1])
    for position, (index, limit) in enumerate(others):  # the smallest rooms fill up first
        share = min(limit, needed / (len(others) - position))
        shrink[index] = shrink.get(index, 0.0) - share
        needed -= share
    return shrink if needed <= 1e-6 else None


def install() -> None:
    """Replace WeasyPrint's space-only justification with inter-character justification."""
    global _installed
    if _installed:
        return
    if weasyprint.__version__.split(".")[0] != SUPPORTED_MAJOR:
        raise RuntimeError(f"typeset's justification supports WeasyPrint {SUPPORTED_MAJOR}.x, "
                           f"found {weasyprint.__version__}")
    inline.justify_line = justify_line
    inline.split_first_line = _split_first_line
    Layout.get_first_line = _get_first_line
    Layout.set_text = _set_text
    _installed = True
