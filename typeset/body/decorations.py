"""A page's margin boxes (folios, running heads) and backgrounds made when the page is painted,
not when it is laid out.

WeasyPrint makes both for every page at the end of each layout: 4.5 ms a page, 0.68 s of the
7.9 s a cold build of the reference issue spent laying out its 151 pages (`-j 1`), where only
the 46 pages printed are ever painted (the copyfitting and filling trials are measured and
dropped): 0.47 s of CPU a cold build no longer spends.
Neither changes where the content of a page goes: margin boxes sit in the page's margins, and
a background is only where a box's background is painted. So the layout leaves each page what
WeasyPrint makes them from (the layout's context, the page's number and page state: the string
sets and counters they read are complete once every page is made), and `decorate` makes them
before the page is painted or read whole, as WeasyPrint would have. Only typeset's own layouts
(`later`) leave them: a document WeasyPrint renders for anyone else has them made, as its
callers (and its own tests) expect.

Pages whose margin boxes could hold a link, an anchor or a bookmark (a running element, or an
anchor or bookmark level on a margin box) are decorated at once: WeasyPrint gathers those as
the page is made, before anything is painted.

Pinned to WeasyPrint 70 (`layout_document`'s last loop, layout/__init__.py).
"""

from __future__ import annotations

import contextvars
import threading
from contextlib import contextmanager
from functools import lru_cache

import weasyprint.document
import weasyprint.layout
from weasyprint.css import PAGE_MARGIN_BOXES

_PENDING = "_typeset_decorations"  # on a page box: (layout context, page number, page state)
_later: contextvars.ContextVar[bool] = contextvars.ContextVar("decorations_later", default=False)
_lock = threading.Lock()  # `serve` lays out and paints on more than one thread
_MARGIN_BOXES = PAGE_MARGIN_BOXES - {"footnote", "note-area"}  # the page areas make_margin_boxes makes
_original_make_margin_boxes = weasyprint.layout.make_margin_boxes
_original_layout_backgrounds = weasyprint.layout.layout_backgrounds


@lru_cache(maxsize=1)
def install() -> None:
    weasyprint.layout.make_margin_boxes = _margin_boxes_when_painted
    weasyprint.layout.layout_backgrounds = _backgrounds_when_painted
    painted = weasyprint.document.Page.paint

    def paint(page, stream, scale=1):
        decorate(page._page_box)
        painted(page, stream, scale)

    weasyprint.document.Page.paint = paint


@contextmanager
def later():
    """The pages laid out meanwhile (in this thread) get their margin boxes and backgrounds when painted."""
    token = _later.set(True)
    try:
        yield
    finally:
        _later.reset(token)


def decorate(page_box) -> None:
    """The page's margin boxes and backgrounds, made now if its layout left them for later."""
    with _lock:
        pending = page_box.__dict__.pop(_PENDING, None)
        if pending is None:
            return
        context, number, state = pending
        context.current_page = number  # as WeasyPrint sets it before it makes a page's margin boxes
        page_box.children = (*page_box.children, *_original_make_margin_boxes(context, page_box, state))
        _original_layout_backgrounds(page_box, context.get_image_from_uri)  # what layout_document passes


def _margin_boxes_when_painted(context, page, state):
    if not _later.get() or not _without_anchors(context, page.page_type):
        return _original_make_margin_boxes(context, page, state)
    setattr(page, _PENDING, (context, context.current_page, state))
    return ()


def _backgrounds_when_painted(page, get_image_from_uri):
    if _PENDING not in page.__dict__:  # made with its margin boxes, after them as WeasyPrint orders them
        return _original_layout_backgrounds(page, get_image_from_uri)
    return None


def _without_anchors(context, page_type) -> bool:
    """Whether no margin box of pages of `page_type` can hold a link, an anchor or a bookmark."""
    known = context.__dict__.setdefault("_typeset_without_anchors", {})
    if page_type not in known:
        known[page_type] = all(_plain(context.style_for(page_type, f"@{name}")) for name in _MARGIN_BOXES)
    return known[page_type]


def _plain(style) -> bool:
    if style is None:
        return True
    content = style["content"]
    running = not isinstance(content, str) and any(kind == "element()" for kind, _value in content)
    # a link comes only with an element (<a href>): in a margin box, a running one
    return not running and not style["anchor"] and style["bookmark_level"] == "none"
