"""Chinese typesetting refinements expressed as spans around the text, and one invisible character.

Applied to the body HTML of each article (clreq, GB/T 15834):
- punctuation compression: of two adjacent full-width punctuation marks, the one whose blank
  half faces the other is set half-width with the font's `halt` feature (1.5 em for the pair);
- CJK–Latin spacing: a Latin word or number touching a Han character gets a quarter-em margin
  on that side (an ASCII space in the source stays as it is and is not stretched);
- `——` and `……` are kept unbroken;
- no 孤字: the last two characters of a paragraph (with any closing punctuation and the end
  mark) stay together, so a last line never holds a single character.

- breaks at quotation marks: Pango follows UAX #14 as it was before Unicode 15.1, which allows
  no break on either side of “ ” ‘ ’ (it cannot tell opening from closing), so a quotation
  glued a whole phrase together and pushed it to the next line. A zero-width space (`BREAK`)
  stands where clreq allows the break: before an opening mark and after a closing one, next
  to a Chinese character. It has no width, no glyph drawn and is not in the text copied out.

The classes (`halt`, `latin-l`, `latin-r`, `nobr`) are styled by the house CSS. The text is
otherwise unchanged, so text copied out of the PDF equals the source.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache


# Full-width punctuation whose glyph stands in the left half (blank right half) in Simplified Chinese.
CLOSING = set("，。、；：？！）］｝》」』】〕〉”’")
# … whose glyph stands in the right half (blank left half).
OPENING = set("（［｛《「『【〔〈“‘")
NO_LINE_START = set("、，。．；：？！）］｝》」』】〕〉”’…·")
NO_LINE_END = set("（［｛《「『【〔〈“‘")
UNBREAKABLE = re.compile(r"——+|……+")
LATIN_RUN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|[.,:/+\-'&](?=[A-Za-z0-9]))*%?")

TOKEN = re.compile(r"(<[^>]*>)")  # splits our HTML into tags and text
_OPENING_OR_CLOSING = OPENING | CLOSING


def is_cjk(char: str) -> bool:
    """Wide or full-width characters: ideographs, kana, hangul and full-width punctuation."""
    return unicodedata.east_asian_width(char) in ("W", "F")
_INLINE_CLOSE = re.compile(r"^</(strong|em|b|i)>$", re.I)
_INLINE_OPEN = re.compile(r"^<(strong|em|b|i)\b[^>]*>$", re.I)
_BLOCK_TAGS = re.compile(r"^</?(p|h[1-6]|figure|figcaption|div|li|ul|ol|blockquote|pre)\b", re.I)
_PARAGRAPH_END = re.compile(r"^</p\s*>$", re.I)
BREAK = "\u200b"  # a break opportunity, nothing else
OPENING_QUOTES = set("“‘")
CLOSING_QUOTES = set("”’")
_HEAD_END = re.compile(r"^</h[23]\s*>$", re.I)
QUOTED_WORD = re.compile(r"“[^“”]{1,12}”|‘[^‘’]{1,12}’|「[^「」]{1,12}」|《[^《》]{1,16}》")  # kept whole in heads


def display_width(text: str) -> int:
    """Columns the text takes on a terminal: Han characters and full-width marks take two."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def is_han(char: str) -> bool:
    """Han ideographs, kana and other wide letters: not punctuation, not Latin."""
    return len(char) == 1 and unicodedata.east_asian_width(char) in ("W", "F") and \
        unicodedata.category(char).startswith("L")


def countable(char: str) -> bool:
    """A character that counts as text: not space, punctuation, a symbol or the end mark."""
    return not (char.isspace() or unicodedata.category(char).startswith(("P", "S")) or char == "□")


@lru_cache(maxsize=256)
def refine(fragment: str, end_mark: str = "") -> str:
    """`fragment` (HTML we generated: escaped text between tags) with the refinement spans added.

    `end_mark` (HTML) is placed at the end of the last paragraph, kept on the line of its last
    two characters. Remembered: a resident process's commands (`typeset.resident`) find the
    articles it read refined already, and refine only those edited since (a fifth of a second
    for the reference issue's 25).
    """
    tokens = _glue_punctuation(TOKEN.split(fragment))
    last_paragraph_end = max((i for i, t in enumerate(tokens) if _PARAGRAPH_END.match(t)), default=-1)
    out: list[str] = []
    block: list[str] = []
    for index, token in enumerate(tokens):
        if token.startswith("<") and _BLOCK_TAGS.match(token):
            suffix = end_mark if index == last_paragraph_end else ""
            out.append(_refine_block(block, paragraph_end=bool(_PARAGRAPH_END.match(token)), suffix=suffix,
                                     head=bool(_HEAD_END.match(token))))
            block = []
            out.append(token)
        else:
            block.append(token)
    out.append(_refine_block(block, paragraph_end=False))
    return "".join(out)


def _glue_punctuation(tokens: list[str]) -> list[str]:
    """Move punctuation that may not start a line inside the element it follows (`**…**。`), and
    punctuation that may not end a line into the element it precedes: WeasyPrint would break
    between the two elements. Only the markup moves; the text stays in the same order."""
    tokens = list(tokens)
    for i in range(1, len(tokens) - 1):
        if _INLINE_CLOSE.match(tokens[i]) and tokens[i + 1] and not tokens[i + 1].startswith("<"):
            text = html.unescape(tokens[i + 1])
            lead = len(text) - len(text.lstrip("".join(NO_LINE_START)))
            if lead:
                tokens[i - 1] += html.escape(text[:lead], quote=False)
                tokens[i + 1] = html.escape(text[lead:], quote=False)
        if _INLINE_OPEN.match(tokens[i]) and tokens[i - 1] and not tokens[i - 1].startswith("<"):
            text = html.unescape(tokens[i - 1])
            trail = len(text) - len(text.rstrip("".join(NO_LINE_END)))
            if trail:
                tokens[i + 1] = html.escape(text[-trail:], quote=False) + tokens[i + 1]
                tokens[i - 1] = html.escape(text[:-trail], quote=False)
    return tokens


def _refine_block(tokens: list[str], paragraph_end: bool, suffix: str = "", head: bool = False) -> str:
    texts = [(i, html.unescape(t)) for i, t in enumerate(tokens) if t and not t.startswith("<")]
    if not texts:
        return "".join(tokens) + suffix
    full = "".join(t for _, t in texts)
    # marks[k]: the classes opening at character k, as (end, class) intervals
    intervals: list[tuple[int, int, str]] = []

    for i in range(len(full) - 1):
        left, right = full[i], full[i + 1]
        if left in CLOSING and (right in CLOSING or right in OPENING):
            intervals.append((i, i + 1, "halt"))
        elif left in _OPENING_OR_CLOSING and right in OPENING:
            intervals.append((i + 1, i + 2, "halt"))
    latin_runs = [match.span() for match in LATIN_RUN.finditer(full)]
    for start, end in latin_runs:
        before = full[start - 1] if start else ""
        after = full[end] if end < len(full) else ""
        classes = [c for c, near in (("latin-l", before), ("latin-r", after)) if near and is_han(near)]
        if classes:
            intervals.append((start, end, " ".join(classes)))
    for match in UNBREAKABLE.finditer(full):
        intervals.append((*match.span(), "nobr"))
    if head:  # a head breaks between words, never inside a quoted one or a book title (body/heads.py)
        intervals.extend((*match.span(), "nobr") for match in QUOTED_WORD.finditer(full))
    if paragraph_end:
        countable_at = _last_countable(full, 3)
        if len(countable_at) >= 3:
            start = countable_at[-2]
            # keep a whole Latin word or number, and a line-end-forbidden mark before it, with it
            start = next((a for a, b in latin_runs if a < start < b), start)
            while start > 0 and full[start - 1] in NO_LINE_END:
                start -= 1
            intervals.append((start, len(full), "nobr"))

    breaks = _quote_breaks(full)
    if not intervals and not breaks:
        return "".join(tokens) + suffix
    return "".join(_emit(tokens, texts, intervals, suffix, breaks))


def _last_countable(full: str, count: int) -> list[int]:
    """Where the last `count` countable characters of `full` stand, in order (fewer if it has
    fewer): looked for from the end, not through the whole paragraph."""
    found = []
    for k in range(len(full) - 1, -1, -1):
        if countable(full[k]):
            found.append(k)
            if len(found) == count:
                break
    return found[::-1]


def _quote_breaks(full: str) -> set[int]:
    """Where a break may come next to a quotation mark (before full[k]) that Pango refuses."""
    breaks = set()
    for k in range(1, len(full)):
        left, right = full[k - 1], full[k]
        if right in OPENING_QUOTES and _is_wide(left) and left not in NO_LINE_END and left not in OPENING_QUOTES \
                or left in CLOSING_QUOTES and _is_wide(right) and right not in NO_LINE_START and right not in CLOSING_QUOTES:
            breaks.add(k)
    return breaks


def _is_wide(char: str) -> bool:
    """A full-width character; the curly quotation marks count as such in Chinese text."""
    return is_cjk(char) or char in OPENING_QUOTES or char in CLOSING_QUOTES


def _emit(tokens: list[str], texts: list[tuple[int, str]], intervals: list[tuple[int, int, str]], suffix: str,
          breaks: set[int]):
    """The tokens with each text token cut into spans where intervals cover it and a `BREAK`
    before each character of `breaks` (outside the spans where it falls between two); `suffix`
    goes inside the last span when the block ends in one (so it keeps to that span's line)."""
    text_at = dict(texts)
    last_text = texts[-1][0]
    trailing_tags = any(t for t in tokens[last_text + 1:])
    offset = 0
    for index, token in enumerate(tokens):
        if index not in text_at:
            yield token
            continue
        text = text_at[index]
        start, end = offset, offset + len(text)
        offset = end
        # boundaries inside this text where a span opens or closes
        cuts = {0, len(text)} | {k - start for k in breaks if start < k < end}
        for a, b, _ in intervals:
            if a < end and b > start:
                cuts.add(max(a, start) - start)
                cuts.add(min(b, end) - start)
        points = sorted(cuts)
        for a, b in zip(points, points[1:]):
            if start + a in breaks:
                yield BREAK
            piece = html.escape(text[a:b], quote=False)
            classes = []
            for ia, ib, cls in intervals:
                if ia < start + b and ib > start + a:
                    for name in cls.split():
                        # a margin belongs to the run's own first (or last) character only
                        if (name == "latin-l" and ia != start + a) or (name == "latin-r" and ib != start + b):
                            continue
                        classes.append(name)
            tail = suffix if index == last_text and b == len(text) and not trailing_tags else ""
            if classes:
                yield f'<span class="{" ".join(dict.fromkeys(classes))}">{piece}{tail}</span>'
            else:
                yield piece + tail
    if trailing_tags or not text_at:
        yield suffix
