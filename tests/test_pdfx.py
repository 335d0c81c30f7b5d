"""What the printer's RIP checks: full PDF/X identification, black overprint, and PDF/X-1a."""

import json
import shutil

import pikepdf
import pytest
from conftest import DEMO, run_cli
from pdf_oxide import PdfDocument
from PIL import Image, ImageChops, ImageStat

PRINT_FILES = ("interior.pdf", "cover.pdf")
XMP_KEYS = ("xmp:CreateDate", "xmp:ModifyDate", "xmpMM:DocumentID", "xmpMM:VersionID", "xmpMM:RenditionClass")


def _black_text(pdf: pikepdf.Pdf) -> tuple[int, int]:
    """(text-showing operators in pure CMYK black, those of them that overprint), every page and form."""
    total = overprinting = 0

    def walk(holder, resources):
        nonlocal total, overprinting
        states = resources.get("/ExtGState", {})
        fill, overprint, stack = None, False, []
        for operands, operator in pikepdf.parse_content_stream(holder):
            op = str(operator)
            if op == "q":
                stack.append((fill, overprint))
            elif op == "Q":
                fill, overprint = stack.pop()
            elif op == "k" or op in ("sc", "scn"):
                fill = tuple(float(v) for v in operands)
            elif op == "gs" and "/op" in states[operands[0]]:
                overprint = bool(states[operands[0]].op)
            elif op in ("Tj", "TJ") and fill == (0, 0, 0, 1):
                total += 1
                overprinting += overprint
            elif op == "Do" and resources.XObject[operands[0]].Subtype == "/Form":
                form = resources.XObject[operands[0]]
                walk(form, form.get("/Resources", resources))

    for page in pdf.pages:
        walk(page.obj, page.obj.Resources)
    return total, overprinting


@pytest.mark.parametrize("name", PRINT_FILES)
def test_print_files_are_fully_identified_and_black_overprints(demo_build, name):
    _, out = demo_build
    with pikepdf.open(out / name) as pdf:
        for key in ("/Title", "/CreationDate", "/ModDate", "/GTS_PDFXVersion", "/Trapped"):
            assert key in pdf.docinfo
        meta = pdf.open_metadata()
        assert all(key in meta for key in XMP_KEYS)
        assert str(meta["xmpMM:DocumentID"]).startswith("uuid:") and str(meta["xmpMM:RenditionClass"]) == "default"
        assert str(pdf.docinfo["/CreationDate"]) == str(pdf.docinfo["/ModDate"])
        total, overprinting = _black_text(pdf)
        assert total > 0 and overprinting == total
        # the states that set it, each once in the file: not four more with every article's part
        states = [(bool(obj.get("/op")), bool(obj.get("/OP"))) for obj in pdf.objects
                  if isinstance(obj, pikepdf.Dictionary) and obj.get("/Type") == "/ExtGState" and "/OPM" in obj]
        assert states and len(set(states)) == len(states)
    assert PdfDocument(str(out / name)).validate_pdf_x("4") == {"valid": True, "level": "4", "errors": [],
                                                                  "warnings": []}


def test_the_dates_come_from_source_date_epoch(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    issue = tmp_path / "demo"
    shutil.copytree(DEMO, issue, ignore=shutil.ignore_patterns("build"))
    assert run_cli("build", str(issue), "-o", str(tmp_path / "out"), "-q").returncode == 0
    with pikepdf.open(tmp_path / "out" / "interior.pdf") as pdf:
        assert str(pdf.docinfo["/CreationDate"]) == "D:20231114221320+00'00'"
        assert str(pdf.open_metadata()["xmp:CreateDate"]) == "2023-11-14T22:13:20+00:00"


@pytest.fixture(scope="module")
def x1a_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("x1a")
    issue = root / "demo"
    shutil.copytree(DEMO, issue, ignore=shutil.ignore_patterns("build"))
    manifest = issue / "issue.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("\npage:\n", "\npage:\n  pdfx: X-1a\n"),
                        encoding="utf-8")
    result = run_cli("build", str(issue), "-o", str(root / "out"))
    assert result.returncode == 0, result.stderr
    return root / "out"


@pytest.mark.parametrize("name", PRINT_FILES)
def test_pdfx_1a_files_pass_at_their_level(x1a_build, name):
    assert PdfDocument(str(x1a_build / name)).validate_pdf_x("1a_2001")["valid"]
    with pikepdf.open(x1a_build / name) as pdf:
        assert pdf.pdf_version == "1.4"
        assert str(pdf.docinfo["/GTS_PDFXVersion"]) == str(pdf.docinfo["/GTS_PDFXConformance"]) == "PDF/X-1a:2001"
        assert str(pdf.open_metadata()["pdfxid:GTS_PDFXVersion"]) == "PDF/X-1a:2001"
        for obj in pdf.objects:  # no transparency of any kind
            if isinstance(obj, pikepdf.Dictionary):
                assert float(obj.get("/ca", 1)) == 1 and float(obj.get("/CA", 1)) == 1
                assert obj.get("/SMask") is None or str(obj.SMask) == "/None"
    checked = json.loads(run_cli("preflight", str(x1a_build / name), "--json").stdout)
    assert checked["errors"] == 0 and checked["warnings"] == 0, checked


def test_the_x1a_cover_looks_like_the_x4_cover(demo_build, x1a_build, tmp_path):
    """The translucent band under the cover lines is baked into the photo: the same page to the eye."""
    import io

    from typeset.pdf.pages import page_images

    _, out = demo_build
    x4, x1a = (Image.open(io.BytesIO(page_images((folder / "cover.pdf").read_bytes(), 30, [1])[0])).convert("RGB")
               for folder in (out, x1a_build))
    assert ImageStat.Stat(ImageChops.difference(x4, x1a).convert("L")).mean[0] < 2.0


def _broken(source, target, change) -> list[dict]:
    with pikepdf.open(source) as pdf:
        change(pdf)
        pdf.save(target)
    return json.loads(run_cli("preflight", str(target), "--json").stdout)["findings"]


def test_preflight_catches_what_a_rip_would_reject(demo_build, tmp_path):
    _, out = demo_build
    interior = out / "interior.pdf"

    def no_dates(pdf):
        del pdf.docinfo["/ModDate"]

    def knocks_out(pdf):
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary) and "/OPM" in obj:
                obj.op = obj.OP = False

    def translucent_x1a(pdf):
        pdf.docinfo["/GTS_PDFXVersion"] = pdf.docinfo["/GTS_PDFXConformance"] = "PDF/X-1a:2001"
        pdf.pages[0].obj.Resources.ExtGState.Half = pikepdf.Dictionary(Type=pikepdf.Name.ExtGState, ca=0.5)

    found = _broken(interior, tmp_path / "dates.pdf", no_dates)
    assert [(f["check"], f["message"]) for f in found if f["severity"] == "error"] == \
        [("pdfx", "PDF/X identification incomplete: no /ModDate")]
    found = _broken(interior, tmp_path / "knockout.pdf", knocks_out)
    assert {f["check"] for f in found} == {"overprint"} and len(found) == 6  # once on every page
    found = _broken(interior, tmp_path / "x1a.pdf", translucent_x1a)
    messages = [f["message"] for f in found if f["check"] == "pdfx"]
    assert "PDF 1.7 in a PDF/X-1a:2001 file (1.4 at most)" in messages
    assert "transparency in a PDF/X-1a:2001 file (which allows none)" in messages
