"""Continuations (转页) and copyfitting: every article on its planned pages, within tolerances."""

import json
import re

import pytest
from conftest import (
    MINIMAL_MANIFEST,
    PARAGRAPH,
    article,
    pdf_text_by_page,
    run_cli,
    write_issue,
)

from typeset.body.continuation import (
    split_article,
    split_block,
    top_level_blocks,
    visible_length,
)
from typeset.inputs.copyfit import Setting, first_reaching, model_guess, narrow, parse_range, tightening
from typeset.pdf.audit import page_lines

HOUSE = {"leading": (-0.15, 0.10), "tracking": (-0.03, 0.03), "size": (-0.5, 0.5), "photo_scale": (0.6, 1.0)}


def plain(fragment: str) -> str:
    return re.sub(r"<[^>]+>", "", fragment)


def test_split_block_keeps_markup_and_text():
    block = '<p data-line="5">前文<strong>加粗的<span class="halt">，</span>小标题</strong>后文到此。</p>'
    head, tail = split_block(block, 6)
    assert head == '<p data-line="5">前文<strong>加粗的<span class="halt">，</span></strong></p>'
    assert tail == '<p data-line="5"><strong>小标题</strong>后文到此。</p>'
    assert plain(head) + plain(tail) == plain(block)
    assert visible_length(head) == 6


def test_split_article_cuts_after_the_placed_lines_but_one():
    from typeset.inputs.articles import Article

    body = "\n".join(f'<p data-line="{n}">{"字" * 30}</p>' for n in (5, 7, 9)) + "\n"
    source = Article(entry=None, slug="a", display="a.md", title="标题", body_html=body, source="新华社")
    # lines of 12 characters: the first paragraph took 3 lines, the second 2 before the page ended
    placed = [("5", 12), ("5", 12), ("5", 6), ("7", 12), ("7", 12)]
    shortened, continuation = split_article(source, placed, page=32, last_folio=31)
    blocks = top_level_blocks(shortened.body_html)
    assert plain(blocks[0]) == "字" * 30 and plain(blocks[1]) == "字" * 12  # one line back for the jump line
    assert 'class="split-head"' in blocks[1] and blocks[-1] == '<p class="jump jump-out">（下转第32页）</p>'
    assert continuation.html.startswith('<p class="jump jump-in">（上接第31页）</p>')
    assert plain(continuation.html).count("字") == 18 + 30
    assert "（来源：新华社）" in continuation.html and shortened.source == ""


def test_tightening_runs_from_small_changes_to_large_within_the_ranges():
    settings = tightening(HOUSE, has_photo=True)
    assert settings[0] == Setting(photo_scale=0.85)
    assert settings[-1] == Setting(leading=-0.15, tracking=-0.03, size=-0.5, photo_scale=0.6)
    for setting in settings:
        for knob, (lo, hi) in HOUSE.items():
            assert lo <= getattr(setting, knob) <= hi
    assert [s.leading for s in tightening(HOUSE, has_photo=False)][:3] == [-0.05, -0.1, -0.15]


def test_front_matter_narrows_pins_and_forbids_knobs():
    limits = {"leading": parse_range([-0.05, 0], 0.0), "size": parse_range(False, 0.0),
              "tracking": parse_range(-0.01, 0.0)}
    ranges = narrow(HOUSE, limits)
    assert ranges["leading"] == (-0.05, 0) and ranges["size"] == (0.0, 0.0)
    assert ranges["tracking"] == (-0.01, -0.01)
    assert all(s.leading >= -0.05 and s.size == 0 for s in tightening(ranges, False))
    assert parse_range([0.1, 0.2], 0.0) is None  # a range must include the house value


def test_setting_css_and_description():
    setting = Setting(leading=-0.1, photo_scale=0.7)
    assert setting.css() == "--fit-leading: -0.1em; --fit-tracking: 0em; --fit-size: 0pt; --fit-photo: 0.7"
    assert setting.describe() == "leading -0.1em, photo_scale 0.7"


def test_the_searches_find_the_first_step_that_reaches_whatever_the_model_guesses():
    """copyfit.first_reaching: the index trying every step in order finds, each probed once; a
    model that is right settles it in two probes."""
    import random

    rng = random.Random(3)
    for case in range(500):
        steps = rng.randint(1, 12)
        values = sorted(rng.uniform(-30, 30) for _ in range(steps))  # lines beyond the foot, growing
        expected = next((i for i, v in enumerate(values) if v >= 0), steps)
        error = rng.choice([0.0, rng.uniform(-3, 3), rng.uniform(-40, 40)])
        skew = rng.choice([1.0, rng.uniform(0.3, 3)])
        for fixed in (rng.randint(-3, steps + 2), None):  # an index whatever is known, or the model
            probed: list[int] = []
            measured: dict[int, float] = {}

            def reaches(index):
                probed.append(index)
                measured[index] = values[index]
                return values[index] >= 0

            if fixed is None:
                guess = model_guess(lambda i: values[i] * skew + error, lambda v: v >= 0, measured)
            else:
                guess = (lambda index: lambda low, high: index)(fixed)
            assert first_reaching(reaches, -1, steps, guess) == expected, (case, values, fixed)
            assert len(probed) == len(set(probed)) and len(probed) <= 2 + steps.bit_length()
            if fixed is None and error == 0 and 0 < expected < steps:
                assert len(probed) == 2, (case, values, skew, probed)


def test_tightening_takes_a_confirmed_guess_or_the_first_candidate_that_fits():
    """planning._first_fitting: the first candidate that fits (the tightest when none does), or the
    one the model guessed when its layout fits and ends within CLOSE_ENOUGH lines of the foot;
    one layout when the model is right about a candidate that ends that near."""
    import random

    from typeset.body.filling import CLOSE_ENOUGH
    from typeset.body.planning import _first_fitting

    rng = random.Random(7)
    confirmed_once = 0
    for case in range(500):
        count = rng.randint(1, 12)
        beyond = sorted((rng.randint(-12, 12) for _ in range(count)), reverse=True)  # tighter, shorter
        exact = next((i for i, b in enumerate(beyond) if b <= 0), count - 1)
        error = rng.choice([0, 0, rng.randint(-3, 3)])
        attempts: list[int] = []

        def attempt(index):
            attempts.append(index)
            return beyond[index] <= 0, beyond[index], index

        chosen = _first_fitting(list(range(count)), attempt, lambda i: beyond[i] + error)
        assert len(attempts) == len(set(attempts)), (case, beyond, attempts)
        if chosen != exact:
            assert -CLOSE_ENOUGH <= beyond[chosen] <= 0 and attempts[0] == chosen, (case, beyond, error, chosen)
        if error == 0 and -CLOSE_ENOUGH <= beyond[exact] <= 0:
            assert attempts == [exact], (case, beyond, attempts)
            confirmed_once += 1
    assert confirmed_once >= 50


def test_tightening_estimates_photos_as_their_max_height_shrinks_them():
    """planning._estimate: a photo held at its max-height shrinks with photo_scale, one shorter
    than its max-height only once the scaled max-height comes below it; one across the columns
    takes its height from each column, one in a column of two half of it a column on average;
    the text as `relative_length` has it. A trial keeps its photos through the cache."""
    from typeset.body.layoutcache import Trial
    from typeset.body.planning import _estimate

    pitch, cap = 20.0, 300.0
    candidates = [Setting(photo_scale=0.85), Setting(photo_scale=0.6), Setting(leading=-0.16, photo_scale=0.6)]

    def estimates(photos: list) -> list[float]:
        # 100 lines on a page of two columns of 50, 5 on the next: 2.5 lines a column beyond the foot
        laid_out = Trial(2, [[("1", 20)] * 100, [("1", 20)] * 5], gaps=[0.0, 0.0], pitch=pitch, height=50 * pitch,
                         photos=photos)
        estimate = _estimate(candidates, laid_out, None, 1)
        return [estimate(i) for i in range(len(candidates))]

    held = [(cap, cap, 1.0)]  # across the columns at its max-height: 15 lines of each
    assert estimates(held) == pytest.approx([2.5 - 15 * 0.15, 2.5 - 15 * 0.4, (52.5 - 15) * 0.9 + 15 * 0.6 - 50])
    shorter = [(200.0, cap, 1.0)]  # 10 lines: under the max-height at 0.85 (255 px), over it at 0.6 (180 px)
    assert estimates(shorter) == pytest.approx([2.5, 2.5 - 1.0, (52.5 - 10) * 0.9 + 9 - 50])
    in_a_column = [(cap, cap, 0.5)]
    assert estimates(in_a_column) == pytest.approx([2.5 - 7.5 * 0.15, 2.5 - 7.5 * 0.4, (52.5 - 7.5) * 0.9 + 4.5 - 50])
    assert Trial.from_json(json.loads(json.dumps(Trial(1, [], photos=held).as_json()))).photos == held


def test_a_trial_measures_the_photos_photo_scale_shrinks(tmp_path):
    """The photo of the house style (across the columns, max-height 75 mm scaled by photo_scale) as
    copyfitting's model reads it: its height, its max-height, its share of the text width."""
    from PIL import Image
    from test_layout import layout_of, plan

    from typeset.body.measure import trial

    root = write_issue(tmp_path / "issue", plan('file: articles/a.md, pages: "3"'), {
        "articles/a.md": article("有图", body=f"{PARAGRAPH}\n\n![图](../images/p.jpg)\n\n{PARAGRAPH}")})
    (root / "images").mkdir()
    Image.new("RGB", (1200, 1800), "gray").save(root / "images" / "p.jpg", dpi=(300, 300))  # portrait: held
    body, _ = layout_of(root, jobs=1)
    photos = trial(body.document, [0], 2).photos
    assert len(photos) == 1
    height, cap, share = photos[0]
    assert height == cap == pytest.approx(75 * 96 / 25.4) and share == pytest.approx(1.0)  # across the columns


def test_reference_issue_fits_its_plan(reference_build):
    result, out = reference_build
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    for entry in report["articles"]:
        assert entry["actual"] == entry["planned"], entry["file"]
        assert entry["overset_lines"] == 0
        for knob, value in (entry["fit_settings"] or {}).items():
            lo, hi = HOUSE[knob]
            assert lo <= value <= hi
    continued = {a["file"][9:11]: a["continuation"] for a in report["articles"] if a["continuation"]}
    assert {k: v["page"] for k, v in continued.items()} == {"13": 32, "18": 42, "22": 46}
    texts = {label: text.replace(" ", "") for label, text in zip(report["page_labels"],
                                                                 pdf_text_by_page(out / "issue.pdf"))}
    for source_page, page in ((31, 32), (40, 42), (45, 46)):
        assert f"（下转第{page}页）" in texts[str(source_page)]
        assert f"（上接第{source_page}页）" in texts[str(page)]
    assert "settings" in result.stdout and "leading" in result.stdout  # the fit table names the settings


def test_overlong_article_without_continuation_is_overset_by_the_right_count(tmp_path):
    # all knobs pinned: 60 paragraphs of 3 lines each, one page
    root = write_issue(tmp_path / "issue", MINIMAL_MANIFEST, {"articles/a.md": article(
        paragraphs=60, extra_front="fit: {leading: false, tracking: false, size: false, photo_scale: false}\n")})
    out = tmp_path / "out"
    result = run_cli("build", str(root), "-o", str(out))
    assert result.returncode == 3
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    entry = report["articles"][0]
    import pdfplumber

    with pdfplumber.open(out / "issue.pdf") as pdf:
        placed = [line for line in page_lines(pdf, [2]) if line.body]
    lines_per_paragraph = -(-(len(PARAGRAPH) + 2) // 24)
    assert entry["overset_lines"] + len(placed) == 60 * lines_per_paragraph
    assert entry["fit_settings"] is None


def test_fit_is_reproducible_and_fits_a_slightly_long_article(tmp_path):
    root = write_issue(tmp_path / "issue", MINIMAL_MANIFEST, {"articles/a.md": article(paragraphs=21)})
    first = run_cli("fit", str(root), "--json")
    second = run_cli("fit", str(root), "--json")
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    entry = json.loads(first.stdout)[0]
    assert entry["overset_lines"] == 0 and entry["fit_settings"]
    assert not (root / "build").exists()  # fit writes nothing
