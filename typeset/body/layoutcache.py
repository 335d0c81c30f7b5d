"""What one article's layout came to, cached between builds, so an edit re-lays out only what it affects.

Every article starts on a page of its own, so the pages it takes depend only on its own
HTML (text, fit settings, continuations set after it, start folio), the house style inlined
in that HTML, the fonts and photos it names, typeset's code and the libraries that lay it out
(`engine_versions`). The cache key is a digest of exactly that; the value is what planning
needs: the number of pages, the lines placed on each, and how far each column of the last page
ends short of the foot. The layout an article
keeps has its pages too, as a PDF part (`engine.write_part`): the issue's PDF is linked from
the parts (`pdf.link`), so an article is never laid out again to be printed; the font subsets
the linker made are kept as well, and the cover and contents pages (`LayoutCache.store`).

Entries live under OUT_DIR/.cache/layout/ as small JSON files and PDF parts, written with the
build's outputs (never on an input error) by atomic rename, so two builds at once only ever
see whole entries; an entry the build did not use is removed after the outputs are written.
A part is known by its SHA-256 in its layout's entry, and checked when it is read.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Callable

import pikepdf
import pydyf
import weasyprint
from weasyprint.text.ffi import ffi, harfbuzz, pango

from ..inputs.articles import Article
from ..inputs.fonts import FontSet
from ..store import LAYOUT_CACHE, Inputs, code_digest, digest, file_digest, note_damaged, remembered

FOLDER = LAYOUT_CACHE
ENTRY_KINDS = ("subset", "front")  # what `LayoutCache.store` keeps: the linker's font subsets, the front pages


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
    fillers: dict[str, float] = field(default_factory=dict)  # filler slug -> its height on the last page
    continued: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # source slug -> (lines, chars) a page
    part: str = ""  # the SHA-256 of its PDF part, when one was written
    # (height, its max-height, its share of the text area's width) of each photo a max-height
    # holds (photo_scale shrinks that): what copyfitting's model takes photos for (CSS px)
    photos: list[tuple[float, float, float]] = field(default_factory=list)

    @property
    def page_lines(self) -> int:
        """Body lines a column of a full page holds."""
        return whole_lines(self.height, self.pitch)

    def lines_beyond(self, pages: int) -> float:
        """Lines per column set after the first `pages` pages."""
        return sum(len(page) for page in self.placed[pages:]) / max(1, len(self.gaps))

    def beyond(self, available: int) -> float:
        """Lines a column beyond the foot of the last of `available` pages; negative: short of it."""
        if self.pages > available:
            return self.lines_beyond(available)
        return -((available - self.pages) * self.page_lines + self.short)

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
                "height": self.height, "fillers": self.fillers, "continued": self.continued, "part": self.part,
                "photos": self.photos}

    @classmethod
    def from_json(cls, data: dict) -> Trial:
        return cls(int(data["pages"]), [[(block, int(chars)) for block, chars in page] for page in data["placed"]],
                   [float(gap) for gap in data["gaps"]], float(data["pitch"]), float(data["height"]),
                   {slug: float(height) for slug, height in data["fillers"].items()},
                   {slug: [(int(lines), int(chars)) for lines, chars in pages]
                    for slug, pages in data["continued"].items()}, str(data["part"]),
                   [(float(height), float(cap), float(share)) for height, cap, share in data["photos"]])


class LayoutCache:
    def __init__(self, out_dir: Path | None):
        self.folder = out_dir / FOLDER if out_dir is not None else None
        self.fingerprint = ""
        self.used: set[str] = set()
        self.new: dict[str, Trial] = {}
        self.read: dict[str, Trial] = {}  # entries read from the folder
        self.new_parts: dict[str, bytes] = {}
        self.later: dict[str, Callable[[], bytes | None]] = {}  # parts being written: `put_part_later`
        self.new_entries: dict[str, tuple[str, bytes]] = {}  # key -> (kind, data): `store`
        # the layouts whose parts the build printed (None: all it used): a part written ahead of
        # need for a layout that was only a trial after all is not kept, as a cold build keeps none
        self.printed: set[str] | None = None
        self.damaged: set[Path] = set()  # entries found damaged

    def _damaged(self, path: Path) -> None:
        """Said once, however often planning looks the entry up (in this process, then in a worker)."""
        if path not in self.damaged:
            self.damaged.add(path)
            note_damaged(path)

    def use_fonts(self, fonts: FontSet) -> None:
        """The fonts the layouts are made with: part of every key (with the code and libraries)."""
        self.fingerprint = digest(Inputs(values=(code_digest(), engine_versions()), stamped=fonts.files()))

    def key(self, html: str, article: Article | None = None) -> str:
        # the photo's pixels set its height; the HTML has only its path
        photos = tuple(f.path for f in article.figures) if article is not None else ()
        return digest(Inputs(values=(self.fingerprint, html), stamped=photos))[:32]

    def get(self, key: str) -> Trial | None:
        if key in self.new:
            self.used.add(key)
            return self.new[key]
        if key in self.read:  # planning asks for the same entries again and again (243 times for 79)
            self.used.add(key)
            return self.read[key]
        if self.folder is None:
            return None
        path = self.folder / f"{key}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            trial = Trial.from_json(data)
        except OSError:
            return None  # not there: lay it out
        except (ValueError, KeyError, TypeError):
            self._damaged(path)  # lay it out again; the build writes the entry anew
            return None
        self.used.add(key)
        self.read[key] = trial
        return trial

    def put(self, key: str, trial: Trial) -> None:
        self.new[key] = trial
        self.used.add(key)

    def part(self, key: str) -> bytes | None:
        """The PDF part of the layout under `key` (which `get` found), if one was written and is whole."""
        written = self.later.pop(key, None)
        if written is not None and (data := written()) is not None:
            self.put_part(key, data)
        trial = self.get(key)
        if trial is None or not trial.part:
            return None
        if key in self.new_parts:
            return self.new_parts[key]
        if self.folder is None:
            return None
        path = self.folder / f"{key}.pdf"
        try:
            if file_digest(path) != trial.part:  # hashed once for the file as it is (`store.remembered`)
                self._damaged(path)  # laid out again; the build writes the part anew
                return None
            return path.read_bytes()
        except OSError:
            return None

    def put_part_later(self, key: str, written: Callable[[], bytes | None]) -> None:
        """The PDF part of the layout under `key` (which `put` stored), being written elsewhere:
        `written()` waits for it (None: none came)."""
        self.later[key] = written

    def written(self) -> None:
        """The parts being written, waited for."""
        for key in list(self.later):
            self.part(key)

    def put_part(self, key: str, data: bytes) -> None:
        """The PDF part of the layout under `key` (which `put` stored)."""
        trial = self.get(key)
        trial.part = hashlib.sha256(data).hexdigest()
        self.new[key] = trial  # its entry names the part: written anew
        self.new_parts[key] = data

    def subset(self, recipe: str, make: Callable[[], bytes]) -> bytes:
        """A font subset the linker makes (`pdf.link`: `recipe` names the face and the glyphs; the
        key adds the code and libraries, HarfBuzz among them), from the cache or `make()`: an
        edit that brings no new character to a face needs no new subset of it."""
        found = self.stored(recipe, "subset")
        if found is None:
            found = make()
            self.store(recipe, "subset", found)
        return found

    def stored(self, recipe: str, kind: str) -> bytes | None:
        """An entry of `kind` the build makes beside the layouts (the linker's font subsets, the
        front pages), by `recipe` (the key adds the code, libraries and fonts), if it is there and
        whole. The file holds the SHA-256 of the entry before it."""
        key = self._entry_key(recipe)
        self.used.add(key)
        if key in self.new_entries:
            return self.new_entries[key][1]
        if self.folder is None:
            return None
        path = self.folder / f"{key}.{kind}"
        try:
            stored = path.read_bytes()
            whole = stored[:64].decode("ascii", "replace") == remembered("sha256-after-head", path, _digest_after_head)
        except OSError:
            return None
        if whole:
            return stored[65:]
        self._damaged(path)  # made again; the build writes it anew
        return None

    def store(self, recipe: str, kind: str, data: bytes) -> None:
        key = self._entry_key(recipe)
        self.used.add(key)
        self.new_entries[key] = (kind, data)

    def _entry_key(self, recipe: str) -> str:
        return digest(Inputs(values=(self.fingerprint, recipe)))[:32]

    def files(self) -> dict[str, bytes]:
        """The new entries the build used, as output files relative to OUT_DIR (a layout made ahead
        that planning never asked for is not kept)."""
        self.written()
        parts = {key: data for key, data in self.new_parts.items() if self._keeps_part(key)}
        files = {}
        for key, trial in self.new.items():
            if key not in self.used:
                continue
            if key in self.new_parts and key not in parts:
                trial = replace(trial, part="")  # its part is not kept: the entry names none, as a cold build's
            files[str(FOLDER / f"{key}.json")] = json.dumps(trial.as_json()).encode()
        files.update({str(FOLDER / f"{key}.pdf"): data for key, data in parts.items()})
        files.update({str(FOLDER / f"{key}.{kind}"): hashlib.sha256(data).hexdigest().encode() + b"\n" + data
                      for key, (kind, data) in self.new_entries.items()})
        return files

    def _keeps_part(self, key: str) -> bool:
        return key in self.used and (self.printed is None or key in self.printed)

    def stale(self) -> list[Path]:
        """Entries in the folder this build did not use (left by inputs that no longer exist), and
        temporary files of a build killed an hour ago or more."""
        if self.folder is None or not self.folder.is_dir():
            return []
        patterns = ["*.json", *(f"*.{kind}" for kind in ENTRY_KINDS)]
        unused = [path for pattern in patterns for path in self.folder.glob(pattern) if path.stem not in self.used]
        unused += [path for path in self.folder.glob("*.pdf") if not self._keeps_part(path.stem)]
        killed = [path for path in self.folder.glob(".*.tmp") if time.time() - _mtime(path) > 3600]
        return unused + killed


@lru_cache(maxsize=1)
def engine_versions() -> str:
    """The libraries that lay out and write a part and subset its fonts: another version of any
    may set or write the same HTML otherwise, so the cache does not outlive an upgrade."""
    return " ".join((f"WeasyPrint {weasyprint.__version__}", f"pydyf {pydyf.__version__}",
                     f"Pango {pango.pango_version()}", f"HarfBuzz {ffi.string(harfbuzz.hb_version_string()).decode()}",
                     f"pikepdf {pikepdf.__version__}", f"qpdf {pikepdf.__libqpdf_version__}"))


ffi.cdef("const char * hb_version_string (void);")


def _digest_after_head(path: Path) -> str:
    """The SHA-256 of an entry `store` wrote, after the line that gives it."""
    return hashlib.sha256(path.read_bytes()[65:]).hexdigest()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()
