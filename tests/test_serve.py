"""`typeset serve`: the flatplan board, driven in a real browser (Playwright with Debian's chromium)."""

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request

import pytest
from conftest import DEMO, REPO

from typeset.serve.board import board_pages

CHROMIUM = shutil.which("chromium")
EDITED = "articles/03-biaodian-jinze.md"
OPENING = "中文标点大多占一个字的宽度"


def test_board_pages_follow_the_report():
    report = {
        "page_labels": ["封一", "封二", "1", "2", "3", "4", "5", "6", "封三", "封四"],
        "blank_pages": [{"folio": 2, "purpose": "reserved"}, {"folio": 5, "purpose": "underfill"},
                        {"folio": 6, "purpose": "unplanned"}],
        "articles": [
            {"file": "articles/a.md", "title": "甲", "actual": [1, 1], "blank_pages": [], "fit": "overset"},
            {"file": "articles/b.md", "title": "乙", "actual": [3, 4], "blank_pages": [5], "fit": "underfill"},
        ],
    }
    pages = [(p.label, p.status, p.article) for p in board_pages(report)]
    assert pages == [
        ("封一", "cover", None), ("封二", "cover", None), ("1", "overset", "articles/a.md"), ("2", "contents", None),
        ("3", "ok", "articles/b.md"), ("4", "underfill", "articles/b.md"), ("5", "underfill", "articles/b.md"),
        ("6", "blank", None), ("封三", "cover", None), ("封四", "cover", None)]


def test_serve_refuses_a_folder_without_issue_yaml(tmp_path):
    result = subprocess.run([sys.executable, "-m", "typeset", "serve", str(tmp_path), "--port", "0"],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"error: {tmp_path}: no issue.yaml in this folder",
                                          "  hint: name the issue folder, the one that holds issue.yaml"]


@pytest.fixture
def served(tmp_path):
    issue = tmp_path / "demo"
    shutil.copytree(DEMO, issue, ignore=shutil.ignore_patterns("build"))
    process = subprocess.Popen([sys.executable, "-m", "typeset", "serve", str(issue), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    line = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+/", line)
    assert match, line + process.stderr.read()
    yield issue, match.group(0), process
    process.terminate()
    process.wait(timeout=20)


def _browser(playwright):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: run ./setup.sh --test")
        pytest.skip("chromium is not installed (./setup.sh --test installs it)")
    return playwright.chromium.launch(executable_path=CHROMIUM)


def test_the_flatplan_board_in_a_browser_follows_edits_and_errors(served):
    from playwright.sync_api import expect, sync_playwright

    issue, url, process = served
    with sync_playwright() as playwright:
        browser = _browser(playwright)
        page = browser.new_page()
        page.goto(url)
        pages = page.locator(".page")
        expect(pages).to_have_count(10, timeout=120_000)  # the first build: 封一 封二 1–6 封三 封四
        expect(page.locator("#status")).to_contain_text("built", timeout=120_000)
        labels = pages.evaluate_all("nodes => nodes.map(n => n.dataset.label)")
        assert labels == ["封一", "封二", "1", "2", "3", "4", "5", "6", "封三", "封四"]
        statuses = pages.evaluate_all("nodes => nodes.map(n => n.dataset.status)")
        assert statuses[:2] == ["cover", "cover"] and statuses[3] == "contents" and statuses[-2:] == ["cover", "cover"]
        assert set(statuses[2:8]) <= {"ok", "underfill", "contents"}
        expect(page.locator("#title")).to_have_text("排版实务 2026年第1期")
        expect(page.locator("#plan tr")).to_have_count(4)
        page.wait_for_function("() => [...document.querySelectorAll('.page img')]"
                               ".every(img => img.complete && img.naturalWidth > 100)")

        # a page shown large, at a readable size
        edited = page.locator(f'.page[data-article="{EDITED}"]').first
        edited.click()
        expect(page.locator("#large")).to_be_visible()
        page.wait_for_function("() => { const img = document.querySelector('#large img');"
                               " return img.complete && img.naturalWidth > 800; }")
        label = edited.get_attribute("data-label")
        page.keyboard.press("ArrowRight")  # the next page, without going back to the board
        expect(page.locator("#large div")).to_contain_text(f"{int(label) + 1} · ")
        page.keyboard.press("ArrowLeft")
        expect(page.locator("#large div")).to_contain_text(f"{label} · ")
        page.keyboard.press("Escape")
        expect(page.locator("#large")).to_be_hidden()

        # an edited paragraph: the page changes on the board by itself, the page is not reloaded
        page.evaluate("() => { window.notReloaded = true; }")
        rev = edited.get_attribute("data-rev")
        before = urllib.request.urlopen(url + edited.locator("img").get_attribute("src").lstrip("/")).read()
        path = issue / EDITED
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace(OPENING, "校对时改了一句：" + OPENING, 1), encoding="utf-8")
        expect(edited).not_to_have_attribute("data-rev", rev, timeout=60_000)
        page.wait_for_function(f"() => {{ const img = document.querySelector('.page[data-article=\"{EDITED}\"] img');"
                               " return img.complete && img.naturalWidth > 100; }")
        after = urllib.request.urlopen(url + edited.locator("img").get_attribute("src").lstrip("/")).read()
        assert after != before
        assert page.evaluate("() => window.notReloaded") is True

        # text added until it overruns its page: the page turns overset, and so does its row in the plan
        path.write_text(text + "\n\n" + "\n\n".join(["补充一段，让这篇文章超出计划的版面。" * 6] * 20) + "\n",
                        encoding="utf-8")
        expect(edited).to_have_attribute("data-status", "overset", timeout=60_000)
        row = page.locator(f'#plan tr[data-file="{EDITED}"]')
        expect(row).to_have_attribute("data-fit", "overset")
        expect(row.locator("td.fit")).to_contain_text("+")

        # an input error in an article shows in the page, and the fix clears it
        path.write_text("---\ntitle: [unclosed\n---\n\n正文。\n", encoding="utf-8")
        expect(page.locator("#error")).to_be_visible(timeout=60_000)
        expect(page.locator("#error")).to_contain_text(EDITED)
        path.write_text(text, encoding="utf-8")
        expect(page.locator("#error")).to_be_hidden(timeout=60_000)

        # a broken issue.yaml stops the whole build: the error is shown, the server keeps running
        manifest = issue / "issue.yaml"
        good = manifest.read_text(encoding="utf-8")
        manifest.write_text(good.replace('pages: "5"', 'pages: "five"'), encoding="utf-8")
        expect(page.locator("#error")).to_contain_text("issue.yaml", timeout=60_000)
        assert process.poll() is None
        manifest.write_text(good, encoding="utf-8")
        expect(page.locator("#error")).to_be_hidden(timeout=120_000)
        expect(page.locator("#status")).to_contain_text("built", timeout=120_000)
        assert page.evaluate("() => window.notReloaded") is True
        browser.close()


def test_an_edit_redraws_only_the_pages_whose_layout_it_changed(tmp_path, demo_build):
    from typeset.serve.preview import Previewer

    _, out = demo_build
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    issue = tmp_path / "demo"
    shutil.copytree(DEMO, issue, ignore=shutil.ignore_patterns("build"))
    server = Previewer(issue)
    article = next(a for a in report["articles"] if a["file"] == "articles/02-yiben-zazhi.md")
    assert article["actual"] == [3, 4]
    _, first = server.lay_out([article], report)
    assert first == {article["file"]: [0, 1]}  # nothing to compare with: both pages drawn
    _, again = server.lay_out([article], report)
    assert again == {article["file"]: []}
    path = issue / article["file"]
    text = path.read_text(encoding="utf-8")
    last_paragraph = text.rstrip().split("\n\n")[-1]
    path.write_text(text.replace(last_paragraph, last_paragraph + "（编者按：本段为校对时所加。）"), encoding="utf-8")
    body, edited = server.lay_out([article], report)
    assert edited == {article["file"]: [1]}  # the edit on page 4 leaves page 3 as it was
    assert len(body.document.pages) == 2
