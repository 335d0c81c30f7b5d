"""Proofreading: the first pass of a 校对 made by machine, on the source text, with positions.

Each rule finds a span of a line and says what to write instead:

- half-width-punctuation: , . ; : ? ! and ( ) between Chinese characters (GB/T 15834);
- unbalanced-pair: “” ‘’ 《》 〈〉 （） 【】 「」 not closed (or opened) within a paragraph;
  a quotation running over paragraphs opens each and closes only the last, as GB/T 15834 has it;
- doubled-punctuation: 。。 ，， 、、 ；； ：：;
- ellipsis, dash: ... 。。。 or a lone … for ……, a lone — or -- between Chinese characters for ——;
- full-width-alphanumeric: ０-９ Ａ-Ｚ ａ-ｚ (GB/T 15835);
- short-year: 24年底 for 2024年底 (GB/T 15835);
- confusable: a word of `confusables.txt` (占为已有 → 占为己有; one pair a line, easy to extend);
- doubled-word: 压实压实, 的的, allowing the reduplication Chinese has (研究研究, 常常, 实实在在);
- traditional: a character only traditional Chinese has (hanzidentifier), its simplified form by OpenCC;
- space-between-han: a stray space between two Chinese characters (not in titles, where a space
  marks a phrase, nor in front-matter lists of names).

Few false alarms matter more than catching everything, so the rules look only where a mistake
is certain. The `SAFE_RULES` are those `typeset check --fix` applies: a mechanical change that
cannot alter the meaning. The text of an article is never changed by a build.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from ..i18n import _, language

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
OPENERS = "“‘《〈（【「『〔"
CLOSERS = "”’》〉）】」』〕"
PAIRS = dict(zip(OPENERS, CLOSERS))
SAFE_RULES = ("half-width-punctuation", "full-width-alphanumeric", "space-between-han", "ellipsis", "dash")
RULES = ("half-width-punctuation", "unbalanced-pair", "doubled-punctuation", "ellipsis", "dash",
         "full-width-alphanumeric", "short-year", "confusable", "doubled-word", "traditional", "space-between-han")

_FULL_WIDTH = {",": "，", ".": "。", ";": "；", ":": "：", "?": "？", "!": "！"}
_HALF_WIDTH_MARK = re.compile(rf"(?<=[{HAN}”’）》」』])([,;:?!]|\.(?!\.)) ?(?=[{HAN}“‘（《「『]|\s*$)")
_HALF_WIDTH_PARENS = re.compile(rf"\(([^()\n]*[{HAN}][^()\n]*)\)")
_DOUBLED_MARK = re.compile(r"([。，、；：])\1+")
_ELLIPSIS = re.compile(r"\.{3,}|。{3}|(?<!…)…(?!…)|…{3,}")
_CHINESE = re.compile(rf"[{HAN}，。、；：！？“”‘’（）《》]")
_DASH = re.compile(rf"(?<=[{HAN}])(?:(?<!—)—(?!—)|-{{2,}}|－{{2}})(?=[{HAN}“‘《（])")
_FULL_WIDTH_ALNUM = re.compile(r"[０-９Ａ-Ｚａ-ｚ]+")
_SHORT_YEAR = re.compile(r"(?<![\d０-９.])(\d{2})年(?=底|初|末|上半年|下半年|[1-9]月|1[0-2]月)")
_SPACE = re.compile(rf"(?<=[{HAN}])[ \u3000]+(?=[{HAN}])")
_DOUBLED_WORD = re.compile(rf"([{HAN}]{{1,4}})\1")
# one character repeated is a mistake only for these, and only where the first does not end a
# word (目的的, 为了了解) nor the second start one (的的确确, 不了了之): character -> (ends, starts)
_NEVER_DOUBLED = {"的": ("目有标端", "确"), "了": ("为除罢算", "解之然")}
# two-character words that are doubled on purpose (ABAB: 研究研究, 雪白雪白)
_REDUPLICATED = set("研究 学习 讨论 考虑 商量 休息 活动 了解 打听 收拾 准备 整理 锻炼 介绍 比较 检查 交流 体验 感受 "
                    "思考 琢磨 打扫 清理 调查 尝试 商议 合计 溜达 热闹 暖和 凉快 高兴 雪白 通红 笔直 冰凉 滚烫 漆黑 "
                    "碧绿 火红 乌黑 湛蓝 喷香 锃亮 蜡黄 煞白".split())
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")


@dataclass(frozen=True)
class Finding:
    file: Path
    display: str  # the file as the user named it
    line: int
    column: int  # 1-based, in characters
    rule: str
    found: str
    suggestion: str
    message: str

    @property
    def safe(self) -> bool:
        return self.rule in SAFE_RULES

    def as_json(self) -> dict:
        return {"file": self.display, "line": self.line, "column": self.column, "rule": self.rule,
                "message": self.message, "suggestion": self.suggestion}


@dataclass(frozen=True)
class _Text:
    """A stretch of a file to check: one line (or the value of a front-matter key)."""

    line: int
    offset: int  # characters before it on its line
    text: str
    body: bool  # body text (not a front-matter value)
    paragraph: int  # lines of one paragraph share it


def proofread_file(path: Path, display: str, text_keys: tuple[str, ...]) -> list[Finding]:
    """The findings of every rule in one Markdown file (front matter and body)."""
    try:
        content = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return []  # reading the article reports it
    return [replace(finding, display=display) for finding in _findings_in(path, text_keys, content, language())]


@lru_cache(maxsize=256)
def _findings_in(path: Path, text_keys: tuple[str, ...], content: str, lang: str) -> tuple[Finding, ...]:
    """Remembered by content (and the language of the messages), as `cjk.refine` is: a resident
    process's commands check again only the files edited since it read them (however a command
    names the issue folder: the findings are named after the file by the caller)."""
    texts = list(_texts(content.splitlines(), text_keys))
    findings: list[Finding] = []
    for piece in texts:
        findings += [Finding(path, "", piece.line, piece.offset + start + 1, rule, found, suggestion, message)
                     for start, found, suggestion, rule, message in _line_findings(piece)]
    findings += _unbalanced(path, texts)
    return tuple(sorted(findings, key=lambda f: (f.line, f.column, f.rule)))


def _texts(lines: list[str], text_keys: tuple[str, ...]):
    """The front matter's text values and the body's lines, with where each starts."""
    body_start, paragraph = 0, 0
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
        if end is not None:
            for number in range(1, end):
                match = re.match(r"^([A-Za-z_]+):[ \t]*(.*?)[ \t]*$", lines[number])
                if match and match.group(1) in text_keys and match.group(2):
                    paragraph += 1
                    yield _Text(number + 1, match.start(2), match.group(2), False, paragraph)
            body_start = end + 1
    previous_blank = True
    for number in range(body_start, len(lines)):
        line = lines[number]
        if not line.strip():
            previous_blank = True
            continue
        paragraph += previous_blank
        previous_blank = False
        yield _Text(number + 1, 0, _IMAGE.sub(lambda m: " " * len(m.group(0)), line), True, paragraph)


def _line_findings(piece: _Text):
    """(start, found, suggestion, rule, message) in one stretch of text."""
    text = piece.text
    for match in _HALF_WIDTH_PARENS.finditer(text):
        yield (match.start(), match.group(0), f"（{match.group(1)}）", "half-width-punctuation",
               _("half-width parentheses around Chinese text"))
    for match in _HALF_WIDTH_MARK.finditer(text):
        yield (match.start(), match.group(0), _FULL_WIDTH[match.group(1)], "half-width-punctuation",
               _("half-width '{mark}' between Chinese characters", mark=match.group(1)))
    for match in _DOUBLED_MARK.finditer(text):
        if len(match.group(0)) == 2:  # three full stops are an ellipsis, below
            yield (match.start(), match.group(0), match.group(1), "doubled-punctuation",
                   _("'{mark}' typed twice", mark=match.group(1)))
    for match in _ELLIPSIS.finditer(text):
        before, after = text[match.start() - 1:match.start()], text[match.end():match.end() + 1]
        if _CHINESE.match(before) or _CHINESE.match(after):  # not in Latin text (etc...)
            yield match.start(), match.group(0), "……", "ellipsis", _("an ellipsis is …… (two three-dot marks)")
    for match in _DASH.finditer(text):
        yield match.start(), match.group(0), "——", "dash", _("a dash between Chinese text is —— (two em dashes)")
    for match in _FULL_WIDTH_ALNUM.finditer(text):
        yield (match.start(), match.group(0), unicodedata.normalize("NFKC", match.group(0)), "full-width-alphanumeric",
               _("full-width digits or letters"))
    for match in _SHORT_YEAR.finditer(text):
        century = "20" if int(match.group(1)) < 50 else "19"
        yield (match.start(), match.group(0), f"{century}{match.group(1)}年", "short-year",
               _("a year is written in full"))
    yield from _confusables(text)
    yield from _doubled_words(text)
    yield from _traditional(text)
    if piece.body:
        for match in _SPACE.finditer(text):
            if not _quoted(text, match.start()):  # a quoted title keeps the spaces between its phrases
                yield match.start(), match.group(0), "", "space-between-han", _("a space between Chinese characters")


def _quoted(text: str, position: int) -> bool:
    """Inside “…” or 《…》: more of them opened than closed before `position`."""
    before = text[:position]
    return before.count("“") > before.count("”") or before.count("《") > before.count("》")


def _confusables(text: str):
    pattern, right_of = _confusable_pattern()
    for match in pattern.finditer(text):
        wrong = match.group(0)
        yield match.start(), wrong, right_of[wrong], "confusable", _("'{wrong}' is a common misspelling", wrong=wrong)


@lru_cache(maxsize=1)
def _confusable_pattern() -> tuple[re.Pattern, dict[str, str]]:
    """One pattern for every misspelling (the longest first where two overlap)."""
    right_of = dict(confusables())
    return re.compile("|".join(map(re.escape, sorted(right_of, key=len, reverse=True)))), right_of


def _doubled_words(text: str):
    for match in _DOUBLED_WORD.finditer(text):
        word, start, end = match.group(1), match.start(), match.end()
        if len(word) == 1:
            before, after = _NEVER_DOUBLED.get(word, ("", ""))
            if word not in _NEVER_DOUBLED or text[start - 1:start] in before or text[end:end + 1] in after \
                    and text[end:end + 1]:
                continue
        elif word in _REDUPLICATED or word.startswith("一"):  # 研究研究, 一步一步
            continue
        yield start, match.group(0), word, "doubled-word", _("'{word}' twice", word=word)


def _traditional(text: str):
    only_traditional = _only_traditional()
    start = None
    for index, char in enumerate(text + " "):
        is_traditional = char in only_traditional
        if is_traditional and start is None:
            start = index
        elif not is_traditional and start is not None:
            found = text[start:index]
            yield start, found, _simplified(text, start, index), "traditional", \
                _("traditional character(s) in simplified text")
            start = None


@lru_cache(maxsize=1)
def _only_traditional() -> frozenset[str]:
    """The characters hanzidentifier identifies as traditional (in its traditional set, not shared
    with the simplified one): a set lookup per character instead of its regex per character."""
    from hanzidentifier import helpers

    return frozenset(helpers.TRADITIONAL_CHARACTERS - helpers.SHARED_CHARACTERS)


def _simplified(text: str, start: int, end: int) -> str:
    """The simplified form of text[start:end], converted in its context (OpenCC's phrases)."""
    converted = _t2s().convert(text)
    return converted[start:end] if len(converted) == len(text) else _t2s().convert(text[start:end])


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def _unbalanced(path: Path, texts: list[_Text]) -> list[Finding]:
    """Paired marks not closed (or opened) within their paragraph."""
    by_paragraph: dict[int, list[_Text]] = {}
    for piece in texts:
        by_paragraph.setdefault(piece.paragraph, []).append(piece)
    paragraphs = list(by_paragraph.values())
    findings = []
    for index, pieces in enumerate(paragraphs):
        stack: list[tuple[str, _Text, int]] = []
        for piece in pieces:
            for position, char in enumerate(piece.text):
                if char in OPENERS:
                    stack.append((char, piece, position))
                elif char in CLOSERS and not (char == "’" and _between_latin(piece.text, position)):
                    if stack and PAIRS[stack[-1][0]] == char:
                        stack.pop()
                    else:
                        findings.append(Finding(path, "", piece.line, piece.offset + position + 1,
                                                "unbalanced-pair", char, "", _("'{mark}' closes nothing", mark=char)))
        following = paragraphs[index + 1][0].text.lstrip() if index + 1 < len(paragraphs) else ""
        for char, piece, position in stack:
            if char == "“" and following.startswith("“"):
                continue  # a quotation over several paragraphs opens each, closes the last
            findings.append(Finding(path, "", piece.line, piece.offset + position + 1, "unbalanced-pair", char,
                                    PAIRS[char], _("'{mark}' is not closed in its paragraph", mark=char)))
    return findings


def _between_latin(text: str, position: int) -> bool:
    """An apostrophe (China’s), not a closing quotation mark."""
    return 0 < position < len(text) - 1 and text[position - 1].isascii() and text[position + 1].isascii()


@lru_cache(maxsize=1)
def confusables() -> tuple[tuple[str, str], ...]:
    """(wrong, right) from confusables.txt: `wrong right` a line, `#` starts a comment."""
    pairs = []
    for line in (Path(__file__).with_name("confusables.txt")).read_text(encoding="utf-8").splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) == 2:
            pairs.append((words[0], words[1]))
    return tuple(pairs)


def apply_fixes(path: Path, findings: list[Finding]) -> tuple[bytes, list[Finding]]:
    """The file with the safe findings applied, and those applied; every other byte as it was."""
    raw = path.read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    lines = raw[3 if bom else 0:].decode("utf-8").splitlines(keepends=True)
    applied = []
    by_line: dict[int, list[Finding]] = {}
    for finding in findings:
        if finding.safe:
            by_line.setdefault(finding.line, []).append(finding)
    for number, line_findings in by_line.items():
        line = lines[number - 1]
        taken_until = len(line) + 1
        for finding in sorted(line_findings, key=lambda f: -f.column):  # right to left: columns stay true
            start = finding.column - 1
            end = start + len(finding.found)
            if line[start:end] != finding.found or end > taken_until:
                continue  # overlaps a change already made
            line = line[:start] + finding.suggestion + line[end:]
            taken_until = start
            applied.append(finding)
        lines[number - 1] = line
    return (b"\xef\xbb\xbf" if bom else b"") + "".join(lines).encode("utf-8"), sorted(
        applied, key=lambda f: (f.line, f.column))


def proofread_issue(manifest) -> list[Finding]:
    """Every finding in the issue's articles and fillers, file by file in the manifest's order."""
    from .articles import TEXT_KEYS
    from .fillers import FOLDER, KEYS

    files = [(entry.file, TEXT_KEYS) for entry in manifest.articles]
    folder = manifest.root / FOLDER
    pool = sorted(folder.glob("*.md")) if folder.is_dir() else []
    files += [(path.resolve(), KEYS) for path in pool if path.resolve() not in {f for f, _keys in files}]
    findings: list[Finding] = []
    for path, keys in files:
        findings += proofread_file(path, manifest.display(path), keys)
    return findings


@dataclass
class CheckResult:
    findings: list[Finding]  # what is left to do
    fixed: list[Finding]  # what --fix changed


def check_issue(issue_dir: Path, display_root: str, diagnostics, fix: bool = False) -> CheckResult:
    """`typeset check`: the findings of the issue's text; with `fix`, the safe ones applied first
    (each file written by rename, every other byte as it was). Raises InputError on a bad manifest."""
    from ..store import write_atomic
    from .manifest import load_manifest

    manifest = load_manifest(issue_dir, diagnostics, display_root=display_root)
    findings = proofread_issue(manifest)
    fixed: list[Finding] = []
    if fix:
        for path in dict.fromkeys(f.file for f in findings if f.safe):
            data, applied = apply_fixes(path, [f for f in findings if f.file == path])
            if applied:
                write_atomic(path, data)
                fixed += applied
        findings = proofread_issue(manifest) if fixed else findings
    return CheckResult(findings, fixed)


def hint_of(finding: Finding) -> str:
    if finding.rule == "unbalanced-pair":
        return _("check the paired marks of this paragraph")
    if not finding.suggestion:
        return _("delete it")
    return _("{found} → {suggestion}", found=finding.found, suggestion=finding.suggestion)
