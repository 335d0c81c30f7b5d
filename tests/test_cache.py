"""A damaged or unusable cache never breaks a build: each fault gives a successful build with the
same text and one clear warning."""

import json
import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from conftest import MINIMAL_MANIFEST, REPO, article, pdf_text_by_page, write_issue

MANIFEST_WITH_PHOTO = MINIMAL_MANIFEST.replace("page:\n", "cover:\n  image: images/cover.jpg\npage:\n")


def _issue(root: Path) -> Path:
    issue = write_issue(root, MANIFEST_WITH_PHOTO, {"articles/a.md": article(paragraphs=4)})
    (issue / "images").mkdir()
    Image.new("RGB", (2600, 3500), (180, 40, 40)).save(issue / "images" / "cover.jpg", dpi=(300, 300))
    return issue


def _build(issue: Path, out: Path, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    return subprocess.run([sys.executable, "-m", "typeset", "build", str(issue), "-o", str(out), "--force"],
                          capture_output=True, text=True, cwd=REPO, env=env)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """An issue built once with a fresh cache: the cache to damage and the text to compare with."""
    root = tmp_path_factory.mktemp("cache")
    issue, cache = _issue(root / "issue"), root / "cache"
    result = _build(issue, root / "out", cache)
    assert result.returncode == 0, result.stderr
    return issue, cache, pdf_text_by_page(root / "out" / "issue.pdf")


def _damage(files: list[Path], how: str) -> None:
    assert files, "nothing cached to damage"
    for path in files:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3] if how == "truncate" else b"not what was cached " * 50)


# Fonts last: faces made anew are new files, so the ReportLab subsets made from them get new names.
@pytest.mark.parametrize("folder, pattern, how", [
    ("typeset/cmyk", "*.jpg", "junk"),
    ("typeset/reportlab", "*.ttf", "junk"),
    ("typeset/fonts", "*.otf", "truncate"),
])
def test_a_damaged_cache_entry_is_rebuilt_with_one_warning(clean, tmp_path, folder, pattern, how):
    issue, cache, text = clean  # damaged in place (entries are keyed by where their sources are); the build mends it
    damaged = sorted((cache / folder).glob(pattern))
    _damage(damaged, how)
    result = _build(issue, tmp_path / "out", cache)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    warnings = [line for line in result.stderr.splitlines() if "was damaged and has been rebuilt" in line]
    assert len(warnings) == len(damaged) and all(str(path) in " ".join(warnings) for path in damaged)
    assert pdf_text_by_page(tmp_path / "out" / "issue.pdf") == text
    again = _build(issue, tmp_path / "again", cache)  # the entries were made anew: nothing more to say
    assert again.returncode == 0 and "damaged" not in again.stderr


def _font_programs(pdf_path: Path) -> list[bytes]:
    with pikepdf.open(pdf_path) as pdf:
        return sorted(obj[key].read_bytes() for obj in pdf.objects if isinstance(obj, pikepdf.Dictionary)
                      for key in ("/FontFile2", "/FontFile3") if key in obj)


@pytest.mark.parametrize("pattern", ["*.json", "*.pdf", "*.subset", "*.front"])  # layouts, parts, font subsets, front pages
def test_damaged_layout_entries_are_made_again(clean, tmp_path, pattern):
    issue, cache, text = clean
    out = tmp_path / "out"
    assert _build(issue, out, cache).returncode == 0
    programs = _font_programs(out / "issue.pdf")
    entries = sorted((out / ".cache" / "layout").glob(pattern))
    _damage(entries, "junk")
    result = _build(issue, out, cache)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert result.stderr.count("was damaged and has been rebuilt") == len(entries)
    assert pdf_text_by_page(out / "issue.pdf") == text
    assert _font_programs(out / "issue.pdf") == programs


def test_a_cache_folder_that_cannot_be_made_is_done_without(clean, tmp_path):
    issue, _, text = clean
    blocked = tmp_path / "cache"
    blocked.mkdir()
    (blocked / "typeset").write_text("a plain file where the cache folder should be")
    result = _build(issue, tmp_path / "out", blocked)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "problem" not in result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: cannot use the cache folder")]
    assert len(warnings) == 3  # fonts, ReportLab subsets, CMYK photos: each said once
    assert pdf_text_by_page(tmp_path / "out" / "issue.pdf") == text


def test_entries_removed_while_two_builds_run(clean, tmp_path):
    """Two builds share a cold cache; once the first entries are there, all are removed while
    both are still running (as a person clearing ~/.cache would)."""
    issue, _, text = clean
    shared = tmp_path / "cache"
    env = {**os.environ, "XDG_CACHE_HOME": str(shared)}
    builds = [subprocess.Popen([sys.executable, "-m", "typeset", "build", str(issue), "-o", str(tmp_path / name),
                                "--force"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO,
                               env=env) for name in ("one", "two")]
    deadline = time.monotonic() + 120
    while not list(shared.glob("typeset/fonts/*.otf")) and time.monotonic() < deadline:
        time.sleep(0.05)
    removed = [path for path in shared.rglob("*") if path.is_file()]
    for path in removed:
        path.unlink(missing_ok=True)
    errors = [build.communicate(timeout=300)[1] for build in builds]
    assert removed and all(build.poll() is not None for build in builds)
    for build, stderr in zip(builds, errors):
        assert build.returncode == 0, stderr
        assert "Traceback" not in stderr
    for name in ("one", "two"):
        assert pdf_text_by_page(tmp_path / name / "issue.pdf") == text


def test_filler_heights_are_measured_once_and_kept_in_the_layout_cache(tmp_path):
    """The fillers are laid out to be measured once per fillers, house style, fonts and code: the
    next build (a new cache over the same folder) reads their heights from the layout cache."""
    from typeset.body.layoutcache import LayoutCache
    from typeset.body.planning import _Planner

    class Engine:  # what the planner asks of WeasyPrint's side for fillers, counted
        laid_out = 0

        def filler_html(self, fillers):
            return "<p>" + "</p><p>".join(fillers) + "</p>"

        def filler_heights(self, html):
            Engine.laid_out += 1
            return {f"f{i}": 20.0 * (i + 1) for i in range(html.count("<p>"))}

    heights = {"f0": 20.0, "f1": 40.0}
    cache = LayoutCache(tmp_path)
    planner = _Planner(Engine(), cache, remember=True)
    assert planner.filler_heights(["诗", "名言"]) == heights and planner.filler_heights(["诗", "名言"]) == heights
    assert planner.filler_heights([]) == {} and Engine.laid_out == 1
    for name, data in cache.files().items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    assert _Planner(Engine(), LayoutCache(tmp_path), remember=True).filler_heights(["诗", "名言"]) == heights
    assert Engine.laid_out == 1
    assert _Planner(Engine(), LayoutCache(tmp_path), remember=True).filler_heights(["诗"]) == {"f0": 20.0}
    assert Engine.laid_out == 2


def test_the_layout_cache_does_not_outlive_an_upgrade_of_the_layout_libraries(monkeypatch):
    """A layout and its part are WeasyPrint's, Pango's and HarfBuzz's (and pydyf's, pikepdf's):
    another version of any may set the same HTML otherwise, so every key changes with them."""
    from typeset.body import layoutcache
    from typeset.inputs.fonts import FontSet

    def key_with(versions: str) -> str:
        monkeypatch.setattr(layoutcache, "engine_versions", lambda: versions)
        cache = layoutcache.LayoutCache(None)
        cache.use_fonts(FontSet(roles={}))
        return cache.key("<p>正文</p>")

    assert "WeasyPrint" in layoutcache.engine_versions() and "HarfBuzz" in layoutcache.engine_versions()
    assert key_with("WeasyPrint 70.0 Pango 15012") == key_with("WeasyPrint 70.0 Pango 15012")
    assert key_with("WeasyPrint 70.0 Pango 15012") != key_with("WeasyPrint 71.0 Pango 15012")


def test_what_is_learned_of_a_file_is_remembered_until_it_changes(tmp_path, monkeypatch):
    """A digest (or whether a photo decodes) is learned once for a file as it is, in any run;
    written since, in place at the same size and time of modification too, it is read again."""
    from typeset import store

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(store, "_facts", None)
    monkeypatch.setattr(store, "RACY_NS", 0)  # the files here were written just now
    path, other = tmp_path / "face.otf", tmp_path / "other.otf"
    path.write_bytes(b"one")
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    learned = []

    def learn(p: Path) -> int:
        learned.append(p.read_bytes())
        return len(learned)

    assert store.remembered("reads", path, learn) == 1
    monkeypatch.setattr(store, "_facts", None)  # another run: what the first wrote
    assert store.remembered("reads", path, learn) == 1 and learned == [b"one"]
    time.sleep(0.05)  # past a tick of the file system's clock
    path.write_bytes(b"two")
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))  # as a tool may set it back: its time of change moves
    assert store.remembered("reads", path, learn) == 2 and learned == [b"one", b"two"]
    monkeypatch.setattr(store, "_facts", None)
    assert store.remembered("reads", path, learn) == 2
    path.unlink()  # left out of the file at its next writing
    other.write_bytes(b"three")
    assert store.remembered("reads", other, learn) == 3
    facts = json.loads((tmp_path / "cache" / "typeset" / store.FACTS).read_text(encoding="utf-8"))
    assert list(facts) == [f"reads {other}"]


def test_a_file_just_written_is_not_remembered(tmp_path, monkeypatch):
    """Changed again within a tick of the file system's clock, a file keeps its state: what is
    learned of a file written in the last two seconds is learned again each time."""
    from typeset import store

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(store, "_facts", None)
    path = tmp_path / "face.otf"
    path.write_bytes(b"one")
    learned = []
    assert [store.remembered("reads", path, learned.append) for _ in range(2)] == [None, None]
    assert learned == [path, path] and not (tmp_path / "cache" / "typeset" / store.FACTS).exists()


def test_a_part_being_written_elsewhere_is_waited_for_when_needed(tmp_path):
    """The edited article's part is written by a child process while planning goes on: the cache
    takes it when planning asks for it, or when the build's files are gathered."""
    import hashlib

    from typeset.body.layoutcache import FOLDER, LayoutCache, Trial

    cache = LayoutCache(tmp_path / "out")
    waited = []
    for key in ("asked", "gathered"):
        cache.put(key, Trial(1, [[]]))
        cache.put_part_later(key, lambda key=key: waited.append(key) or f"%PDF {key}".encode())
    assert waited == []
    assert cache.part("asked") == b"%PDF asked" and waited == ["asked"]
    assert cache.get("asked").part == hashlib.sha256(b"%PDF asked").hexdigest()
    files = cache.files()
    assert waited == ["asked", "gathered"]
    assert {files[str(FOLDER / f"{key}.pdf")] for key in ("asked", "gathered")} == {b"%PDF asked", b"%PDF gathered"}


def test_files_are_learned_by_threads_at_once(tmp_path, monkeypatch):
    """The linker subsets the faces on threads, each checking its cache entry's digest: what they
    learn is remembered as one (it was: 'dictionary changed size during iteration')."""
    from concurrent.futures import ThreadPoolExecutor

    from typeset import store

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(store, "_facts", None)
    monkeypatch.setattr(store, "RACY_NS", 0)
    files = []
    for number in range(200):
        files.append(tmp_path / f"subset-{number}")
        files[-1].write_bytes(number.to_bytes(4, "big") * 300)
    with ThreadPoolExecutor(8) as pool:
        digests = list(pool.map(partial(store.remembered, "sha256"), files, [store._sha256_of] * len(files)))
    facts = json.loads((tmp_path / "cache" / "typeset" / store.FACTS).read_text(encoding="utf-8"))
    assert len(set(digests)) == 200 and {fact[4] for fact in facts.values()} == set(digests)
