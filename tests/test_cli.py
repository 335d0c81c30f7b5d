"""The command line: exit codes, outputs, the report, and the demo issue end to end."""

import json
import os
import subprocess
import sys
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
    pdffonts,
    run_cli,
    write_issue,
)


def test_demo_builds_clean(demo_build):
    result, out = demo_build
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["outputs"] == {"issue": "issue.pdf", "interior": "interior.pdf", "cover": "cover.pdf"}
    assert report["pages"] == 10 and report["errors"] == [] and report["warnings"] == []
    assert report["page_labels"] == ["封一", "封二", "1", "2", "3", "4", "5", "6", "封三", "封四"]
    assert [(a["file"], a["planned"], a["actual"]) for a in report["articles"]] == [
        ("articles/01-juanshouyu.md", [1, 1], [1, 1]),
        ("articles/02-yiben-zazhi.md", [3, 4], [3, 4]),
        ("articles/03-biaodian-jinze.md", [5, 5], [5, 5]),
        ("articles/04-jiaodui-liucheng.md", [6, 6], [6, 6]),
    ]
    for entry in report["articles"]:
        assert set(entry) >= {"file", "title", "planned", "actual", "overset_lines", "underfill_lines"}
        assert entry["overset_lines"] == 0
    assert "一本杂志是怎样排出来的" in result.stdout  # the summary table


def test_demo_pdf_pages_fonts_and_labels(demo_build):
    _, out = demo_build
    pdf_path = out / "issue.pdf"
    texts = pdf_text_by_page(pdf_path)[2:-2]  # the body, folios 1-6
    assert len(texts) == 6
    assert "把每一页都排好" in texts[0] and "卷首语" in texts[0]
    assert "目录" in texts[1].replace(" ", "")  # the contents, on the page the plan keeps for it
    assert "一本杂志是怎样排出来的" in texts[2]
    assert "标点挤压与行首行尾禁则" in texts[4]
    assert "三校一读" in texts[5]
    # running heads and folios
    assert texts[3].splitlines()[0].replace(" ", "") == "排版实务2026年第1期"
    assert texts[3].splitlines()[-1].strip() == "4"
    fonts = pdffonts(pdf_path)
    assert fonts and all(f["emb"] == "yes" for f in fonts)
    assert {f["name"].split("+")[1] for f in fonts} >= {"song", "hei", "kai"}
    with pikepdf.open(pdf_path) as pdf:
        labels = dict(pikepdf.NumberTree(pdf.Root.PageLabels))
        assert str(labels[0].P) == "封一" and str(labels[1].P) == "封二" and labels[2].St == 1
        assert str(labels[8].P) == "封三" and str(labels[9].P) == "封四"
        assert str(pdf.open_metadata()["dc:title"]) == "排版实务 2026年第1期"
        assert str(pdf.Root.Lang) == "zh-CN"


def test_input_error_exits_1_and_writes_nothing(tmp_path):
    root = write_issue(tmp_path / "issue", MINIMAL_MANIFEST.replace("articles/a.md", "articles/missing.md"))
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text("previous", encoding="utf-8")
    result = run_cli("build", str(root), "-o", str(out))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{root}/issue.yaml:11:15 sections[0].articles[0].file: 'articles/missing.md' does not exist",
        "  hint: paths are relative to the folder that holds issue.yaml",
        "error: 1 problem in the input; nothing was written",
    ]
    assert "Traceback" not in result.stderr
    assert [p.name for p in out.iterdir()] == ["report.json"]
    assert (out / "report.json").read_text(encoding="utf-8") == "previous"


def test_work_forked_gives_back_its_result_and_a_child_that_fails_leaves_the_work_to_the_caller(capfd):
    from typeset.processes import forked

    parent = os.getpid()
    assert forked(lambda: (os.getpid() != parent, ["读", 2]))() == (True, ["读", 2])

    def fails():
        raise ValueError("a bug in the work")

    with pytest.raises(ChildProcessError):
        forked(fails)()
    assert capfd.readouterr() == ("", "")  # no traceback from the child: the caller's own shows


def test_work_forked_in_steps_sends_each_result_as_its_step_ends(tmp_path, capfd):
    """The first result is taken while the child still works on the next (here: until the test
    lets it go on); a step that fails leaves its work, and the steps after it, to the caller."""
    from typeset.processes import forked_steps

    go_on = tmp_path / "go on"

    def second():
        while not go_on.exists():
            time.sleep(0.01)
        return "写好了" * 30_000  # more than a pipe holds

    first, then, last = forked_steps(lambda: ["排好了", 1], second, lambda: 3)
    assert first() == ["排好了", 1]
    go_on.touch()
    assert then() == "写好了" * 30_000 and last() == 3

    def fails():
        raise ValueError("a bug in the work")

    first, then, last = forked_steps(lambda: 1, fails, lambda: 3)
    assert first() == 1
    for step in (then, last):
        with pytest.raises(ChildProcessError):
            step()
    assert capfd.readouterr() == ("", "")


def test_an_issue_read_ahead_is_the_issue_read_here_with_the_same_warnings_and_errors(tmp_path, monkeypatch):
    from typeset import store
    from typeset.diagnostics import Diagnostics, InputError
    from typeset.inputs import issue

    def not_here(*args, **kwargs):
        raise AssertionError("read in the parent, not taken from the child")

    def read(root: Path, ahead: bool):
        diagnostics = Diagnostics()
        with monkeypatch.context() as patched:
            if ahead:
                issue.read_ahead(root, False, str(root))
                patched.setattr(issue, "read_for_layout", not_here)  # after the fork: the child reads as usual
            try:
                return issue.read_issue(root, diagnostics, False, str(root)), diagnostics.items
            except InputError:
                return None, diagnostics.items

    clean = write_issue(tmp_path / "clean", MINIMAL_MANIFEST,
                        {"articles/a.md": article(body="排版是一门老手艺，，标点不该重复。")})
    here = read(clean, ahead=False)
    assert read(clean, ahead=True) == here
    assert [d.format() for d in here[1]] == [
        f"warning: {clean}/articles/a.md:5:9 doubled-punctuation: '，' typed twice (1 place)\n"
        "  hint: `typeset check` lists every place; `--fix` corrects the safe kinds"]
    # the parent names faces by the digests its child read, and can make their cache entries again
    for path in here[0].fonts.files():
        assert (path, path.stat().st_size, path.stat().st_mtime_ns) in store._told_digests
        assert path in store._makers or not path.is_relative_to(store.user_cache("fonts"))

    broken = write_issue(tmp_path / "broken", MINIMAL_MANIFEST,
                         {"articles/a.md": article(body="排版，，老手艺。\n\n![图](../images/none.jpg)")})
    assert read(broken, ahead=True) == read(broken, ahead=False)
    assert [d.format() for d in read(broken, ahead=True)[1]] == [
        f"{broken}/articles/a.md:7 image '../images/none.jpg' does not exist\n"
        f"  hint: paths are relative to the article: {broken}/articles/",
        f"warning: {broken}/articles/a.md:5:3 doubled-punctuation: '，' typed twice (1 place)\n"
        "  hint: `typeset check` lists every place; `--fix` corrects the safe kinds"]
    assert read(broken, ahead=True)[0] is None

    # a child that ends without an answer: the issue is read here
    monkeypatch.setattr(issue, "_read_reporting", lambda *args: os._exit(3))
    diagnostics = Diagnostics()
    issue.read_ahead(clean, False, str(clean))
    assert (issue.read_issue(clean, diagnostics, False, str(clean)), diagnostics.items) == here


def test_usage_errors_exit_2(tmp_path):
    assert run_cli("build").returncode == 2
    assert run_cli("build", str(tmp_path), "--no-such-option").returncode == 2
    assert run_cli("frobnicate").returncode == 2


def test_not_an_issue_folder_exits_1(tmp_path):
    result = run_cli("build", str(tmp_path / "nowhere"))
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == f"'{tmp_path / 'nowhere'}' is not a folder"


def test_overset_exits_3_and_marks_the_page(tmp_path):
    root = write_issue(tmp_path / "issue", MINIMAL_MANIFEST, {"articles/a.md": article(paragraphs=60)})
    out = tmp_path / "out"
    result = run_cli("build", str(root), "-o", str(out))
    assert result.returncode == 3, result.stderr
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    entry = report["articles"][0]
    assert entry["fit"] == "overset" and entry["overset_lines"] > 0 and entry["actual"] == [1, 1]
    assert report["pages"] == 5 and report["page_labels"][2] == "1"
    assert "overset:" in result.stderr and "page plan violated" in result.stderr
    with pikepdf.open(out / "issue.pdf") as pdf:
        # the overset marker: a red box at the foot of the last planned page
        drawing = b"".join(s.read_bytes() for s in pdf.pages[2].obj.Contents) \
            if isinstance(pdf.pages[2].obj.Contents, pikepdf.Array) else pdf.pages[2].obj.Contents.read_bytes()
        assert b"0.85 0 0 rg" in drawing


def test_default_output_folder_is_issue_build(tmp_path):
    root = write_issue(tmp_path / "issue", MINIMAL_MANIFEST, {"articles/a.md": article()})
    result = run_cli("build", str(root), "-q")
    assert result.returncode == 0, result.stderr
    assert (root / "build" / "issue.pdf").is_file() and (root / "build" / "report.json").is_file()
    assert not [p for p in (root / "build").iterdir() if p.name.endswith(".tmp")]


def test_demo_issue_uses_every_front_matter_key():
    keys = set()
    for path in (DEMO / "articles").glob("*.md"):
        front = path.read_text(encoding="utf-8").split("---")[1]
        keys |= {line.split(":")[0] for line in front.strip().splitlines()}
    assert keys >= {"title", "kicker", "subtitle", "toc_title", "author", "author_note", "source", "end_note",
                    "columns", "fit"}


def test_an_unchanged_issue_is_up_to_date(tmp_path):
    import shutil

    issue = tmp_path / "demo"
    shutil.copytree(DEMO, issue, ignore=shutil.ignore_patterns("build"))
    out = tmp_path / "out"
    assert run_cli("build", str(issue), "-o", str(out), "-q").returncode == 0
    before = (out / "issue.pdf").stat().st_mtime_ns
    again = run_cli("build", str(issue), "-o", str(out))
    assert again.returncode == 0 and "up to date" in again.stdout
    assert (out / "issue.pdf").stat().st_mtime_ns == before
    # answered before the build's modules are loaded: no WeasyPrint, pikepdf or ReportLab
    loaded = subprocess.run([sys.executable, "-c", "import sys; from typeset.cli import main\n"
                             "try:\n    main(['build', sys.argv[1], '-o', sys.argv[2], '-q'])\n"
                             "except SystemExit:\n    pass\n"
                             "print(sorted(m for m in ('weasyprint', 'pikepdf', 'reportlab') if m in sys.modules))",
                             str(issue), str(out)], capture_output=True, text=True, cwd=REPO)
    assert loaded.stdout.strip() == "[]", loaded.stderr
    article = issue / "articles/01-juanshouyu.md"
    article.write_text(article.read_text(encoding="utf-8") + "\n补记一句。\n", encoding="utf-8")
    changed = run_cli("build", str(issue), "-o", str(out))
    assert changed.returncode == 0 and "up to date" not in changed.stdout
    assert (out / "issue.pdf").stat().st_mtime_ns != before
