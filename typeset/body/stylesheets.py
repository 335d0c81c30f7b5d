"""The house stylesheet parsed once per process, not once per layout.

WeasyPrint parses and validates every <style> element of every document it renders: for the
house style (10 kB of CSS) that is 50–60 ms, a quarter of laying out a one-page article, and a
build lays out articles alone some eighty times. The parse depends only on the text, its base
URL, the media type, what the URL fetcher allows and the font configuration (which @font-face
rules add to, once), so the result is kept and each later document gets a copy bound to its
own lists: the selectors matched (read only while matching), the @page rules added to the
document's.

A stylesheet is kept only when parsing it warned of nothing and touched nothing of the
document but its @page rules (no @layer, @counter-style or @color-profile): a warning must be
raised again by every layout that meets it, and what is replayed is exactly what parsing does.
The page rules that change from one layout to the next (folios, the first page's side) are in
a <style> element of their own in the templates, so the house style's text is the same each time.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections import OrderedDict
from functools import lru_cache

import weasyprint.css

KEPT = 8  # stylesheets kept (house styles of the issues a `serve` process has built, each with a fetcher)
_kept: OrderedDict[tuple, tuple] = OrderedDict()
_lock = threading.Lock()  # `serve` lays out on more than one thread


@lru_cache(maxsize=1)
def install() -> None:
    weasyprint.css.CSS = _parsed_once(weasyprint.css.CSS)


def _parsed_once(parse):
    """`weasyprint.css.CSS` as find_stylesheets calls it for a <style> element, from `_kept`."""

    def css(*args, string=None, base_url=None, url_fetcher=None, media_type="print", font_config=None,
            counter_style=None, page_rules=None, color_profiles=None, layers=None, **others):
        arguments = dict(string=string, base_url=base_url, url_fetcher=url_fetcher, media_type=media_type,
                         font_config=font_config, counter_style=counter_style, page_rules=page_rules,
                         color_profiles=color_profiles, layers=layers, **others)
        if args or others or string is None or page_rules is None or layers is None:
            return parse(*args, **arguments)  # a linked or imported stylesheet: as WeasyPrint does
        key = (string, base_url, media_type, _fetching(url_fetcher), id(font_config))
        with _lock:
            found = _kept.get(key)
            if found is not None:
                _kept.move_to_end(key)
        if found is not None and found[1] is font_config:  # the key has what the fetcher allows
            _fetcher, _config, parsed, added_rules = found
            page_rules.extend(added_rules)
            bound = copy.copy(parsed)
            bound.page_rules, bound.layers = page_rules, layers
            return bound
        before = (len(page_rules), list(layers), dict(counter_style or {}), dict(color_profiles or {}))
        with _warnings() as warned:
            parsed = parse(**arguments)
        after = (list(layers), dict(counter_style or {}), dict(color_profiles or {}))
        if not warned and after == before[1:]:
            with _lock:
                _kept[key] = (url_fetcher, font_config, parsed, page_rules[before[0]:])
                while len(_kept) > KEPT:
                    _kept.popitem(last=False)
        return parsed

    return css


def _fetching(url_fetcher) -> tuple:
    """What a parse may fetch with `url_fetcher`: for typeset's sandbox (engine._SandboxedFetcher)
    the folders it allows, so every layout's fetcher finds the stylesheet a resident process's
    warm-up parsed (a fetcher refusing something makes the parse warn: it is not kept); any other
    fetcher is itself."""
    roots = getattr(url_fetcher, "roots", None)
    return ("allowing", tuple(roots)) if roots is not None else ("fetcher", url_fetcher)


class _Count(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record):
        self.count += 1


class _warnings:
    """Counts WeasyPrint's warnings while a stylesheet is parsed (they still reach the build's handler)."""

    def __enter__(self):
        self.handler = _Count()
        logging.getLogger("weasyprint").addHandler(self.handler)
        return self

    def __exit__(self, *exc):
        logging.getLogger("weasyprint").removeHandler(self.handler)

    def __bool__(self):
        return self.handler.count > 0
