"""Articles: front matter, Markdown with CJK-aware emphasis, figures, and their errors."""

import pytest
from conftest import MINIMAL_MANIFEST, REFERENCE, article, write_issue
from PIL import Image

from typeset.diagnostics import Diagnostics, InputError
from typeset.inputs.articles import read_articles
from typeset.inputs.manifest import load_manifest
from typeset.inputs.markdown import make_parser


def read(root, strict=False):
    diagnostics = Diagnostics()
    manifest = load_manifest(root, diagnostics, display_root="issue")
    articles = read_articles(manifest, diagnostics, strict=strict)
    diagnostics.raise_if_errors()
    return articles, diagnostics


def issue_with(tmp_path, text: str, raw: bytes | None = None):
    root = write_issue(tmp_path / "issue", MINIMAL_MANIFEST, {"articles/a.md": text})
    if raw is not None:
        (root / "articles/a.md").write_bytes(raw)
    return root


@pytest.mark.parametrize("source, html", [
    ("**学好用好党史。**要坚持", "<p><strong>学好用好党史。</strong>要坚持</p>"),
    ("**要在学好用好党史中坚定理想信念**。省直", "<p><strong>要在学好用好党史中坚定理想信念</strong>。省直</p>"),
    ("**(一)始终强化政治统领，进一步坚定**。一是", "<p><strong>(一)始终强化政治统领，进一步坚定</strong>。一是</p>"),
    ("坚决做到**“两个维护”**的要求", "<p>坚决做到<strong>“两个维护”</strong>的要求</p>"),
    ("a **b** c and snake_case_name", "<p>a <strong>b</strong> c and snake_case_name</p>"),
    ("<b>粗</b>{{ 7*7 }}<script>x</script>", "<p>&lt;b&gt;粗&lt;/b&gt;{{ 7*7 }}&lt;script&gt;x&lt;/script&gt;</p>"),
])
def test_markdown_bold_next_to_fullwidth_punctuation_and_no_raw_html(source, html):
    assert make_parser().render(source).strip() == html


def test_front_matter_and_body(tmp_path):
    root = issue_with(tmp_path, article(
        title="标题 第二行", extra_front="kicker: 引题\nsubtitle: 副题\nauthor: 作者\nauthor_note: 作者系编辑\n"
        "source: 新华社\nend_note: 课题组组长：某某\ntoc_title: 目录标题\ncolumns: 3\n",
        body="导语。\n\n## 一、小标题\n\n**(一)要点**。正文。\n\n### 三级\n\n末段。"))
    (articles, diagnostics) = read(root)
    a = articles[0]
    assert diagnostics.items == []
    assert (a.title, a.kicker, a.subtitle, a.author, a.author_note, a.source, a.end_note, a.toc_title, a.columns) == \
        ("标题 第二行", "引题", "副题", "作者", "作者系编辑", "新华社", "课题组组长：某某", "目录标题", 3)
    assert '<p data-line="13">导语。</p>\n<h2 data-line="15">一、小标题</h2>' in a.body_html
    assert '<h3 data-line="19">三级</h3>' in a.body_html
    assert '<strong>(一)要点。</strong><span class="nobr">正文。</span>' in a.body_html
    # the end mark closes the last paragraph
    assert a.body_html.rstrip().endswith('末段。<span class="end-mark">□</span></p>')
    assert (2, "title", "标题 第二行") in a.text_lines
    assert [t for t in a.text_lines if t[0] in (15, 17)] == [
        (15, "hei", "一、小标题"), (17, "hei", "(一)要点"), (17, "song", "。正文。")]


def test_figure_with_caption(tmp_path):
    root = issue_with(tmp_path, article(body="前文。\n\n![图为会议现场 某某 摄](../images/p.jpg)\n\n后文。"))
    (root / "images").mkdir()
    Image.new("RGB", (30, 20), "red").save(root / "images/p.jpg")
    articles, diagnostics = read(root)
    html = articles[0].body_html
    assert diagnostics.items == []
    assert '<figure class="figure" data-line="7"><img src="file://' in html
    assert "<figcaption>图为会议现场 某某 摄</figcaption></figure>" in html
    assert articles[0].figures[0].path == (root / "images/p.jpg").resolve()


@pytest.mark.parametrize("body, message, hint", [
    ("![x](../images/none.jpg)", "image '../images/none.jpg' does not exist", "paths are relative to the article: issue/articles/"),
    ("![x](../../secret.jpg)", "image '../../secret.jpg' is outside the issue folder",
     "images must sit inside the issue folder (e.g. images/) and be named by a relative path"),
    ("![x](https://example.com/a.jpg)", "image 'https://example.com/a.jpg' is outside the issue folder",
     "images must sit inside the issue folder (e.g. images/) and be named by a relative path"),
    ("![x](a.md)", "image 'a.md' is not an image (not a JPEG, PNG, TIFF … that Pillow can read)",
     "save it again as JPEG or PNG"),
    ("文字![x](../images/none.jpg)文字", "image inside a paragraph",
     "put the image on a line of its own, with a blank line before and after"),
])
def test_bad_images(tmp_path, body, message, hint):
    root = issue_with(tmp_path, article(body=body))
    with pytest.raises(InputError) as caught:
        read(root)
    error = caught.value.diagnostics.errors[0]
    assert error.message.startswith(message)
    assert error.hint == hint
    assert (error.file, error.line) == ("issue/articles/a.md", 5)


@pytest.mark.parametrize("text, expected", [
    ("---\ntitle: x\n\n正文", "issue/articles/a.md:1:1 front matter is not closed\n"
                            "  hint: end the front matter with a line of three dashes: ---"),
    ("正文", "issue/articles/a.md:1:1 no front matter\n  hint: start the file with ---, a line `title: …`, and ---"),
    ("---\nauthor: x\n---\n\n正文", "issue/articles/a.md:1:1 title: 'title' is required\n"
                                  "  hint: add `title: …` to the front matter"),
    ("---\ntitle: x\ncolumns: 4\n---\n\n正文", "issue/articles/a.md:3:1 columns: columns must be 1, 2 or 3, got 4"),
    ("---\ntitle: [x\n---\n\n正文", "issue/articles/a.md:2:10 front matter YAML syntax error: expected ',' or ']', "
                                  "but got '<stream end>'\n  hint: values with a colon or starting with a quote need quoting"),
    ("---\ntitle: x\n---\n\n", "issue/articles/a.md:4 the article has no text\n  hint: write the body below the front matter"),
])
def test_bad_front_matter(tmp_path, text, expected):
    root = issue_with(tmp_path, text)
    with pytest.raises(InputError) as caught:
        read(root)
    assert caught.value.diagnostics.errors[0].format() == expected


def test_not_utf8_names_the_likely_encoding(tmp_path):
    root = issue_with(tmp_path, "", raw="---\ntitle: 标题\n---\n\n中文正文".encode("gb18030"))
    with pytest.raises(InputError) as caught:
        read(root)
    assert caught.value.diagnostics.errors[0].format() == (
        "issue/articles/a.md:2 not UTF-8 text (invalid byte at offset 11); it looks like GB18030\n"
        "  hint: save the article as UTF-8")


def test_unknown_front_matter_key_warns_or_fails_with_strict(tmp_path):
    root = issue_with(tmp_path, article(extra_front="colour: red\n"))
    articles, diagnostics = read(root)
    assert [d.format() for d in diagnostics.warnings] == [
        "warning: issue/articles/a.md:3:1 colour: unknown front-matter key 'colour'\n"
        "  hint: known keys: title, kicker, subtitle, toc_title, author, author_note, source, end_note, columns, fit"]
    with pytest.raises(InputError):
        read(root, strict=True)


def test_reference_articles_read_clean():
    if not REFERENCE.is_dir():
        pytest.skip("no reference issue")
    articles, diagnostics = read(REFERENCE)
    assert diagnostics.items == [] and len(articles) == 25
    # every run-in head of the reference renders bold: no ** is left over as text
    assert all("**" not in a.body_html for a in articles)
    assert sum(a.body_html.count("<strong>") for a in articles) > 100
    assert [len(a.figures) for a in articles][4:6] == [1, 1]
