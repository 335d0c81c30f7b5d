"""Font roles: resolve `fonts/fonts.yaml` to font files, write explicit @font-face rules, check coverage.

Roles (song 宋, hei 黑, kai 楷, title …) name a family and one file per weight. Files are
looked for in the issue's fonts/, the project's fonts/ and the system font folders, in that
order. A face inside a collection (.ttc, as Debian ships Noto CJK) is extracted once into
a cache, so WeasyPrint is handed exactly the Simplified Chinese face, never a JP or KR
sibling that fontconfig might pick.
"""

from __future__ import annotations

import os
from array import array
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path

import yaml
from fontTools.ttLib import TTCollection, TTFont, TTLibError

from ..diagnostics import Diagnostics
from ..i18n import _
from ..store import Inputs, cached_file, digest, ensure, user_cache

FONTS_FILE = "fonts.yaml"
SYSTEM_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")
WEIGHTS = (100, 200, 300, 400, 500, 600, 700, 800, 900)


@dataclass
class Face:
    weight: int
    file: Path  # the file WeasyPrint loads (a single face)
    source: Path  # the file it came from (maybe a collection)


@dataclass
class Role:
    name: str
    family: str
    package: str
    faces: list[Face]
    fallback: list[str] = field(default_factory=list)
    _stamps: tuple[tuple[Path, int, int], ...] | None = None

    def stamps(self) -> tuple[tuple[Path, int, int], ...]:
        """(file, size, modification time) of each face: what its code points are known by."""
        if self._stamps is None:
            stamps = []
            for face in self.faces:
                path = ensure(face.file)  # an extracted face may have been removed from the cache since
                stat = path.stat()
                stamps.append((path, stat.st_size, stat.st_mtime_ns))
            self._stamps = tuple(stamps)
        return self._stamps


@lru_cache(maxsize=64)
def _face_codepoints(path: Path, size: int, mtime_ns: int) -> frozenset[int]:
    """The code points a font file maps. Reading a CJK cmap takes a quarter of a second, so they
    are kept on disk next to the extracted faces and for the life of the process (typeset serve)."""
    name = f"cmap-{digest(Inputs(stamped=(path,)))[:24]}.bin"
    return frozenset(array("I", cached_file(user_cache("fonts"), name, partial(_write_codepoints, path)).read_bytes()))


def _write_codepoints(path: Path, target: str) -> None:
    font = TTFont(path, lazy=True)
    try:
        Path(target).write_bytes(array("I", sorted(font.getBestCmap() or {})).tobytes())
    finally:
        font.close()


@dataclass
class FontSet:
    roles: dict[str, Role]
    _stamps: dict[str, tuple] = field(default_factory=dict)  # role -> the faces of its stack, by `Role.stamps`

    def files(self) -> tuple[Path, ...]:
        """The font files of every face, in order."""
        return tuple(sorted(face.file for role in self.roles.values() for face in role.faces))

    def stack(self, role: str) -> list[str]:
        """The role followed by its declared fallbacks, for font-family."""
        seen: list[str] = []
        for name in [role, *self.roles[role].fallback]:
            if name in self.roles and name not in seen:
                seen.append(name)
        return seen

    def css(self) -> str:
        rules = []
        for role in self.roles.values():
            for face in role.faces:
                rules.append(
                    f'@font-face {{ font-family: "{role.name}"; src: url("{face.file.as_uri()}"); '
                    f"font-weight: {face.weight}; font-style: normal; }}")
        variables = "; ".join(
            f"--font-{name}: {', '.join(repr_css(n) for n in self.stack(name))}" for name in self.roles)
        rules.append(f":root {{ {variables}; }}")
        return "\n".join(rules) + "\n"

    def uncovered(self, role: str, text: str) -> list[str]:
        """Characters of `text` that neither the role's font nor its fallbacks can show."""
        if role not in self._stamps:
            self._stamps[role] = tuple(stamp for name in self.stack(role) for stamp in self.roles[name].stamps())
        return list(_uncovered(self._stamps[role], text))


@lru_cache(maxsize=8192)
def _uncovered(faces: tuple[tuple[Path, int, int], ...], text: str) -> tuple[str, ...]:
    """Remembered by the faces and the text: a resident process's commands find every paragraph
    not edited since its warm-up checked (half of what checking an issue's coverage took)."""
    covered = _covered_by(faces)
    return tuple(char for char in dict.fromkeys(text)
                 if ord(char) not in covered and not char.isspace() and not unicodedata_is_control(char))


@lru_cache(maxsize=8)  # a CJK stack's code points take some megabytes
def _covered_by(faces: tuple[tuple[Path, int, int], ...]) -> frozenset[int]:
    return frozenset().union(*(_face_codepoints(*face) for face in faces))


def repr_css(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unicodedata_is_control(char: str) -> bool:
    return ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 or char in "\u200b\u200c\u200d\ufeff"


def load_fonts(search_dirs: list[Path], display: dict[Path, str], diagnostics: Diagnostics) -> FontSet | None:
    """Resolve the roles from fonts.yaml files in `search_dirs` (first wins per role).

    `search_dirs` are the fonts/ folders from the issue to the package defaults.
    """
    roles_spec: dict[str, tuple[dict, str]] = {}
    for folder in reversed(search_dirs):  # defaults first, then overridden by nearer ones
        config = folder / FONTS_FILE
        if not config.is_file():
            continue
        shown = display.get(folder, str(folder)) + "/" + FONTS_FILE
        try:
            data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            diagnostics.error(_("cannot read font roles: {reason}", reason=exc), file=shown)
            continue
        roles = data.get("roles") if isinstance(data, dict) else None
        if not isinstance(roles, dict):
            diagnostics.error(_("expected `roles:` mapping role names to fonts"), file=shown)
            continue
        for name, spec in roles.items():
            roles_spec[str(name)] = (spec, shown)
    if not roles_spec:
        diagnostics.error(_("no font roles defined"),
                          hint=_("fonts/fonts.yaml maps roles (song, hei, kai, title) to fonts"))
        return None

    file_dirs = [*search_dirs, *(Path(os.path.expanduser(d)) for d in SYSTEM_FONT_DIRS)]
    index = _FileIndex(file_dirs)
    resolved = {}
    for name, (spec, shown) in roles_spec.items():
        role = _resolve_role(name, spec, shown, index, diagnostics)
        if role is not None:
            resolved[name] = role
    for role in resolved.values():
        for fallback in role.fallback:
            if fallback not in roles_spec:
                diagnostics.error(_("fallback '{name}' is not a role", name=fallback), key=f"roles.{role.name}.fallback",
                                  file=roles_spec[role.name][1])
    if len(resolved) != len(roles_spec):
        return None
    return FontSet(resolved)


class _FileIndex:
    """Font files by name, searched in order; the system folders are walked once, lazily."""

    def __init__(self, folders: list[Path]):
        self.folders = folders
        self._found: dict[str, Path] | None = None

    def find(self, name: str) -> Path | None:
        if self._found is None:
            self._found = {}
            for folder in self.folders:
                if not folder.is_dir():
                    continue
                for dirpath, _dirs, files in sorted(os.walk(folder)):
                    for file in sorted(files):
                        self._found.setdefault(file, Path(dirpath) / file)
        return self._found.get(name)


def _resolve_role(name: str, spec, shown: str, index: _FileIndex, diagnostics: Diagnostics) -> Role | None:
    key = f"roles.{name}"
    if not isinstance(spec, dict) or not isinstance(spec.get("family"), str) or not isinstance(spec.get("faces"), dict):
        diagnostics.error(_("expected family: and faces: {WEIGHT: FILE}"), file=shown, key=key)
        return None
    family, package = spec["family"], str(spec.get("package", ""))
    fallback = spec.get("fallback", [])
    fallback = [fallback] if isinstance(fallback, str) else [str(f) for f in fallback]
    faces = []
    for weight, file_name in spec["faces"].items():
        if weight not in WEIGHTS:
            diagnostics.error(_("weight must be one of {weights}, got {value!r}", weights=", ".join(map(str, WEIGHTS)),
                                value=weight),
                              file=shown, key=f"{key}.faces")
            continue
        path = index.find(str(file_name))
        if path is None:
            install = _("install the Debian package {package}: apt-get install {package}", package=package) \
                if package else _("put the font file into the issue's or the project's fonts/ folder")
            diagnostics.error(_("font file '{file}' for role '{role}' ({family}) not found", file=file_name, role=name,
                                family=family),
                              file=shown, key=f"{key}.faces.{weight}",
                              hint=_("{install} (searched fonts/ folders and {folders})", install=install,
                                     folders=", ".join(SYSTEM_FONT_DIRS)))
            continue
        try:
            single = _single_face(path, family)
        except (TTLibError, OSError, ValueError) as exc:
            diagnostics.error(_("font file '{file}' for role '{role}': {reason}", file=path.name, role=name, reason=exc),
                              file=shown,
                              key=f"{key}.faces.{weight}")
            continue
        faces.append(Face(weight, single, path))
    if not faces:
        return None
    return Role(name, family, package, sorted(faces, key=lambda f: f.weight), fallback)


def _family_names(font: TTFont) -> set[str]:
    names = set()
    for name_id in (16, 1):
        value = font["name"].getDebugName(name_id)
        if value:
            names.add(value)
    return names


def _single_face(path: Path, family: str) -> Path:
    """A file holding just the face of `family` from `path`: the file itself, or an extract of a collection."""
    with path.open("rb") as handle:
        is_collection = handle.read(4) == b"ttcf"
    if not is_collection:
        font = TTFont(path, lazy=True)
        names = _family_names(font)
        font.close()
        if family not in names:
            raise ValueError(_("holds {names}, not {family}", names=" / ".join(sorted(names)), family=family))
        return path
    collection = TTCollection(path, lazy=True)
    for number, font in enumerate(collection.fonts):
        if family in _family_names(font):
            break
    else:
        available = sorted({n for f in collection.fonts for n in _family_names(f)})
        raise ValueError(_("collection has no face of {family} (it has {names})", family=family,
                           names=", ".join(available)))
    key = digest(Inputs(values=(str(number), "source-date"), stamped=(path,)))[:20]
    return cached_file(user_cache("fonts"), f"{path.stem}-{number}-{key}.otf", partial(_extract_face, path, number))


def _extract_face(path: Path, number: int, target: str) -> None:
    """Face `number` of the collection `path` written to `target`, as it is once its names are read."""
    font = TTCollection(path, lazy=True).fonts[number]
    _family_names(font)  # read, the name table is written as fontTools compiles it
    font.recalcTimestamp = False  # the face's own date: the extract must not depend on when it was made
    font.save(target)
