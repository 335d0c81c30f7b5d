"""The store: the only code that computes digests of inputs, names cache folders and writes files.

Every digest comes from `digest(Inputs(...))`, the inputs declared by the caller. Every cache
lives in a folder named here: the per-user caches under $XDG_CACHE_HOME/typeset/ (extracted
font faces, ReportLab subsets, CMYK photos), the per-build layout cache in OUT_DIR/.cache/layout/
and what the preflight found of each page in OUT_DIR/.cache/preflight.json. Every file is written by
`write_atomic`: to a temporary name in the same folder, then renamed, so a reader (or a second
build) never sees half a file.

A cache never decides whether an issue builds. Each entry is written with the SHA-256 of its
content beside it and checked when it is used: a damaged entry is made again and said once
(`take_notices`). A file's digest (and whether a photo decodes) is remembered in
$XDG_CACHE_HOME/typeset/files.json by the file's state, and learned again once it changes. A
cache folder that cannot be made or written is replaced by a temporary one for this run: the
build is as right, only slower.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, TypeVar

from .i18n import _

T = TypeVar("T")

USER_CACHES = ("fonts", "reportlab", "cmyk")
LAYOUT_CACHE = Path(".cache") / "layout"  # inside an output folder
# what the preflight found of each page, by digest: {"ink": {page: peak total ink %}, "clean": [pages]}
PREFLIGHT_CACHE = Path(".cache") / "preflight.json"


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


_notices: list[str] = []  # what the caches had to say in this run, for the build's warnings
_fallbacks: dict[str, Path] = {}  # cache name -> the temporary folder used instead of an unusable one


def take_notices() -> list[str]:
    """What happened to the caches since the last call: damaged entries, unusable folders."""
    taken = list(_notices)
    _notices.clear()
    return taken


def note(notices: list[str]) -> None:
    """Notices a worker process took (`take_notices`), made this process's."""
    _notices.extend(notices)


def user_cache(name: str) -> Path:
    """One of the per-user cache folders (`USER_CACHES`); a temporary one for this run when the
    real one cannot be made or written."""
    assert name in USER_CACHES, name
    if name in _fallbacks:
        return _fallbacks[name]
    folder = _cache_home() / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(_("not writable"))
    except OSError as exc:
        return _fall_back(name, folder, exc)
    return folder


def _fall_back(name: str, folder: Path, exc: OSError) -> Path:
    temporary = Path(tempfile.mkdtemp(prefix=f"typeset-{name}-"))
    atexit.register(shutil.rmtree, temporary, ignore_errors=True)
    _fallbacks[name] = temporary
    _notices.append(_("cannot use the cache folder {folder} ({reason}); building without it, only slower",
                      folder=folder, reason=exc.strerror or exc))
    return temporary


_makers: dict[Path, Callable[[str], None]] = {}  # cache entries this process used, and how each is made


def cached_file(folder: Path, name: str, make: Callable[[str], None]) -> Path:
    """`folder/name`, made by `make(temporary path)` when it is not there yet or is damaged (its
    content no longer matches the digest written with it)."""
    target = folder / name
    _makers[target] = make
    if _verified(target):
        return target
    if target.exists() or _digest_file(target).exists():
        note_damaged(target)
    try:
        write_atomic(target, make)
        write_atomic(_digest_file(target), file_digest(target).encode())
    except OSError as exc:
        if folder in _fallbacks.values():
            raise
        return cached_file(_fall_back(folder.name, folder, exc), name, make)
    return target


def ensure(path: Path) -> Path:
    """`path` once more just before it is read, when it may be a cache entry this process used:
    made again if it was removed or damaged since (another build, a disk hiccup, a person)."""
    make = _makers.get(path)
    if make is not None and not _verified(path):
        return cached_file(path.parent, path.name, make)
    return path


def note_damaged(path: Path) -> None:
    _notices.append(_("cache entry {file} was damaged and has been rebuilt", file=path))


def _digest_file(path: Path) -> Path:
    return path.with_name(f".{path.name}.sha256")


def file_digest(path: Path) -> str:
    """The SHA-256 of the file's content (hex), read once per process for each state of the file
    (its size and time of change): a font of 20 MB is verified as a cache entry, then named by its
    digest in the PDF parts (`link.face_files`); `typeset serve` builds again and again. Or as
    another process read it (`take_over`)."""
    state = _state_of(path)
    told = _told_digests.get(state)
    return told if told is not None else _digest_of(*state)


def _state_of(path: Path) -> tuple[Path, int, int]:
    """A file as `file_digest` knows it: by its size and time of change."""
    stat = path.stat()
    return path, stat.st_size, stat.st_mtime_ns


# digests another process read, by the state of the file (`take_over`)
_told_digests: dict[tuple[Path, int, int], str] = {}


@dataclass
class Handover:
    """What a child process learned of the caches, for the process that forked it to carry on
    with (`inputs.issue.read_ahead`: the reading of a build): the notices it did not pass on, the
    temporary folders it used for unusable ones, how each cache entry it used is made (for
    `ensure`), and the digests of the files named (the font files the layouts name faces by:
    0.14 s for the reference issue's eight)."""

    notices: list[str]
    fallbacks: dict[str, Path]
    makers: dict[Path, Callable[[str], None]]
    digests: dict[tuple[Path, int, int], str]


def hand_over(files: Iterable[Path]) -> Handover:
    """In a child process: what it learned, for `take_over` in its parent (the makers must pickle)."""
    digests = {_state_of(path): file_digest(path) for path in files}
    return Handover(take_notices(), dict(_fallbacks), dict(_makers), digests)


def take_over(handover: Handover) -> None:
    note(handover.notices)
    for name, folder in handover.fallbacks.items():
        if name not in _fallbacks:  # removed when this process ends, as if it had made it
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            _fallbacks[name] = folder
    _makers.update(handover.makers)
    _told_digests.update(handover.digests)


@lru_cache(maxsize=256)
def _digest_of(path: Path, size: int, mtime_ns: int) -> str:
    return remembered("sha256", path, _sha256_of)


def _sha256_of(path: Path) -> str:
    hashed = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            hashed.update(block)
    return hashed.hexdigest()


FACTS = "files.json"  # in the per-user cache folder: what was learned of files, by their state
RACY_NS = 2_000_000_000
_facts: dict[str, list] | None = None  # "kind path" -> [size, mtime_ns, ctime_ns, inode, fact], as read
_facts_lock = threading.Lock()


def remembered(kind: str, path: Path, learn: Callable[[Path], T]) -> T:
    """`learn(path)`, remembered across runs for the file as it is: by its size, its times of
    modification and of change, and its inode. Reading a file means hashing it (the issue's
    fonts: 140 MB, 0.1 s of every command) or decoding it (a photo: 15 ms); a file written
    since, in place or anew, has another time of change (which no tool sets back). The fact
    must be JSON; what cannot be remembered (an unwritable cache folder) is learned again."""
    try:
        stat = path.stat()
    except OSError:
        return learn(path)
    state = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]
    entry = f"{kind} {path}"
    with _facts_lock:  # the linker's threads learn digests at once
        known = _known_facts().get(entry)
    if known is not None and known[:4] == state:
        return known[4]
    fact = learn(path)
    # a file changed less than RACY_NS ago may change again within the same tick of the file
    # system's clock, its state the same: learned again until it has rested (as git does)
    if time.time_ns() - max(stat.st_mtime_ns, stat.st_ctime_ns) > RACY_NS:
        with _facts_lock:
            facts = _known_facts()
            facts[entry] = [*state, fact]
            _write_facts(facts)
    return fact


def _facts_file() -> Path:
    return _cache_home() / FACTS


def _cache_home() -> Path:
    """$XDG_CACHE_HOME/typeset/ (~/.cache/typeset/): the user caches' folders and the facts file."""
    return Path(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")) / "typeset"


def _known_facts() -> dict[str, list]:
    global _facts
    if _facts is None:
        try:
            read = json.loads(_facts_file().read_text(encoding="utf-8"))
            _facts = {str(k): v for k, v in read.items() if isinstance(v, list) and len(v) == 5}
        except (OSError, ValueError, AttributeError):
            _facts = {}
    return _facts


def _write_facts(facts: dict[str, list]) -> None:
    """The facts, those of files no longer there left out; nothing when the folder cannot be
    written (only slower: the cache folders say so themselves). Builds writing at once may each
    lose the other's newest facts, which are learned again."""
    kept = {entry: fact for entry, fact in facts.items() if os.path.exists(entry.split(" ", 1)[1])}
    try:
        write_atomic(_facts_file(), json.dumps(kept, ensure_ascii=False, sort_keys=True).encode(), sync=False)
    except OSError:
        pass


def _verified(path: Path) -> bool:
    """The entry is there and whole: its content has the digest written with it."""
    try:
        return file_digest(path) == _digest_file(path).read_text().strip()
    except (OSError, ValueError):
        return False


def write_atomic(path: Path, data: bytes | Callable[[str], None], sync: bool = True) -> None:
    """Write `data` (bytes, or a function that writes a file at the path it is given) to `path`
    by way of a temporary file in the same folder and a rename; synced to disk first unless
    `sync` is false (a file that is only worth having, never needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            if isinstance(data, bytes):
                file.write(data)
        if not isinstance(data, bytes):
            data(temp)
        if sync:
            with open(temp, "rb") as file:
                os.fsync(file.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
