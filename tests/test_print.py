"""Files for the printer: boxes and crop marks, CMYK with an output intent, preflight, the package."""

import hashlib
import json
import subprocess
import zipfile

import pikepdf
import pytest
from conftest import MINIMAL_MANIFEST, article, run_cli, write_issue
from PIL import Image

from typeset.pdf import preflight as preflight_module
from typeset.pdf.preflight import ink_digest, preflight

MM = 72 / 25.4


@pytest.mark.parametrize("name", ["interior.pdf", "cover.pdf"])
def test_print_files_have_boxes_marks_and_an_output_intent(demo_build, name):
    _, out = demo_build
    # the demo is perfect bound: its cover is two spreads around a spine of 3 leaves of 0.1 mm
    pages, width = (6, 210 * MM) if name == "interior.pdf" else (2, (2 * 210 + 0.3) * MM)
    with pikepdf.open(out / name) as pdf:
        assert len(pdf.pages) == pages
        for page in pdf.pages:
            trim = [float(v) for v in page.obj.TrimBox]
            bleed = [float(v) for v in page.obj.BleedBox]
            media = [float(v) for v in page.obj.MediaBox]
            assert trim[2] - trim[0] == pytest.approx(width, abs=0.01)
            assert trim[0] - bleed[0] == pytest.approx(3 * MM, abs=0.01)
            assert trim[0] - media[0] > trim[0] - bleed[0] + 5 * MM  # room for the marks outside the bleed
            assert "/CropBox" not in page.obj
            marks = page.obj.Contents[-1].read_bytes() if isinstance(page.obj.Contents, pikepdf.Array) \
                else page.obj.Contents.read_bytes()
            assert b"1 1 1 1 K" in marks
            # every mark starts beyond the bleed
            numbers = [float(v) for v in marks.split(b"K", 1)[1].replace(b"m", b" ").replace(b"l", b" ")
                       .replace(b"S", b" ").replace(b"Q", b" ").split()]
            points = list(zip(numbers[::2], numbers[1::2]))
            assert all(not (bleed[0] < x < bleed[2] and bleed[1] < y < bleed[3]) for x, y in points)
            if name == "cover.pdf":  # the two halves of a spread, named the same in every build
                assert sorted(page.obj.Resources.XObject.keys()) == ["/Fx0", "/Fx1"]
        intent = pdf.Root.OutputIntents[0]
        assert intent.S == "/GTS_PDFX" and int(intent.DestOutputProfile.N) == 4
        assert str(pdf.open_metadata()["pdfx:GTS_PDFXVersion"]) == "PDF/X-4"


def test_print_files_pass_qpdf_ghostscript_and_preflight(demo_build):
    _, out = demo_build
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["outputs"] == {"issue": "issue.pdf", "interior": "interior.pdf", "cover": "cover.pdf"}
    for name in ("interior.pdf", "cover.pdf"):
        assert subprocess.run(["qpdf", "--check", str(out / name)], capture_output=True).returncode == 0
        rendered = subprocess.run(["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=nullpage",
                                   str(out / name)], capture_output=True, text=True)
        assert rendered.returncode == 0 and "Error" not in rendered.stderr
        images = subprocess.run(["pdfimages", "-list", str(out / name)], capture_output=True, text=True,
                                check=True).stdout.splitlines()[2:]
        assert images and all(row.split()[5] == "cmyk" for row in images)
        checked = run_cli("preflight", str(out / name), "--json")
        assert checked.returncode == 0, checked.stdout
        assert json.loads(checked.stdout)["errors"] == 0
    assert {kind: check["errors"] for kind, check in report["preflight"].items()} == {"interior": 0, "cover": 0}


def test_body_text_is_black_ink_only(demo_build):
    _, out = demo_build
    with pikepdf.open(out / "interior.pdf") as pdf:
        colour, text_colours = None, set()
        for operands, operator in pikepdf.parse_content_stream(pdf.pages[0]):
            op = str(operator)
            if op in ("scn", "sc", "k", "rg", "g"):
                colour = (op, tuple(float(v) for v in operands))
            elif op == "Tj" or op == "TJ":
                text_colours.add(colour)
        assert ("scn", (0.0, 0.0, 0.0, 1.0)) in text_colours
        assert all(op != "rg" for op, _ in text_colours)


def _broken_issue(tmp_path, bleed="3mm", stylesheet=None, small_photo=False):
    body = "正文。\n\n![图](../images/p.jpg)\n\n后文。" if small_photo else "正文。"
    root = write_issue(tmp_path / "issue", MINIMAL_MANIFEST.replace("[210mm, 285mm]", f"[210mm, 285mm]\n  bleed: {bleed}"),
                       {"articles/a.md": article(body=body)})
    if small_photo:
        (root / "images").mkdir()
        Image.new("RGB", (300, 200), "teal").save(root / "images/p.jpg", dpi=(72, 72))  # 300 px over 112 mm: 68 ppi
    if stylesheet:
        (root / "styles").mkdir()
        (root / "styles/99-issue.css").write_text(stylesheet, encoding="utf-8")
    out = tmp_path / "out"
    assert run_cli("build", str(root), "-o", str(out)).returncode == 0
    return json.loads(run_cli("preflight", str(out / "interior.pdf"), "--json").stdout)


@pytest.mark.parametrize("case, check, message", [
    ("small photo", "image", "image at 67.7 ppi, under 150"),
    ("rgb colour", "colour", "RGB colour in a PDF/X file"),
    ("no bleed", "bleed", "bleed 1.0 mm, less than 3 mm"),
    ("rich black text", "ink", "total ink 400 % somewhere on the page"),  # measured on the text itself
])
def test_preflight_catches_broken_print_files(tmp_path, case, check, message):
    stylesheets = {"rgb colour": ".article-body p { color: #ff0000; }",
                   "rich black text": ".article-body p { color: device-cmyk(1 1 1 1); }"}
    found = _broken_issue(tmp_path, bleed="1mm" if case == "no bleed" else "3mm", stylesheet=stylesheets.get(case),
                          small_photo=case == "small photo")
    errors = [f for f in found["findings"] if f["severity"] == "error"]
    assert errors and errors[0]["check"] == check and errors[0]["message"].startswith(message), found


def test_package_zips_the_files_with_checksums(tmp_path):
    root = write_issue(tmp_path / "issue", MINIMAL_MANIFEST, {"articles/a.md": article()})
    out = tmp_path / "out"
    assert run_cli("package", str(root), "-o", str(out), "-q").returncode == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["outputs"]["package"] == "package.zip"
    with zipfile.ZipFile(out / "package.zip") as archive:
        assert archive.namelist() == ["issue.pdf", "interior.pdf", "cover.pdf", "preflight.json", "SHA256SUMS"]
        for line in archive.read("SHA256SUMS").decode().splitlines():
            digest, name = line.split("  ")
            assert hashlib.sha256(archive.read(name)).hexdigest() == digest
        assert archive.read("interior.pdf") == (out / "interior.pdf").read_bytes()
        assert json.loads(archive.read("preflight.json"))["interior"]["errors"] == 0


def test_reference_print_files_pass_preflight(reference_build):
    _, out = reference_build
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert {kind: check["errors"] for kind, check in report["preflight"].items()} == {"interior": 0, "cover": 0}
    with pikepdf.open(out / "interior.pdf") as pdf:
        assert len(pdf.pages) == 48 and "/OutputIntents" in pdf.Root
    with pikepdf.open(out / "cover.pdf") as pdf:  # saddle stitched: four single cover pages
        assert len(pdf.pages) == 4
        assert [float(v) for v in pdf.pages[0].obj.TrimBox][2] - float(pdf.pages[0].obj.TrimBox[0]) == \
            pytest.approx(210 * MM, abs=0.01)


def test_preflight_finds_notdef_glyphs(demo_build, tmp_path):
    """Text drawn with glyph 0 (.notdef) of a CID font, as a producer writes a character its font lacks."""
    _, out = demo_build
    with pikepdf.open(out / "interior.pdf") as pdf:
        page = pdf.pages[0]
        name = next(n for n, f in page.obj.Resources.Font.items() if f.get("/Subtype") == "/Type0")
        page.contents_add(pikepdf.Stream(pdf, f"BT {name} 10 Tf 100 100 Td <0000> Tj ET".encode()))
        pdf.save(tmp_path / "notdef.pdf")
    checked = json.loads(run_cli("preflight", str(tmp_path / "notdef.pdf"), "--json").stdout)
    assert [f["check"] for f in checked["findings"] if f["severity"] == "error"] == ["glyphs"]


def test_the_notdef_check_reads_two_byte_codes_in_hex_and_literal_strings():
    from typeset.pdf.preflight import _draws_notdef

    def draws_notdef(content: bytes) -> bool:
        pdf = pikepdf.new()
        operands, operator = next((o, str(op)) for o, op in pikepdf.parse_content_stream(pikepdf.Stream(pdf, content))
                                  if str(op) in ("Tj", "TJ", "'", '"'))
        return _draws_notdef(operator, operands)

    assert draws_notdef(b"[ <4e2d> -50 (\\000\\000) ] TJ")  # a literal string of code 0
    assert draws_notdef(b"<4e2d0000> Tj") and draws_notdef(b"1 2 <0000> \"")
    assert not draws_notdef(b"[ <01000001> -15.3 (ab) ] TJ")  # codes 0100 and 0001: a 0000 across them is none
    assert not draws_notdef(b"(ab) '")


def test_preflight_reads_again_only_the_content_of_pages_that_changed(demo_build, monkeypatch, tmp_path):
    """A page whose content (and fonts) a check before found nothing in is not read again; a page
    drawn differently is, and what is wrong with it is reported."""
    _, out = demo_build
    first = preflight(out / "interior.pdf")
    assert first.findings == [] and first.clean
    read = []
    original = preflight_module._ContentWalk.run

    def run(walk, instructions):
        read.append(walk.number)
        return original(walk, instructions)

    monkeypatch.setattr(preflight_module._ContentWalk, "run", run)
    again = preflight(out / "interior.pdf", known_ink=first.ink, known_clean=first.clean)
    assert read == [] and again.as_json() == first.as_json() and again.clean == first.clean
    with pikepdf.open(out / "interior.pdf") as pdf:
        pdf.pages[1].contents_add(pikepdf.Stream(pdf, b"q 1 0 0 rg 10 10 5 5 re f Q"))
        pdf.save(tmp_path / "rgb.pdf")
    changed = preflight(tmp_path / "rgb.pdf", known_ink=first.ink, known_clean=first.clean)
    assert read == [2]
    assert [(f.key, f.page) for f in changed.errors] == [("colour", 2)]
    assert len(changed.clean) == len(first.clean) - 1


def test_preflight_separates_only_the_pages_it_has_not_measured(demo_build, monkeypatch):
    """The ink of a page is known by a digest of its drawing: a rebuild separates only the pages
    that changed, and takes the others' peak ink from the last build."""
    _, out = demo_build
    first = preflight(out / "interior.pdf")
    with pikepdf.open(out / "interior.pdf") as pdf:
        digests = [ink_digest(page) for page in pdf.pages]
    assert set(first.ink) == set(digests) and all(0 < peak <= 300 for peak in first.ink.values())
    assert digests.count(digests[0]) == digests.count(digests[1]) == 1
    separated = []

    class Separation(preflight_module._Separation):
        def __init__(self, pdf, numbers):
            separated.append(numbers)
            super().__init__(pdf, numbers)

    monkeypatch.setattr(preflight_module, "_Separation", Separation)
    known = {**first.ink, digests[0]: 400}  # as if the last build had measured 400 % on page 1
    again = preflight(out / "interior.pdf", known_ink=known)
    assert separated == []
    assert [(f.key, f.page, f.message) for f in again.errors] == [
        ("ink", 1, "total ink 400 % somewhere on the page (over 300 %)")]
    del known[digests[1]]  # text and rules: the ink is bounded from the colours, not separated
    assert preflight(out / "interior.pdf", known_ink=known).ink == {**first.ink, digests[0]: 400}
    assert separated == []
    del known[digests[2]]  # a photo on it: separated
    assert preflight(out / "interior.pdf", known_ink=known).ink == {**first.ink, digests[0]: 400}
    assert separated == [[3]]


def test_the_ink_of_a_page_of_flat_colours_is_bounded_without_rendering_it(demo_build, tmp_path):
    """flat_ink: at least what Ghostscript measures, on every page it bounds (all but the photo's);
    a stroke in registration colour outside the BleedBox (a crop mark) does not count, inside it
    does (and, over 300 %, the page goes to Ghostscript); so does an image (inline too) or an RGB colour."""
    _, out = demo_build
    with pikepdf.open(out / "interior.pdf") as pdf:
        bounds = [preflight_module.flat_ink(page) for page in pdf.pages]
        separation = preflight_module._Separation(pikepdf.open(out / "interior.pdf"), list(range(1, len(pdf.pages) + 1)))
        try:
            measured = separation.peaks(preflight_module.PreflightReport("interior.pdf"))
        finally:
            separation.stop()
        assert [bound is None for bound in bounds] == [False, False, True, False, False, False]  # p. 3: a photo
        assert all(bound >= peak for bound, peak in zip(bounds, measured) if bound is not None), (bounds, measured)
        page = pdf.pages[0]
        left, bottom = (float(v) for v in page.obj.BleedBox[:2])
        mark = f"q 0.3 w 1 1 1 1 K {left - 20} {bottom + 10} m {left - 6} {bottom + 10} l S Q"
        page.contents_add(pikepdf.Stream(pdf, mark.encode()), prepend=False)
        assert preflight_module.flat_ink(page) == bounds[0]  # outside the BleedBox
        inside = f"q 0.3 w 1 1 1 1 K {left + 20} {bottom + 10} m {left + 60} {bottom + 10} l S Q"
        page.contents_add(pikepdf.Stream(pdf, inside.encode()), prepend=False)
        assert preflight_module.flat_ink(page) is None  # 400 % inside it
        page = pdf.pages[1]
        page.contents_add(pikepdf.Stream(pdf, b"q 0 0 1 rg 20 20 10 10 re f Q"), prepend=False)
        assert preflight_module.flat_ink(page) is None
        # the operators that only place text are not read; an inline image is
        page = pdf.pages[3]
        assert not {"BT", "ET", "Tm"} & {str(op) for _, op in preflight_module._instructions(page)}
        page.contents_add(pikepdf.Stream(pdf, b"q 10 0 0 10 30 30 cm BI /W 1 /H 1 /CS /G /BPC 8 ID \x80 EI Q"),
                          prepend=False)
        assert preflight_module.flat_ink(page) is None


def test_the_cover_file_is_made_and_checked_beside_with_the_processes_the_build_may_use(monkeypatch):
    """With the cover pages from the layout cache, the cover's file for the printer is made and
    checked in a thread of its own while the body is linked: `-j N` reaches it, so the
    Ghostscript separations of a `-j 1` build start one process at a time (a thread starts with
    an empty context: it saw one per core before)."""
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    from typeset.diagnostics import Diagnostic, Diagnostics
    from typeset.frontpages import stage
    from typeset.pdf.preflight import PreflightReport
    from typeset.processes import use_workers, workers

    seen = []

    def check(name, data=None, known_ink=None, known_clean=frozenset()):
        seen.append((name, data, workers()))
        return PreflightReport(name)

    monkeypatch.setattr(stage, "preflight", check)
    monkeypatch.setattr(stage, "subset_tagged", lambda pdf: pdf + b" tagged")
    monkeypatch.setattr(stage, "print_file", lambda pdf, pages, title, condition: pdf + f" {pages} {title}".encode())
    monkeypatch.setattr(stage, "_recipe", lambda inputs: "the recipe")
    said = Diagnostic("warning", "no back_cover in issue.yaml: 封四 is blank")
    kept = SimpleNamespace(stored=lambda recipe, kind: stage._packed(b"covers", b"contents", [said])
                           if (recipe, kind) == ("the recipe", "front") else None)
    manifest = SimpleNamespace(page=SimpleNamespace(binding="saddle"), title="机关党建 2024年第5期")
    inputs = stage.FrontPagesInputs(manifest, None, None, [], 48, None, {}, set())
    diagnostics = Diagnostics()
    with use_workers(1), ThreadPoolExecutor(1) as pool:
        front = stage.front_pages_beside(inputs, kept, pool)(diagnostics)
    cover = front.cover_file
    assert (front.covers, front.contents, diagnostics.items) == (b"covers", b"contents", [said])
    assert cover == "covers tagged [0, 1, 2, 3] 机关党建 2024年第5期 封面".encode()
    assert seen == [("cover.pdf", cover, 1)] and front.cover_check.file == "cover.pdf"
