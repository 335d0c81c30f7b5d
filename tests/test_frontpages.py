"""Covers, contents and the assembled issue (ReportLab pages joined with the body by pikepdf)."""

import json
import re
import subprocess

import pikepdf
import pytest
from conftest import (
    MINIMAL_MANIFEST,
    REFERENCE,
    article,
    pdf_text_by_page,
    run_cli,
    write_issue,
)
from reportlab.pdfbase.pdfmetrics import stringWidth

from typeset.diagnostics import Diagnostics, InputError
from typeset.frontpages.text import break_lines
from typeset.inputs.cjk import NO_LINE_END, NO_LINE_START
from typeset.inputs.manifest import load_manifest


def test_contents_numbers_are_the_actual_start_pages(reference_build):
    _, out = reference_build
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    labels = report["page_labels"]
    texts = pdf_text_by_page(out / "issue.pdf")
    contents = "\n".join(texts[labels.index("2")].splitlines() + texts[labels.index("3")].splitlines())
    listed = {}
    for line in contents.splitlines():
        match = re.match(r"^(.+?)\s+(\d+)$", line.strip())
        if match:
            listed[match.group(1).replace(" ", "")] = int(match.group(2))
    manifest = load_manifest(REFERENCE, Diagnostics())
    titles = dict(_articles_titles(manifest))
    for entry in report["articles"]:
        title = titles[entry["file"]].replace(" ", "")
        assert listed[title] == entry["actual"][0], title


def _articles_titles(manifest):
    for article_entry in manifest.articles:
        front = article_entry.file.read_text(encoding="utf-8").split("---")[1]
        fields = dict(line.split(": ", 1) for line in front.strip().splitlines())
        yield article_entry.rel, fields.get("toc_title", fields["title"])


def test_outline_lists_sections_and_articles_at_their_pages(reference_build):
    _, out = reference_build
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    labels = report["page_labels"]
    with pikepdf.open(out / "issue.pdf") as pdf:
        page_index = {page.objgen: i for i, page in enumerate(pdf.pages)}
        with pdf.open_outline() as outline:
            top = [item.title for item in outline.root]
            sections = [item for item in outline.root if item.children]
            articles = [(child.title, labels[page_index[child.destination[0].objgen]])
                        for section in sections for child in section.children]
    assert top[:2] == ["封一", "目录"] and top[-2:] == ["封三", "封四"]
    assert [s.title for s in sections][:3] == ["卷首语", "要言要论", "党建聚焦"]
    titles = dict(_articles_titles(load_manifest(REFERENCE, Diagnostics())))
    assert articles == [(titles[a["file"]], str(a["actual"][0])) for a in report["articles"]]


def test_cover_and_contents_fonts_are_embedded(reference_build):
    _, out = reference_build
    for first, last in ((1, 2), (5, 6)):  # 封一-封二, and the contents on folios 2-3
        listing = subprocess.run(["pdffonts", "-f", str(first), "-l", str(last), str(out / "issue.pdf")],
                                 capture_output=True, text=True, check=True).stdout.splitlines()[2:]
        assert listing, "no fonts on the pages"
        assert all(row.split()[-5] == "yes" for row in listing), listing
        assert not any("Helvetica" in row for row in listing)


def test_cover_photo_covers_the_bleed_box(reference_build):
    _, out = reference_build
    with pikepdf.open(out / "issue.pdf") as pdf:
        cover = pdf.pages[0]
        bleed = [float(v) for v in cover.obj.BleedBox]
        trim = [float(v) for v in cover.obj.TrimBox]
        assert bleed[2] - trim[2] == pytest.approx(3 * 72 / 25.4, abs=0.01)
        # follow the transformation matrix to the first image drawn: it maps the unit square
        ctm, stack, placed = [1, 0, 0, 1, 0, 0], [], None
        for operands, operator in pikepdf.parse_content_stream(cover):
            op = str(operator)
            if op == "q":
                stack.append(ctm)
            elif op == "Q":
                ctm = stack.pop()
            elif op == "cm":
                a, b, c, d, e, f = (float(v) for v in operands)
                A, B, C, D, E, F = ctm
                ctm = [a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D, e * A + f * C + E, e * B + f * D + F]
            elif op == "Do" and placed is None:
                placed = ctm
        width, _, _, height, x0, y0 = placed
        assert x0 <= bleed[0] + 0.01 and y0 <= bleed[1] + 0.01
        assert x0 + width >= bleed[2] - 0.01 and y0 + height >= bleed[3] - 0.01
        # scaled, never distorted: the photo is 2551×3579 px
        assert height / width == pytest.approx(3579 / 2551, rel=1e-3)


def test_contents_that_do_not_fit_are_an_error(tmp_path):
    entries = "\n".join(f'      - {{file: articles/a{i}.md, pages: "{i + 2}"}}' for i in range(40))
    manifest = MINIMAL_MANIFEST.split("sections:")[0] + f'contents:\n  pages: "1"\nsections:\n  - title: 专题\n    articles:\n{entries}\n'
    root = write_issue(tmp_path / "issue", manifest,
                       {f"articles/a{i}.md": article(f"很长的标题用来占满目录页面的空间第{i}篇文章") for i in range(40)})
    result = run_cli("build", str(root), "-o", str(tmp_path / "out"))
    assert result.returncode == 1, result.stderr
    assert f"{root}/issue.yaml contents.pages: the contents do not fit pages 1: " in result.stderr
    assert "hint: give the contents more pages" in result.stderr
    assert not (tmp_path / "out").exists()


def test_invalid_barcode_is_reported(tmp_path):
    root = write_issue(tmp_path / "issue", MINIMAL_MANIFEST + "cover:\n  barcode: '9771234567891'\n",
                       {"articles/a.md": article()})
    with pytest.raises(InputError) as caught:
        load_manifest(root, Diagnostics(), display_root="issue")
    assert caught.value.diagnostics.errors[0].format() == (
        "issue/issue.yaml:14:12 cover.barcode: '9771234567891' is not an EAN-13 code\n"
        "  hint: 12 digits, or 13 with a correct check digit (an ISSN barcode starts with 977)")


@pytest.mark.parametrize("text", [
    "切实把学习成果转化为干事创业动力，推动新时代吉林全面振兴率先实现新突破。",
    "省委副书记、省长胡玉亭，省政协主席朱国贤出席会议。“两个确立”“两个维护”……好",
    "有 36 家单位获得2024年荣誉，BTX建设和eVTOL产业，占98.1%。",
])
@pytest.mark.parametrize("chars_per_line", [7, 8, 9, 11, 13])
def test_reportlab_line_breaks_follow_the_prohibitions(text, chars_per_line):
    font = "Helvetica"  # widths only; a CJK character counts as Helvetica's default width here
    size = 10
    width = chars_per_line * stringWidth("中", font, size)
    lines = break_lines(text, font, size, width)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    for line in lines[1:]:
        assert line[0] not in NO_LINE_START, lines
    for line in lines[:-1]:
        assert line[-1] not in NO_LINE_END, lines
    assert not any(re.search(r"\d$", a) and re.match(r"^\d", b) for a, b in zip(lines, lines[1:])), lines
