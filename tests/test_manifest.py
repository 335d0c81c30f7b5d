"""issue.yaml: typed loading, every error at once with its position, key path and hint."""

from pathlib import Path

import pytest
from conftest import MINIMAL_MANIFEST, REFERENCE, article, write_issue

from typeset.diagnostics import Diagnostics, InputError
from typeset.inputs.manifest import PageRange, load_manifest


def load(root: Path, strict: bool = False):
    diagnostics = Diagnostics()
    try:
        return load_manifest(root, diagnostics, strict=strict, display_root="issue"), diagnostics
    except InputError:
        return None, diagnostics


def texts(diagnostics: Diagnostics, severity: str = "error") -> list[str]:
    return [d.format() for d in diagnostics.items if d.severity == severity]


def test_reference_manifest_loads_clean():
    if not REFERENCE.is_dir():
        pytest.skip("no reference issue")
    manifest, diagnostics = load(REFERENCE)
    assert diagnostics.items == []
    assert len(manifest.articles) == 25
    assert [s.title for s in manifest.sections][:3] == ["卷首语", "要言要论", "党建聚焦"]
    assert manifest.sections[0].style == "foreword"
    assert manifest.page.trim_mm == (210.0, 285.0) and manifest.page.bleed_mm == 3.0
    assert manifest.contents_pages == PageRange(2, 3)
    assert manifest.articles[6].pages == PageRange(9, 12)
    assert manifest.articles[12].continued_on == 32
    assert manifest.issue.label == "2024年第5期" and manifest.issue.serial == 241
    assert manifest.masthead[0].label == "主管单位"


def test_all_errors_reported_at_once_with_positions_and_hints(tmp_path):
    root = write_issue(tmp_path / "issue", """
        magazine:
          name: 测试刊
          colour: red
        issue:
          year: 二〇二六
          number: 1
        page:
          trim: [210mm, 285]
        contents:
          pages: "2-3"
        sections:
          - title: 专题
            articles:
              - file: articles/x.md
                pages: "1"
              - file: articles/a.md
                pages: "3-4"
              - file: articles/b.md
                pages: "6-5"
                continued_on: 4
        """, {"articles/a.md": article(), "articles/b.md": article()})
    manifest, diagnostics = load(root)
    assert manifest is None
    assert texts(diagnostics) == [
        "issue/issue.yaml:5:9 issue.year: expected a whole number, got '二〇二六'\n"
        "  hint: write it in digits, e.g. 2024",
        "issue/issue.yaml:8:17 page.trim[1]: expected a length such as 210mm, got 285\n"
        "  hint: write a number with a unit: mm, cm, in or pt",
        "issue/issue.yaml:14:15 sections[0].articles[0].file: 'articles/x.md' does not exist\n"
        "  hint: paths are relative to the folder that holds issue.yaml",
        "issue/issue.yaml:19:16 sections[0].articles[2].pages: page range '6-5' runs backwards\n"
        '  hint: write "5-6"',
        "issue/issue.yaml:17:16 sections[0].articles[1].pages: pages 3-4 overlap the contents pages 2-3\n"
        "  hint: the contents pages are kept free for the contents (contents.pages)",
    ]
    assert texts(diagnostics, "warning") == [
        "warning: issue/issue.yaml:3:3 magazine.colour: unknown key 'colour'\n"
        "  hint: known keys here: name, slogan, sponsor"]


def test_unknown_keys_are_errors_with_strict(tmp_path):
    root = write_issue(tmp_path / "issue", MINIMAL_MANIFEST + "extra: 1\n", {"articles/a.md": article()})
    manifest, diagnostics = load(root)
    assert manifest is not None and len(diagnostics.warnings) == 1
    manifest, diagnostics = load(root, strict=True)
    assert manifest is None
    assert texts(diagnostics) == ["issue/issue.yaml:13:1 extra: unknown key 'extra'\n"
                                  "  hint: known keys here: back_cover, contents, cover, filling, inside_back_cover, "
                                  "inside_front_cover, issue, magazine, masthead, page, sections"]


@pytest.mark.parametrize("yaml_text, expected", [
    ("magazine: [\n", "issue/issue.yaml:2:1 YAML syntax error: expected the node content, but found '<stream end>'\n"
                      "  hint: check the indentation and the quoting of this line and the one before it"),
    ("", "issue/issue.yaml issue.yaml is empty\n  hint: start from issues/demo/issue.yaml"),
    ("- a\n- b\n", "issue/issue.yaml:1:1 (top level): expected a mapping, got a list"),
])
def test_unreadable_manifests(tmp_path, yaml_text, expected):
    root = tmp_path / "issue"
    root.mkdir()
    (root / "issue.yaml").write_text(yaml_text, encoding="utf-8")
    manifest, diagnostics = load(root)
    assert manifest is None
    assert texts(diagnostics)[0] == expected


def test_missing_manifest(tmp_path):
    manifest, diagnostics = load(tmp_path)
    assert texts(diagnostics) == ["issue no issue.yaml in this folder\n  hint: an issue folder holds issue.yaml, "
                                  "articles/ and images/; see the README"]


@pytest.mark.parametrize("file_value, message", [
    ("../outside.md", "'../outside.md' is outside the issue folder"),
    ("/etc/passwd", "'/etc/passwd' is outside the issue folder"),
    ("https://example.com/a.md", "'https://example.com/a.md' is outside the issue folder"),
])
def test_files_must_stay_inside_the_issue(tmp_path, file_value, message):
    (tmp_path / "outside.md").write_text(article(), encoding="utf-8")
    root = write_issue(tmp_path / "issue", MINIMAL_MANIFEST.replace("articles/a.md", file_value))
    manifest, diagnostics = load(root)
    assert manifest is None
    assert diagnostics.errors[0].message == message
    assert diagnostics.errors[0].key == "sections[0].articles[0].file"


def test_page_plan_order_and_continuations(tmp_path):
    root = write_issue(tmp_path / "issue", """
        magazine: {name: 测试刊}
        page: {trim: [210mm, 285mm]}
        sections:
          - title: 专题
            articles:
              - {file: articles/a.md, pages: "4-6"}
              - {file: articles/b.md, pages: "5", continued_on: 5}
              - {file: articles/c.md, pages: "8", continued_on: 20}
        """, {f"articles/{n}.md": article() for n in "abc"})
    manifest, diagnostics = load(root)
    assert [d.headline() for d in diagnostics.errors] == [
        "issue/issue.yaml:7:38 sections[0].articles[1].pages: pages 5 overlap the pages 4-6 of 'articles/a.md'",
        "issue/issue.yaml:7:57 sections[0].articles[1].continued_on: continues on page 5, which is not after its pages 5",
        "issue/issue.yaml:8:57 sections[0].articles[2].continued_on: continues on page 20, which no article is planned on",
    ]


def test_duplicate_keys_and_articles(tmp_path):
    root = write_issue(tmp_path / "issue", """
        magazine: {name: 测试刊}
        page: {trim: [210mm, 285mm]}
        page: {trim: [200mm, 285mm]}
        sections:
          - title: 专题
            articles:
              - {file: articles/a.md}
              - {file: articles/a.md}
        """, {"articles/a.md": article()})
    manifest, diagnostics = load(root)
    assert [d.headline() for d in diagnostics.errors] == [
        "issue/issue.yaml:3:1 page: duplicate key",
        "issue/issue.yaml:8:16 sections[0].articles[1].file: 'articles/a.md' is already listed at "
        "sections[0].articles[0]",
    ]


def test_lengths_in_other_units(tmp_path):
    root = write_issue(tmp_path / "issue", MINIMAL_MANIFEST.replace("[210mm, 285mm]", "[21cm, 8in]"),
                       {"articles/a.md": article()})
    manifest, _ = load(root)
    assert manifest.page.trim_mm == (210.0, 203.2)
