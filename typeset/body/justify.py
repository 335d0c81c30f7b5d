"""Inter-character justification for CJK text: a small extension of WeasyPrint 70.

WeasyPrint justifies a line only by widening spaces, so a line of Chinese (which has none)
stays ragged on the right. Here every gap between two characters of a justified line that
holds Chinese is an expansion opportunity, following clreq's order: gaps next to CJK
characters and punctuation first; gaps inside Latin words and numbers only when a line has
no others. A line without Chinese (an English abstract or quotation), a right-to-left line
and one that holds boxes we do not widen (inline blocks, images) are left to WeasyPrint's
own justification, which widens the word spaces.

The text is never changed: the extra space is added to the advance width of the glyph
before each gap when the line is drawn (as is push-in's compression, pushin.py, taken out),
and the boxes after it are moved along, so text copied out of the PDF stays the source text.

Pinned to WeasyPrint 70 (`justify_line` in layout/inline.py, `Layout.get_first_line` in
text/line_break.py); `install()` refuses other versions.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import weasyprint
from weasyprint.formatting_structure import boxes
from weasyprint.layout import inline
from weasyprint.text.ffi import TO_UNITS, ffi
from weasyprint.text.line_break import Layout

from ..inputs.cjk import BREAK, CLOSING, OPENING
from ..inputs.cjk import is_cjk

SUPPORTED_MAJOR = "70"
_installed = False


@lru_cache(maxsize=4096)
def _is_latin_word_char(char: str) -> bool:
    """Letters and digits of Western text: gaps between two of them expand last."""
    return char.isascii() and char.isalnum() or unicodedata.category(char)[0] in "LN" and \
        unicodedata.east_asian_width(char) not in ("W", "F")


def text_boxes(box, out: list) -> None:
    """The line's boxes in visual order (left to right): TextBoxes and atomic inlines."""
    if isinstance(box, boxes.TextBox):
        out.append(box)
    elif isinstance(box, (boxes.LineBox, boxes.InlineBox)):
        for child in box.children:
            if child.is_in_normal_flow():
                text_boxes(child, out)
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
    text_boxes(line, parts)
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
            x_advance = apply_advances(child, extra_after, x_advance, "typeset_extra_after")


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


def apply_advances(box, changes: dict, x_advance: float, attribute: str) -> float:
    """Move boxes by the space added (or taken out) before them and widen (or narrow) the text
    boxes whose characters change: `changes` is {id(text box): {char index: CSS px}}, added to the
    box's Pango layout under `attribute` for `_get_first_line` to apply to the glyphs."""
    if isinstance(box, boxes.TextBox):
        box.position_x += x_advance
        change = changes.get(id(box))
        if change:
            total = sum(change.values())
            box.width += total
            merged = dict(getattr(box.pango_layout, attribute, None) or {})
            for index, amount in change.items():
                merged[index] = merged.get(index, 0.0) + amount
            setattr(box.pango_layout, attribute, merged)
            x_advance += total
    elif isinstance(box, (boxes.LineBox, boxes.InlineBox)):
        box.position_x += x_advance
        before = x_advance
        for child in box.children:
            if child.is_in_normal_flow():
                x_advance = apply_advances(child, changes, x_advance, attribute)
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
    for char_index, glyph, _font in cluster_ends(line, text):
        spacing = extra_after.get(char_index)
        if spacing:
            glyph.geometry.width += int(round(spacing * TO_UNITS))


def cluster_ends(line, text: str):
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


def install() -> None:
    """Replace WeasyPrint's space-only justification with inter-character justification."""
    global _installed
    if _installed:
        return
    if weasyprint.__version__.split(".")[0] != SUPPORTED_MAJOR:
        raise RuntimeError(f"typeset's justification supports WeasyPrint {SUPPORTED_MAJOR}.x, "
                           f"found {weasyprint.__version__}")
    inline.justify_line = justify_line
    Layout.get_first_line = _get_first_line
    Layout.set_text = _set_text
    _installed = True
