"""What one article's layout came to, cached between builds, so an edit re-lays out only what it affects.

Every article starts on a page of its own, so the pages it takes depend only on its own
HTML (text, fit settings, continuations set after it, start folio), the house style inlined
in that HTML, the fonts and photos it names, and typeset's code. The cache key is a digest of
exactly that; the value is what planning needs: the number of pages, the lines placed on
each, and how far each column of the last page ends short of the foot. The final PDF is
still laid out as one document, so every font is embedded once.

Entries live under OUT_DIR/.cache/layout/ as small JSON files, written with the build's
outputs (never on an input error) by atomic rename, so two builds at once only ever see
whole entries; an entry the build did not use is removed after the outputs are written.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..inputs.articles import Article
from ..inputs.fonts import FontSet
from ..store import LAYOUT_CACHE, Inputs, code_digest, digest, note_damaged

FOLDER = LAYOUT_CACHE


def whole_lines(height: float, pitch: float) -> int:
    """Body lines of `pitch` that fit in `height` (a hair of rounding allowed)."""
    return math.floor(height / pitch + 0.01)


@dataclass
class Trial:
    """An article laid out alone: its pages, (block data-line, characters) of the lines on each,
    the empty height under each column of its last page and its body line pitch (CSS px)."""

    pages: int
    placed: list[list[tuple[str | None, int]]]
    gaps: list[float] = field(default_factory=list)
    pitch: float = 12.0
    height: float = 0.0  # of a page's text area

    @property
    def page_lines(self) -> int:
        """Body lines a column of a full page holds."""
        return whole_lines(self.height, self.pitch)

    def lines_beyond(self, pages: int) -> float:
        """Lines per column set after the first `pages` pages."""
        return sum(len(page) for page in self.placed[pages:]) / max(1, len(self.gaps))

    def lines_on(self, pages: int) -> list[tuple[str | None, int]]:
        return [line for page in self.placed[:pages] for line in page]

    @property
    def short(self) -> int:
        """Body lines the shortest column of the last page leaves empty above the foot."""
        return whole_lines(max(self.gaps, default=0.0), self.pitch)

    @property
    def space_under(self) -> float:
        """The empty height under everything on the last page: what a filler across the columns can take."""
        return min(self.gaps, default=0.0)

    def as_json(self) -> dict:
        return {"pages": self.pages, "placed": self.placed, "gaps": self.gaps, "pitch": self.pitch,
                "height": self.height}

    @classmethod
    def from_json(cls, data: dict) -> Trial:
        return cls(int(data["pages"]), [[(block, int(chars)) for block, chars in page] for page in data["placed"]],
                   [float(gap) for gap in data["gaps"]], float(data["pitch"]), float(data["height"]))


class LayoutCache:
    def __init__(self, out_dir: Path | None):
        self.folder = out_dir / FOLDER if out_dir is not None else None
        self.fingerprint = ""
        self.used: set[str] = set()
        self.new: dict[str, Trial] = {}

    def use_fonts(self, fonts: FontSet) -> None:
        """The fonts the layouts are made with: part of every key."""
        self.fingerprint = digest(Inputs(values=(code_digest(),), stamped=font_files(fonts)))

    def key(self, html: str, article: Article) -> str:
        # the photo's pixels set its height; the HTML has only its path
        return digest(Inputs(values=(self.fingerprint, html), stamped=tuple(f.path for f in article.figures)))[:32]

    def get(self, key: str) -> Trial | None:
        if key in self.new:
            self.used.add(key)
            return self.new[key]
        if self.folder is None:
            return None
        path = self.folder / f"{key}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            trial = Trial.from_json(data)
        except OSError:
            return None  # not there: lay it out
        except (ValueError, KeyError, TypeError):
            note_damaged(path)  # lay it out again; the build writes the entry anew
            return None
        self.used.add(key)
        return trial

    def put(self, key: str, trial: Trial) -> None:
        self.new[key] = trial
        self.used.add(key)

    def files(self) -> dict[str, bytes]:
        """The new entries, as output files relative to OUT_DIR."""
        return {str(FOLDER / f"{key}.json"): json.dumps(trial.as_json()).encode()
                for key, trial in self.new.items()}

    def stale(self) -> list[Path]:
        """Entries in the folder this build did not use (left by inputs that no longer exist), and
        temporary files of a build killed an hour ago or more."""
        if self.folder is None or not self.folder.is_dir():
            return []
        unused = [path for path in self.folder.glob("*.json") if path.stem not in self.used]
        killed = [path for path in self.folder.glob(".*.tmp") if time.time() - _mtime(path) > 3600]
        return unused + killed


def font_files(fonts: FontSet) -> tuple[Path, ...]:
    return tuple(sorted(face.file for role in fonts.roles.values() for face in role.faces))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()
