"""typeset import: Word files (made here with python-docx) to articles."""

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import docx
import pytest
from conftest import DEMO, REFERENCE, REPO, run_cli, write_issue
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.opc.part import Part
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from PIL import Image

W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def add_runs(paragraph, markdown: str) -> None:
    """`**bold**` parts of `markdown` as bold runs."""
    for index, piece in enumerate(re.split(r"\*\*", markdown)):
        if piece:
            paragraph.add_run(piece).bold = index % 2 == 1


def add_footnote(document, paragraph, text: str) -> None:
    xml = (f'<w:footnotes {W_NS}><w:footnote w:id="1"><w:p><w:r><w:t>{text}</w:t></w:r></w:p>'
           f"</w:footnote></w:footnotes>").encode()
    part = Part(PackURI("/word/footnotes.xml"),
                "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml", xml,
                document.part.package)
    document.part.relate_to(part, RT.FOOTNOTES)
    run = paragraph.add_run()
    reference = OxmlElement("w:footnoteReference")
    reference.set(qn("w:id"), "1")
    run._r.append(reference)


def tracked(paragraph, inserted: str, deleted: str) -> None:
    ins = OxmlElement("w:ins")
    ins.set(qn("w:id"), "1"), ins.set(qn("w:author"), "编辑")
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = inserted
    run.append(text), ins.append(run)
    delete = OxmlElement("w:del")
    delete.set(qn("w:id"), "2"), delete.set(qn("w:author"), "编辑")
    run = OxmlElement("w:r")
    text = OxmlElement("w:delText")
    text.text = deleted
    run.append(text), delete.append(run)
    paragraph._p.append(ins), paragraph._p.append(delete)


@pytest.fixture
def author_file(tmp_path) -> Path:
    document = docx.Document()
    document.add_paragraph("景俊海在学习会上强调")  # the kicker, just above the title
    document.add_paragraph("县级税务局政治机关建设的实践", style="Title")
    document.add_paragraph("作者：张鹏飞")
    document.add_paragraph("（作者系国家税务总局吉林省税务局党委书记）")
    document.add_paragraph("\u3000\u3000开展调研,就如何推进  建设进行了研究。")
    first = document.add_paragraph()
    add_runs(first, "**(一)始终强化政治统领**。一是意识深入人心，")
    first.add_run().add_break()
    first.add_run("引导干部牢记\"第一属性\"。")
    document.add_paragraph("")
    document.add_paragraph("一、探索和实践")
    document.add_paragraph("二级标题", style="Heading 2")
    image = tmp_path / "photo.png"
    Image.new("RGB", (600, 400), "teal").save(image)
    document.add_picture(str(image))
    document.add_paragraph("图为调研现场 本刊记者 摄", style="Caption")
    noted = document.add_paragraph("有注释的段落。")
    add_footnote(document, noted, "见《条例》第三条。")
    document.add_paragraph("（来源：新华社）")
    document.add_paragraph("（课题组组长：刘佳民）")
    path = tmp_path / "作者稿.docx"
    document.save(path)
    return path


def test_structure_images_notes_and_cleaning(tmp_path, author_file):
    issue = write_issue(tmp_path / "issue", "# the issue\nmagazine: {name: 测试刊}  # kept\npage: {trim: [210mm, 285mm]}\n"
                        "sections:\n  - title: 专题\n    articles: []\n")
    result = run_cli("import", str(author_file), "--into", str(issue), "--section", "经验与探索", "--pages", "3-4")
    assert result.returncode == 0, result.stderr
    article = (issue / "articles/01-article.md").read_text(encoding="utf-8")
    assert article == (
        "---\n"
        "title: 县级税务局政治机关建设的实践\n"
        "kicker: 景俊海在学习会上强调\n"
        "author: 张鹏飞\n"
        "author_note: 作者系国家税务总局吉林省税务局党委书记\n"
        "source: 新华社\n"
        "end_note: 课题组组长：刘佳民\n"
        "---\n\n"
        "开展调研，就如何推进 建设进行了研究。\n\n"
        "**(一)始终强化政治统领**。一是意识深入人心，引导干部牢记“第一属性”。\n\n"
        "## 一、探索和实践\n\n"
        "## 二级标题\n\n"
        "![图为调研现场 本刊记者 摄](../images/01-article-1.png)\n\n"
        "有注释的段落。[1]\n\n"
        "[1] 见《条例》第三条。\n")
    assert (issue / "images/01-article-1.png").read_bytes()[:4] == b"\x89PNG"
    assert result.stdout.splitlines()[-1] == (
        "cleaning: 1 empty paragraphs removed, 1 half-width punctuation made full-width, 1 indents removed, "
        "1 manual line breaks joined, 1 repeated spaces collapsed, 1 straight quotes made Chinese")
    manifest = (issue / "issue.yaml").read_text(encoding="utf-8")
    assert manifest.startswith("# the issue\nmagazine: {name: 测试刊}  # kept\n")
    assert manifest.endswith("  - title: 专题\n    articles: []\n  - title: 经验与探索\n    articles:\n"
                             '      - file: articles/01-article.md\n        pages: "3-4"\n')


def test_images_need_an_issue_folder_said_in_the_language_of_the_user(author_file):
    """Printed to standard output, the article could not take its images: nothing is written."""
    def run(lang: str) -> subprocess.CompletedProcess:
        env = {key: value for key, value in os.environ.items()
               if key not in ("TYPESET_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES")}
        return subprocess.run([sys.executable, "-m", "typeset", "import", str(author_file)], capture_output=True,
                              text=True, cwd=REPO, env={**env, "LANG": lang})

    chinese, english = run("zh_CN.UTF-8"), run("C.UTF-8")
    assert chinese.returncode == english.returncode == 1 and chinese.stdout == english.stdout == ""
    assert chinese.stderr.splitlines() == [f"{author_file} 文档里有 1 张图片",
                                           "  提示：用 --into 导入到一期的文件夹，图片放进它的 images/",
                                           "错误：文件未导入；未写出任何文件"]
    assert english.stderr.splitlines() == [f"{author_file} the document has 1 image",
                                           "  hint: import it --into an issue folder, where its images/ can take them",
                                           "error: the file was not imported; nothing was written"]


def test_tracked_changes_and_comments_are_refused_unless_asked(tmp_path):
    document = docx.Document()
    document.add_paragraph("标题", style="Title")
    paragraph = document.add_paragraph("正文")
    tracked(paragraph, "新增的字", "删去的字")
    path = tmp_path / "changes.docx"
    document.save(path)
    refused = run_cli("import", str(path))
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[0] == f"{path} the document has tracked changes"
    accepted = run_cli("import", str(path), "--accept-changes")
    assert accepted.returncode == 0 and "正文新增的字" in accepted.stdout and "删去" not in accepted.stdout


@pytest.mark.parametrize("content, message", [
    (b"just text", "not a .docx file (a .docx is a zip of XML parts)"),
    (bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 100, "an old .doc or a password-protected Word file, not a .docx"),
    (None, "the .docx is damaged"),
])
def test_bad_files_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.docx"
    if content is None:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("word/nothing.xml", "<x/>")
    else:
        path.write_bytes(content)
    result = run_cli("import", str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[0].startswith(f"{path} {message}")
    assert result.stderr.splitlines()[-1] == "error: the file was not imported; nothing was written"


def test_unsupported_image_format_is_refused(tmp_path):
    document = docx.Document()
    document.add_paragraph("标题", style="Title")
    image = tmp_path / "x.gif"
    Image.new("RGB", (60, 40), "red").save(image)
    document.add_picture(str(image))
    path = tmp_path / "gif.docx"
    document.save(path)
    issue = write_issue(tmp_path / "issue", "magazine: {name: 刊}\npage: {trim: [210mm, 285mm]}\nsections: []\n")
    result = run_cli("import", str(path), "--into", str(issue), "--section", "专题")
    assert result.returncode == 1
    assert "an embedded image is image/gif, which cannot be printed as is" in result.stderr
    assert not (issue / "articles").exists() and "专题" not in (issue / "issue.yaml").read_text(encoding="utf-8")


def _docx_from_markdown(markdown_path: Path, out: Path) -> None:
    """A Word file as an author would send article 07: styles for title and heads, bold run-ins."""
    text = markdown_path.read_text(encoding="utf-8")
    _, front, body = text.split("---", 2)
    fields = dict(line.split(": ", 1) for line in front.strip().splitlines())
    document = docx.Document()
    document.add_paragraph(fields["title"], style="Title").alignment = WD_ALIGN_PARAGRAPH.CENTER
    document.add_paragraph(f"作者：{fields['author']}")
    document.add_paragraph(f"（{fields['author_note']}）")
    for block in body.strip().split("\n\n"):
        if block.startswith("## "):
            document.add_paragraph(block[3:], style="Heading 2")
        else:
            add_runs(document.add_paragraph(), block)
    document.save(out)


def test_round_trip_of_reference_article_07(tmp_path):
    if not REFERENCE.is_dir():
        pytest.skip("no reference issue")
    original = REFERENCE / "articles/07-xianji-shuiwuju-zhengzhi-jiguan.md"
    word = tmp_path / "07.docx"
    _docx_from_markdown(original, word)
    verbatim = run_cli("import", str(word), "--verbatim")
    assert verbatim.returncode == 0, verbatim.stderr
    assert verbatim.stdout == original.read_text(encoding="utf-8")  # exact
    cleaned = run_cli("import", str(word))
    assert cleaned.stderr.strip() == "cleaning: 68 half-width punctuation made full-width"
    # and it builds on its planned pages
    issue = tmp_path / "issue"
    shutil.copytree(REFERENCE, issue)
    (issue / "articles" / original.name).chmod(0o644)
    (issue / "articles" / original.name).write_text(verbatim.stdout, encoding="utf-8")
    fit = run_cli("fit", str(issue), "--json")
    import json

    entry = next(a for a in json.loads(fit.stdout) if a["file"].endswith(original.name))
    assert entry["actual"] == [9, 12] and entry["overset_lines"] == 0


SOFFICE = shutil.which("soffice")


def _hand_formatted(article: Path, folder: Path) -> Path:
    """The article as an author formats it by hand in a word processor, saved as .docx by
    LibreOffice: the title centred and bold (no Title style), the name centred on its own line,
    （作者系…） under it, heads as bold paragraphs, paragraphs indented with two full-width
    spaces, （来源：…） at the end."""
    front_text, body = article.read_text(encoding="utf-8").split("---\n", 2)[1:]
    front = dict(line.split(": ", 1) for line in front_text.strip().splitlines())

    def inline(text: str) -> str:
        return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)

    lines = [f'<p align="center"><b>{front["title"]}</b></p>', f'<p align="center">{front["author"]}</p>']
    if "author_note" in front:
        lines.append(f'<p align="center">（{front["author_note"]}）</p>')
    for block in body.strip().split("\n\n"):
        lines.append(f"<p><b>{block[3:]}</b></p>" if block.startswith("## ") else f"<p>　　{inline(block)}</p>")
    if "source" in front:
        lines.append(f"<p>（来源：{front['source']}）</p>")
    html = folder / f"{article.stem}.html"
    html.write_text('<html><head><meta charset="utf-8"></head><body>' + "\n".join(lines) + "</body></html>",
                    encoding="utf-8")
    subprocess.run([SOFFICE, "--headless", f"-env:UserInstallation=file://{folder}/profile",
                    "--infilter=HTML (StarWriter)", "--convert-to", "docx:MS Word 2007 XML", str(html),
                    "--outdir", str(folder)], check=True, capture_output=True, timeout=120)
    return folder / f"{article.stem}.docx"


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed")
@pytest.mark.parametrize("article", [
    DEMO / "articles" / "03-biaodian-jinze.md",
    REFERENCE / "articles" / "17-xinzhi-shengchanli-lilun.md",
])
def test_manuscripts_formatted_by_hand_in_libreoffice(tmp_path, article):
    if not article.is_file():
        pytest.skip("the reference issue is not at ../shared")
    imported = run_cli("import", str(_hand_formatted(article, tmp_path)))
    assert imported.returncode == 0, imported.stderr
    source_front, source_body = article.read_text(encoding="utf-8").split("---\n", 2)[1:]
    front, body = imported.stdout.split("---\n", 2)[1:]
    expected = {key: value for key, value in (line.split(": ", 1) for line in source_front.strip().splitlines())
                if key in ("title", "author", "author_note", "source")}
    assert dict(line.split(": ", 1) for line in front.strip().splitlines()) == expected  # author: the bare name
    assert body.strip() == source_body.strip()  # heads as ## heads, run-in heads bold, the text as written
