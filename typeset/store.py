"""The store: the only code that computes digests of inputs, names cache folders and writes files.

Every digest comes from `digest(Inputs(...))`, the inputs declared by the caller. Every cache
lives in a folder named here: the per-user caches under $XDG_CACHE_HOME/typeset/ (extracted
font faces, ReportLab subsets, CMYK photos) and the per-build layout cache in
OUT_DIR/.cache/layout/. Every file is written by `write_atomic`: to a temporary name in the
same folder, then renamed, so a reader (or a second build) never sees half a file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

USER_CACHES = ("fonts", "reportlab", "cmyk")
LAYOUT_CACHE = Path(".cache") / "layout"  # inside an output folder


@dataclass(frozen=True)
class Inputs:
    """What a result is made from. Files are read whole; `stamped` files (large ones: fonts) are
    known by path, size and modification time; folders by every file below them."""

    values: tuple[str, ...] = ()
    files: tuple[Path, ...] = ()
    stamped: tuple[Path, ...] = ()
    folders: tuple[Path, ...] = ()
    skip: Callable[[Path], bool] | None = None  # files below `folders` that do not count
    suffix: str = ""  # only files below `folders` with this ending count


def digest(inputs: Inputs) -> str:
    """The SHA-256 of the declared inputs, as hex."""
    hashed = hashlib.sha256()
    for value in inputs.values:
        hashed.update(value.encode() + b"\0")
    for path in inputs.files:
        hashed.update(path.name.encode() + b"\0" + path.read_bytes())
    for path in inputs.stamped:
        hashed.update(file_identity(path).encode() + b"\0")
    for folder in inputs.folders:
        for path in _files_below(folder, inputs.suffix):
            if inputs.skip is None or not inputs.skip(path):
                hashed.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return hashed.hexdigest()


def _files_below(folder: Path, suffix: str) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob(f"*{suffix}") if p.is_file() and "__pycache__" not in p.parts)


def file_identity(path: Path) -> str:
    """A file by path, size and modification time: cheap, and enough for files nobody edits in place."""
    try:
        stat = path.stat()
    except OSError:
        return f"{path}:missing"
    return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


@lru_cache(maxsize=1)
def code_digest() -> str:
    """typeset's own code: a change to it may change every layout."""
    return digest(Inputs(folders=(package_folder(),), suffix=".py"))


def package_folder() -> Path:
    return Path(__file__).resolve().parent


def user_cache(name: str) -> Path:
    """One of the per-user cache folders (`USER_CACHES`)."""
    assert name in USER_CACHES, name
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "typeset" / name


def cached_file(folder: Path, name: str, make: Callable[[str], None]) -> Path:
    """`folder/name`, made by `make(temporary path)` when it is not there yet."""
    target = folder / name
    if not target.exists():
        write_atomic(target, make)
    return target


def write_atomic(path: Path, data: bytes | Callable[[str], None]) -> None:
    """Write `data` (bytes, or a function that writes a file at the path it is given) to `path`
    by way of a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            if isinstance(data, bytes):
                file.write(data)
        if not isinstance(data, bytes):
            data(temp)
        with open(temp, "rb") as file:
            os.fsync(file.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
