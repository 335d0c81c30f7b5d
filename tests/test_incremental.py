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
        return sorted(p.name for pattern in ("*.json", "*.pdf", "*.subset") for p in folder.glob(pattern))

    assert entries_in(out / ".cache" / "layout") == entries_in(tmp_path / "fresh" / ".cache" / "layout")
