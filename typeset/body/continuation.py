"""Continuations (转页): the text of an article that does not fit its planned pages continues
on a later page, after the article planned there, with jump lines （下转第N页） and （上接第M页）.

The split is made in the article's HTML, at the end of the last line laid out on its last
planned page (one line earlier, to make room for the jump line): blocks before it stay, a
paragraph cut there is split in two, and the rest moves to the host article.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, replace

from ..inputs.articles import Article
from ..inputs.cjk import TOKEN as _TOKEN

_VOID = re.compile(r"^<(img|br|hr)\b", re.I)
_CLOSE = re.compile(r"^</")
_OPEN_NAME = re.compile(r"^<([a-zA-Z0-9]+)")


@dataclass(frozen=True)
class Continuation:
    """The part of `source` set on page `page`, after the article planned there."""

    source: Article
    from_folio: int  # the source's last page, for （上接第M页）
    page: int
    html: str


def top_level_blocks(fragment: str) -> list[str]:
    """The fragment cut into its top-level elements (with the text between them)."""
    blocks, depth, current = [], 0, []
    for token in _TOKEN.split(fragment):
        if not token or (depth == 0 and not token.startswith("<") and not token.strip()):
            continue  # nothing, or the line breaks between blocks
        current.append(token)
        if token.startswith("<") and not _VOID.match(token) and not token.endswith("/>"):
            depth += -1 if _CLOSE.match(token) else 1
            if depth == 0:
                blocks.append("".join(current))
                current = []
    if "".join(current).strip():
        blocks.append("".join(current))
    return [b for b in blocks if b.strip()]


def visible_length(fragment: str) -> int:
    """Characters of text in the fragment, white space not counted (as the layout sets it)."""
    return sum(len("".join(html.unescape(t).split())) for t in _TOKEN.split(fragment) if t and not t.startswith("<"))


def split_block(block: str, offset: int) -> tuple[str, str]:
    """Split an element after `offset` visible characters; both halves are whole elements."""
    tokens = [t for t in _TOKEN.split(block) if t]
    stack: list[str] = []  # open tags at the cut
    head: list[str] = []
    seen = 0
    for index, token in enumerate(tokens):
        if token.startswith("<"):
            if _CLOSE.match(token):
                stack.pop()
            elif not _VOID.match(token):
                stack.append(token)
            head.append(token)
            continue
        text = html.unescape(token)
        cut = None
        for position, char in enumerate(text):
            if seen == offset and not char.isspace():
                cut = position
                break
            if not char.isspace():
                seen += 1
        if cut is None:
            head.append(token)
            continue
        head.append(html.escape(text[:cut], quote=False))
        closing = "".join(f"</{_OPEN_NAME.match(t).group(1)}>" for t in reversed(stack))
        reopening = "".join(stack)
        tail = reopening + html.escape(text[cut:], quote=False) + "".join(tokens[index + 1:])
        return "".join(head) + closing, tail
    return block, ""


def _with_class(block: str, name: str) -> str:
    """Add a class to the block's outer element."""
    match = re.match(r"^(\s*<[a-zA-Z0-9]+)([^>]*)>", block)
    if not match:
        return block
    attributes = match.group(2)
    if 'class="' in attributes:
        attributes = attributes.replace('class="', f'class="{name} ', 1)
    else:
        attributes += f' class="{name}"'
    return f"{match.group(1)}{attributes}>{block[match.end():]}"


def split_article(article: Article, placed: list[tuple[str | None, int]], page: int, last_folio: int
                  ) -> tuple[Article, Continuation] | None:
    """Cut `article` after its placed lines but the last (room for the jump line).

    `placed` lists the lines laid out on its planned pages: (data-line of the block, visible
    characters). Returns the shortened article and its continuation, or None when nothing is left over.
    """
    lines = [line for line in placed if line[0] is not None]
    if len(lines) < 2:
        return None
    lines = lines[:-1]
    block_id = lines[-1][0]
    offset = sum(chars for block, chars in lines if block == block_id)
    blocks = top_level_blocks(article.body_html)
    ids = [re.search(r'data-line="(\d+)"', b[:200]).group(1) if re.search(r'data-line="(\d+)"', b[:200]) else None
           for b in blocks]
    if block_id not in ids:
        return None
    at = ids.index(block_id)
    kept, rest = blocks[:at], blocks[at + 1:]
    block = blocks[at]
    if block.lstrip().startswith("<figure"):
        rest.insert(0, block)  # a photo is never cut: it goes over whole
    elif offset >= visible_length(block):
        kept.append(block)
    else:
        head, tail = split_block(block, offset)
        kept.append(_with_class(head, "split-head"))
        rest.insert(0, _with_class(tail, "split-tail"))
    # a head never closes a page: it goes over with its text
    while kept and re.match(r"^\s*<h[1-6]", kept[-1]):
        rest.insert(0, kept.pop())
    if not rest:
        return None
    jump_out = f'<p class="jump jump-out">（下转第{page}页）</p>'
    jump_in = f'<p class="jump jump-in">（上接第{last_folio}页）</p>'
    shortened = replace(article, body_html="\n".join(kept) + "\n" + jump_out + "\n", source="", end_note="")
    notes = "".join([f'<p class="source">（来源：{html.escape(article.source)}）</p>' if article.source else "",
                     f'<p class="end-note">（{html.escape(article.end_note)}）</p>' if article.end_note else ""])
    continuation = Continuation(article, last_folio, page, jump_in + "\n" + "\n".join(rest) + "\n" + notes)
    return shortened, continuation
