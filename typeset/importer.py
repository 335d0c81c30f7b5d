"""`typeset import`: an author's Word file (.docx) as an article (front matter + Markdown + images).

The structure is read from Word's styles and from what Chinese authors type: the title (Title
or Heading 1 style, else the first centred or all-bold paragraph), kicker and subtitle where
styled so, byline lines (作者：…, 文/…, 本刊记者 …), （作者系…） → author_note, 来源：… → source,
（课题组组长…） → end_note, heads from Word's heading levels and from numbering (一、 / （一） /
1.), bold run-in heads, images with their captions, footnotes as numbered notes at the end.

What Word leaves behind is cleaned, and every change is counted in a report: manual line
breaks inside paragraphs, full-width spaces typed as indents, repeated spaces, half-width
,;:?! between Chinese characters, straight quotes around Chinese text, empty paragraphs.
`verbatim` keeps the characters as they are (only the layout debris is removed).
"""

from __future__ import annotations

import io
import itertools
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .diagnostics import Diagnostics, InputError
from .i18n import N_, _
from .inputs.articles import TEXT_KEYS

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
IMAGE_TYPES = {"image/jpeg": ".jpg", "image/png": ".png"}

_HAN = "\u4e00-\u9fff\u3400-\u4dbf"
_BYLINE = re.compile(r"^(?:作者[:：]\s*|文\s*[/／]\s*)(.+)$")
_REPORTER = re.compile(r"^本刊(?:特约)?记者\s*.+$")
_AUTHOR_NOTE = re.compile(r"^[（(](作者系.+)[）)]$")
_BRACKETED = re.compile(r"^[（(]([^（）()]+)[）)]$")
_SOURCE = re.compile(r"^[（(]?来源[:：]\s*(.+?)[）)]?$")
_END_NOTE = re.compile(r"^[（(](课题组(?:组长|成员)?[:：].+)[）)]$")
_HEAD_1 = re.compile(r"^[一二三四五六七八九十]+、")
_HEAD_2 = re.compile(r"^[（(][一二三四五六七八九十]+[）)]")
_HEAD_3 = re.compile(r"^\d+[.．、]")
_CAPTION = re.compile(r"^图\s*\d*")
# A bare short line under the title, as authors type the byline by hand: a name, names, an organisation.
_BARE_BYLINE = re.compile(rf"^[{_HAN}·•A-Za-z][{_HAN}·•A-Za-z 　、]{{0,28}}[{_HAN}A-Za-z]$")
_CLOSING_PUNCTUATION = ("。", "；", "！", "？", "：", "，", "、", "…", ".", ";", "!", "?", ":")


@dataclass
class Imported:
    front: dict[str, str]
    body: str  # Markdown
    images: dict[str, bytes] = field(default_factory=dict)  # file name -> content
    changes: Counter = field(default_factory=Counter)  # cleaning done, by kind

    def markdown(self) -> str:
        lines = ["---"]
        for key in TEXT_KEYS:
            if self.front.get(key):
                lines.append(f"{key}: {_yaml_scalar(self.front[key])}")
        lines.append("---")
        return "\n".join(lines) + "\n\n" + self.body.strip() + "\n"

    def report(self) -> str:
        if not self.changes:
            return _("cleaning: nothing to clean")
        changes = [_("{count} {kind}", count=count, kind=_(kind)) for kind, count in sorted(self.changes.items())]
        return _("cleaning: {changes}", changes=", ".join(changes))


def _bold_head(markdown: str, plain: str) -> bool:
    """A paragraph bold throughout, short and without closing punctuation, standing alone: a head
    an author made by hand (a bold lead sentence followed by text stays a run-in head)."""
    return markdown.strip() == f"**{plain}**" and len(plain) <= 40 and not plain.endswith(_CLOSING_PUNCTUATION)


def _yaml_scalar(text: str) -> str:
    return f'"{text}"' if re.search(r"^[\"'&*!|>%@`{\[]|: |#", text) else text


def import_docx(path: Path, diagnostics: Diagnostics, accept_changes: bool = False, drop_comments: bool = False,
                verbatim: bool = False, image_prefix: str = "image") -> Imported:
    """Read a .docx; every problem is reported as an input error (nothing written)."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    shown = str(path)
    raw = path.read_bytes() if path.is_file() else b""
    if not path.is_file():
        diagnostics.error(_("no such file"), file=shown)
        raise InputError(diagnostics)
    if raw[:8] == bytes.fromhex("D0CF11E0A1B11AE1"):
        diagnostics.error(_("an old .doc or a password-protected Word file, not a .docx"), file=shown,
                          hint=_("open it in Word, remove the password, and save it as .docx (Word 2007 or later)"))
        raise InputError(diagnostics)
    if not zipfile.is_zipfile(io.BytesIO(raw)):
        diagnostics.error(_("not a .docx file (a .docx is a zip of XML parts)"), file=shown,
                          hint=_("save the article from Word as .docx"))
        raise InputError(diagnostics)
    try:
        document = docx.Document(io.BytesIO(raw))
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        diagnostics.error(_("the .docx is damaged: {reason}", reason=exc), file=shown,
                          hint=_("open and save it again in Word"))
        raise InputError(diagnostics) from None

    body = document.element.body
    if body.findall(f".//{W}ins") or body.findall(f".//{W}del"):
        if not accept_changes:
            diagnostics.error(_("the document has tracked changes"), file=shown,
                              hint=_("accept or reject them in Word, or import with --accept-changes"))
    comments = [part for part in document.part.package.parts if str(part.partname).endswith("/comments.xml")]
    if comments and not drop_comments and b"<w:comment " in comments[0].blob:
        diagnostics.error(_("the document has comments"), file=shown,
                          hint=_("resolve them in Word, or import with --drop-comments"))
    diagnostics.raise_if_errors()

    reader = _Reader(document, shown, diagnostics, verbatim, image_prefix)
    imported = reader.read()
    diagnostics.raise_if_errors()
    return imported


class _Reader:
    def __init__(self, document, shown: str, diagnostics: Diagnostics, verbatim: bool, image_prefix: str):
        self.document = document
        self.shown = shown
        self.diagnostics = diagnostics
        self.verbatim = verbatim
        self.image_prefix = image_prefix
        self.changes: Counter = Counter()
        self.images: dict[str, bytes] = {}
        self.notes: list[str] = []
        self.footnotes = self._footnotes()

    def read(self) -> Imported:
        front: dict[str, str] = {}
        blocks: list[str] = []
        pending_image: str | None = None
        self._after_author = False  # a bracketed line right under the byline is the author's title
        self._last_front = -1  # the last paragraph taken as front matter: a bare line right under it may be the byline
        paragraphs = [p for p in self.document.paragraphs]
        title_index = self._title_index(paragraphs)
        for index, paragraph in enumerate(paragraphs):
            style = (paragraph.style.name if paragraph.style is not None else "") or ""
            images = self._images(paragraph)
            markdown, plain = self._inline(paragraph)
            if images:
                for name in images:
                    caption = plain if plain and (style.lower() == "caption" or _CAPTION.match(plain)) else ""
                    blocks.append(f"![{caption}](../images/{name})")
                    pending_image = None if caption else blocks[-1]
                continue
            if not plain:
                self.changes[N_("empty paragraphs removed")] += 1
                continue
            if pending_image is not None and (style.lower() == "caption" or _CAPTION.match(plain)):
                blocks[-1] = pending_image.replace("![]", f"![{plain}]")
                pending_image = None
                continue
            pending_image = None
            if self._front_matter(index, title_index, style, plain, front, blocks):
                self._last_front = index
                continue
            level = self._heading_level(style, plain) or (2 if _bold_head(markdown, plain) else 0)
            if level:
                blocks.append("#" * level + " " + plain)
                continue
            blocks.append(markdown)
        for number, note in enumerate(self.notes, start=1):
            blocks.append(f"[{number}] {note}")
        if "title" not in front:
            self.diagnostics.error(_("no title found"), file=self.shown,
                                   hint=_("give the title Word's Title or Heading 1 style"))
        return Imported(front, "\n\n".join(blocks), self.images, self.changes)

    def _front_matter(self, index: int, title_index: int, style: str, plain: str, front: dict, blocks: list) -> bool:
        """Whether the paragraph is front matter (title, kicker, subtitle, byline, notes); kept in `front`."""
        if index == title_index:
            front["title"] = plain
            return True
        lowered = style.lower()
        if "kicker" in lowered or "引题" in style or (index == title_index - 1 and title_index > 0
                                                      and "title" not in front):
            front["kicker"] = plain
            return True
        if lowered == "subtitle" or (index == title_index + 1 and plain.startswith("——")):
            front["subtitle"] = plain.lstrip("—").strip()
            return True
        if not blocks and "author" not in front:
            match = _BYLINE.match(plain)
            bare = "title" in front and index == self._last_front + 1 and _BARE_BYLINE.match(plain)
            if match or _REPORTER.match(plain) or bare:
                front["author"] = match.group(1).strip() if match else plain
                self._after_author = True
                return True
        match = _AUTHOR_NOTE.match(plain) or (_BRACKETED.match(plain) if self._after_author else None)
        self._after_author = False
        if match and "author_note" not in front:
            front["author_note"] = match.group(1)
            return True
        match = _SOURCE.match(plain)
        if match:
            front["source"] = match.group(1)
            return True
        match = _END_NOTE.match(plain)
        if match:
            front["end_note"] = match.group(1)
            return True
        return False

    def _title_index(self, paragraphs) -> int:
        for index, paragraph in enumerate(paragraphs):
            name = (paragraph.style.name if paragraph.style is not None else "") or ""
            if name in ("Title", "Heading 1") and paragraph.text.strip():
                return index
        for index, paragraph in enumerate(paragraphs[:8]):
            runs = [r for r in paragraph.runs if r.text.strip()]
            centred = paragraph.alignment is not None and int(paragraph.alignment) == 1
            if runs and (centred or all(r.bold for r in runs)):
                return index
        return -1

    @staticmethod
    def _heading_level(style: str, text: str) -> int:
        match = re.match(r"^Heading (\d)$", style)
        if match and int(match.group(1)) >= 2:
            return min(3, int(match.group(1)))
        short = len(text) <= 30 and not text.endswith(("。", "；", "！", "？"))
        if short and _HEAD_1.match(text):
            return 2
        if short and (_HEAD_2.match(text) or _HEAD_3.match(text)):
            return 3
        return 0

    def _inline(self, paragraph) -> tuple[str, str]:
        """The paragraph as Markdown (bold kept) and as plain text, cleaned."""
        pieces: list[tuple[bool, str]] = []
        for run in paragraph._p.iter(f"{W}r"):
            if any(ancestor.tag == f"{W}del" for ancestor in run.iterancestors()):
                continue  # a tracked deletion (only reached with --accept-changes)
            properties = run.find(f"{W}rPr")
            bold = properties is not None and properties.find(f"{W}b") is not None and \
                properties.find(f"{W}b").get(f"{W}val", "true") not in ("0", "false")
            text = []
            for child in run:
                if child.tag == f"{W}t":
                    text.append(child.text or "")
                elif child.tag == f"{W}tab":
                    text.append(" ")
                elif child.tag in (f"{W}br", f"{W}cr"):
                    self.changes[N_("manual line breaks joined")] += 1
                elif child.tag == f"{W}footnoteReference":
                    note = self.footnotes.get(child.get(f"{W}id"))
                    if note:
                        self.notes.append(note)
                        text.append(f"[{len(self.notes)}]")
            if text:
                pieces.append((bold, "".join(text)))
        plain = self._clean("".join(text for _bold, text in pieces))
        if not plain:
            return "", ""
        # runs of bold text become **…**, with white space kept outside the markers
        markdown = []
        for bold, group in itertools.groupby(pieces, key=lambda piece: piece[0]):
            chunk = "".join(text for _bold, text in group)
            if bold and chunk.strip():
                lead, core, trail = re.match(r"^(\s*)(.*?)(\s*)$", chunk, re.S).groups()
                chunk = f"{lead}**{core}**{trail}"
            markdown.append(chunk)
        return self._clean("".join(markdown), count=False), plain

    def _clean(self, text: str, count: bool = True) -> str:
        def sub(pattern, replacement, value, kind):
            new, number = re.subn(pattern, replacement, value)
            if count and number:
                self.changes[kind] += number
            return new

        text = sub(r"^[\u3000 \t]+", "", text, N_("indents removed"))
        text = text.rstrip()
        text = sub(r"(?<=\S) {2,}(?=\S)", " ", text, N_("repeated spaces collapsed"))
        if not self.verbatim:
            fullwidth = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！"}
            text = sub(rf"(?<=[{_HAN}])([,;:?!])(?=[{_HAN}])", lambda m: fullwidth[m.group(1)], text,
                       N_("half-width punctuation made full-width"))
            text = sub(rf'"([^"]*[{_HAN}][^"]*)"', r"“\1”", text, N_("straight quotes made Chinese"))
        return text

    def _images(self, paragraph) -> list[str]:
        names = []
        for blip in paragraph._p.iter(f"{A}blip"):
            rel = blip.get(f"{R}embed")
            part = self.document.part.related_parts.get(rel)
            if part is None:
                continue
            extension = IMAGE_TYPES.get(part.content_type)
            if extension is None:
                self.diagnostics.error(_("an embedded image is {type}, which cannot be printed as is",
                                         type=part.content_type),
                                       file=self.shown, hint=_("replace it in Word with a JPEG or PNG"))
                continue
            name = f"{self.image_prefix}-{len(self.images) + 1}{extension}"
            self.images[name] = part.blob
            names.append(name)
        return names

    def _footnotes(self) -> dict[str, str]:
        from lxml import etree

        for part in self.document.part.package.parts:
            if str(part.partname).endswith("/footnotes.xml"):
                root = etree.fromstring(part.blob)
                notes = {}
                for note in root.findall(f"{W}footnote"):
                    text = "".join(t.text or "" for t in note.iter(f"{W}t")).strip()
                    if text:
                        notes[note.get(f"{W}id")] = text
                return notes
        return {}


def slug_for(path: Path, articles_dir: Path) -> str:
    """NN-name: the next number in the issue's articles/ and an ASCII name from the file name."""
    numbers = [int(m.group(1)) for p in articles_dir.glob("*.md") if (m := re.match(r"^(\d+)-", p.name))]
    name = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-") or "article"
    base = f"{(max(numbers) + 1) if numbers else 1:02d}-{name}"
    slug, counter = base, 2
    while (articles_dir / f"{slug}.md").exists():
        slug, counter = f"{base}-{counter}", counter + 1
    return slug


def add_to_manifest(manifest_path: Path, section: str, file: str, pages: str | None) -> str:
    """issue.yaml with the article appended to `section` (created at the end if missing),
    its formatting and comments kept (ruamel.yaml round trip)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.util import load_yaml_guess_indent

    text = manifest_path.read_text(encoding="utf-8")
    indent, block_indent = load_yaml_guess_indent(text)[1:]
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=block_indent or 2, sequence=indent or 4, offset=block_indent or 2)
    data = yaml.load(text)
    sections = data.setdefault("sections", CommentedSeq())
    target = next((s for s in sections if s.get("title") == section), None)
    if target is None:
        target = CommentedMap([("title", section), ("articles", CommentedSeq())])
        sections.append(target)
    entry = CommentedMap([("file", file)])
    if pages:
        from ruamel.yaml.scalarstring import DoubleQuotedScalarString

        entry["pages"] = DoubleQuotedScalarString(pages)
    target.setdefault("articles", CommentedSeq()).append(entry)
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()
