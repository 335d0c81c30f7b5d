"""Stage 3: the body document as paginated HTML (Jinja2 templates + CSS Paged Media).

Each article is a named page group whose first page sets the folio counter and falls on
the side (left/right) of its planned folio, so folios and sides follow the page plan
whatever came before.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2
from markupsafe import Markup

from ..diagnostics import Diagnostics, InputError
from ..i18n import _
from ..inputs.articles import Article
from ..inputs.fonts import FontSet
from ..inputs.house import House
from ..inputs.manifest import Manifest

DEFAULT_COLUMNS = {"article": 2, "foreword": 1}


def columns_of(article: Article) -> int:
    return article.columns or DEFAULT_COLUMNS[article.entry.section_style]


@dataclass
class ArticleBlock:
    article: Article
    page_name: str  # CSS page name, also the element id
    start_folio: int | None  # sets the folio counter on its first page

    @property
    def columns(self) -> int:
        return columns_of(self.article)

    @property
    def side(self) -> str:
        """The side its first page must fall on (odd folios are right-hand pages)."""
        if self.start_folio is None:
            return "page"
        return "right" if self.start_folio % 2 else "left"


def page_rules(manifest: Manifest, blocks: list[ArticleBlock]) -> str:
    """The CSS that depends on the issue and the plan: page size, folio counters."""
    width, height = manifest.page.trim_mm
    # bleed: WeasyPrint makes the MediaBox and BleedBox the trim plus bleed and sets the TrimBox
    rules = [f"@page {{ size: {width:g}mm {height:g}mm; bleed: {manifest.page.bleed_mm:g}mm; }}"]
    if blocks and blocks[0].side != "page":
        # WeasyPrint takes the side of the first page from the root element alone
        rules.append(f"html {{ break-before: {blocks[0].side}; }}")
    for block in blocks:
        if block.start_folio is not None:
            rules.append(f"@page {block.page_name}:nth(1 of {block.page_name}) "
                         f"{{ counter-set: page {block.start_folio}; }}")
    return "\n".join(rules) + "\n"


@lru_cache(maxsize=8)
def _environment(layout_dirs: tuple[str, ...]) -> jinja2.Environment:
    """One per template search path: it keeps the templates compiled (compiling them took 15 ms
    of every layout's cache key) and compiles a template again when its file changes."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(list(layout_dirs)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render_html(manifest: Manifest, blocks: list[ArticleBlock], house: House, fonts: FontSet,
                diagnostics: Diagnostics, filler_samples: tuple = ()) -> str:
    """The body's HTML; `filler_samples` (fillers set one under another on pages of their own) is
    what measuring the fillers lays out."""
    env = _environment(tuple(str(d) for d in house.dirs("layout")))
    stylesheets = []
    for path in house.stylesheets():
        try:
            stylesheets.append(Markup(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            diagnostics.error(_("cannot read stylesheet: {reason}", reason=exc), file=house.shown(path))
    try:
        template = env.get_template("issue.html.j2")
        return template.render(
            magazine=manifest.magazine,
            issue=manifest.issue,
            blocks=blocks,
            filler_samples=filler_samples,
            font_css=Markup(fonts.css()),
            house_css=Markup(house.style.colours.css()),  # styles/house.yaml
            page_css=Markup(page_rules(manifest, blocks)),
            stylesheets=stylesheets,
            body=lambda article: Markup(article.body_html),  # already escaped by the Markdown stage
            html=Markup,  # continuations: built from escaped article HTML
        )
    except jinja2.TemplateSyntaxError as exc:
        shown = house.shown(Path(exc.filename)) if exc.filename else None
        diagnostics.error(_("template syntax error: {message}", message=exc.message), file=shown, line=exc.lineno)
    except jinja2.TemplateNotFound as exc:
        diagnostics.error(_("template '{name}' not found", name=exc.name),
                          hint=_("layout/ folders searched: {folders}",
                                 folders=", ".join(house.shown(d) for d in house.dirs("layout"))))
    except jinja2.UndefinedError as exc:
        diagnostics.error(_("template error: {message}", message=exc.message),
                          hint=_("check the names used in the layout/ templates"))
    raise InputError(diagnostics)
