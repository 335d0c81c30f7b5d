"""Markdown to HTML for article bodies (markdown-it-py, CommonMark).

Two departures from plain CommonMark, both for Chinese text:
- emphasis delimiters next to CJK characters and full-width punctuation open and
  close as a Chinese author expects, so `**…。**后文` and `**…**。` are both bold;
- raw HTML is never passed through (it is escaped and shows as text).
"""

from __future__ import annotations

from functools import partial

from markdown_it import MarkdownIt
from markdown_it.common.utils import isMdAsciiPunct, isPunctChar, isWhiteSpace
from markdown_it.rules_inline import emphasis
from markdown_it.rules_inline.state_inline import Scanned, StateInline

from .cjk import is_cjk

# Quotes that CJK text uses too; they count as CJK when they touch a CJK character.
_SHARED_QUOTES = set("“”‘’")


def _scan_delims_cjk(state: StateInline, start: int, can_split_word: bool) -> Scanned:
    """CommonMark's flanking rules, with CJK characters counted as letters rather than punctuation.

    CommonMark will not close `**` after punctuation that is followed by a letter, which
    rules out `**学好用好党史。**要…`; Chinese has no spaces between words, so full-width
    punctuation next to a delimiter must not block it.
    """
    src, maximum = state.src, state.posMax
    marker = src[start]
    last_char = src[start - 1] if start > 0 else " "
    pos = start
    while pos < maximum and src[pos] == marker:
        pos += 1
    next_char = src[pos] if pos < maximum else " "

    last_cjk = is_cjk(last_char) or (last_char in _SHARED_QUOTES and is_cjk(next_char))
    next_cjk = is_cjk(next_char) or (next_char in _SHARED_QUOTES and is_cjk(last_char))
    last_punct = not last_cjk and (isMdAsciiPunct(ord(last_char)) or isPunctChar(last_char))
    next_punct = not next_cjk and (isMdAsciiPunct(ord(next_char)) or isPunctChar(next_char))
    last_space = isWhiteSpace(ord(last_char))
    next_space = isWhiteSpace(ord(next_char))

    left_flanking = not (next_space or (next_punct and not (last_space or last_punct)))
    right_flanking = not (last_space or (last_punct and not (next_space or next_punct)))
    can_open = left_flanking and (can_split_word or not right_flanking or last_punct)
    can_close = right_flanking and (can_split_word or not left_flanking or next_punct)
    return Scanned(can_open, can_close, pos - start)


def _emphasis_cjk(state: StateInline, silent: bool) -> bool:
    # The stock rule asks state.scanDelims; give this state the CJK-aware scanner.
    state.scanDelims = partial(_scan_delims_cjk, state)
    return emphasis.tokenize(state, silent)


def make_parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.inline.ruler.at("emphasis", _emphasis_cjk)
    # Every image source reaches our own check (which allows files inside the issue only) and gets
    # a clear error there, instead of markdown-it silently printing `![…](file:…)` as text.
    md.validateLink = lambda url: True
    # Print has no links: a link is set as its text.
    md.add_render_rule("link_open", lambda *args: "")
    md.add_render_rule("link_close", lambda *args: "")
    return md
