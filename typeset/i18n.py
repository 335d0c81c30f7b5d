"""The interface's language: every message a person reads goes through `_` (or `n_` where a
number decides the form) and the gettext catalogs in typeset/locale/.

The language follows TYPESET_LANG, else LANGUAGE, LC_ALL, LC_MESSAGES and LANG, as gettext
reads them: Chinese (zh_CN) for any zh… locale, English otherwise. report.json keeps its
English keys; the texts in it follow the language too.

Catalogs: `python -m typeset.i18n` extracts the messages (Babel) into locale/typeset.pot,
updates locale/zh_CN/LC_MESSAGES/typeset.po and compiles typeset.mo, which ships as package
data. The messages of click (usage, option errors, --help) are in the same catalog.
"""

from __future__ import annotations

import gettext
import os
from functools import lru_cache
from pathlib import Path

DOMAIN = "typeset"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("en", "zh_CN")


def language() -> str:
    """zh_CN or en, from TYPESET_LANG or the usual locale variables."""
    for variable in ("TYPESET_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable, "")
        if value:
            first = value.split(":")[0]
            return "zh_CN" if first.lower().replace("-", "_").startswith("zh") else "en"
    return "en"


@lru_cache(maxsize=4)
def _catalog(lang: str) -> gettext.NullTranslations:
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)


def _(msgid: str, /, **params) -> str:
    """`msgid` in the interface's language, its {fields} filled from `params`."""
    text = _catalog(language()).gettext(msgid)
    return text.format(**params) if params else text


def n_(singular: str, plural: str, number: int, /, **params) -> str:
    """The form of the message for `number`, in the interface's language, {fields} filled."""
    text = _catalog(language()).ngettext(singular, plural, number)
    return text.format(**params) if params else text


def lang_of(accept_language: str | None) -> str:
    """The language a browser asks for (Accept-Language), zh_CN or en."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh_CN"
        if tag.startswith("en"):
            return "en"
    return language()


def in_language(lang: str, msgid: str, /, **params) -> str:
    """`msgid` in the given language (the board follows each browser's)."""
    text = _catalog(lang).gettext(msgid)
    return text.format(**params) if params else text


def translate_click() -> None:
    """click's own messages (Usage:, Options:, errors) through our catalogs: its modules call the
    gettext functions they imported by name, so those names are pointed at ours."""
    import click.core
    import click.decorators
    import click.exceptions
    import click.formatting
    import click.parser
    import click.termui
    import click.types

    for module in (click.core, click.decorators, click.exceptions, click.formatting, click.parser, click.termui,
                   click.types):
        if hasattr(module, "_"):
            module._ = lambda message: _catalog(language()).gettext(message)
        if hasattr(module, "ngettext"):
            module.ngettext = lambda singular, plural, count: _catalog(language()).ngettext(singular, plural, count)


def N_(message: str, /) -> str:
    """Marks a message for the catalogs where it is declared; `_` translates it where it is shown."""
    return message


# -- the catalogs (needs Babel: `pip install .[test]`) --------------------------------------------

KEYWORDS = {"_": None, "N_": None, "n_": (1, 2), "in_language": (2,), "say": None, "gettext": None,
            "ngettext": (1, 2)}
CATALOG = LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / f"{DOMAIN}.po"


def extract_messages():
    """Every message a person may read: typeset's own (Python and the board's template) and click's."""
    import click
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    catalog = Catalog(project="typeset", domain=DOMAIN)
    sources = [(Path(__file__).resolve().parent, [("**.py", "python"), ("**.html.j2", "jinja2.ext:babel_extract")]),
               (Path(click.__file__).resolve().parent, [("**.py", "python")])]
    for folder, method_map in sources:
        for filename, lineno, message, comments, context in extract_from_dir(
                folder, method_map, keywords=KEYWORDS, options_map={"**.html.j2": {"extensions": "jinja2.ext.i18n"}}):
            if message and (message[0] if isinstance(message, tuple) else message):
                catalog.add(message, None, [(f"{folder.name}/{filename}", lineno)], auto_comments=comments,
                            context=context)
    return catalog


def update_catalogs() -> list[str]:
    """Bring the zh_CN catalog up to date with the sources and compile it; the messages that
    still lack a translation."""
    import datetime

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po, write_po

    with CATALOG.open("rb") as file:
        catalog = read_po(file, locale="zh_CN", domain=DOMAIN)
    catalog.update(extract_messages(), no_fuzzy_matching=True)
    catalog.obsolete.clear()
    catalog.creation_date = catalog.revision_date = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    with CATALOG.open("wb") as file:
        write_po(file, catalog, width=120, no_location=True, sort_output=True, ignore_obsolete=True)
    with CATALOG.with_suffix(".mo").open("wb") as file:
        write_mo(file, catalog, use_fuzzy=False)
    return untranslated(catalog)


def untranslated(catalog) -> list[str]:
    missing = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    return missing


if __name__ == "__main__":
    missing = update_catalogs()
    print(f"{CATALOG}: {len(missing)} message(s) without a translation")
    for message in missing:
        print(f"  {message}")
