"""Full pages: loosening, 补白 (fillers) and the foot of every article's last page, read from the PDF."""

import json
import re
import statistics
from collections import Counter
from pathlib import Path

import pytest
from conftest import DEMO, MINIMAL_MANIFEST, REFERENCE, article, pdf_text_by_page, run_cli, write_issue

from typeset.body.filling import MAX_FILLERS, choose_fillers
from typeset.diagnostics import Diagnostics, InputError
from typeset.inputs.copyfit import Setting, ladder, loosening, tightening
from typeset.inputs.fillers import Filler, read_fillers
from typeset.inputs.manifest import load_manifest

HOUSE = {"leading": (-0.15, 0.10), "tracking": (-0.03, 0.03), "size": (-0.5, 0.5), "photo_scale": (0.6, 1.0)}
BOTTOM_MARGIN_MM = 20  # styles/10-page.css: the foot of the text area
MM = 72 / 25.4


def test_loosening_runs_from_leading_to_size_within_the_ranges():
    steps = loosening(HOUSE)
    assert steps[0] == Setting(leading=0.02)
    assert steps[4] == Setting(leading=0.1)
    assert steps[-1] == Setting(leading=0.1, tracking=0.03, size=0.5)
    for setting in steps:
        assert 0 <= setting.leading <= 0.1 and 0 <= setting.tracking <= 0.03 and 0 <= setting.size <= 0.5
        assert setting.photo_scale == 1.0
    # an article that forbids loosening the leading is loosened by tracking and size only
    assert all(s.leading == 0 for s in loosening({**HOUSE, "leading": (-0.15, 0.0)}))
    assert loosening({}) == []


def test_the_ladder_runs_from_the_tightest_through_the_house_style_to_the_loosest():
    settings = ladder(HOUSE, has_photo=True)
    house = settings.index(Setting())
    assert settings[:house] == list(reversed(tightening(HOUSE, True)))
    assert settings[house + 1:] == loosening(HOUSE)
    assert settings[house - 1] == Setting(photo_scale=0.85)  # photos back to full size last of all


def _filler(slug: str, kind: str) -> Filler:
    return Filler(Path(f"fillers/{slug}.md"), f"fillers/{slug}.md", f"fillers/{slug}.md", kind=kind)


def test_choose_fillers_takes_the_fewest_that_reach_of_different_kinds():
    pool = [_filler("q1", "名言"), _filler("q2", "名言"), _filler("poem", "诗词"), _filler("note", "知识")]
    heights = {"q1": 60, "q2": 60, "poem": 107, "note": 171}
    # one filler reaches 100 px: the shortest that does
    assert [f.slug for f in choose_fillers(pool, heights, room=200, wanted=100)] == ["poem"]
    # 160 px in 170: the note is too tall; of the pairs that reach, the shortest, tallest first
    assert [f.slug for f in choose_fillers(pool, heights, room=170, wanted=160)] == ["poem", "q1"]
    # two quotations never stand under one article, even where they would fill best
    assert [f.slug for f in choose_fillers(pool, heights, room=125, wanted=120)] == ["poem"]
    # nothing reaches: the fullest that fits
    assert [f.slug for f in choose_fillers(pool, heights, room=400, wanted=390)] == ["note", "poem", "q1"]
    assert choose_fillers(pool, heights, room=50, wanted=10) == []
    assert MAX_FILLERS == 3


FILLER = "---\nkind: 名言\nsource: 《论语·颜渊》\n---\n\n政者，正也。子帅以正，孰敢不正？\n"
POEM = "---\nkind: 诗词\ntitle: 石灰吟\nsource: 明·于谦\n---\n\n千锤万凿出深山，烈火焚烧若等闲。\n\n粉骨碎身浑不怕，要留清白在人间。\n"


def _issue_with_fillers(tmp_path, entry_extra: str = "", top_extra: str = "", fillers: dict | None = None):
    manifest = MINIMAL_MANIFEST.replace('        pages: "1"\n', f'        pages: "1"\n{entry_extra}') + top_extra
    files = {"articles/a.md": article(paragraphs=6),
             **(fillers if fillers is not None else {"fillers/01-zheng.md": FILLER, "fillers/02-shihui.md": POEM})}
    return write_issue(tmp_path / "issue", manifest, files)


def test_the_pool_pinned_fillers_and_fillers_turned_off(tmp_path):
    root = _issue_with_fillers(tmp_path, "        fillers: fillers/02-shihui.md\n")
    pool = read_fillers(load_manifest(root, Diagnostics()), Diagnostics())
    assert [f.slug for f in pool.free] == ["01-zheng"]
    assert [f.slug for f in pool.pinned[root.resolve() / "articles" / "a.md"]] == ["02-shihui"]
    poem = pool.pinned[root.resolve() / "articles" / "a.md"][0]
    assert (poem.kind, poem.title, poem.source, poem.poem) == ("诗词", "石灰吟", "明·于谦", True)
    assert poem.text == "千锤万凿出深山，烈火焚烧若等闲。粉骨碎身浑不怕，要留清白在人间。"

    root = _issue_with_fillers(tmp_path / "off", "        fillers: false\n")
    pool = read_fillers(load_manifest(root, Diagnostics()), Diagnostics())
    assert pool.off == {root.resolve() / "articles" / "a.md"} and len(pool.free) == 2

    root = _issue_with_fillers(tmp_path / "none", top_extra="filling: false\n")
    assert read_fillers(load_manifest(root, Diagnostics()), Diagnostics()).free == []


def test_bad_filler_entries_are_reported_with_positions(tmp_path):
    root = _issue_with_fillers(tmp_path, "        fillers: [fillers/nope.md]\n", top_extra="filling: maybe\n")
    diagnostics = Diagnostics()
    with pytest.raises(InputError):
        load_manifest(root, diagnostics, display_root="issue")
    messages = [d.format() for d in diagnostics.errors]
    assert messages[0].startswith("issue/issue.yaml:13:19 sections[0].articles[0].fillers[0]: 'fillers/nope.md' does not "
                                  "exist"), messages
    assert messages[1] == "issue/issue.yaml:14:10 filling: expected true or false, got 'maybe'", messages


def test_a_filler_pinned_twice_and_a_filler_without_text(tmp_path):
    manifest = MINIMAL_MANIFEST.replace('        pages: "1"\n', '        pages: "1"\n        fillers: fillers/a.md\n'
                                        '      - file: articles/b.md\n        pages: "2"\n'
                                        '        fillers: fillers/a.md\n')
    root = write_issue(tmp_path / "issue", manifest, {"articles/a.md": article(), "articles/b.md": article(),
                                                      "fillers/a.md": FILLER, "fillers/empty.md": "---\nkind: 名言\n---\n"})
    diagnostics = Diagnostics()
    read_fillers(load_manifest(root, diagnostics, display_root="issue"), diagnostics)
    messages = [d.format() for d in diagnostics.errors]
    assert messages == [
        "issue/issue.yaml:16:18 sections[0].articles[1].fillers: 'issue/fillers/a.md' is already pinned at "
        "sections[0].articles[0].fillers\n  hint: a filler is printed once in an issue",
        "issue/fillers/empty.md:4 the filler has no text\n  hint: write the text below the front matter"]


def test_a_short_article_is_loosened_and_takes_fillers_unless_told_not_to(tmp_path):
    root = _issue_with_fillers(tmp_path)
    out = tmp_path / "out"
    result = run_cli("build", str(root), "-o", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    entry = report["articles"][0]
    assert [f["file"] for f in entry["fillers"]] == ["fillers/02-shihui.md", "fillers/01-zheng.md"]
    assert all(f["page"] == 1 and f["lines"] > 2 for f in entry["fillers"])
    assert entry["fit_settings"] and all(v > 0 for v in entry["fit_settings"].values())  # loosened
    page = report["page_labels"].index("1")
    text = pdf_text_by_page(out / "issue.pdf")[page].replace(" ", "").replace("\n", "")
    assert "千锤万凿出深山，烈火焚烧若等闲。" in text and "——《论语·颜渊》" in text
    assert "+ fillers 02-shihui, 01-zheng" in result.stdout

    off = _issue_with_fillers(tmp_path / "off", "        fillers: false\n")
    result = run_cli("build", str(off), "-o", str(tmp_path / "off-out"))
    entry = json.loads((tmp_path / "off-out" / "report.json").read_text(encoding="utf-8"))["articles"][0]
    assert entry["fillers"] == [] and entry["fit"] == "underfill"  # six paragraphs cannot fill a page


def test_loosening_and_the_fillers_measure_run_beside_copyfitting(tmp_path, monkeypatch):
    """planning._fit: the short article is loosened, and the fillers measured, in the run of work
    that tightens the long one; filling then lays out nothing to loosen it, only its fillers."""
    from typeset.body import planning
    from typeset.inputs.issue import read_issue

    manifest = MINIMAL_MANIFEST + '      - file: articles/b.md\n        pages: "2"\n'
    root = write_issue(tmp_path / "issue", manifest, {
        "articles/a.md": article("长", paragraphs=21), "articles/b.md": article("短", paragraphs=6),
        "fillers/01-zheng.md": FILLER, "fillers/02-shihui.md": POEM})
    runs: list[tuple[str, list]] = []  # each run of work: its stage, and what it laid out
    in_parallel, lay_out_alone, filler_heights = (planning._Planner.in_parallel, planning._Planner._lay_out_alone,
                                                  planning._Planner.filler_heights)

    def run(self, work, items, stage="layout"):
        runs.append((stage, []))
        return in_parallel(self, work, items, stage)

    def alone(self, article, start, key, stage, pages=None):
        runs[-1][1].append((article.slug, bool(article.fit), bool(article.fillers)))
        return lay_out_alone(self, article, start, key, stage, pages)

    def measured(self, fillers):
        runs[-1][1].append("fillers measured")
        return filler_heights(self, fillers)

    monkeypatch.setattr(planning._Planner, "in_parallel", run)
    monkeypatch.setattr(planning._Planner, "_lay_out_alone", alone)
    monkeypatch.setattr(planning._Planner, "filler_heights", measured)
    diagnostics = Diagnostics()
    read = read_issue(root, diagnostics)
    body = planning.lay_out(read.manifest, read.articles, read.house, read.fonts, diagnostics,
                            fillers=read.fillers, jobs=1)
    assert [fit.article.fit is not None for fit in body.fits] == [True, True]  # tightened, loosened
    assert body.fits[1].article.fillers
    stages = [stage for stage, _ in runs]
    assert stages.index("fit") < stages.index("fill")
    fit_run = runs[stages.index("fit")][1]
    assert ("a", True, False) in fit_run and ("b", True, False) in fit_run and "fillers measured" in fit_run
    filled = [laid for stage, laid in runs if stage == "fill" for laid in laid]
    assert filled and all(laid == "fillers measured" or laid[2] for laid in filled)  # with fillers only


def _shortfalls(pdf_path: Path, report: dict) -> dict[str, tuple[int, float]]:
    """Per article: the page of its last text, and how many body lines short of the foot of the
    text area its shortest column ends, read from the glyphs."""
    import pdfplumber

    found = {}
    with pdfplumber.open(pdf_path) as pdf:
        for entry in report["articles"]:
            folio = entry["actual"][1]
            page = pdf.pages[report["page_labels"].index(str(folio))]
            x0, y0, x1, _ = (float(v) for v in page.page_obj.attrs["TrimBox"])
            foot = float(page.height) - (y0 + BOTTOM_MARGIN_MM * MM)
            chars = [c for c in page.chars if c["text"].strip() and c["bottom"] <= foot + 1]
            body_size = Counter(round(c["size"], 1) for c in chars).most_common(1)[0][0]
            middle = (x0 + x1) / 2
            worst = 0.0
            for side in (lambda c: c["x1"] <= middle + 1, lambda c: c["x0"] >= middle - 1):
                column = [c for c in chars if side(c)]
                bottoms = sorted({round(c["bottom"], 1) for c in column if round(c["size"], 1) == body_size})
                pitch = statistics.mode(round(b - a, 1) for a, b in zip(bottoms, bottoms[1:]) if b - a > body_size)
                # a glyph's bottom stands above its line box's by half the leading and the descent
                below_glyph = (pitch - body_size) / 2 + 0.12 * body_size
                worst = max(worst, (foot - max(c["bottom"] for c in column) - below_glyph) / pitch)
            found[entry["file"]] = (folio, worst)
    return found


def _check_full_pages(build, issue_dir: Path) -> dict:
    result, out = build
    assert result.returncode in (0, 3), result.stderr
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    short = {file: (folio, round(lines, 1)) for file, (folio, lines) in _shortfalls(out / "issue.pdf", report).items()
             if lines >= 5}
    assert short == {}, short  # no column more than 4 body lines short of the foot
    placed = [f for entry in report["articles"] for f in entry["fillers"]]
    assert len({f["file"] for f in placed}) == len(placed)  # each filler printed once
    pages = dict(zip(report["page_labels"], pdf_text_by_page(out / "issue.pdf")))
    for filler in placed:
        text = (issue_dir / filler["file"]).read_text(encoding="utf-8").split("---", 2)[2]
        on_page = pages[str(filler["page"])].replace(" ", "").replace("\n", "")
        for paragraph in text.split("\n\n"):
            assert re.sub(r"\s+", "", paragraph) in on_page, (filler, paragraph)
    for entry in report["articles"]:
        for knob, value in (entry["fit_settings"] or {}).items():
            assert HOUSE[knob][0] <= value <= HOUSE[knob][1], entry["file"]
        assert entry["fit"] != "underfill", entry["file"]
    return report


def test_reference_issue_pages_are_full(reference_build):
    report = _check_full_pages(reference_build, REFERENCE)
    placed = [f for entry in report["articles"] for f in entry["fillers"]]
    assert len(placed) >= 5
    # the contents list the articles, never the fillers
    _, out = reference_build
    contents = "".join(pdf_text_by_page(out / "issue.pdf")[3:5])
    assert "补白" not in contents and "岳阳楼记" not in contents and "编校小知识" not in contents


def test_demo_issue_pages_are_full(demo_build):
    report = _check_full_pages(demo_build, DEMO)
    assert [f for entry in report["articles"] for f in entry["fillers"]]


def test_the_loosening_search_takes_a_confirmed_guess_or_what_trying_every_step_would():
    """filling._Search against its definition (the smallest step nearest the foot without running
    over; the loosest that fits when the loosest runs over), on made-up lengths that grow up the
    ladder, or a step the model guessed that a layout confirmed: it fits and ends within
    CLOSE_ENOUGH lines of the foot, or it is the loosest step; never further from the foot than
    the definition's choice, less a line. The article left unlaid (`trial=None`) changes the
    layouts, never the choice. Where the lengths grow as the model says, one layout settles it."""
    import random
    from dataclasses import dataclass, field

    from typeset.body.filling import CLOSE_ENOUGH, Filling, _looser_settings, _Search
    from typeset.body.layoutcache import Trial
    from typeset.inputs.copyfit import relative_length
    from typeset.inputs.fillers import FillerPool

    @dataclass(frozen=True)
    class Made:
        slug: str = "a"
        fit: Setting | None = None
        fit_limits: dict = field(default_factory=dict)
        figures: tuple = ()
        fillers: tuple = ()

    def trial_of(lines: int) -> Trial:  # two columns of 40 lines of 10 px a page
        pages = max(1, -(-lines // 40))
        placed = [[(None, 20)] * (2 * min(40, lines - 40 * page)) for page in range(pages)]
        return Trial(pages, placed, [10.0 * (40 * pages - lines)] * 2, 10.0, 400.0)

    rng = random.Random(5)
    steps = _looser_settings(HOUSE, Made())
    guessed_once = 0
    for case in range(400):
        if case % 2:
            lengths = sorted(rng.randint(60, 170) for _ in range(len(steps) + 1))  # the article, then each step
        else:  # as the model has it, rounded to lines
            base = rng.uniform(60, 119.4)  # the article itself fits (filling loosens no other)
            lengths = [round(base * relative_length(s)) for s in (None, *steps)]
        length_of = {None: lengths[0], **{s: n for s, n in zip(steps, lengths[1:])}}
        laid_out: list = []

        def alone(made):
            laid_out.append(made.fit)
            return trial_of(length_of[made.fit])

        filling = Filling(HOUSE, FillerPool([], {}, set()), {"a": 3}, alone, lambda fillers: {})
        trials = [trial_of(n) for n in lengths]
        deficits = [filling.deficit(Made(), t) for t in trials]
        if trials[-1].pages <= 3:
            expected = 0 if deficits[-1] >= deficits[0] else next(i for i, d in enumerate(deficits) if d <= deficits[-1])
        else:
            expected = next(i for i, t in enumerate(trials) if t.pages > 3) - 1
        for known in (True, False):
            laid_out.clear()
            made, trial = _Search(filling, Made(), trials[0] if known else None,
                                  estimate=rng.uniform(-80, 10)).nearest_foot()
            chosen = (None, *steps).index(made.fit)
            assert (trial.pages, trial.gaps) == (trials[chosen].pages, trials[chosen].gaps)
            if chosen != expected:  # a confirmed guess
                assert known and trials[chosen].pages <= 3, (case, lengths, chosen, expected)
                assert deficits[chosen] <= CLOSE_ENOUGH or chosen == len(steps), (case, lengths, chosen)
                assert deficits[chosen] <= max(deficits[expected], CLOSE_ENOUGH), (case, lengths, chosen, expected)
            elif known and case % 2 == 0 and laid_out == [made.fit]:
                guessed_once += 1
            assert len(laid_out) == len(set(laid_out))  # each step at most once
            assert None not in laid_out or (not known and expected <= 1), (case, lengths, laid_out)
    assert guessed_once >= 50  # of the 200 cases the model has right
