"""Stages 1–3, reading: the manifest, the house style, the articles and fillers, the fonts (every
character covered) and the photos in print colour, as `ReadForLayout`.

Reading needs neither the layout engine nor the PDF libraries, which a fresh `typeset build`
spends 0.8 s importing (reading the reference issue takes 0.7 s): `read_ahead` reads in a
child process forked before those imports, and `read_issue` takes its result.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Callable

from ..diagnostics import Diagnostic, Diagnostics, InputError
from ..i18n import _, n_
from ..processes import forked
from ..store import Handover, hand_over, take_over
from .articles import read_articles
from .fillers import FillerPool, read_fillers
from .fonts import FontSet, load_fonts
from .house import House, check_stylesheet_urls, find_house
from .housestyle import load_house_style
from .manifest import Manifest, load_manifest
from .photos import cmyk_image, find_profile


@dataclass
class ReadForLayout:
    house: House  # with its style (styles/house.yaml) read
    manifest: Manifest  # its cover photos in print colour
    articles: list  # inputs.articles.Article, their photos in print colour
    fonts: FontSet
    profile: Path
    fillers: FillerPool  # the 补白 the issue may set under its articles


# what `read_ahead` has started, by the arguments of the `read_issue` that takes it
_ahead: dict[tuple, Callable[[], tuple[ReadForLayout | None, list[Diagnostic], Handover]]] = {}


def read_ahead(issue_dir: Path, strict: bool = False, display_root: str | None = None) -> None:
    """Start reading `issue_dir` in a child process, forked now, for this process's `read_issue`
    with the same arguments to take while this process imports what comes after reading."""
    _ahead[(issue_dir, strict, display_root)] = forked(partial(_read_reporting, issue_dir, strict, display_root))


def _read_reporting(issue_dir: Path, strict: bool, display_root: str | None) -> tuple[ReadForLayout | None,
                                                                                        list[Diagnostic], Handover]:
    """(what `read_issue` gives, or None where it found errors; what it reported; what it learned
    of the caches)."""
    diagnostics = Diagnostics()
    try:
        read = read_issue(issue_dir, diagnostics, strict, display_root)
    except InputError:
        return None, diagnostics.items, hand_over([])
    return read, diagnostics.items, hand_over(read.fonts.files())


def read_issue(issue_dir: Path, diagnostics: Diagnostics, strict: bool = False,
               display_root: str | None = None) -> ReadForLayout:
    """Stages 1–3 for the issue in `issue_dir`: its manifest and house style, then `read_for_layout`.
    Taken from `read_ahead` when it read the issue with these arguments."""
    pending = _ahead.pop((issue_dir, strict, display_root), None)
    if pending is not None:
        try:
            read, reported, learned = pending()
        except ChildProcessError:
            pass  # the child ended without an answer: read here, where whatever went wrong shows
        else:
            take_over(learned)
            diagnostics.items.extend(reported)
            if read is None:
                raise InputError(diagnostics)
            return read
    display_root = display_root if display_root is not None else str(issue_dir)
    manifest = load_manifest(issue_dir, diagnostics, strict=strict, display_root=display_root)
    return read_for_layout(manifest, find_house(issue_dir, display_root), diagnostics, strict)


def read_for_layout(manifest: Manifest, house: House, diagnostics: Diagnostics, strict: bool = False) -> ReadForLayout:
    """Stages 2–3 for the articles of `manifest`: read, the house style's stylesheets checked, fonts
    loaded and covering every character, photos in print colour."""
    articles = read_articles(manifest, diagnostics, strict=strict)
    fillers = read_fillers(manifest, diagnostics)
    _proofreading_warnings(manifest, diagnostics)
    house = replace(house, style=load_house_style(house, diagnostics))
    check_stylesheet_urls(house, diagnostics)
    font_dirs = house.dirs("fonts")
    fonts = load_fonts(font_dirs, {d: house.shown(d) for d in font_dirs}, diagnostics)
    diagnostics.raise_if_errors()
    check_coverage([*articles, *fillers.all], fonts, diagnostics)
    profile = find_profile(manifest.page.output_profile, manifest.root, house, diagnostics)
    diagnostics.raise_if_errors()
    articles, manifest = _print_colour(articles, manifest, profile)
    return ReadForLayout(house, manifest, articles, fonts, profile, fillers)


def _proofreading_warnings(manifest: Manifest, diagnostics: Diagnostics) -> None:
    """What `typeset check` finds, one warning per file and rule (the first place, the count):
    a build is never stopped by it."""
    from .proofread import proofread_issue  # as `articles.read_articles`: only where the issue is read

    by_file_and_rule: dict[tuple[str, str], list] = {}
    for finding in proofread_issue(manifest):
        by_file_and_rule.setdefault((finding.display, finding.rule), []).append(finding)
    for (display, rule), findings in by_file_and_rule.items():
        first = findings[0]
        diagnostics.warning(n_("{message} (1 place)", "{message} ({count} places, this the first)", len(findings),
                               message=first.message, count=len(findings)),
                            file=display, line=first.line, column=first.column, key=rule,
                            hint=_("`typeset check` lists every place; `--fix` corrects the safe kinds"))


def _print_colour(articles, manifest: Manifest, profile: Path):
    """Photos converted to CMYK for the output profile (cached); the articles and manifest use them."""
    converted = []
    for article in articles:
        html = article.body_html
        for figure in article.figures:
            html = html.replace(figure.path.as_uri(), cmyk_image(figure.path, profile).as_uri())
        converted.append(replace(article, body_html=html))
    changes = {}
    for key in ("cover", "inside_front_cover", "inside_back_cover", "back_cover"):
        part = getattr(manifest, key)
        if part is not None and part.image is not None:
            changes[key] = replace(part, image=cmyk_image(part.image, profile))
    return converted, replace(manifest, **changes)


def check_coverage(articles, fonts: FontSet, diagnostics: Diagnostics) -> None:
    """Every printed character of the articles (and fillers) must be in its role's font or a
    declared fallback."""
    for article in articles:
        for line, role, text in article.text_lines:
            if role not in fonts.roles:
                continue
            for char in fonts.uncovered(role, text):
                diagnostics.error(
                    _("character '{char}' (U+{code:04X}) is in no font of role '{role}' ({family}) or its fallbacks",
                      char=char, code=ord(char), role=role, family=fonts.roles[role].family),
                    file=article.display, line=line,
                    hint=_("replace the character, or add a font that has it as a fallback in fonts/fonts.yaml"))
