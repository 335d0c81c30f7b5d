"""The house style search path: the issue's own layout/, styles/ and fonts/ win over the
project's, which win over the package defaults (this repository's top-level folders).

A project is the folder that holds `issues/ISSUE`; it may carry its own house style.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..diagnostics import Diagnostics
from ..i18n import _

if TYPE_CHECKING:
    from .housestyle import HouseStyle

KINDS = ("layout", "styles", "fonts")


def package_defaults() -> Path:
    """The folder that holds the default layout/, styles/ and fonts/."""
    package = Path(__file__).resolve().parent.parent
    packaged = package / "house"
    return packaged if packaged.is_dir() else package.parent


@dataclass
class House:
    roots: list[Path]  # issue, project, package defaults; nearest first, without repeats
    display: dict[Path, str]  # how each root is shown in messages
    style: HouseStyle | None = None  # styles/house.yaml, once read (housestyle.load_house_style)

    def dirs(self, kind: str) -> list[Path]:
        return [root / kind for root in self.roots if (root / kind).is_dir()]

    def stylesheets(self) -> list[Path]:
        """Every *.css by file name, the nearest copy of each, in name order."""
        chosen: dict[str, Path] = {}
        for folder in self.dirs("styles"):
            for css in folder.glob("*.css"):
                chosen.setdefault(css.name, css)
        return [chosen[name] for name in sorted(chosen)]

    def shown(self, path: Path) -> str:
        for root in self.roots:
            if root == path or root in path.parents:
                return f"{self.display[root]}/{path.relative_to(root)}".replace("//", "/")
        return str(path)


_CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)|@import\s+(['"])(.*?)\3""", re.I)


def check_stylesheet_urls(house: House, diagnostics: Diagnostics) -> None:
    """Stylesheets may load files from their own house folder only: no network, no file:// elsewhere."""
    for path in house.stylesheets():
        root = next(r for r in house.roots if r in path.parents)
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in _CSS_URL.finditer(text):
            url = match.group(2) if match.group(2) is not None else match.group(4)
            if url.startswith("data:"):
                continue
            target = (path.parent / url).resolve() if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^/", url) else None
            if target is None or root.resolve() not in target.parents:
                line = text.count("\n", 0, match.start()) + 1
                diagnostics.error(_("'{url}' may not be loaded: stylesheets use files of their own folder only", url=url),
                                  file=house.shown(path), line=line,
                                  hint=_("copy the file next to the stylesheet and name it by a relative path"))


def find_house(issue_dir: Path, display_root: str) -> House:
    issue_dir = issue_dir.resolve()
    candidates = [(issue_dir, display_root)]
    if issue_dir.parent.name == "issues":
        candidates.append((issue_dir.parent.parent, f"{display_root}/../.."))
    candidates.append((package_defaults().resolve(), "typeset"))
    roots, display = [], {}
    for root, shown in candidates:
        if root not in roots:
            roots.append(root)
            display[root] = shown
    return House(roots, display)
