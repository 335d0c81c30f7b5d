"""Push-in (clreq §3.8, JIS X 4051): a line is pushed in before it is pushed out.

Where the piece of text after a break opportunity does not fit and would leave the line a whole
character short or more (a character pushed out by a mark that may not start a line, ，。」…, a
quotation, a number, the last characters of a paragraph kept together), the line keeps the
piece if compressing its full-width punctuation (the blank half of each mark, no more) makes
room: the mark ending the line gives its blank first, the others share the rest evenly. Only
when there is no room is the piece pushed out, and only then does justification (justify.py)
widen the line.

Within one text box Pango breaks the line: `_pushed_in` lays out the line with the piece and
measures each mark's blank on its glyph. Where the piece starts in the next inline box (a mark
set half width, the last characters of a paragraph kept together) WeasyPrint breaks it:
`_split_inline_box` lays the line out again a little wider, and when what it then holds fits
the measure once its marks give up their blank halves, keeps that line and squeezes it to the
measure when it is aligned (`_text_align`). The compression is a negative advance on glyphs,
applied as the line is drawn (justify.py), so the text is unchanged.

Pinned to WeasyPrint 70 (`split_first_line`, `split_inline_box` and `text_align` in
layout/inline.py), like justify.py.
"""

from __future__ import annotations

import contextvars
import dis
import math
import types

from weasyprint.formatting_structure import boxes
from weasyprint.layout import inline
from weasyprint.text import line_break
from weasyprint.text.ffi import FROM_UNITS, TO_UNITS, ffi, pango
from weasyprint.text.line_break import create_layout, line_size

from ..inputs.cjk import BREAK, CLOSING, OPENING
from ..inputs.cjk import is_cjk
from .justify import apply_advances, cluster_ends, text_boxes
from .measure import line_text

_in_wider_trial = contextvars.ContextVar("in_wider_trial", default=False)
# the functions replaced, as they were when install() ran (WeasyPrint's, or another extension's)
_original_split_first_line = _original_split_inline_box = _original_text_align = None
_installed = False


def _split_first_line(text, style, context, max_width, justification_spacing, is_line_start=True, minimum=False):
    """WeasyPrint's first line of `text`, pushed in where pushing out would leave it a character short."""
    split = _original_split_first_line
    if _split_first_wide_line is not None and _starts_wide(text, style, max_width):
        split = _split_first_wide_line
    result = split(text, style, context, max_width, justification_spacing, is_line_start, minimum)
    if minimum or max_width is None or result[2] is None or style["text_align_all"] != "justify" \
            or _in_wider_trial.get():
        return result
    return _pushed_in(text, style, context, max_width, justification_spacing, result) or result


# WeasyPrint's `split_first_line` lays out a draft of `ratio` (4) line widths' worth of characters
# to find a line and the first break of the next: 2 lines of Latin text, but 4 of Chinese (a
# character 1 em wide), Pango shaping and breaking all of them for every line. Where at least half
# of the characters are wide, the same function with 1.75 (`_WIDE_RATIO`) finds the same line:
# at 0.75 em a character or more, the draft is over 1.3 lines wide, so it never fits on one line
# (which would make WeasyPrint lay out the rest of the paragraph instead), and WeasyPrint still
# checks that the line after breaks within it. The reference issue's 25 articles laid out once:
# 4,669 such lines, 0.69 -> 0.54 s in this function, every result the same.
_WIDE_RATIO = 1.75
_split_first_wide_line = None


def _starts_wide(text: str, style, max_width) -> bool:
    """Whether at least half of the characters the draft of `text` holds are wide (in a measure of
    4 em or more: in a narrower one WeasyPrint drafts otherwise, whatever its ratio)."""
    font_size = style["font_size"]
    if max_width is None or max_width == math.inf or not font_size or max_width < 4 * font_size:
        return False
    draft = text[:int(max_width / font_size * _WIDE_RATIO)]
    # UTF-8 takes 3 bytes for a wide character (and for “”——……, full width in a Chinese face), 1
    # for a Latin letter, digit or space: at least as many of the first as of the second
    return len(draft.encode()) >= 2 * len(draft)


def _with_draft_ratio(split_first_line, ratio: float):
    """WeasyPrint 70's `split_first_line` with `ratio` for its draft (its `ratio = 4`, the one 4
    in its constants); None where that is not so."""
    code = split_first_line.__code__
    instructions = list(dis.get_instructions(code))
    stores = [i for i, ins in enumerate(instructions) if ins.opname == "STORE_FAST" and ins.argval == "ratio"]
    if code.co_consts.count(4) != 1 or len(stores) != 1 or instructions[stores[0] - 1].argval != 4:
        return None
    constants = tuple(ratio if type(c) is int and c == 4 else c for c in code.co_consts)
    wide = types.FunctionType(code.replace(co_consts=constants), split_first_line.__globals__,
                              split_first_line.__name__, split_first_line.__defaults__, split_first_line.__closure__)
    wide.__kwdefaults__ = split_first_line.__kwdefaults__
    return wide


def _pushed_in(text, style, context, max_width, justification_spacing, result):
    """The first line with the piece of text pushed out of it kept on it, its punctuation
    compressed to make room, as `split_first_line` returns it; None when the line is short of
    less than a whole character (nothing was pushed out of it) or there is no room."""
    _layout, length, resume, width, height, _baseline = result
    encoded = text.encode()
    line_text, rest = encoded[:resume].decode(), encoded[resume:].decode()
    if max_width - width < _advance(style) or length != resume or not line_text or line_text[-1].isspace():
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


def _advance(style) -> float:
    """A character's advance less a hair: a line short of this is short of a whole character, so
    something was pushed out of it (a line of the measure is short of less, with tracking too)."""
    tracking = style["letter_spacing"]
    return style["font_size"] + (tracking if tracking != "normal" else 0) - 0.01


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
    for index, glyph, font in cluster_ends(line, text):
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
    shrink, unmet = _share_out(needed, room, ending=last)
    return shrink if unmet <= 1e-6 else None


def _share_out(needed: float, rooms: list[tuple], ending) -> tuple[dict, float]:
    """What each mark gives to take `needed` out of a line: `rooms` are (key, most it can give);
    the mark whose key is `ending` (the one ending the line) gives first, the others evenly, the
    smallest rooms filling up first. ({key: negative amount}, what is left unmet); a key may come
    twice (a closing mark and the opening one after it shrink the same glyph): its amounts add."""
    shrink: dict = {}
    for key, limit in rooms:
        if key == ending:
            shrink[key] = -min(limit, needed)
            needed += shrink[key]
    others = sorted((r for r in rooms if r[0] != ending), key=lambda r: r[1])
    for position, (key, limit) in enumerate(others):
        share = min(limit, needed / (len(others) - position))
        shrink[key] = shrink.get(key, 0.0) - share
        needed -= share
    return shrink, needed


_SQUEEZABLE = set("、，。）］｝》」』】〕〉”’")  # closing marks whose blank half is on the right in any face


def _split_inline_box(context, box, position_x, max_x, bottom_space, skip_stack, containing_block,
                      absolute_boxes, fixed_boxes, line_placeholders, waiting_floats, line_children,
                      first_letter_style, first_line_style):
    """WeasyPrint's line, pushed in across inline boxes where pushing out would leave it a whole
    character short or more."""
    def split(limit, *lists):
        return _original_split_inline_box(context, box, position_x, limit, bottom_space, skip_stack,
                                          containing_block, *lists, first_letter_style, first_line_style)

    lists = (absolute_boxes, fixed_boxes, line_placeholders, waiting_floats, line_children)
    sizes = [len(each) for each in lists[:4]]
    result = split(max_x, *lists)
    if not isinstance(box, boxes.LineBox) or box.style["text_align_all"] != "justify" \
            or result[1] is None or [len(each) for each in lists[:4]] != sizes:
        return result  # not a justified line broken in two, or one holding more than text: as it is
    line, text = result[0], line_text(result[0])
    measure = max_x - box.position_x  # a line's width counts from the line box, before any indent
    if measure - line.width < _advance(box.style) or not any(is_cjk(char) for char in text):
        return result  # short of less than a character, or no Chinese (Latin text has no marks to give)
    wider = _wider_line(split, line, text, measure, max_x, box.style["font_size"])
    if wider is None:
        return result
    wider[0].typeset_squeeze = True
    return wider  # laid out with lists of its own: the line holds text only, which adds to none of them


def _wider_line(split, line, text: str, measure: float, max_x: float, em: float):
    """The line (whose text is `text`) laid out wider so that it takes more, when its punctuation
    can then make room for what it took; None when it cannot. First as wide as the marks could
    ever make room for, then halving towards a width that takes less (three layouts at most).
    Its trial layouts call WeasyPrint's split directly, so they do not come back here."""
    low, high = 0.0, _squeeze_room(line) + em / 2  # the mark that will end the line gives its half too
    widen = high
    token = _in_wider_trial.set(True)
    try:
        for _ in range(3):
            wider = split(max_x + widen, [], [], [], [], [])
            if line_text(wider[0]) == text:
                if widen == high:
                    return None  # not even the widest takes more
                low = widen
            elif wider[0].width - measure <= _squeeze_room(wider[0]) - 0.01:
                return wider
            else:
                high = widen  # took more than its marks can make room for
            widen = (low + high) / 2
            if high - low < em / 4:
                return None
    finally:
        _in_wider_trial.reset(token)
    return None


def _squeezable(line) -> list[tuple[object, int, float]]:
    """(text box, index of the character whose advance shrinks, how much) for the line's marks."""
    parts: list = []
    text_boxes(line, parts)
    marks, previous = [], None
    for part in parts:
        if not isinstance(part, boxes.TextBox) or "halt" in str(part.style["font_feature_settings"]):
            previous = None
            continue
        half = part.style["font_size"] / 2
        for index, char in enumerate(part.text):
            if char in _SQUEEZABLE:
                marks.append((part, index, half))
            elif char in OPENING and previous is not None:
                marks.append((*previous, half))
            if char != BREAK:
                previous = (part, index)
    return marks


def _squeeze_room(line) -> float:
    return sum(amount for _, _, amount in _squeezable(line))


def _text_align(context, line, available_width, last):
    """WeasyPrint's alignment, a pushed-in line first squeezed to the measure: the mark ending it
    gives its blank half first, the others share the rest evenly."""
    if getattr(line, "typeset_squeeze", False) and line.width > available_width:
        _squeeze(line, line.width - available_width + 0.01)
    return _original_text_align(context, line, available_width, last)


def _squeeze(line, needed: float) -> None:
    marks = _squeezable(line)
    parts: list = []
    text_boxes(line, parts)
    last = next((p for p in reversed(parts) if isinstance(p, boxes.TextBox) and p.text.strip(" " + BREAK)), None)
    ending = (id(last), len(last.text.rstrip(" " + BREAK)) - 1) if last is not None else None
    shares, _unmet = _share_out(needed, [((id(part), index), limit) for part, index, limit in marks], ending)
    shrink: dict[int, dict[int, float]] = {}
    for (part, index), amount in shares.items():
        shrink.setdefault(part, {})[index] = amount
    x_advance = 0.0
    for child in line.children:
        if child.is_in_normal_flow():
            x_advance = apply_advances(child, shrink, x_advance, "typeset_shrink_after")
    line.width += x_advance


def install() -> None:
    global _installed, _original_split_first_line, _original_split_inline_box, _original_text_align
    global _split_first_wide_line
    if _installed:
        return
    _original_split_first_line = inline.split_first_line
    if _original_split_first_line is line_break.split_first_line:  # not another extension's
        _split_first_wide_line = _with_draft_ratio(_original_split_first_line, _WIDE_RATIO)
    _original_split_inline_box = inline.split_inline_box
    _original_text_align = inline.text_align
    inline.split_first_line = _split_first_line
    inline.split_inline_box = _split_inline_box
    inline.text_align = _text_align
    _installed = True
