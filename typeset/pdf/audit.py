"""Typography audit: read the body text back from a built PDF and count clreq faults.

Works from glyph positions (pdfplumber), as a proofreader looks at the page, not from our own
layout data, so it checks what was printed. Body text is the text at the page's most common
font size; lines are read column by column, band by band (a photo spanning the columns
starts a new band).

Counted per article:
- short_lines: lines of a justified paragraph, other than its last, that stop short of the column edge;
- bad_line_starts / bad_line_ends: lines starting with 、，。；：？！）》”… etc. or ending with （《“ etc.;
- single_char_last_lines: a paragraph's last line with fewer than two characters besides punctuation (孤字);
- uncompressed_pairs: adjacent full-width punctuation set at a full em each;
- han_latin_gaps: gaps between a Han character and a Latin letter or digit outside ¼ em ± tolerance;
- split_dashes: `——` or `……` broken across lines;
- missing_paragraphs: source paragraphs whose text is not found in the text read back.

Measured, not counted as faults (a typesetter keeps them few, clreq forbids none):
- loose_lines: lines of at least 8 Han-to-Han advances whose median advance exceeds the em
  (plus the article's tracking) by more than a tenth of an em: justification opened them up.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..inputs.cjk import CLOSING, NO_LINE_END, NO_LINE_START, OPENING, countable, is_han

FAULTS = ("short_lines", "bad_line_starts", "bad_line_ends", "single_char_last_lines", "uncompressed_pairs",
          "han_latin_gaps", "split_dashes", "missing_paragraphs")
MEASURES = ("loose_lines",)
QUARTER_EM_TOLERANCE = 0.08  # em
LOOSE_LINE = 0.1  # em beyond a full em (and the tracking) that a line's median Han advance may take


@dataclass
class Line:
    page: int
    chars: list[dict]
    left: float  # column left edge
    right: float  # column right edge
    size: float
    body: bool = True  # body text (not a head, caption, running head or folio)

    @property
    def text(self) -> str:
        return "".join(c["text"] for c in self.chars)

    @property
    def indented(self) -> bool:
        return self.chars[0]["x0"] - self.left > 1.5 * self.size


@dataclass
class AuditResult:
    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    lines: int = 0

    def add(self, fault: str, example: str) -> None:
        self.counts[fault] += 1
        self.examples.setdefault(fault, [])
        if len(self.examples[fault]) < 5:
            self.examples[fault].append(example)

    def total(self) -> int:
        return sum(self.counts[f] for f in FAULTS)

    def summary(self) -> str:
        return ", ".join(f"{f} {self.counts[f]}" for f in FAULTS + MEASURES) + f" (over {self.lines} lines)"


def page_lines(pdf, page_indexes: list[int]) -> list[Line]:
    """The text lines of the pages in reading order; `body` marks those at the body text size."""
    lines: list[Line] = []
    for index in page_indexes:
        page = pdf.pages[index]
        chars = [c for c in page.chars if c["text"].strip() or c["text"] == " "]
        sizes = Counter(round(c["size"], 1) for c in chars if c["text"].strip())
        if not sizes:
            continue
        size = sizes.most_common(1)[0][0]
        segments = _segments(chars, size)
        body = [s for s in segments if abs(s[0]["size"] - size) < 0.15]
        if not body:
            continue
        block_left = min(s[0]["x0"] for s in body)
        block_right = max(s[-1]["x1"] for s in body)
        # full lines are a column wide: the block holds as many columns as fit such lines
        widths = sorted(s[-1]["x1"] - s[0]["x0"] for s in body)
        full_line = widths[int(0.9 * (len(widths) - 1))]
        columns = max(1, round((block_right - block_left) / full_line))
        width = (block_right - block_left) / columns
        for band in _bands(page, segments, block_right - block_left, 1.6 * size):
            by_column: dict[int, list[list[dict]]] = {}
            for s in band:
                column = min(columns - 1, max(0, int((s[0]["x0"] - block_left + size) // width)))
                by_column.setdefault(column, []).append(s)
            for column in sorted(by_column):
                column_segments = by_column[column]
                column_body = [s for s in column_segments if abs(s[0]["size"] - size) < 0.15] or column_segments
                left = min(s[0]["x0"] for s in column_body)
                right = _right_edge(column_body)
                for s in sorted(column_segments, key=lambda s: s[0]["bottom"]):
                    lines.append(Line(index, s, left, right, size, body=abs(s[0]["size"] - size) < 0.15))
    return lines


def _right_edge(column_lines: list[list[dict]]) -> float:
    """The column's right edge: where its longest line ends, among the lines that end in a letter.
    A line that was pushed in ends in a mark set narrower than the em its font width in the PDF
    still gives it, so it reads as standing out past the edge."""
    ends = [s[-1]["x1"] for s in column_lines if s[-1]["text"] not in CLOSING]
    return max(ends or [s[-1]["x1"] for s in column_lines])


def _segments(chars: list[dict], size: float) -> list[list[dict]]:
    """Runs of characters of one size on one baseline, cut at column gutters; blank runs dropped.

    A row is keyed by the text matrix's y: fonts of different ascent and descent stand on the
    same baseline in one line."""
    rows: dict[tuple[float, float], list[dict]] = {}
    for c in chars:
        rows.setdefault((-round(c["matrix"][5] * 2) / 2, round(c["size"], 1)), []).append(c)
    segments = []
    for key in sorted(rows):
        row = sorted(rows[key], key=lambda c: c["x0"])
        current = [row[0]]
        for c in row[1:]:
            if c["x0"] - _ink_right(current[-1], size) > 1.2 * size:  # a column gutter (3 columns: 1.5 em)
                segments.append(current)
                current = [c]
            else:
                current.append(c)
        segments.append(current)
    return [s for s in segments if "".join(c["text"] for c in s).strip()]


def _ink_right(char: dict, size: float) -> float:
    """Where a character's glyph ends: a closing mark's ink stands in its left half, and a line
    that was pushed in set its blank half narrower than the full em the PDF's widths give it."""
    return char["x0"] + size / 2 if char["text"] in CLOSING else char["x1"]


def _bands(page, segments: list[list[dict]], block_width: float, pitch: float) -> list[list[list[dict]]]:
    """The page cut across where no text stands for more than two lines (a photo), or at a rule
    across the text block (a continuation set after an article)."""
    rules = [r["top"] for r in page.lines + page.rects if r["x1"] - r["x0"] > 0.6 * block_width]  # a border's top
    bands: list[list[list[dict]]] = [[]]
    previous = None
    for s in sorted(segments, key=lambda s: s[0]["bottom"]):
        if previous is not None and (s[0]["top"] - previous > 2 * pitch
                                     or any(previous < rule < s[0]["top"] for rule in rules)):
            bands.append([])
        bands[-1].append(s)
        previous = s[0]["bottom"] if previous is None else max(previous, s[0]["bottom"])
    return bands


def _is_latin(char: str) -> bool:
    return char.isascii() and char.isalnum()


def audit_article(pdf, page_indexes: list[int], paragraphs: list[str], result: AuditResult, label: str,
                  continuation_pages: list[int] = (), tracking: float = 0.0) -> str:
    """Audit one article's pages, set with `tracking` (em); returns the text read back (body lines joined).

    A paragraph may also stand on the page its continuation (转页) was set on, or be cut in two
    there: its head ending the article's own pages, its tail on the continuation page.
    """
    every_line = page_lines(pdf, page_indexes)
    lines = [line for line in every_line if line.body]
    result.lines += len(lines)
    for number, line in enumerate(every_line):
        if not line.body:
            continue
        text = line.text.rstrip()
        where = f"{label} p.{line.page + 1}: {text}"
        following = every_line[number + 1] if number + 1 < len(every_line) else None
        paragraph_end = following is None or not following.body or following.indented or text.endswith("□")
        if not paragraph_end and line.chars[-1]["x1"] < line.right - 1.0:
            result.add("short_lines", where)
        stripped = text.strip()
        if stripped and stripped[0] in NO_LINE_START:
            result.add("bad_line_starts", where)
        if stripped and stripped[-1] in NO_LINE_END:
            result.add("bad_line_ends", where)
        if paragraph_end and len([c for c in stripped if countable(c)]) < 2:
            result.add("single_char_last_lines", where)
        if following is not None and following.body and (
                (stripped.endswith("—") and following.text.lstrip().startswith("—"))
                or (stripped.endswith("…") and following.text.lstrip().startswith("…"))):
            result.add("split_dashes", where)
        chars = [c for c in line.chars if c["text"] != " "]
        for a, b in zip(chars, chars[1:]):
            ta, tb = a["text"], b["text"]
            if ta in CLOSING and (tb in CLOSING or tb in OPENING) or ta in OPENING | CLOSING and tb in OPENING:
                if b["x0"] - a["x0"] > 0.8 * line.size + _expansion(line):
                    result.add("uncompressed_pairs", f"{where} [{ta}{tb}]")
        _check_han_latin(line, result, where)
        if _is_loose(line, tracking):
            result.add("loose_lines", where)
    text = "".join(line.text for line in lines)
    flat = re.sub(r"\s+", "", text)
    elsewhere = re.sub(r"\s+", "", "".join(line.text for line in page_lines(pdf, list(continuation_pages))
                                            if line.body)) if continuation_pages else ""
    for paragraph in paragraphs:
        wanted = re.sub(r"\s+", "", paragraph)
        if wanted in flat or wanted in elsewhere:
            continue
        if elsewhere and any(flat.endswith(wanted[:k]) and wanted[k:] in elsewhere for k in range(1, len(wanted))):
            continue
        result.add("missing_paragraphs", f"{label}: {paragraph[:40]}")
    return text


def _expansion(line: Line) -> float:
    """The justification space of a line: what its CJK gaps got beyond a full em."""
    steps = [advance - line.size for advance in _han_advances(line, 1.5)]
    return max(0.0, statistics.median(steps)) if steps else 0.0


def _is_loose(line: Line, tracking: float) -> bool:
    advances = _han_advances(line, 1.6)
    return len(advances) >= 8 and statistics.median(advances) / line.size - 1 - tracking > LOOSE_LINE


def _han_advances(line: Line, under_em: float) -> list[float]:
    """From each Han character to the next, where the two stand closer than `under_em` ems."""
    han = [c for c in line.chars if is_han(c["text"])]
    return [b["x0"] - a["x0"] for a, b in zip(han, han[1:]) if b["x0"] - a["x0"] < under_em * line.size]


def _check_han_latin(line: Line, result: AuditResult, where: str) -> None:
    chars = line.chars
    for i in range(len(chars) - 1):
        a = chars[i]
        # the next non-space character, and whether a space stood between
        j = i + 1
        while j < len(chars) and chars[j]["text"] == " ":
            j += 1
        if j >= len(chars):
            break
        b = chars[j]
        ta, tb = a["text"], b["text"]
        if not ((is_han(ta) and _is_latin(tb)) or (_is_latin(ta) and is_han(tb))):
            continue
        gap = (b["x0"] - a["x1"]) / line.size
        if abs(gap - 0.25) > QUARTER_EM_TOLERANCE:
            result.add("han_latin_gaps", f"{where} [{ta}|{tb} {gap:.2f}em]")


def source_paragraphs(markdown_body: str) -> list[str]:
    """The plain text of the body paragraphs of an article (no heads, figures or markup)."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", markdown_body.strip()):
        block = block.strip()
        if not block or block.startswith(("#", "![")):
            continue
        text = re.sub(r"\*\*|__", "", block).replace("\n", "")
        paragraphs.append(text)
    return paragraphs


def audit_issue(pdf_path: Path, report: dict, issue_dir: Path) -> AuditResult:
    """Audit every article of a built issue; `report` is its report.json."""
    import pdfplumber

    result = AuditResult()
    page_of = {label: index for index, label in enumerate(report["page_labels"])}
    with pdfplumber.open(pdf_path) as pdf:
        for entry in report["articles"]:
            first, last = entry["actual"]
            indexes = [page_of[str(folio)] for folio in range(first, last + 1)]
            source = (issue_dir / entry["file"]).read_text(encoding="utf-8")
            body = source.split("---", 2)[2] if source.startswith("---") else source
            paragraphs = source_paragraphs(body) if not entry["overset_lines"] else []
            continuation = entry.get("continuation")
            elsewhere = [page_of[str(continuation["page"])]] if continuation else []
            tracking = (entry.get("fit_settings") or {}).get("tracking", 0.0)
            audit_article(pdf, indexes, paragraphs, result, Path(entry["file"]).stem, elsewhere, tracking)
    return result
