"""Bad input never crashes, fetches or leaks: each case ends with exit 1, a message naming the
file and line with a hint, no traceback, and nothing written."""

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pikepdf
import pytest
from conftest import (
    DEMO,
    MINIMAL_MANIFEST,
    REPO,
    article,
    pdf_text_by_page,
    run_cli,
    write_issue,
)
from PIL import Image


def _image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (300, 200), "teal").save(path, quality=90)


def _truncated(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.effect_noise((400, 300), 80).convert("RGB").save(path, quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _bomb(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("1", (12000, 12000)).save(path)  # 144 million pixels in a few kilobytes


def _with_body(body: str):
    return lambda root: (root / "articles/a.md").write_text(article(body=body), encoding="utf-8")


CASES = {
    "yaml syntax": (lambda root: (root / "issue.yaml").write_text("magazine: [\n", encoding="utf-8"),
                    "issue.yaml:2:1 YAML syntax error: expected the node content, but found '<stream end>'"),
    "wrong type": (lambda root: (root / "issue.yaml").write_text(
        MINIMAL_MANIFEST.replace("number: 1", "number: first"), encoding="utf-8"),
        "issue.yaml:6:11 issue.number: expected a whole number, got 'first'"),
    "missing article": (lambda root: (root / "articles/a.md").unlink(),
                        "issue.yaml:11:15 sections[0].articles[0].file: 'articles/a.md' does not exist"),
    "overlapping pages": (lambda root: _add_article(root, '"1"'),
                          "issue.yaml:14:16 sections[0].articles[1].pages: pages 1 overlap the pages 1 of 'articles/a.md'"),
    "reversed pages": (lambda root: _add_article(root, '"5-3"'),
                       "issue.yaml:14:16 sections[0].articles[1].pages: page range '5-3' runs backwards"),
    "pages on the contents": (lambda root: _add_article(root, '"2"', contents=True),
                              "issue.yaml:14:16 sections[0].articles[1].pages: pages 2 overlap the contents pages 2"),
    "not utf-8": (lambda root: (root / "articles/a.md").write_bytes("---\ntitle: 标题\n---\n\n正文".encode("gb18030")),
                  "articles/a.md:2 not UTF-8 text (invalid byte at offset 11); it looks like GB18030"),
    "unterminated front matter": (lambda root: (root / "articles/a.md").write_text("---\ntitle: x\n\n正文\n"),
                                  "articles/a.md:1:1 front matter is not closed"),
    "missing image": (_with_body("正文。\n\n![图](../images/none.jpg)"),
                      "articles/a.md:7 image '../images/none.jpg' does not exist"),
    "not an image": (lambda root: (_with_body("![图](../images/x.jpg)")(root),
                                   (root / "images").mkdir(), (root / "images/x.jpg").write_text("not a jpeg")),
                     "articles/a.md:5 image '../images/x.jpg' is not an image (not a JPEG, PNG, TIFF … that Pillow can read)"),
    "truncated image": (lambda root: (_with_body("![图](../images/x.jpg)")(root), _truncated(root / "images/x.jpg")),
                        "articles/a.md:5 image '../images/x.jpg' cannot be decoded: image file is truncated"),
    "decompression bomb": (lambda root: (_with_body("![图](../images/x.png)")(root), _bomb(root / "images/x.png")),
                           "articles/a.md:5 image '../images/x.png' is too large to decode safely"),
    "cover image not an image": (lambda root: ((root / "images").mkdir(), (root / "images/c.jpg").write_text("x"),
                                               (root / "issue.yaml").write_text(
                                                   MINIMAL_MANIFEST + "cover:\n  image: images/c.jpg\n", encoding="utf-8")),
                                 "issue.yaml:15:10 cover.image: image 'images/c.jpg' is not an image"),
    "missing font": (lambda root: ((root / "fonts").mkdir(), (root / "fonts/fonts.yaml").write_text(
        "roles:\n  song:\n    family: FZShuSong-Z01\n    package: fonts-fz\n    faces: {400: FZSSK.TTF}\n")),
        "fonts/fonts.yaml roles.song.faces.400: font file 'FZSSK.TTF' for role 'song' (FZShuSong-Z01) not found"),
    "uncovered character": (_with_body("第一段。\n\n古字\U00010400在此。"),
                            "articles/a.md:7 character '\U00010400' (U+10400) is in no font of role 'song'"),
    "image outside the issue": (_with_body("![x](../../secret.jpg)"),
                                "articles/a.md:5 image '../../secret.jpg' is outside the issue folder"),
    "image from the network": (_with_body("![x](http://127.0.0.1:9/x.png)"),
                               "articles/a.md:5 image 'http://127.0.0.1:9/x.png' is outside the issue folder"),
    "file url": (_with_body("![x](file:///etc/hostname)"),
                 "articles/a.md:5 image 'file:///etc/hostname' is outside the issue folder"),
    "symlink out": (lambda root: ((root / "articles/a.md").unlink(),
                                  (root / "articles/a.md").symlink_to(root.parent / "outside.md")),
                    "issue.yaml:11:15 sections[0].articles[0].file: 'articles/a.md' is outside the issue folder"),
    "css url to the network": (lambda root: ((root / "styles").mkdir(), (root / "styles/99-issue.css").write_text(
        "body {\n  background: url('http://127.0.0.1:9/bg.png');\n}\n")),
        "styles/99-issue.css:2 'http://127.0.0.1:9/bg.png' may not be loaded: stylesheets use files of their own "
        "folder only"),
}


def _add_article(root: Path, pages: str, contents: bool = False) -> None:
    (root / "articles/b.md").write_text(article(), encoding="utf-8")
    text = MINIMAL_MANIFEST + f'      - file: articles/b.md\n        pages: {pages}\n'
    if contents:
        text += 'contents:\n  pages: "2"\n'
    (root / "issue.yaml").write_text(text.lstrip(), encoding="utf-8")


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_a_clear_error_and_writes_nothing(tmp_path, case):
    make_bad, expected = CASES[case]
    (tmp_path / "outside.md").write_text(article(), encoding="utf-8")
    root = write_issue(tmp_path / "issue", MINIMAL_MANIFEST, {"articles/a.md": article()})
    make_bad(root)
    out = tmp_path / "out"
    result = run_cli("build", str(root), "-o", str(out))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if not line.startswith(("warning:", "  hint:"))]
    assert errors[0].startswith(f"{root}/{expected}"), result.stderr
    assert "  hint: " in result.stderr
    assert errors[-1].startswith("error: ") and errors[-1].endswith("nothing was written")
    assert not out.exists()


def test_no_request_is_made_for_network_images(tmp_path):
    requests = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the stdlib's name)
            requests.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        root = write_issue(tmp_path / "issue", MINIMAL_MANIFEST, {"articles/a.md": article(
            body=f"正文。\n\n![x](http://127.0.0.1:{port}/x.png)\n\n![x](../../secret.jpg)")})
        _image(tmp_path / "secret.jpg")
        result = run_cli("build", str(root), "-o", str(tmp_path / "out"))
    finally:
        server.shutdown()
    assert result.returncode == 1
    assert requests == []
    assert "is outside the issue folder" in result.stderr


def test_titles_are_escaped_not_evaluated(tmp_path):
    root = write_issue(tmp_path / "issue", MINIMAL_MANIFEST, {"articles/a.md": article(
        title="'{{ 7*7 }}<b>x</b>'", body="正文<i>斜</i>{% raw %}。")})
    result = run_cli("build", str(root), "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    text = pdf_text_by_page(tmp_path / "out" / "issue.pdf")[2].replace(" ", "").replace("\n", "")
    assert "{{7*7}}<b>x</b>" in text and "正文<i>斜</i>{%raw%}。" in text


def _build_demo(out: Path, env=None, *options: str) -> subprocess.Popen:
    # --force: a build into a folder that holds this very build would otherwise stop at once (up to date)
    return subprocess.Popen([sys.executable, "-m", "typeset", "build", str(DEMO), "-o", str(out), "-q", "--force",
                             *options], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def test_a_killed_build_leaves_the_previous_outputs_intact(tmp_path):
    out = tmp_path / "out"
    assert _build_demo(out).wait() == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    for delay in (0.5, 1.5, 2.5, 3.5):
        process = _build_demo(out)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        outputs = {p.name: p for p in out.iterdir() if p.is_file() and not p.name.endswith(".tmp")}
        assert set(outputs) == set(before)
        report = json.loads(outputs["report.json"].read_text(encoding="utf-8"))
        with pikepdf.open(outputs["issue.pdf"]) as pdf:  # a whole PDF, old or new
            assert len(pdf.pages) == report["pages"] == 10


def test_two_builds_at_once_both_succeed(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}  # a cold cache both fill at once
    first, second = _build_demo(out, env), _build_demo(out, env)
    assert first.wait() == 0 and second.wait() == 0
    with pikepdf.open(out / "issue.pdf") as pdf:
        assert len(pdf.pages) == 10
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_builds_are_reproducible_with_source_date_epoch_on_any_number_of_processes(tmp_path):
    temp = tmp_path / "tmp"  # WeasyPrint copies the fonts to a temporary folder in every process
    temp.mkdir()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left_behind = temp / f"typeset-{gone.stdout.strip()}"  # what a killed build leaves
    (left_behind / "weasyprint-x").mkdir(parents=True)
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000", "TMPDIR": str(temp)}
    assert _build_demo(tmp_path / "one", env, "-j", "1").wait() == 0
    # laid out anew (an empty cache) on three processes
    assert _build_demo(tmp_path / "two", {**env, "XDG_CACHE_HOME": str(tmp_path / "cache")}, "-j", "3").wait() == 0
    assert (tmp_path / "one/issue.pdf").read_bytes() == (tmp_path / "two/issue.pdf").read_bytes()
    assert (tmp_path / "one/report.json").read_bytes() == (tmp_path / "two/report.json").read_bytes()
    # the builds and their workers left no font copies, and removed those of the build killed before
    assert [p.name for p in temp.iterdir()] == []
