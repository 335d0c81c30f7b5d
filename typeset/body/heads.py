"""Heads that break as a typesetter breaks them by hand: between phrases, in lines of similar length.

Pango fills a line as far as it goes, so a two-line head breaks wherever the measure runs out,
inside a word in quotation marks if need be (`在“超前”上谋划、在“精` / `准”上着力`). A head
(h2, h3) that needs more than one line is given, line by line, the narrowest width that still
ends the line after a phrase (after 、，：；？！。 or at a space) near its share of the head's
length; when no phrase ends within the measure, Pango's own break stands. Quoted words and book
titles in heads are kept whole by the HTML (cjk.refine), so even that break falls between words.

Pinned to WeasyPrint 70 (`split_inline_box` in layout/inline.py), like justify.py.
"""

from __future__ import annotations

import math

from weasyprint.formatting_structure import boxes
from weasyprint.layout import inline

from .measure import line_text

HEADS = ("h2", "h3")
PHRASE_MARKS = set("、，：；？！。")
_installed = False


def _split_inline_box(context, box, position_x, max_x, bottom_space, skip_stack, containing_block,
                      absolute_boxes, fixed_boxes, line_placeholders, waiting_floats, line_children,
                      first_letter_style, first_line_style):
    """WeasyPrint's line of a head, at the balanced width when the head takes more than one line."""
    if isinstance(box, boxes.LineBox) and box.element_tag in HEADS and box.style["text_align_all"] != "justify":

        def trial(limit, skip):
            return _original_split_inline_box(context, box, position_x, limit, bottom_space, skip,
                                              containing_block, [], [], [], [], [], first_letter_style,
                                              first_line_style)[:2]

        max_x = _balanced_limit(trial, position_x, max_x, skip_stack, box.style["font_size"]) or max_x
    return _original_split_inline_box(context, box, position_x, max_x, bottom_space, skip_stack, containing_block,
                                      absolute_boxes, fixed_boxes, line_placeholders, waiting_floats,
                                      line_children, first_letter_style, first_line_style)


def _balanced_limit(trial, position_x: float, max_x: float, skip, em: float) -> float | None:
    """The right edge to give this line so that it ends after a phrase, as near as the phrase
    ends allow to an even share of what is left of the head, in no more lines than filling each
    line would take; None to keep `max_x`."""
    lines = _lines_left(trial, max_x, skip)
    if lines == 1:
        return None
    share = trial(math.inf, skip)[0].width / lines
    best = None
    limit = position_x + max(em, share - (max_x - position_x) / 4)
    while limit <= max_x:
        line, resume_at = trial(limit, skip)
        if resume_at is not None and _ends_phrase(line_text(line)) \
                and (best is None or abs(line.width - share) < abs(best[1] - share)) \
                and 1 + _lines_left(trial, max_x, resume_at) <= lines:
            best = (limit, line.width)
        limit += em
    return best[0] if best else None


def _lines_left(trial, max_x: float, skip) -> int:
    """The lines the head takes from `skip` on, each filled as far as it goes."""
    count = 1
    resume_at = trial(max_x, skip)[1]
    while resume_at is not None and count < 20:
        count += 1
        resume_at = trial(max_x, resume_at)[1]
    return count


def _ends_phrase(text: str) -> bool:
    return text[-1:].isspace() or text.rstrip()[-1:] in PHRASE_MARKS


_original_split_inline_box = None  # the one installed before (justify.py's), at install()


def install() -> None:
    global _installed, _original_split_inline_box
    if not _installed:
        _original_split_inline_box = inline.split_inline_box
        inline.split_inline_box = _split_inline_box
        _installed = True
