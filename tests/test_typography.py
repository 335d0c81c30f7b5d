"""Chinese typography (clreq, GB/T 15834): the spans of cjk.py, the justification of justify.py,
checked on laid-out lines, and the audit of the built reference issue."""

import io
import json
import re
from pathlib import Path

import pdfplumber
import pytest
import weasyprint
from conftest import DEMO, REFERENCE
from weasyprint.formatting_structure import boxes

from typeset import install_weasyprint_extensions
from typeset.body.justify import expansion_gaps
from typeset.body.measure import content_lines as _content_lines
from typeset.body.measure import line_text as _line_text
from typeset.diagnostics import Diagnostics
from typeset.inputs.cjk import BREAK, refine
from typeset.inputs.fonts import load_fonts
from typeset.inputs.house import find_house
from typeset.pdf.audit import FAULTS, audit_issue

END = '<span class="end-mark">□</span>'


def plain(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


@pytest.mark.parametrize("source, expected", [
    # punctuation pairs: the mark whose blank half faces the other is set half-width
    ("<div>“两个确立”、坚决做到</div>", '<div>“两个确立<span class="halt">”</span>、坚决做到</div>'),
    ("<div>结果，“两个</div>", '<div>结果<span class="halt">，</span>|“两个</div>'),
    ("<div>《求是》。这是</div>", '<div>《求是<span class="halt">》</span>。这是</div>'),
    ("<div>说（“是”）好</div>", '<div>说（<span class="halt">“</span>是<span class="halt">”</span>）好</div>'),
    # a quarter em between Han and Latin or digits, none where the source has a space or punctuation
    ("<div>有36家和BTX建设</div>",
     '<div>有<span class="latin-l latin-r">36</span>家和<span class="latin-l latin-r">BTX</span>建设</div>'),
    ("<div>有 36 家，98.1%的</div>", '<div>有 36 家，<span class="latin-r">98.1%</span>的</div>'),
    ("<div>即eVTOL。</div>", '<div>即<span class="latin-l">eVTOL</span>。</div>'),
    # dashes and ellipses stay whole
    ("<div>一——二……三</div>", '<div>一<span class="nobr">——</span>二<span class="nobr">……</span>三</div>'),
    # no 孤字: the last two characters of a paragraph, with their punctuation, stay together…
    ("<p>正文最后一句。</p>", '<p>正文最后<span class="nobr">一句。</span></p>'),
    # … and so does a number standing there
    ("<p>占比为98.1%。</p>", '<p>占比为<span class="latin-l nobr">98.1%</span><span class="nobr">。</span></p>'),
    # punctuation that may not start a line moves into the element it follows, text unchanged
    ("<div><strong>要点</strong>。正文</div>", "<div><strong>要点。</strong>正文</div>"),
    ("<div>坚决做到“<strong>两个维护</strong>”</div>", "<div>坚决做到<strong>|“两个维护”</strong></div>"),
    # a break (|, a zero-width space) where clreq allows one at a quotation mark and Pango does not
    ("<div>调研”“提升”活动，由“繁”、化“简”</div>",
     '<div>调研<span class="halt">”</span>|“提升”|活动，由|“繁<span class="halt">”</span>、化|“简”</div>'),
    ("<div>He said “hi” to me</div>", "<div>He said “hi” to me</div>"),
    # a head keeps a quoted word and a book title whole
    ("<h2>在“超前”上谋划《条例》</h2>", '<h2>在|<span class="nobr">“超前”</span>|上谋划<span class="nobr">《条例》</span></h2>'),
])
def test_refine_spans(source, expected):
    result = refine(source)
    assert result == expected.replace("|", BREAK)
    assert plain(result).replace(BREAK, "") == plain(source)  # the text itself never changes


def test_end_mark_keeps_to_the_last_characters():
    result = refine("<p>第一段文字。</p>\n<p>最后一段的结尾。</p>\n", end_mark=END)
    assert result.endswith(f'<p>最后一段的<span class="nobr">结尾。{END}</span></p>\n')
    assert "□" not in result.split("\n")[0]


@pytest.mark.parametrize("text, gaps", [
    ("中文字", [0, 1]),
    ("中文。", [0, 1]),
    ("有 36 家", [2]),  # no CJK gap: inside the number, never at a space
    ("中文BTX建设", [0, 5]),  # CJK gaps first: 中|文 and 建|设, never inside BTX or at its edges
    ("BTX eVTOL", [0, 1, 4, 5, 6, 7]),  # a Latin line expands inside its words
    ("中文 ", [0]),  # no expansion after the last character
    ("中文\u200b“引号", [0, 1, 3, 4]),  # a break takes no space: its gap is the one before it…
    ("中文健全\u200b", [0, 1, 2]),  # … and a line ending in one ends at the character before
])
def test_expansion_gaps_follow_clreq_order(text, gaps):
    assert expansion_gaps(list(text)) == gaps


@pytest.fixture(scope="module")
def house_css():
    house = find_house(DEMO, "demo")
    diagnostics = Diagnostics()
    fonts = load_fonts(house.dirs("fonts"), {}, diagnostics)
    styles = "".join(p.read_text(encoding="utf-8") for p in house.stylesheets())
    return fonts.css() + styles


def lay_out_paragraphs(css: str, body: str, width_em: int = 20):
    document = paragraphs_document(css, body, width_em)
    return [line for page in document.pages for line in _content_lines(page._page_box)]


def paragraphs_document(css: str, body: str, width_em: int = 20):
    """The paragraphs of `body` in a column `width_em` wide, set in the house style: the document."""
    install_weasyprint_extensions()
    html = (f'<html lang="zh-Hans-CN"><style>{css} @page {{ size: 150mm 200mm; margin: 10mm; }}'
            f".article {{ width: {width_em}em; break-before: auto; }}</style>"
            f'<body><article class="article columns-1"><div class="article-body">{refine(body, END)}'
            "</div></article></body></html>")
    return weasyprint.HTML(string=html).render()


def line_right(line) -> float:
    """Where the last glyph of the line ends."""
    right = line.position_x

    def walk(box):
        nonlocal right
        if isinstance(box, boxes.TextBox):
            right = max(right, box.position_x + box.width)
        for child in getattr(box, "children", ()):
            walk(child)

    walk(line)
    return right


PARAGRAPH = ("省直机关各级党组织和广大党员干部要充分了解中国共产党党史中包含的社会主义核心价值体系的根本内涵，"
             "是马克思主义和中国具体国情相结合的结果，“两个确立”、坚决做到“两个维护”。有 36 家单位获得2024年"
             "荣誉，BTX建设和eVTOL产业，占98.1%。")


def test_justified_lines_are_flush_and_heads_are_not_spread(house_css):
    lines = lay_out_paragraphs(house_css, f"<h2>一、标题不拉开</h2><p>{PARAGRAPH}</p><p>{PARAGRAPH}</p>")
    heading, body = lines[0], lines[1:]
    column_right = max(line_right(line) for line in body)
    texts = [_line_text(line) for line in body]
    last_lines = {i for i, text in enumerate(texts) if text.endswith(("□", "。")) and
                  (i + 1 == len(texts) or texts[i + 1].startswith("省直"))}
    for i, line in enumerate(body):
        if i not in last_lines:
            assert line_right(line) == pytest.approx(column_right, abs=0.5), texts[i]
    assert line_right(heading) < column_right - 100  # a head stays as set, not spread


def test_a_line_pushes_in_before_it_pushes_out(house_css):
    # indent + 18 characters fill the line; the 19th, a comma, may not start the next one.
    # Pushed out, 八 would go down with it and the line would open up by an em; pushed in, the
    # marks give their blank halves (the line-end comma first) and the line keeps both.
    source = "一二三四五，七八九十、二三四五六七八，后面还有文字继续写下去，再写一句。"
    lines = lay_out_paragraphs(house_css, f"<p>{source}</p>", width_em=20)
    texts = [_line_text(line) for line in lines]
    assert texts[0] == "一二三四五，七八九十、二三四五六七八，", texts
    column_right = lines[0].position_x + lines[0].width
    assert line_right(lines[0]) <= column_right + 0.01  # compressed to the measure, not past it
    assert "".join(texts).replace("□", "") == source  # the text is unchanged


def test_wide_text_is_drafted_shorter_and_broken_into_the_same_lines(house_css, monkeypatch):
    """pushin._split_first_wide_line: where at least half of the text is wide, WeasyPrint's search
    for a line lays out a draft of 1.75 line widths' worth of characters instead of 4, and every
    line of a mixed paragraph (Latin, numbers, quotes, marks at the ends) comes out the same."""
    from weasyprint.text import line_break

    from typeset.body import pushin

    install_weasyprint_extensions()
    drafted = []  # the length of each text Pango lays out
    create_layout = line_break.create_layout
    monkeypatch.setattr(line_break, "create_layout", lambda text, *args: drafted.append(len(text))
                        or create_layout(text, *args))
    chinese = re.sub(r"[^\u4e00-\u9fff，。、“”]", "", PARAGRAPH)
    body = f"<h2>一、标题</h2><p>{PARAGRAPH * 2}</p><p>{chinese * 3}</p>"

    def laid_out():
        drafted.clear()
        lines = lay_out_paragraphs(house_css, body)  # 20 em wide: a draft of 1.75 widths is 35 characters
        return ([(_line_text(line), round(line.position_y, 3), round(line_right(line), 3)) for line in lines],
                sum(1 for length in drafted if length > 35))

    shorter = laid_out()
    assert pushin._split_first_wide_line is not None
    monkeypatch.setattr(pushin, "_split_first_wide_line", None)
    as_weasyprint_drafts = laid_out()
    assert shorter[0] == as_weasyprint_drafts[0] and len(shorter[0]) > 15
    assert shorter[1] * 3 <= as_weasyprint_drafts[1], (shorter[1], as_weasyprint_drafts[1])


@pytest.mark.parametrize("tracking", ["0", "0.03em", "-0.03em"])
def test_a_line_is_measured_in_its_draft_as_weasyprint_measures_it_alone(house_css, monkeypatch, tracking):
    """engine._first_lines_shaped_once: a line found in a draft of its paragraph is measured
    there, not laid out again alone; every line comes out where WeasyPrint sets it, at any
    tracking copyfitting gives (Chinese, Latin words and numbers, marks pushed in)."""
    from weasyprint.text import line_break

    install_weasyprint_extensions()
    shaped = []
    set_text = line_break.Layout.set_text
    monkeypatch.setattr(line_break.Layout, "set_text", lambda layout, text, *args: shaped.append(text)
                        or set_text(layout, text, *args))
    css = house_css + f" .article-body p {{ letter-spacing: {tracking} }}"
    body = f"<p>{PARAGRAPH * 3}</p><p>{PARAGRAPH}</p>"

    def laid_out():
        shaped.clear()
        lines = lay_out_paragraphs(css, body)
        return ([(_line_text(line), round(line.position_y, 3), round(line_right(line), 3)) for line in lines],
                len(shaped))

    once = laid_out()
    monkeypatch.setattr(line_break, "first_line_metrics", line_break.first_line_metrics.weasyprint)
    twice = laid_out()
    assert once[0] == twice[0] and len(once[0]) > 15
    assert once[1] + 15 <= twice[1], (once[1], twice[1])  # a layout fewer a line


@pytest.mark.parametrize("tracking", ["0", "0.03em"])
def test_layouts_share_their_set_up_and_come_out_as_weasyprint_sets_each_up(house_css, monkeypatch, tracking):
    """shaping: the Pango context of each direction and language, and each font description,
    made once for every layout that asks for it; every line comes out where WeasyPrint's own
    set-up of each layout puts it (Chinese, an English phrase, tracking, an underline, bold)."""
    from weasyprint.text import line_break

    install_weasyprint_extensions()
    css = house_css + f" .article-body p {{ letter-spacing: {tracking} }}"
    body = (f'<p>{PARAGRAPH * 2}<span lang="en">Set in Beijing, 2024</span><u>下划线的字</u><strong>加粗的字</strong><span style="font-family: var(--font-hei); font-weight: 700">更粗的字</span>{PARAGRAPH}</p>'
            f"<p>{PARAGRAPH}</p>")
    set_ups = []
    shared_set_up = line_break.Layout.setup
    monkeypatch.setattr(line_break.Layout, "setup", lambda layout, style: set_ups.append(style.font_config)
                        or shared_set_up(layout, style))

    def laid_out_and_drawn():
        document = paragraphs_document(css, body)
        lines = [line for page in document.pages for line in _content_lines(page._page_box)]
        with pdfplumber.open(io.BytesIO(document.write_pdf())) as pdf:
            # each character with the font it is drawn in (the name less its subset tag) and where
            drawn = [(char["text"], char["fontname"].split("+")[-1], round(char["x0"], 2), round(char["top"], 2))
                     for page in pdf.pages for char in page.chars]
        return [(_line_text(line), round(line.position_y, 3), round(line_right(line), 3)) for line in lines], drawn

    shared = laid_out_and_drawn()
    contexts = set_ups[-1].__dict__["_typeset_contexts"]
    assert set(contexts) == {("ltr", "zh-Hans-CN"), ("ltr", "en")} and len(set_ups) > 100
    assert len({font for _text, font, _x, _y in shared[1]}) >= 3  # the bold words: faces of their own
    monkeypatch.setattr(line_break.Layout, "setup", shared_set_up.weasyprint)
    assert laid_out_and_drawn() == shared and len(shared[0]) > 8


def test_a_line_pushes_in_a_piece_that_starts_in_the_next_inline_box(house_css):
    # the paragraph's last two characters and its full stop are kept together in a box of their
    # own (no 孤字): rather than leave the line three characters short, its marks make the room
    source = "一二，四五，七八、十一、三四五六七八九十，二三，五六、八九，一二三四五六七。"
    lines = lay_out_paragraphs(house_css, f"<p>{source}</p>", width_em=20)
    texts = [_line_text(line) for line in lines]
    assert texts == ["一二，四五，七八、十一、三四五六七八", "九十，二三，五六、八九，一二三四五六七。□"], texts
    assert line_right(lines[1]) == pytest.approx(line_right(lines[0]), abs=0.5)  # squeezed to the measure


def test_a_line_without_room_to_push_in_is_pushed_out(house_css):
    # the same line with no mark inside it: the line-end comma alone cannot make an em of room
    lines = lay_out_paragraphs(house_css, "<p>一二三四五六七八九十一二三四五六七八，后面还有文字继续写下去。</p>",
                               width_em=20)
    texts = [_line_text(line) for line in lines]
    assert texts[0] == "一二三四五六七八九十一二三四五六七", texts
    assert texts[1].startswith("八，")


def test_a_long_head_breaks_between_phrases_in_lines_of_similar_length(house_css):
    lines = lay_out_paragraphs(house_css, "<h2>一、加强领导，在“超前”上谋划、在“精准”上着力</h2><p>正文。</p>",
                               width_em=18)
    texts = [_line_text(line) for line in lines[:2]]
    assert texts == ["一、加强领导，在“超前”上谋划、", "在“精准”上着力"], texts


def test_a_head_keeps_a_quoted_word_and_a_book_title_whole(house_css):
    head = "二、坚持问题导向推动《党史学习教育工作条例》落地见效确保“各项任务”落到实处"
    lines = lay_out_paragraphs(house_css, f"<h2>{head}</h2><p>正文。</p>", width_em=14)
    texts = [_line_text(line) for line in lines if "正文" not in _line_text(line)]
    assert "".join(texts) == head
    for text in texts:
        assert text.count("《") == text.count("》") and text.count("“") == text.count("”"), texts


def test_no_line_starts_with_closing_punctuation_after_bold(house_css):
    # 18 characters of bold fill the line but for its full stop: the stop must not open the next line
    lines = lay_out_paragraphs(house_css, "<p><strong>要在学好用好党史中坚定理想信念而</strong>。继续说明理由和做法，"
                                          "再写一句话凑足字数。</p>", width_em=20)
    texts = [_line_text(line) for line in lines]
    assert all(not t.startswith(("。", "，")) for t in texts), texts


def test_no_single_character_last_line(house_css):
    # 19 characters + indent: the 20th would stand alone on the last line
    lines = lay_out_paragraphs(house_css, "<p>一二三四五六七八九十一二三四五六七八九十。</p>", width_em=20)
    texts = [_line_text(line) for line in lines]
    assert len([c for c in texts[-1] if c not in "。□"]) >= 2, texts


def test_dashes_and_ellipses_are_not_split(house_css):
    for mark in ("——", "……"):
        lines = lay_out_paragraphs(house_css, f"<p>一二三四五六七八九十一二三四五六七{mark}八九十一二三四五六。</p>")
        texts = [_line_text(line) for line in lines]
        assert not any(t.endswith(mark[0]) and not t.endswith(mark) for t in texts), texts


def _audit(build, issue_dir: Path):
    result, out = build
    assert result.returncode in (0, 3), result.stderr
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    audit = audit_issue(out / "issue.pdf", report, issue_dir)
    print(f"\ntypography audit of {issue_dir.name}: {audit.summary()}")
    for fault, examples in audit.examples.items():
        print(f"  {fault}: {examples}")
    return audit


def test_audit_of_the_reference_issue_finds_no_fault(reference_build):
    audit = _audit(reference_build, REFERENCE)
    assert audit.lines > 1500  # it read the body text of every page
    assert {fault: audit.counts[fault] for fault in FAULTS} == dict.fromkeys(FAULTS, 0)
    # lines justification opened up by more than a tenth of an em (42 before push-in): a number or
    # a paragraph's last characters its punctuation cannot make room for
    assert audit.counts["loose_lines"] <= 5


def test_audit_of_the_demo_issue_finds_no_fault(demo_build):
    audit = _audit(demo_build, DEMO)
    assert audit.lines > 150
    assert {fault: audit.counts[fault] for fault in FAULTS} == dict.fromkeys(FAULTS, 0)


def test_latin_lines_keep_latin_justification(house_css):
    """An English paragraph is justified at its word spaces (WeasyPrint's own way), its letters
    as the font sets them; a line with Chinese spreads the space between characters."""
    english = ("Typesetting is an old craft: from metal type to photosetting and desktop publishing the "
               "tools changed with every generation, but the rules stayed. Every column is flush on both "
               "edges, and the space a line needs goes between its words.")
    lines = lay_out_paragraphs(house_css, f"<p>{english}</p><p>{PARAGRAPH}</p>", width_em=24)
    latin = [line for line in lines if _line_text(line).isascii()]
    assert len(latin) >= 4
    column_right = max(line_right(line) for line in lines)
    for line in latin[:-1]:  # all but the paragraph's last line: flush, the space at the word spaces
        assert line_right(line) == pytest.approx(column_right, abs=0.5), _line_text(line)
        texts = [box for box in line.descendants() if isinstance(box, boxes.TextBox)]
        assert not any(getattr(box.pango_layout, "typeset_extra_after", None) for box in texts)
        assert any(box.justification_spacing > 0 for box in texts)
    chinese = [line for line in lines if not _line_text(line).isascii()]
    widened = [box for line in chinese[:-1] for box in line.descendants() if isinstance(box, boxes.TextBox)
               and getattr(box.pango_layout, "typeset_extra_after", None)]
    assert widened  # the Chinese lines are justified between characters
