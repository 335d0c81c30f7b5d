"""Incremental builds: the layout cache under OUT_DIR/.cache re-lays out only what an edit affects."""

import json
import shutil

from conftest import DEMO, pdf_text_by_page, run_cli

EDITED = "articles/03-biaodian-jinze.md"


def _build(issue, out, *extra):
    result = run_cli("build", str(issue), "-o", str(out), "-q", *extra)
    assert result.returncode == 0, result.stderr
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def test_an_edit_re_lays_out_only_its_article_and_builds_what_a_cold_build_does(tmp_path):
    issue = tmp_path / "demo"
    shutil.copytree(DEMO, issue, ignore=shutil.ignore_patterns("build"))
    out = tmp_path / "out"
    cold = _build(issue, out)
    files = [a["file"] for a in cold["articles"]]
    assert cold["laid_out"] == files
    entries = sorted((out / ".cache" / "layout").glob("*.json"))
    assert len(entries) >= len(files)
    subsets = {p.name: p.stat().st_mtime_ns for p in (out / ".cache" / "layout").glob("*.subset")}
    assert subsets  # the font subsets the linker made

    again = _build(issue, out, "--force")
    assert again["laid_out"] == [] and again["articles"] == cold["articles"]
    assert sorted((out / ".cache" / "layout").glob("*.json")) == entries
    # the same glyphs: the subsets are taken from the cache, not made and written again
    assert {p.name: p.stat().st_mtime_ns for p in (out / ".cache" / "layout").glob("*.subset")} == subsets

    path = issue / EDITED
    text = path.read_text(encoding="utf-8")
    first_paragraph = next(p for p in text.split("\n\n")[1:] if p and not p.startswith(("#", "!", "-")))
    path.write_text(text.replace(first_paragraph, "校对改动：这一段换了新的开头。" + first_paragraph, 1), encoding="utf-8")
    edited = _build(issue, out)
    # the edited article, and after it only an article whose 补白 changed: the edit took other
    # fillers, so the articles choosing after it (in reading order here) chose again
    refilled = {a["file"] for a, b in zip(cold["articles"], edited["articles"]) if a["fillers"] != b["fillers"]}
    assert EDITED in edited["laid_out"] and set(edited["laid_out"]) <= refilled | {EDITED}
    assert not set(edited["laid_out"]) & set(files[:files.index(EDITED)])
    fresh = _build(issue, tmp_path / "fresh")
    assert fresh["laid_out"] == files
    assert edited["articles"] == fresh["articles"] and edited["page_labels"] == fresh["page_labels"]
    start = edited["page_labels"].index(str(next(a for a in edited["articles"] if a["file"] == EDITED)["actual"][0]))
    assert "校对改动：这一段" in pdf_text_by_page(out / "issue.pdf")[start].replace("\n", "")
    # the entries of the article as it was are gone: the cache holds what a cold build keeps
    def entries_in(folder):
        return sorted(p.name for pattern in ("*.json", "*.pdf", "*.subset", "*.front") for p in folder.glob(pattern))

    assert entries_in(out / ".cache" / "layout") == entries_in(tmp_path / "fresh" / ".cache" / "layout")


def test_the_front_pages_are_drawn_again_only_when_what_they_show_changes(tmp_path):
    issue = tmp_path / "demo"
    shutil.copytree(DEMO, issue, ignore=shutil.ignore_patterns("build"))
    manifest = issue / "issue.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(
        "inside_back_cover:\n  image: images/inside-back.jpg\n", ""), encoding="utf-8")
    out = tmp_path / "out"

    def build() -> tuple[list[str], dict[str, int]]:
        result = run_cli("build", str(issue), "-o", str(out), "-q")
        assert result.returncode == 0, result.stderr
        said = [line for line in result.stderr.splitlines() if "封三" in line]
        return said, {p.name: p.stat().st_mtime_ns for p in (out / ".cache" / "layout").glob("*.front")}

    said, drawn = build()
    assert said == ["warning: no inside_back_cover in issue.yaml: 封三 is blank"] and len(drawn) == 1
    covers = _cover_and_contents_text(out)

    # an edit of the text: the cover and contents pages come from the cache, with what drawing them said
    path = issue / EDITED
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("中文标点大多占一个字的宽度", "中文标点一般占一个字的宽度", 1), encoding="utf-8")
    assert build() == (said, drawn)
    assert _cover_and_contents_text(out) == covers

    # a title the contents page shows: drawn again, and the entry of the old one is gone
    path.write_text(path.read_text(encoding="utf-8").replace("title: 标点挤压与行首行尾禁则", "title: 标点挤压新说", 1),
                    encoding="utf-8")
    said_again, drawn_again = build()
    assert said_again == said and len(drawn_again) == 1 and drawn_again.keys() != drawn.keys()
    contents = _cover_and_contents_text(out)[2].replace("\n", "")
    assert "标点挤压新说" in contents and "标点挤压与行首行尾禁则" not in contents


def _cover_and_contents_text(out) -> list[str]:
    """封一, 封二 and the contents page (folio 2) of the issue."""
    labels = json.loads((out / "report.json").read_text(encoding="utf-8"))["page_labels"]
    pages = pdf_text_by_page(out / "issue.pdf")
    return [pages[0], pages[1], pages[labels.index("2")]]
