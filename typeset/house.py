"""The house style search path: the issue's own layout/, styles/ and fonts/ win over the
project's, which win over the package defaults (this repository's top-level folders).

A project is the folder that holds `issues/ISSUE`; it may carry its own house style.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

KINDS = ("layout", "styles", "fonts")


def package_defaults() -> Path:
    """The folder that holds the default layout/, styles/ and fonts/."""
    packaged = Path(__file__).parent / "house"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent


@dataclass
class House:
    roots: list[Path]  # issue, project, package defaults; nearest first, without repeats
    display: dict[Path, str]  # how each root is shown in messages

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
