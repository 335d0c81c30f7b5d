"""Stage 3: the body document as paginated HTML (Jinja2 templates + CSS Paged Media).

The page sequence is given as blocks: articles, pages reserved for the contents, and
blank filler pages. Each article is a named page group whose first page sets the folio
counter, so folios follow the page plan whatever came before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from markupsafe import Markup

from .articles import Article
from .diagnostics import Diagnostics, InputError
from .fonts import FontSet
from .house import House
from .manifest import Manifest

DEFAULT_COLUMNS = {"article": 2, "foreword": 1}


@dataclass
class ArticleBlock:
    article: Article
    page_name: str  # CSS page name, also the element id
    start_folio: int | None  # sets the folio counter on its first page
    overset_marker: tuple[int, int, int] | None = None  # (page in the article, folio, overset lines)

    kind = "article"

    @property
    def columns(self) -> int:
        return self.article.columns or DEFAULT_COLUMNS[self.article.entry.section_style]


@dataclass
class BlankBlock:
    """Pages without text: `reserved` for the contents, `underfill`/`unplanned` where the plan has
    no text, `discard` to keep left and right pages in step after dropped overset pages."""

    purpose: str
    folios: list[int] = field(default_factory=list)
    page_name: str = ""

    kind = "blank"

    @property
    def pages(self) -> int:
        return len(self.folios) if self.purpose != "discard" else 1


Block = ArticleBlock | BlankBlock


def page_rules(manifest: Manifest, blocks: list[Block]) -> str:
    """The CSS that depends on the issue and the plan: page size, folio resets, overset markers."""
    width, height = manifest.page.trim_mm
    rules = [f"@page {{ size: {width:g}mm {height:g}mm; }}"]
    for block in blocks:
        first = block.start_folio if isinstance(block, ArticleBlock) else (block.folios or [None])[0]
        if first is not None:
            rules.append(f"@page {block.page_name}:nth(1 of {block.page_name}) {{ counter-set: page {first}; }}")
        if isinstance(block, ArticleBlock) and block.overset_marker:
            page, folio, lines = block.overset_marker
            corner = "bottom-right-corner" if folio % 2 else "bottom-left-corner"
            rules.append(
                f"@page {block.page_name}:nth({page} of {block.page_name}) {{ @{corner} {{ "
                f'content: "+ 溢排{lines}行"; }} }}')
    return "\n".join(rules) + "\n"


def render_html(manifest: Manifest, blocks: list[Block], house: House, fonts: FontSet,
                diagnostics: Diagnostics) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in house.dirs("layout")]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    stylesheets = []
    for path in house.stylesheets():
        try:
            stylesheets.append(Markup(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            diagnostics.error(f"cannot read stylesheet: {exc}", file=house.shown(path))
    try:
        template = env.get_template("issue.html.j2")
        return template.render(
            magazine=manifest.magazine,
            issue=manifest.issue,
            blocks=blocks,
            font_css=Markup(fonts.css()),
            page_css=Markup(page_rules(manifest, blocks)),
            stylesheets=stylesheets,
            body=lambda article: Markup(article.body_html),  # already escaped by the Markdown stage
        )
    except jinja2.TemplateSyntaxError as exc:
        shown = house.shown(Path(exc.filename)) if exc.filename else None
        diagnostics.error(f"template syntax error: {exc.message}", file=shown, line=exc.lineno)
    except jinja2.TemplateNotFound as exc:
        diagnostics.error(f"template '{exc.name}' not found",
                          hint=f"layout/ folders searched: {', '.join(house.shown(d) for d in house.dirs('layout'))}")
    except jinja2.UndefinedError as exc:
        diagnostics.error(f"template error: {exc.message}", hint="check the names used in the layout/ templates")
    raise InputError(diagnostics)
