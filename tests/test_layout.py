"""Pagination on the page plan, checked on WeasyPrint's laid-out pages."""

import hashlib
import io
from collections import Counter
from dataclasses import replace
from types import SimpleNamespace

import pikepdf
import pytest
from conftest import PARAGRAPH, article, pdf_text_by_page, write_issue

from weasyprint.formatting_structure import boxes
from weasyprint.layout import inline

from typeset.body import columns
from typeset.body.measure import content_lines as _content_lines
from typeset.body.measure import line_text as _line_text
from typeset.body.measure import page_signature
from typeset.body.planning import lay_out
from typeset.diagnostics import Diagnostics
from typeset.inputs.articles import read_articles
from typeset.inputs.fonts import load_fonts
from typeset.inputs.house import find_house
from typeset.inputs.manifest import load_manifest


def layout_of(root, jobs=None, parts=False):
    diagnostics = Diagnostics()
    manifest = load_manifest(root, diagnostics, display_root="issue")
    articles = read_articles(manifest, diagnostics)
    house = find_house(root, "issue")
    fonts = load_fonts(house.dirs("fonts"), {}, diagnostics)
    diagnostics.raise_if_errors()
    return lay_out(manifest, articles, house, fonts, diagnostics, jobs=jobs, parts=parts), diagnostics


def page_text(page) -> str:
    return "".join(_line_text(line) for line in _content_lines(page._page_box))


def plan(*entries: str) -> str:
    rows = "".join(f"      - {{{e}}}\n" for e in entries)
    return ("magazine: {name: 测试刊}\nissue: {year: 2026, number: 1}\npage: {trim: [210mm, 285mm]}\n"
            'contents: {pages: "2"}\nsections:\n  - title: 专题\n    articles:\n' + rows)


@pytest.fixture(scope="module")
def planned_issue(tmp_path_factory):
    """Page 1 overset, contents on 2, a short article on 3-5 (two blank pages), one unplanned after it."""
    return write_issue(tmp_path_factory.mktemp("planned") / "issue", plan(
        'file: articles/long.md, pages: "1"', 'file: articles/short.md, pages: "3-5"', "file: articles/free.md"), {
        "articles/long.md": article("长文", paragraphs=40),
        "articles/short.md": article("短文", paragraphs=14),
        "articles/free.md": article("自由", paragraphs=2),
    })


@pytest.fixture(scope="module")
def planned(planned_issue):
    return layout_of(planned_issue)


def test_articles_start_on_planned_pages_with_folios(planned):
    body, _ = planned
    assert body.folios == [1, 2, 3, 4, 5, 6]
    assert [(s.folio, s.kind, s.page) for s in body.slots] == [
        (1, "article", 0), (2, "reserved", None), (3, "article", 1), (4, "underfill", None),
        (5, "underfill", None), (6, "article", 2)]
    assert [(f.article.slug, f.first_folio, f.last_folio) for f in body.fits] == [
        ("long", 1, 1), ("short", 3, 3), ("free", 6, 6)]
    texts = [page_text(p) for p in body.document.pages]
    assert len(texts) == 3  # only pages with text are laid out; the others are added at assembly
    assert texts[0].startswith("专题长文") and texts[1].startswith("专题短文") and texts[2].startswith("专题自由")
    assert body.blank_pages == [(2, "reserved"), (4, "underfill"), (5, "underfill")]
    assert body.passes == 2  # the article without planned pages is numbered in a second pass


def test_overset_is_measured_and_not_placed(planned):
    body, _ = planned
    long = body.fits[0]
    assert long.pages_needed >= 2 and long.pages_kept == 1
    assert long.overset_lines > 20 and long.overset_chars > 20 * 20
    # none of the overset text reached another page
    assert sum(page_text(p).count("排版是一门老手艺") for p in body.document.pages) < 40


def test_underfill_counts_blank_planned_pages(planned):
    body, _ = planned
    short = body.fits[1]
    assert short.blank_folios == [4, 5]
    assert short.underfill_lines > 2 * short.lines_per_page
    assert 0 < short.underfill_mm < 250


def test_pages_keep_their_side_after_dropped_overset_pages(planned):
    body, _ = planned
    article_folios = [s.folio for s in body.slots if s.kind == "article"]
    sides = [p._page_box.page_type.side for p in body.document.pages]
    assert sides == ["right" if folio % 2 else "left" for folio in article_folios]


def test_columns_option_sets_the_number_of_columns(tmp_path):
    text = "\n\n".join([PARAGRAPH] * 12)
    root = write_issue(tmp_path / "issue", plan('file: articles/a.md, pages: "1"', 'file: articles/b.md, pages: "3"'), {
        # the house style as it is: nothing loosened, so one layout pass on one process sets both
        # (worker processes lay the articles out apart, and the pages kept then take a pass of their own)
        "articles/a.md": article("三栏", extra_front="columns: 3\nfit: {leading: false, tracking: false, size: false}\n",
                                 body=text),
        "articles/b.md": article("通栏", extra_front="columns: 1\nfit: {leading: false, tracking: false, size: false}\n",
                                 body=text),
    })
    body, _ = layout_of(root, jobs=1)

    def column_count(page):
        xs = Counter(round(line.position_x) for line in _content_lines(page._page_box) if _line_text(line).strip())
        return sum(1 for n in xs.values() if n > 3)

    assert body.passes == 1
    assert column_count(body.document.pages[0]) == 3
    assert column_count(body.document.pages[1]) == 1


def test_parts_link_into_the_pages_of_one_document(planned, planned_issue, tmp_path):
    """Each article's PDF part, linked, gives the pages one document of the whole body gives:
    the same text on each page, the same sides, and each face embedded once, subset as
    WeasyPrint subsets it for one document (the same font program, byte for byte, and the same
    widths), its program compressed."""
    whole, _ = planned
    linked, _ = layout_of(planned_issue, parts=True)
    assert linked.document is None and [count for _part, count in linked.parts] == [1, 1, 1]
    assert [(s.folio, s.kind, s.page) for s in linked.slots] == [(s.folio, s.kind, s.page) for s in whole.slots]
    # a part still being written is waited for last, its fonts merged in the parts' order all the same
    waited = []
    later = [(part, count) if index != 1 else (lambda part=part: waited.append(1) or part, count)
             for index, (part, count) in enumerate(linked.parts)]
    files = {"whole": whole.write_pdf(), "linked": linked.write_pdf(),
             "waited": replace(linked, parts=later).write_pdf()}
    texts, programs = {}, {}
    for name, data in files.items():
        (tmp_path / f"{name}.pdf").write_bytes(data)
        texts[name] = pdf_text_by_page(tmp_path / f"{name}.pdf")
        with pikepdf.open(io.BytesIO(data)) as pdf:
            fonts = {font.objgen: font for page in pdf.pages for font in page.Resources.Font.values()}
            programs[name] = sorted((str(font.BaseFont).split("+")[1], _program(font),
                                     font.DescendantFonts[0].W.unparse(resolved=True)) for font in fonts.values())
            assert all(_filter(font) == "/FlateDecode" for font in fonts.values())
    assert len(texts["linked"]) == 3 and texts["linked"] == texts["whole"]
    names = [name for name, _program_bytes, _widths in programs["linked"]]
    assert len(names) == len(set(names))  # one font per face and weight
    assert programs["linked"] == programs["whole"]
    assert waited == [1] and (texts["waited"], programs["waited"]) == (texts["linked"], programs["linked"])


def _program(font) -> bytes:
    descriptor = font.DescendantFonts[0].FontDescriptor
    return descriptor.get("/FontFile3", descriptor.get("/FontFile2")).read_bytes()


def _filter(font) -> str:
    descriptor = font.DescendantFonts[0].FontDescriptor
    return str(descriptor.get("/FontFile3", descriptor.get("/FontFile2")).get("/Filter"))


def test_a_part_names_each_face_by_its_files_digest_found_without_hashing_the_face(planned_issue, monkeypatch):
    """A part names each face by its file's SHA-256, the file the linker embeds. `lay_out` reads
    the issue's font files before it forks: a face is then known by its size and ends, not hashed
    again (some 20 ms) in every worker process for every face. A face not among them is hashed,
    to the same name."""
    from typeset.body import engine, planning

    def faces_named(body) -> set[str]:
        named = set()
        for part, _count in body.parts:
            with pikepdf.open(io.BytesIO(part)) as pdf:
                for font in {f.objgen: f for page in pdf.pages for f in page.Resources.Font.values()}.values():
                    program = _program(font)
                    assert program[4:4 + len(engine.FACE_MARKER)] == engine.FACE_MARKER
                    named.add(program[4 + len(engine.FACE_MARKER):].decode())
        return named

    hashed = []

    def sha256(data=b""):
        hashed.append(len(data))
        return hashlib.sha256(data)

    monkeypatch.setattr(engine, "hashlib", SimpleNamespace(sha256=sha256, md5=hashlib.md5))
    engine._face_placeholders.clear()
    known, _ = layout_of(planned_issue, jobs=1, parts=True)
    assert hashed == [] and faces_named(known) and faces_named(known) <= set(known.faces)

    monkeypatch.setattr(planning, "know_faces", lambda faces: None)
    monkeypatch.setattr(engine, "_known_faces", {})
    engine._face_placeholders.clear()
    unknown, _ = layout_of(planned_issue, jobs=1, parts=True)
    assert len(hashed) == len(faces_named(unknown)) and faces_named(unknown) == faces_named(known)
    engine._face_placeholders.clear()


def test_two_font_files_alike_in_size_and_ends_are_not_told_apart_by_them(tmp_path, monkeypatch):
    """`know_faces` keys a file by its size and first and last 4 KB; two files alike in those
    (never seen in real fonts, whose headers differ) name neither: their faces are hashed."""
    from typeset.body import engine

    monkeypatch.setattr(engine, "_known_faces", {})
    ends = b"OTTO" + bytes(engine._ENDS * 2)
    first, second, other = tmp_path / "a.otf", tmp_path / "b.otf", tmp_path / "c.otf"
    first.write_bytes(ends[:engine._ENDS] + b"1" * 100 + ends[engine._ENDS:])
    second.write_bytes(ends[:engine._ENDS] + b"2" * 100 + ends[engine._ENDS:])
    other.write_bytes(b"OTTO" + b"3" * 5000)
    engine.know_faces({"digest-a": first, "digest-b": second, "digest-c": other})
    assert sorted(engine._known_faces.values(), key=str) == [("digest-c", other), None]


def test_weasyprint_is_handed_the_font_files_by_link_not_by_copy(planned_issue, tmp_path):
    """WeasyPrint writes a copy of every face it loads into a folder for fontconfig (150 MB with
    the CJK faces); the engines' folders link each face to its font file, and write other data
    into a new file, never into one that is there (a face being read, or a font file behind a link)."""
    from typeset.body import engine

    layout_of(planned_issue, jobs=1)
    folders = [config._folder for config in engine._font_configurations.values() if config._folder is not None]
    faces = [face for folder in folders for face in folder.iterdir()]
    font_files = {known[1].resolve() for known in engine._known_faces.values() if known is not None}
    assert len(faces) >= 4 and all(face.is_symlink() and face.resolve() in font_files for face in faces)

    font = next(iter(font_files))
    folder = engine._FontFolder(tmp_path)
    face = folder / "face"
    face.write_bytes(font.read_bytes())
    face.write_bytes(font.read_bytes())  # as a second process adding the face
    assert face.is_symlink() and face.resolve() == font
    size = font.stat().st_size
    face.write_bytes(b"OTTO" + bytes(engine._ENDS))
    assert not face.is_symlink() and face.read_bytes() == b"OTTO" + bytes(engine._ENDS)
    assert font.stat().st_size == size and [p.name for p in tmp_path.iterdir()] == ["face"]


def test_weasyprint_is_handed_the_font_files_mapped_not_read(planned_issue, monkeypatch):
    """WeasyPrint read every face whole before handing it to its font folder (143 MB for the
    reference issue's six faces, in each process's first layout); the engine's fetcher hands it
    the issue's font files mapped, and the folder links each to its file as before."""
    import mmap

    from typeset.body import engine

    handed = []
    write_bytes = engine._FontFolder.write_bytes
    monkeypatch.setattr(engine._FontFolder, "write_bytes",
                        lambda folder, data: handed.append(type(data)) or write_bytes(folder, data))
    monkeypatch.setattr(engine, "_font_configurations", {})  # a process's first layout: every face added
    layout_of(planned_issue, jobs=1)
    folders = [config._folder for config in engine._font_configurations.values()]
    assert len(handed) >= 4 and set(handed) == {mmap.mmap}
    assert all(face.is_symlink() for folder in folders for face in folder.iterdir())


def test_a_layout_process_that_dies_ends_the_build_with_an_error(planned_issue, monkeypatch):
    """A worker process killed (or crashed in a library) mid-layout: the build says so and ends,
    where a multiprocessing pool forked another and waited for ever for the lost work."""
    import os

    from typeset.body import engine
    from typeset.diagnostics import OutputError

    planning_process, render = os.getpid(), engine.Engine.render

    def render_or_die(self, *args, **kwargs):
        if os.getpid() != planning_process:
            os._exit(70)
        return render(self, *args, **kwargs)

    monkeypatch.setattr(engine.Engine, "render", render_or_die)
    with pytest.raises(OutputError) as raised:
        layout_of(planned_issue, jobs=2)
    assert [d.message for d in raised.value.diagnostics.errors] == [
        "a layout process ended before its work was done (killed, or crashed in a library)"]


def test_the_linker_reads_widths_from_runs_of_integers_and_reals_in_an_indirect_array():
    from typeset.pdf.link import _widths

    pdf = pikepdf.new()
    widths = pdf.make_indirect(pikepdf.Array([3, pikepdf.Array([1000, 500.5, -20]), 10, pikepdf.Array([250])]))
    assert _widths(widths) == {3: 1000.0, 4: 500.5, 5: -20.0, 10: 250.0}
    assert _widths(pikepdf.Array()) == {}


def test_columns_are_laid_out_once_as_weasyprint_lays_them_out_twice(tmp_path, monkeypatch):
    """Every box of every page where it would be without the column and line memos (body/columns.py):
    full pages of two columns, the balanced last page, a heading in the text; and each line broken
    about once, where WeasyPrint breaks the lines of a balanced page again at every height it tries."""
    root = write_issue(tmp_path / "issue", plan('file: articles/long.md, pages: "3-5"'), {
        "articles/long.md": article("长文", paragraphs=30, body="\n\n".join(
            [PARAGRAPH] * 20 + ["## 小标题"] + [PARAGRAPH] * 24))})
    broken = Counter()
    split = inline.split_inline_box

    def counting(context, box, *args):
        broken[columns._enabled.get()] += isinstance(box, boxes.LineBox)
        return split(context, box, *args)

    monkeypatch.setattr(inline, "split_inline_box", counting)
    with_memo, _ = layout_of(root, jobs=1)
    with columns.disabled():
        without, _ = layout_of(root, jobs=1)
    signatures = [[page_signature(page) for page in body.document.pages] for body in (with_memo, without)]
    assert len(signatures[0]) == 3 and signatures[0] == signatures[1]
    assert broken[True] * 2 < broken[False]  # 582 against 1464 when written


def test_margin_boxes_and_backgrounds_are_made_when_a_page_is_painted():
    """body/decorations.py: typeset's layouts leave a page's folio, running head and backgrounds
    until it is painted (or read whole); then they are what WeasyPrint makes at once, box for box
    and byte for byte. Margin boxes that could hold an anchor (a running element) are made at once."""
    import weasyprint

    from typeset.body import decorations
    from typeset.body.engine import install_extensions

    install_extensions()
    page_css = ("@page { size: 100mm 150mm; margin: 20mm; background: rgb(250, 240, 230);"
                " @top-right { content: string(section); } @bottom-center { content: counter(page); } }"
                " h1 { string-set: section content(); background: rgb(0, 0, 0); }")
    html = f"<style>{page_css}</style><h1>要言要论</h1>" + "<p>一二三四五六七八九十</p>" * 60

    def margin_boxes(document):
        return [[type(b).__name__ for b in page._page_box.children if isinstance(b, boxes.MarginBox)]
                for page in document.pages]

    at_once = weasyprint.HTML(string=html).render()
    with decorations.later():
        when_painted = weasyprint.HTML(string=html).render()
        running = weasyprint.HTML(string=html.replace("content: string(section)", "content: element(head)")
                                  .replace("<h1>", "<h1 style='position: running(head)'>")).render()
    assert len(at_once.pages) == len(when_painted.pages) > 1
    assert all(len(found) == 2 for found in margin_boxes(at_once))
    assert margin_boxes(when_painted) == [[]] * len(when_painted.pages)
    assert all(found for found in margin_boxes(running))  # a running element: made with the page
    painted = [_drawn(pdf) for pdf in (when_painted.write_pdf(), at_once.write_pdf())]  # painting makes them
    assert painted[0] == painted[1] and all("要言要论" in page for page in painted[0][1:])
    assert margin_boxes(when_painted) == margin_boxes(at_once)
    with decorations.later():
        read_whole = weasyprint.HTML(string=html).render()
    assert [page_signature(page) for page in read_whole.pages] == [page_signature(page) for page in at_once.pages]


def test_a_style_keeps_its_strut_and_a_copy_of_another_size_gets_its_own():
    """engine._struts_kept_with_their_styles: a line's strut is WeasyPrint's, looked up once per
    style; a copy of the style set to another size (as WeasyPrint changes one) is looked up anew."""
    import weasyprint
    from weasyprint.text import line_break

    from typeset.body.engine import install_extensions

    install_extensions()
    document = weasyprint.HTML(string="<p style='font-size: 20px; line-height: normal'>一二三</p>").render()
    text = next(box for box in document.pages[0]._page_box.descendants() if isinstance(box, boxes.TextBox))
    style = text.style
    looked_up = line_break.strut(style)
    assert style._typeset_strut is looked_up and line_break.strut(style) is looked_up
    assert looked_up == line_break.strut.__closure__[0].cell_contents(style)  # WeasyPrint's own
    bigger = style.copy()
    bigger["font_size"] = 40
    assert "_typeset_strut" not in bigger.__dict__
    assert line_break.strut(bigger)[0] == pytest.approx(2 * looked_up[0], rel=0.01)


def _drawn(pdf: bytes) -> list[str]:
    """Each page's drawing instructions, with its text as the PDF gives it to a reader."""
    import pdfplumber

    with pikepdf.open(io.BytesIO(pdf)) as document:
        instructions = [str(pikepdf.unparse_content_stream(pikepdf.parse_content_stream(page)))
                        for page in document.pages]
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        return [f"{drawn}\n{page.extract_text()}" for drawn, page in zip(instructions, document.pages)]


def test_the_house_stylesheet_is_parsed_once_and_replayed_with_its_page_rules():
    """body/stylesheets.py: a second document with the same <style> takes the parsed stylesheet,
    its @page rules included; a stylesheet WeasyPrint warns about is parsed every time."""
    import weasyprint

    from typeset.body import stylesheets
    from typeset.body.engine import install_extensions

    install_extensions()
    house = "@page { size: 100mm 150mm; margin: 10mm } p { font-size: 20px; color: rgb(0, 128, 0) }"
    html = f"<style>{house}</style><style>@page {{ margin-left: 20mm }}</style><p>一</p>"
    pages = []
    for _ in range(2):
        document = weasyprint.HTML(string=html).render()
        page = document.pages[0]._page_box
        pages.append((document.pages[0].width, document.pages[0].height, page.margin_left, page_signature(document.pages[0])))
    assert pages[0] == pages[1]
    assert round(pages[1][0] * 25.4 / 96) == 100 and round(pages[1][2] * 25.4 / 96) == 20
    assert any(key[0] == house for key in stylesheets._kept)

    warned = "p { colour: red }"
    weasyprint.HTML(string=f"<style>{warned}</style><p>一</p>").render()
    assert not any(key[0] == warned for key in stylesheets._kept)


def test_the_first_pages_of_an_article_are_laid_out_as_the_whole_article_lays_them_out(tmp_path):
    """What a continuation's source keeps is laid out alone (`Engine.render(pages=…)`): the same
    pages, line for line, as the first pages of the whole article; the pages after them are not made."""
    from typeset.body.engine import Engine

    root = write_issue(tmp_path / "issue", plan('file: articles/long.md, pages: "3-5"'),
                       {"articles/long.md": article("长文", paragraphs=40)})
    diagnostics = Diagnostics()
    manifest = load_manifest(root, diagnostics, display_root="issue")
    articles = read_articles(manifest, diagnostics)
    house = find_house(root, "issue")
    engine = Engine(manifest, articles, house, load_fonts(house.dirs("fonts"), {}, diagnostics), diagnostics)
    whole = engine.render(articles, {articles[0].slug: 3})
    first_two = engine.render(articles, {articles[0].slug: 3}, pages=2)
    pages = [engine.pages_of(document, articles[0]) for document in (whole, first_two)]
    assert len(pages[0]) > 2 and len(pages[1]) == 2
    assert [page_signature(first_two.pages[i]) for i in pages[1]] == \
        [page_signature(whole.pages[i]) for i in pages[0][:2]]


def test_a_stylesheet_parsed_for_one_sandbox_serves_another_allowing_the_same_folders(tmp_path):
    """Each layout has a URL fetcher of its own: the house style a resident process's warm-up
    parsed serves the commands' layouts when their fetchers allow the same folders, not others."""
    from types import SimpleNamespace

    from typeset.body import stylesheets
    from typeset.body.engine import _SandboxedFetcher

    parsed_with = []

    def parse(**arguments):
        parsed_with.append(arguments["url_fetcher"])
        return SimpleNamespace(page_rules=None, layers=None)

    css = stylesheets._parsed_once(parse)
    first, second = (_SandboxedFetcher([tmp_path], Diagnostics()) for _ in range(2))
    elsewhere = _SandboxedFetcher([tmp_path / "elsewhere"], Diagnostics())
    for fetcher in (first, second, elsewhere, elsewhere):
        css(string=f"/* {tmp_path} */ p {{ color: red }}", base_url=tmp_path.as_uri() + "/", url_fetcher=fetcher,
            page_rules=[], layers=[])
    assert parsed_with == [first, elsewhere]


def test_what_is_laid_out_ahead_of_an_edited_article(tmp_path):
    """As the last build printed it (likely printed again: its part is written too), else at the
    loosest setting (likely printed too): one layout beside the edited article's own."""
    from typeset.body.filling import at_loosest
    from typeset.body.planning import _likely_next
    from typeset.inputs.copyfit import Setting, load_ranges

    root = write_issue(tmp_path / "issue", plan('file: articles/short.md, pages: "3-4"'),
                       {"articles/short.md": article("短文", paragraphs=14)})
    diagnostics = Diagnostics()
    edited = read_articles(load_manifest(root, diagnostics, display_root="issue"), diagnostics)[0]
    ranges = load_ranges(find_house(root, "issue"), diagnostics)
    loosest = at_loosest(ranges, edited)
    printed = replace(edited, fit=Setting(leading=0.04))
    assert _likely_next(ranges, None, {"articles/short.md": printed.fit}, edited) == [(printed, True)]
    assert _likely_next(ranges, None, {"articles/short.md": loosest.fit}, edited) == [(loosest, True)]
    assert _likely_next(ranges, None, {"articles/short.md": None}, edited) == [(loosest, True)]  # printed as it is
    assert _likely_next(ranges, None, {}, edited) == [(loosest, True)]


def test_the_settings_the_last_build_printed(tmp_path):
    from typeset.build import _printed_before
    from typeset.inputs.copyfit import Setting
    from typeset.report import ArticleReport, BuildReport

    def printed(file, fit_settings, fillers=()):
        return ArticleReport(file=file, title="", section="", planned=[1, 1], actual=[1, 1], pages_needed=1,
                             overset_lines=0, overset_chars=0, underfill_lines=0, underfill_mm=0.0, blank_pages=[],
                             continued_on=None, continuation=None, fit_settings=fit_settings, fit="ok",
                             fillers=list(fillers))

    report = BuildReport(issue={}, outputs={}, page_labels=[], folios=[], blank_pages=[], laid_out=[], warnings=[],
                         errors=[], articles=[printed("articles/a.md", {"leading": 0.04}), printed("articles/b.md", None),
                                              printed("articles/c.md", {"leading": 0.1}, [{"file": "fillers/x.md"}])])
    (tmp_path / "report.json").write_bytes(report.encode())
    assert _printed_before(tmp_path) == {"articles/a.md": Setting(leading=0.04), "articles/b.md": None}
    (tmp_path / "report.json").write_text("{")
    assert _printed_before(tmp_path) == {} and _printed_before(tmp_path / "none") == {} and _printed_before(None) == {}


def test_work_the_cache_has_every_layout_for_is_done_without_forking(monkeypatch):
    """Work whose layouts are all in the cache is done in the planning process (forking workers to
    look it up costs more than looking); work that needs a layout goes to a worker from its
    start. The results come back in the items' order."""
    import os

    from typeset.body import planning
    from typeset.body.layoutcache import LayoutCache

    class Engine:  # fillers stand for any layout: their "height" is the process that laid them out
        def filler_html(self, fillers):
            return "|".join(fillers)

        def filler_heights(self, html):
            return {"pid": float(os.getpid())}

    planner = planning._Planner(Engine(), LayoutCache(None), remember=True, jobs=2)
    here = planner.filler_heights(["known"])["pid"]
    assert here == os.getpid()

    def work(name):
        return planner.filler_heights(["known"])["pid"], planner.filler_heights([name])["pid"]

    results = planner.in_parallel(work, ["known", "new 1", "known", "new 2"])
    assert results[0] == results[2] == (here, here)
    assert results[1][0] == results[3][0] == here  # from the cache, in the worker too
    assert here != results[1][1] and here != results[3][1]  # laid out in a worker
    assert planner.filler_heights(["new 1"])["pid"] == results[1][1]  # and its layout kept here

    def no_fork(*args):
        raise AssertionError("forked for work the cache had")

    monkeypatch.setattr(planning.multiprocessing, "get_context", no_fork)
    assert planner.in_parallel(work, ["new 1", "new 2", "known"]) == [results[1], results[3], (here, here)]


def test_worker_processes_leave_what_they_inherit_out_of_their_garbage_collection():
    """Workers are forked with every object of the planning process frozen (`gc.freeze`): their
    collector never looks at those objects, nor writes into the memory pages they share. The
    planning process collects them again afterwards, unless it had frozen objects of its own
    before (a resident process's child). In a build the collector's older generations run
    rarely, in the workers too, and as before once it ends."""
    import gc
    import os

    from typeset.body import planning
    from typeset.body.layoutcache import LayoutCache
    from typeset.processes import BUILD_THRESHOLDS, few_collections, frozen_for_fork

    class Engine:  # a filler's "heights": what the process that laid it out knows of its collector
        def filler_html(self, fillers):
            return "|".join(fillers)

        def filler_heights(self, html):
            return {"pid": float(os.getpid()), "frozen": float(gc.get_freeze_count()),
                    "older runs after": float(gc.get_threshold()[1])}

    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    planner = planning._Planner(Engine(), LayoutCache(None), remember=True, jobs=2)
    with few_collections():
        seen = planner.in_parallel(lambda name: planner.filler_heights([name]), ["a", "b"])
        assert gc.get_threshold() == BUILD_THRESHOLDS
    assert all(found["pid"] != os.getpid() for found in seen)
    assert all(found["frozen"] > 10_000 and found["older runs after"] == BUILD_THRESHOLDS[1] for found in seen)
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before

    gc.freeze()  # as a resident process does before it forks a command's child
    try:
        inherited = gc.get_freeze_count()
        with frozen_for_fork():
            pass
        assert gc.get_freeze_count() >= inherited
    finally:
        gc.unfreeze()


def test_an_edited_article_is_laid_out_ahead_beside_its_first_layout(tmp_path):
    """After an edit, one process lays the article out as it is; another, which would wait, lays
    it out at the setting the last build printed it at, with its part (here the loosest setting,
    what filling settles on for an article that ends far short). The outcome is the
    one-process outcome; a layout made ahead is kept only when planning used it."""
    from typeset.body.engine import Engine
    from typeset.body.filling import at_loosest
    from typeset.body.layoutcache import LayoutCache
    from typeset.inputs.copyfit import load_ranges

    root = write_issue(tmp_path / "issue", plan('file: articles/short.md, pages: "3-4"', 'file: articles/long.md, pages: "5"'),
                       {"articles/short.md": article("短文", paragraphs=14), "articles/long.md": article("长文", paragraphs=6)})
    diagnostics = Diagnostics()

    def build(jobs, printed_before=None):
        manifest = load_manifest(root, diagnostics, display_root="issue")
        articles = read_articles(manifest, diagnostics)
        house = find_house(root, "issue")
        fonts = load_fonts(house.dirs("fonts"), {}, diagnostics)
        cache = LayoutCache(tmp_path / f"out{jobs}")
        body = lay_out(manifest, articles, house, fonts, diagnostics, cache, jobs=jobs, parts=True,
                       printed_before=printed_before)
        for name, data in cache.files().items():
            (cache.folder.parent.parent / name).parent.mkdir(parents=True, exist_ok=True)
            (cache.folder.parent.parent / name).write_bytes(data)
        return articles, Engine(manifest, articles, house, fonts, diagnostics), body, cache

    printed = {jobs: {f.article.entry.rel: f.article.fit for f in build(jobs)[2].fits} for jobs in (1, 2)}
    text = (root / "articles/short.md").read_text(encoding="utf-8")
    (root / "articles/short.md").write_text(text.replace("排版是一门", "排版本是一门", 1), encoding="utf-8")
    outcomes = {jobs: build(jobs, printed[jobs]) for jobs in (1, 2)}
    articles, engine, body, cache = outcomes[2]
    loosest = at_loosest(load_ranges(engine.house, diagnostics), articles[0])
    ahead = cache.key(engine.html([loosest], {loosest.slug: 3}), loosest)
    assert ahead in cache.new  # laid out beside the first layout
    before = replace(articles[0], fit=printed[2]["articles/short.md"])
    as_printed = cache.key(engine.html([before], {before.slug: 3}), before)
    assert as_printed in cache.new and as_printed in cache.new_parts  # with its part, likely printed
    assert [(f.article.fit, f.pages_kept, f.short_lines) for f in body.fits] == \
        [(f.article.fit, f.pages_kept, f.short_lines) for f in outcomes[1][2].fits]
    assert (ahead in cache.used) == (body.fits[0].article.fit is not None)
    assert body.fits[0].article.fit is not None  # the short article was loosened: what was laid out ahead was used
