"""Stage 2: read each article (YAML front matter + Markdown body) into an `Article`."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from ..diagnostics import Diagnostics
from ..i18n import _
from .cjk import refine
from .copyfit import KNOBS, Setting, parse_range
from .images import check_image
from .manifest import ArticleEntry, Manifest
from .yamlnodes import compose, resolve_inside

if TYPE_CHECKING:
    from markdown_it.token import Token

LAYOUT_KEYS = ("columns", "fit")
BODY_ROLES = {"article": "song", "foreword": "kai"}
COLUMN_CHOICES = (1, 2, 3)
END_MARK = "□"

_FRONT_MATTER_FENCE = re.compile(r"^---[ \t]*$")
_FRONT_MATTER_END = re.compile(r"^(---|\.\.\.)[ \t]*$")


@dataclass
class Figure:
    path: Path
    caption: str
    line: int


def front_text(role: str) -> str:
    """A text field of the front matter, set in the font role `role` by the house style
    (styles/*.css); the font coverage check follows the role."""
    return field(default="", metadata={"front_matter": role})


@dataclass
class Article:
    entry: ArticleEntry
    slug: str  # the file stem: the article's id in reports and CSS
    display: str  # the file as shown to the user
    title: str = front_text("title")
    kicker: str = front_text("hei")  # 引题
    subtitle: str = front_text("hei")  # 副题
    toc_title: str = front_text("title")  # the title in the contents, where it differs
    author: str = front_text("kai")
    author_note: str = front_text("kai")  # （作者系…）
    source: str = front_text("kai")  # printed as （来源：…）
    end_note: str = front_text("kai")  # printed in brackets after the text
    columns: int | None = None  # None: the house style's default
    body_html: str = ""
    figures: list[Figure] = field(default_factory=list)
    # (line, font role, text) of every piece of text that gets printed, for the font coverage check
    text_lines: list[tuple[int, str, str]] = field(default_factory=list)
    # the continuations (转页) of other articles set after this one's text (continuation.Continuation)
    continued_here: list = field(default_factory=list)
    fit_limits: dict = field(default_factory=dict)  # knob -> (lo, hi) from the front matter's `fit:`
    fit: Setting | None = None  # the copyfitting chosen for it, if any
    fillers: list = field(default_factory=list)  # the 补白 (fillers.Filler) set under its text
    filler_drop: float = 0.0  # CSS px above the fillers that set them at the foot of the page


# The front matter's text keys and the font role of each, in the order of the fields above.
FRONT_MATTER_ROLES = {f.name: f.metadata["front_matter"] for f in fields(Article) if "front_matter" in f.metadata}
TEXT_KEYS = tuple(FRONT_MATTER_ROLES)


def read_articles(manifest: Manifest, diagnostics: Diagnostics, strict: bool = False) -> list[Article]:
    # imported here: a build reads in a child process, and the process that lays out (which
    # holds these articles) need not load markdown-it (20 ms of the imports an edit waits for)
    from .markdown import make_parser

    parser = make_parser()
    articles = []
    for entry in manifest.articles:
        article = _read_article(entry, manifest, parser, diagnostics, strict)
        if article is not None:
            articles.append(article)
    return articles


def _read_article(entry, manifest, parser, diagnostics, strict) -> Article | None:
    display = manifest.display(entry.file)
    split = split_front_matter(entry.file, display, diagnostics)
    if split is None:
        return None
    meta, lines, body_start = split
    article = Article(entry=entry, slug=entry.file.stem, display=display)
    errors_before = len(diagnostics.errors)
    for key, (value, line, column) in meta.items():
        _front_matter_key(article, key, value, {"file": display, "line": line, "column": column, "key": key},
                          diagnostics, strict)
    if not article.title:
        diagnostics.error(_("'{name}' is required", name="title"), file=display, line=1, column=1, key="title",
                          hint=_("add `title: …` to the front matter"))
    body = "\n".join(lines[body_start:])
    if not body.strip():
        diagnostics.error(_("the article has no text"), file=display, line=body_start + 1,
                          hint=_("write the body below the front matter"))
    article.body_html = _render_body(body, body_start, article, manifest, parser, diagnostics)
    if len(diagnostics.errors) > errors_before:
        return None
    return article


def split_front_matter(path: Path, display: str, diagnostics: Diagnostics):
    """(front matter {key: (value, line, column)}, the file's lines, index of the first body line);
    None after an error."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        diagnostics.error(_("not UTF-8 text (invalid byte at offset {offset}){guess}", offset=exc.start,
                            guess=_guess_encoding(raw)),
                          file=display, line=line, hint=_("save the article as UTF-8"))
        return None
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not (lines and _FRONT_MATTER_FENCE.match(lines[0])):
        diagnostics.error(_("no front matter"), file=display, line=1, column=1,
                          hint=_("start the file with ---, a line `title: …`, and ---"))
        return None
    end = next((i for i in range(1, len(lines)) if _FRONT_MATTER_END.match(lines[i])), None)
    if end is None:
        diagnostics.error(_("front matter is not closed"), file=display, line=1, column=1,
                          hint=_("end the front matter with a line of three dashes: ---"))
        return None
    meta = _compose_front_matter("\n".join(lines[1:end]), display, diagnostics)
    return None if meta is False else (meta, lines, end + 1)


def _front_matter_key(article: Article, key: str, value, where: dict, diagnostics: Diagnostics, strict: bool) -> None:
    if key in TEXT_KEYS:
        if value is None:
            return
        if isinstance(value, (dict, list, bool)):
            diagnostics.error(_("expected text, got {kind}", kind=type(value).__name__), **where)
            return
        value = str(value).strip()
        setattr(article, key, value)
        article.text_lines.append((where["line"], FRONT_MATTER_ROLES[key], value))
    elif key == "fit":
        _fit_limits(article, value, where, diagnostics)
    elif key == "columns":
        if value not in COLUMN_CHOICES or isinstance(value, bool):
            diagnostics.error(_("columns must be 1, 2 or 3, got {value!r}", value=value), **where)
        else:
            article.columns = value
    else:
        message = _("unknown front-matter key '{key}'", key=key)
        hint = _("known keys: {keys}", keys=", ".join(TEXT_KEYS + LAYOUT_KEYS))
        if strict:
            diagnostics.error(message, hint=hint, **where)
        else:
            diagnostics.warning(message, hint=hint, **where)


def _fit_limits(article: Article, value, where: dict, diagnostics: Diagnostics) -> None:
    """`fit:` narrows, pins or forbids copyfitting knobs for this article."""
    if not isinstance(value, dict):
        diagnostics.error(_("fit must be a mapping of knobs, e.g. {leading: [-0.05, 0], size: false}"), **where)
        return
    for knob, limit in value.items():
        parsed = parse_range(limit, KNOBS[knob][0]) if knob in KNOBS else None
        if parsed is None:
            message = _("fit.{knob}: expected [min, max], a number or false, got {value!r}", knob=knob, value=limit) \
                if knob in KNOBS else _("fit: unknown knob '{knob}'", knob=knob)
            diagnostics.error(message, **where, hint=_(
                "knobs: {knobs}; a range must include the house value ({values})", knobs=", ".join(KNOBS),
                values=", ".join(f"{k} {v[0]:g}" for k, v in KNOBS.items())))
        else:
            article.fit_limits[knob] = parsed


def _compose_front_matter(text: str, display: str, diagnostics: Diagnostics):
    """The front matter as {key: (value, line, column)}; False after an error."""
    try:
        node = compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        diagnostics.error(_("front matter YAML syntax error: {problem}", problem=exc.problem or exc.context),
                          file=display,
                          line=mark.line + 2 if mark else None, column=mark.column + 1 if mark else None,
                          hint=_("values with a colon or starting with a quote need quoting"))
        return False
    if node is None:
        return {}
    if not isinstance(node, yaml.MappingNode):
        diagnostics.error(_("front matter must be `key: value` lines"), file=display, line=2, column=1)
        return False
    constructor = yaml.constructor.SafeConstructor()
    result = {}
    for key_node, value_node in node.value:
        value = constructor.construct_object(value_node, deep=True)
        result[str(key_node.value)] = (value, key_node.start_mark.line + 2, key_node.start_mark.column + 1)
    return result


def _render_body(body: str, offset: int, article: Article, manifest: Manifest, parser, diagnostics) -> str:
    from markdown_it.token import Token

    tokens = parser.parse(body)
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.map:
            token.attrSet("data-line", str(token.map[0] + offset + 1))
        if token.type == "heading_open" and token.tag in ("h1", "h4", "h5", "h6"):
            line = token.map[0] + offset + 1
            level = "h3" if token.tag != "h1" else "h2"
            diagnostics.warning(_("heading level {level} is set as {tag}", level=token.tag[1], tag=level),
                                file=article.display, line=line,
                                hint=_("the house style has ## section heads and ### subheads"))
            token.tag = level
            tokens[i + 2].tag = level
        if token.type == "inline" and token.map:
            in_heading = i > 0 and tokens[i - 1].type == "heading_open"
            body_role = "hei" if in_heading else BODY_ROLES[article.entry.section_style]
            for role, text in _text_by_role(token, body_role):
                article.text_lines.append((token.map[0] + offset + 1, role, text))
        figure = _lone_image(tokens, i)
        if figure is not None:
            image_token, line = figure, token.map[0] + offset + 1
            html_token = Token("html_block", "", 0)
            html_token.content = _figure_html(image_token, line, article, manifest, diagnostics)
            out.append(html_token)
            i += 3
            continue
        if token.type == "inline":
            for child in token.children or []:
                if child.type == "image":
                    diagnostics.error(_("image inside a paragraph"), file=article.display,
                                      line=token.map[0] + offset + 1,
                                      hint=_("put the image on a line of its own, with a blank line before and after"))
        out.append(token)
        i += 1
    rendered = parser.renderer.render(out, parser.options, {})
    return refine(rendered, end_mark=f'<span class="end-mark">{END_MARK}</span>')


def _lone_image(tokens: list[Token], i: int) -> Token | None:
    """The image token when tokens[i:i+3] is a paragraph holding nothing but one image."""
    if tokens[i].type != "paragraph_open" or i + 2 >= len(tokens):
        return None
    children = [c for c in tokens[i + 1].children or [] if not (c.type == "text" and not c.content.strip())
                and c.type != "softbreak"]
    if len(children) == 1 and children[0].type == "image" and tokens[i + 2].type == "paragraph_close":
        return children[0]
    return None


def _figure_html(image: Token, line: int, article: Article, manifest: Manifest, diagnostics) -> str:
    src = image.attrGet("src") or ""
    caption = "".join(c.content for c in image.children or [] if c.type in ("text", "code_inline"))
    where = {"file": article.display, "line": line}
    base = article.entry.file.parent
    rel_to_issue = _relative_to_root(base, src, manifest.root)
    path = resolve_inside(manifest.root, rel_to_issue) if rel_to_issue is not None else None
    if path is None:
        diagnostics.error(_("image '{file}' is outside the issue folder", file=src), **where,
                          hint=_("images must sit inside the issue folder (e.g. images/) and be named by a relative "
                                 "path"))
        return ""
    if not path.is_file():
        diagnostics.error(_("image '{file}' does not exist", file=src), **where,
                          hint=_("paths are relative to the article: {folder}", folder=manifest.display(base / "_")[:-1]))
        return ""
    problem = check_image(path)
    if problem:
        diagnostics.error(_("image '{file}' {problem}", file=src, problem=problem), **where,
                          hint=_("save it again as JPEG or PNG"))
        return ""
    article.figures.append(Figure(path, caption, line))
    if caption:
        article.text_lines.append((line, "kai", caption))
    caption_html = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return (f'<figure class="figure" data-line="{line}"><img src="{path.as_uri()}" alt="{html.escape(caption)}">'
            f"{caption_html}</figure>\n")


def _relative_to_root(base: Path, src: str, root: Path) -> str | None:
    """`src` (relative to the article's folder) as a path relative to the issue root, or None for URLs."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", src) or src.startswith(("/", "\\")):
        return None
    joined = (base / src).resolve()
    try:
        return str(joined.relative_to(root.resolve()))
    except ValueError:
        return None


def _text_by_role(inline: Token, body_role: str) -> list[tuple[str, str]]:
    """The inline's text split by font role: bold run-in heads are set in 黑体."""
    parts, role = [], body_role
    for child in inline.children or []:
        if child.type == "strong_open":
            role = "hei"
        elif child.type == "strong_close":
            role = body_role
        elif child.type in ("text", "code_inline") and child.content:
            parts.append((role, child.content))
    return parts


def _guess_encoding(raw: bytes) -> str:
    for encoding in ("gb18030", "big5", "utf-16"):
        try:
            raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return _("; it looks like {encoding}", encoding=encoding.upper())
    return ""
