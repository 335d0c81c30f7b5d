"""Proofs for editors: watermark, stamp and file names; single articles on their folios; spreads; images."""

import json
import re

import pikepdf
from conftest import DEMO, REFERENCE, pdf_text_by_page, run_cli


def test_proof_of_the_demo_issue(tmp_path):
    out = tmp_path / "proof"
    result = run_cli("proof", str(DEMO), "-o", str(out), "--png", "-q")
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["outputs"] == {"proof": "proof.pdf", "proof_images": "proof-png/"}
    # no print files; .cache holds the layout cache for the next build into this folder
    assert sorted(p.name for p in out.iterdir()) == [".cache", "proof-png", "proof.pdf", "report.json"]
    texts = pdf_text_by_page(out / "proof.pdf")
    assert len(texts) == 10 and len(list((out / "proof-png").glob("*.png"))) == 10
    stamp = report["proof"]["stamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d · [0-9a-f]{8}", stamp)
    for text in texts:
        assert "校样" in text and stamp.split(" · ")[1] in text
    assert "02-yiben-zazhi" in texts[4] and "封一" in texts[0]
    with pikepdf.open(out / "proof.pdf") as pdf:
        for page in pdf.pages:  # trim-size pages, no marks
            assert [float(v) for v in page.mediabox] == [float(v) for v in page.obj.TrimBox]
            # the stamp and watermark placed under a name that is the same in every build
            assert any(re.fullmatch(r"/Fx\d+", name) for name in page.obj.Resources.XObject.keys())


def test_proof_of_one_article_on_its_planned_folios_as_spreads(tmp_path):
    out = tmp_path / "proof"
    article = "07-xianji-shuiwuju-zhengzhi-jiguan"
    result = run_cli("proof", str(REFERENCE), "--article", article, "--spreads", "-o", str(out), "-q")
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["page_labels"] == ["9", "10", "11", "12"] and report["articles"][0]["actual"] == [9, 12]
    with pikepdf.open(out / "proof.pdf") as pdf:
        widths = [float(p.mediabox[2]) - float(p.mediabox[0]) for p in pdf.pages]
        assert sorted(pdf.pages[1].obj.Resources.XObject.keys()) == ["/Fx0", "/Fx1"]  # 10 | 11
    assert len(widths) == 3 and widths[0] == widths[1] > 1000  # 9 alone on the right, 10|11, 12 alone
    texts = pdf_text_by_page(out / "proof.pdf")
    assert article in texts[1] and "县级税务局" in texts[0]


def test_proof_of_an_unknown_article_is_an_input_error(tmp_path):
    result = run_cli("proof", str(DEMO), "--article", "99-nothing", "-o", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "no article '99-nothing' in this issue" in result.stderr and not (tmp_path / "out").exists()


def test_diff_lists_only_the_page_that_changed_since_the_previous_proof(tmp_path):
    import shutil

    issue = tmp_path / "demo"
    shutil.copytree(DEMO, issue, ignore=shutil.ignore_patterns("build"))
    none_yet = run_cli("diff", str(issue))
    assert none_yet.returncode == 1 and none_yet.stderr.splitlines()[0] == f"error: no previous proof in {issue}/build"
    assert run_cli("proof", str(issue), "-q").returncode == 0
    article = issue / "articles/03-biaodian-jinze.md"
    article.write_text(article.read_text(encoding="utf-8").replace("大多占", "大都占"), encoding="utf-8")
    assert run_cli("proof", str(issue), "-q").returncode == 0
    report = json.loads((issue / "build/report.json").read_text(encoding="utf-8"))
    assert report["outputs"]["proof_previous"] == "proof-previous.pdf"

    result = run_cli("diff", str(issue))  # the latest proof against the one it replaced
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"     5  changed  {issue / 'build/diff/diff-5.png'}", "1 page changed"]
    assert (issue / "build/diff/diff-5.png").read_bytes()[:4] == b"\x89PNG"
    explicit = run_cli("diff", str(issue / "build/proof-previous.pdf"), str(issue / "build/proof.pdf"),
                       "-o", str(tmp_path / "d"))
    assert explicit.stdout.splitlines() == [f"     5  changed  {tmp_path / 'd/diff-5.png'}", "1 page changed"]
    same = run_cli("diff", str(issue / "build/proof.pdf"), str(issue / "build/proof.pdf"), "-o", str(tmp_path / "e"))
    assert same.stdout.strip() == "no page changed"
