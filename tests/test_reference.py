"""The acceptance test: the real printed issue in ../shared/reference-issue builds on its page plan."""

import json

import pikepdf
import yaml
from conftest import REFERENCE, column_text, pdf_text_by_page, pdffonts


def test_reference_issue_builds_every_article_on_its_planned_page(reference_build):
    result, out = reference_build
    assert result.returncode in (0, 3), result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    manifest = yaml.safe_load((REFERENCE / "issue.yaml").read_text(encoding="utf-8"))
    planned = [(a["file"], a["pages"]) for s in manifest["sections"] for a in s["articles"]]
    assert len(report["articles"]) == len(planned) == 25
    assert report["pages"] == 52 and report["folios"] == list(range(1, 49))
    assert report["page_labels"] == ["封一", "封二", *map(str, range(1, 49)), "封三", "封四"]
    for entry, (file, pages) in zip(report["articles"], planned):
        first = int(pages.split("-")[0])
        assert entry["file"] == file
        assert entry["planned"][0] == first and entry["actual"][0] == first
    # overset only where the printed issue itself continued the text on a later page (转页)
    overset = {a["file"] for a in report["articles"] if a["overset_lines"]}
    assert report["errors"] == []
    assert (result.returncode == 3) == bool(overset)


def test_reference_titles_stand_on_their_planned_pages(reference_build):
    _, out = reference_build
    texts = [t.replace(" ", "").replace("\n", "") for t in pdf_text_by_page(out / "issue.pdf")]
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    for entry in report["articles"]:
        page = texts[report["page_labels"].index(str(entry["planned"][0]))]
        title = entry["title"].replace(" ", "")
        assert title[:8] in page, (entry["file"], entry["planned"])
        assert str(entry["planned"][0]) in page  # the folio


ROLES = {"song", "hei", "kai", "title"}


def test_reference_fonts_embedded_and_labels(reference_build):
    _, out = reference_build
    fonts = pdffonts(out / "issue.pdf")
    assert fonts and all(f["emb"] == "yes" and f["uni"] == "yes" for f in fonts)
    families = {f["name"].split("+")[1].split("-")[0] for f in fonts}
    # the body's roles (WeasyPrint names them after the role) and the same families on the covers
    # and contents (ReportLab names them after the font): no system fallback font crept in
    assert families <= {"song", "hei", "kai", "title", "NotoSerifCJKsc", "NotoSansCJKsc", "LXGWWenKai"}, families
    # the body is linked from per-article parts: each of its faces embedded once, one subset
    body = [f["name"].split("+")[1] for f in fonts if f["name"].split("+")[1].split("-")[0] in ROLES]
    assert len(body) == len(set(body)) >= 5, body
    with pikepdf.open(out / "issue.pdf") as pdf:
        assert len(pdf.pages) == 52
        labels = dict(pikepdf.NumberTree(pdf.Root.PageLabels))
        assert str(labels[0].P) == "封一" and labels[2].St == 1 and str(labels[50].P) == "封三"


def test_reference_body_text_extracts_as_written(reference_build):
    """Copying text out of the PDF gives the source text (paragraph of article 02, page 4)."""
    _, out = reference_build
    left_column = column_text(out / "issue.pdf", 2 + 3, 0)  # after 封一 and 封二: folio 4
    source = (REFERENCE / "articles" / "02-quanmian-shenhua-gaige.md").read_text(encoding="utf-8")
    first_paragraph = source.split("---", 2)[2].strip().split("\n\n")[0]
    assert first_paragraph[:80] in left_column
