"""Columns laid out once: WeasyPrint's multi-column layout (layout/column.py) lays out the
columns of a page to see how far the content goes, and then lays the same columns out again
as the page's real columns. Here the second layout of a column is the first one, moved to its
column: same box, same skip stack, same space, same flags give the same layout, so it is
taken from a memo kept for one multi-column box. The first layout only measures (its boxes
are read, then dropped), so the second takes its boxes as they are.

A layout is memoized only when nothing in it registered itself with the layout context
(footnotes, floats, absolute or running elements, boxes broken out of flow): reusing it must
not miss a side effect the second layout would have had.

Lines are broken once per multi-column box too. To balance the columns of an article's last
page WeasyPrint lays them out at one height after another (two or three times for most pages),
and it lays out the lines after a column's foot to see what the next column starts with; each
time it breaks the same paragraphs into the same lines, the most costly part of a layout. A
line depends on its paragraph, where in it the line starts, the width and the text indent, not
on where it is placed: while no float is about, a line of text alone (text and inline boxes,
nothing atomic, nothing out of flow) is broken once, and later layouts of it take a copy moved
to where they place it.
"""

from __future__ import annotations

import contextvars
import copy
from contextlib import contextmanager
from functools import lru_cache

import weasyprint.layout.block as block
import weasyprint.layout.inline as inline
from weasyprint.formatting_structure import boxes

# the memo of the multi-column box being laid out: key -> (column box laid out, the rest of the result)
_memo: contextvars.ContextVar[dict | None] = contextvars.ContextVar("column_memo", default=None)
_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("column_memo_enabled", default=True)
# the lines broken in the multi-column box being laid out: key -> (the line as broken, what follows it)
_lines: contextvars.ContextVar[dict | None] = contextvars.ContextVar("line_memo", default=None)
_TEXT_ONLY = (boxes.LineBox, boxes.InlineBox, boxes.TextBox)


@contextmanager
def disabled():
    """Lay columns out as WeasyPrint does, twice (to compare the layouts with and without the memo)."""
    token = _enabled.set(False)
    try:
        yield
    finally:
        _enabled.reset(token)


@lru_cache(maxsize=1)
def install() -> None:
    global _original_next_line
    original_columns, original_block_box = block.columns_layout, block.block_box_layout
    _original_next_line = inline.get_next_linebox

    def columns_layout(*args, **kwargs):
        token = _memo.set({} if _enabled.get() else None)
        lines = _lines.set({} if _enabled.get() else None)
        try:
            return original_columns(*args, **kwargs)
        finally:
            _lines.reset(lines)
            _memo.reset(token)

    def block_box_layout(context, box, bottom_space, skip_stack, containing_block, page_is_empty,
                         absolute_boxes, fixed_boxes, adjoining_margins, first_letter_style, first_line_style,
                         discard, max_lines):
        memo = _memo.get()
        if memo is None or not box.is_column or absolute_boxes or fixed_boxes or adjoining_margins:
            return original_block_box(context, box, bottom_space, skip_stack, containing_block, page_is_empty,
                                      absolute_boxes, fixed_boxes, adjoining_margins, first_letter_style,
                                      first_line_style, discard, max_lines)
        key = (tuple(map(id, box.children)), repr(skip_stack), bottom_space, page_is_empty, box.width,
               box.position_y, id(containing_block), id(first_letter_style), id(first_line_style), discard, max_lines)
        if key in memo:  # taken once: the layout that saw it first read it and let it go
            laid_out, rest = memo.pop(key)
            laid_out.translate(box.position_x - laid_out.position_x, 0)
            return (laid_out, *rest)
        token = _memo.set(None)  # the boxes inside the column are laid out as they come
        try:
            result = original_block_box(context, box, bottom_space, skip_stack, containing_block, page_is_empty,
                                        absolute_boxes, fixed_boxes, adjoining_margins, first_letter_style,
                                        first_line_style, discard, max_lines)
        finally:
            _memo.reset(token)
        new_box = result[0]
        if new_box is not None and not absolute_boxes and not fixed_boxes and _self_contained(context, new_box):
            memo[key] = (new_box, result[1:])
        return result

    block.columns_layout, block.block_box_layout = columns_layout, block_box_layout
    inline.get_next_linebox = _get_next_linebox


_original_next_line = None  # WeasyPrint's get_next_linebox, as install() found it


def _get_next_linebox(context, linebox, position_y, bottom_space, skip_stack, containing_block,
                      absolute_boxes, fixed_boxes, first_letter_style, first_line_style):
    """WeasyPrint's next line of a paragraph, broken once per multi-column box (the module's
    docstring): a copy of the line broken before, moved to where it is placed now."""
    memo = _lines.get()
    if memo is None or context.excluded_shapes or not _text_only(memo, linebox):
        return _original_next_line(context, linebox, position_y, bottom_space, skip_stack, containing_block,
                                   absolute_boxes, fixed_boxes, first_letter_style, first_line_style)
    key = (id(linebox), repr(skip_stack), containing_block.width, linebox.text_indent,
           id(first_letter_style), id(first_line_style))
    x = containing_block.content_box_x()
    if key not in memo:
        line, resume_at = _original_next_line(context, linebox, position_y, bottom_space, skip_stack,
                                              containing_block, absolute_boxes, fixed_boxes, first_letter_style,
                                              first_line_style)
        if line is None:
            return line, resume_at
        memo[key] = (line.deepcopy(), copy.deepcopy(resume_at), x, position_y,
                     (linebox.position_x - x, linebox.position_y - position_y, linebox.width, linebox.height))
        return line, resume_at
    kept, resume_at, kept_x, kept_y, (left, top, width, height) = memo[key]
    # what WeasyPrint's get_next_linebox leaves on the paragraph's line box
    linebox.position_x, linebox.position_y, linebox.width, linebox.height = x + left, position_y + top, width, height
    line = kept.deepcopy()
    line.translate(x - kept_x, position_y - kept_y)
    return line, copy.deepcopy(resume_at)


def _text_only(memo: dict, linebox) -> bool:
    """Whether the paragraph's line box holds text and inline boxes only (its lines do not depend
    on the space below them or register anything with the layout context); known once per box."""
    key = ("text only", id(linebox))
    if key not in memo:
        memo[key] = (linebox, all(type(box) in _TEXT_ONLY and not box.footnote and box.style["position"] == "static"
                                  and box.style["float"] == "none" for box in linebox.descendants()))
    return memo[key][1]


def _self_contained(context, box) -> bool:
    """Whether nothing in the laid-out `box` is known to the layout context."""
    pending = [box]
    while pending:
        current = pending.pop()
        if current.footnote or current.note or current in context.broken_out_of_flow or \
                current in context.excluded_shapes or current.style["position"] in ("absolute", "fixed"):
            return False
        if isinstance(current, boxes.ParentBox):
            pending.extend(current.children)
    return True
