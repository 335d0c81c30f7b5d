"""typeset check: the proofreader's first pass, on planted errors, the reference issue and --fix."""

import json
import shutil

from conftest import DEMO, MINIMAL_MANIFEST, REFERENCE, run_cli, write_issue

from typeset.inputs.proofread import confusables, proofread_file

# one planted error of every kind a line (line numbers as in the file: the front matter is 1-4)
PLANTED = """---
title: 校对测试, 标题
author: 张三 李四
---

第一段写到这里,后面还有内容.
括号里的说明(比如这样)不该用半角。
引号没有关上：“这一句没有后引号。
标点重复了。。还有，，这里。
省略号写成了...这样，或者写成。。。这样，或者只有一个…这样。
破折号写成了—这样，或者--这样。
全角数字１２３和字母ＡＢＣ要改。
24年底完成了工作。
他把钱款占为已有，再接再励。
这是的的确确的事，我们要研究研究，把责任压实压实，做好的的工作。
這裡有繁体字。
这里 有空格。
"""

EXPECTED = [
    (2, 12, "half-width-punctuation", ", ", "，"),
    (6, 8, "half-width-punctuation", ",", "，"),
    (6, 15, "half-width-punctuation", ".", "。"),
    (7, 7, "half-width-punctuation", "(比如这样)", "（比如这样）"),
    (8, 8, "unbalanced-pair", "“", "”"),
    (9, 6, "doubled-punctuation", "。。", "。"),
    (9, 10, "doubled-punctuation", "，，", "，"),
    (10, 7, "ellipsis", "...", "……"),
    (10, 17, "ellipsis", "。。。", "……"),
    (10, 29, "ellipsis", "…", "……"),
    (11, 7, "dash", "—", "——"),
    (11, 13, "dash", "--", "——"),
    (12, 5, "full-width-alphanumeric", "１２３", "123"),
    (12, 11, "full-width-alphanumeric", "ＡＢＣ", "ABC"),
    (13, 1, "short-year", "24年", "2024年"),
    (14, 5, "confusable", "占为已有", "占为己有"),
    (14, 10, "confusable", "再接再励", "再接再厉"),
    (15, 21, "doubled-word", "压实压实", "压实"),
    (15, 28, "doubled-word", "的的", "的"),
    (16, 1, "traditional", "這裡", "这里"),
    (17, 3, "space-between-han", " ", ""),
]


def _planted_issue(tmp_path, newline="\n"):
    root = write_issue(tmp_path / "issue", MINIMAL_MANIFEST)
    (root / "articles").mkdir(exist_ok=True)
    (root / "articles" / "a.md").write_bytes(PLANTED.replace("\n", newline).encode("utf-8"))
    return root


def test_planted_errors_of_every_kind_are_found_on_their_lines(tmp_path):
    root = _planted_issue(tmp_path)
    result = run_cli("check", str(root), "--json")
    assert result.returncode == 1, result.stderr
    findings = json.loads(result.stdout)
    assert {f["file"] for f in findings} == {f"{root}/articles/a.md"}
    found = [(f["line"], f["column"], f["rule"], f["suggestion"]) for f in findings]
    assert found == [(line, column, rule, suggestion) for line, column, rule, _found, suggestion in EXPECTED]
    # what an editor reads: the place, the rule, the message, and the suggestion as a hint
    text = run_cli("check", str(root)).stdout
    assert (f"{root}/articles/a.md:14:5 confusable: '占为已有' is a common misspelling\n"
            "  hint: 占为已有 → 占为己有\n") in text
    assert f"{root}/articles/a.md:8:8 unbalanced-pair: '“' is not closed in its paragraph\n" in text
    # 的的确确, 研究研究 and the names in the byline are not findings; nor is the title's phrase
    assert not any(f["line"] == 3 for f in findings)


def test_fix_corrects_only_the_safe_kinds_and_touches_nothing_else(tmp_path):
    root = _planted_issue(tmp_path, newline="\r\n")
    result = run_cli("check", str(root), "--fix")
    assert result.returncode == 1  # what cannot be fixed safely is still listed
    fixed = (root / "articles" / "a.md").read_bytes().decode("utf-8")
    expected = PLANTED.replace("校对测试, 标题", "校对测试，标题").replace("到这里,后面还有内容.", "到这里，后面还有内容。")
    expected = expected.replace("(比如这样)", "（比如这样）").replace("成了...这样", "成了……这样")
    expected = expected.replace("写成。。。这样", "写成……这样").replace("一个…这样", "一个……这样")
    expected = expected.replace("成了—这样，或者--这样", "成了——这样，或者——这样").replace("１２３和字母ＡＢＣ", "123和字母ABC")
    expected = expected.replace("这里 有空格", "这里有空格")
    assert fixed == expected.replace("\n", "\r\n")  # line endings and every unfixed error as they were
    safe = {"half-width-punctuation", "ellipsis", "dash", "full-width-alphanumeric", "space-between-han"}
    changes = [line for line in result.stdout.splitlines() if " fixed " in line]
    assert len(changes) == sum(1 for e in EXPECTED if e[2] in safe)
    assert f"{root}/articles/a.md:12:5 full-width-alphanumeric: fixed '１２３' → '123'" in changes
    left = json.loads(run_cli("check", str(root), "--json").stdout)
    assert {f["rule"] for f in left} == {rule for _l, _c, rule, _f, _s in EXPECTED} - safe


def test_fix_leaves_proofread_text_untouched(tmp_path):
    issue = tmp_path / "demo"
    shutil.copytree(DEMO, issue, ignore=shutil.ignore_patterns("build"))
    before = {path: path.read_bytes() for path in issue.rglob("*.md")}
    result = run_cli("check", str(issue), "--fix")
    assert result.returncode == 0, result.stdout
    assert result.stdout == "" and "0 findings" in result.stderr
    assert {path: path.read_bytes() for path in issue.rglob("*.md")} == before


def test_every_finding_in_the_reference_issue(tmp_path):
    """Each finding was read by hand: all are true (see the note on issue 19)."""
    if not REFERENCE.is_dir():
        return
    result = run_cli("check", str(REFERENCE), "--json")
    assert result.returncode == 1
    findings = json.loads(result.stdout)
    rules = {}
    for finding in findings:
        rules[finding["rule"]] = rules.get(finding["rule"], 0) + 1
    assert rules == {"half-width-punctuation": 311, "doubled-word": 3, "space-between-han": 2, "confusable": 1}
    by_place = {(f["file"].rsplit("/", 1)[1], f["line"], f["column"]): f["suggestion"] for f in findings
                if f["rule"] != "half-width-punctuation"}
    assert by_place == {
        ("01-qieshi-xuehao-dangshi.md", 6, 92): "转化", ("01-qieshi-xuehao-dangshi.md", 10, 109): "转化",
        ("11-sixiang-zhengzhi-gongzuo.md", 19, 13): "压实", ("24-jiwei-tongbao-anli.md", 18, 93): "占为己有",
        ("16-xinxihua-xinzhi-shengchanli.md", 13, 16): "", ("16-xinxihua-xinzhi-shengchanli.md", 13, 30): ""}
    marks_07 = [f for f in findings if "07-xianji" in f["file"] and f["suggestion"] in "，；"]
    assert len(marks_07) == 68  # the half-width commas (60) and semicolons (8) of article 07


def test_a_build_warns_of_findings_and_is_not_stopped(tmp_path):
    root = _planted_issue(tmp_path)
    out = tmp_path / "out"
    result = run_cli("build", str(root), "-o", str(out), "-q")
    assert result.returncode == 0, result.stderr
    warnings = json.loads((out / "report.json").read_text(encoding="utf-8"))["warnings"]
    confusable = [w for w in warnings if w["key"] == "confusable"]
    assert confusable[0]["text"] == (f"{root}/articles/a.md:14:5 confusable: '占为已有' is a common misspelling "
                                     "(2 places, this the first)")


def test_the_confusables_list_is_well_formed():
    pairs = confusables()
    assert len(pairs) > 300
    assert all(wrong != right and len(wrong) == len(right) for wrong, right in pairs)
    assert len({wrong for wrong, _right in pairs}) == len(pairs)


def test_findings_follow_edits_and_the_language_within_one_process(tmp_path, monkeypatch):
    """Findings are remembered by the file's content (a resident process proofreads again only
    the files edited since): an edit in place and another language are both seen."""
    path = tmp_path / "a.md"
    planted = "---\ntitle: 题\n---\n\n第一段,后面。\n"
    path.write_text(planted, encoding="utf-8")
    monkeypatch.setenv("TYPESET_LANG", "en")
    found = [(f.line, f.column, f.rule, f.message) for f in proofread_file(path, "a.md", ("title",))]
    assert found == [(5, 4, "half-width-punctuation", "half-width ',' between Chinese characters")]
    path.write_text(planted.replace(",", "，"), encoding="utf-8")
    assert proofread_file(path, "a.md", ("title",)) == []
    path.write_text(planted, encoding="utf-8")
    monkeypatch.setenv("TYPESET_LANG", "zh_CN")
    assert [f.message for f in proofread_file(path, "a.md", ("title",))] == ["中文之间用了半角“,”"]


def test_findings_are_remembered_whatever_the_command_calls_the_file(tmp_path, monkeypatch):
    """A resident process reads the issue by its full path, a command by the path it was given:
    the findings remembered serve both, each named as its command named the file."""
    from typeset.inputs.proofread import _findings_in

    path = tmp_path / "b.md"
    path.write_text("---\ntitle: 题\n---\n\n第二段,后面。\n", encoding="utf-8")
    monkeypatch.setenv("TYPESET_LANG", "en")
    by_full_path = proofread_file(path, str(path), ("title",))
    hits = _findings_in.cache_info().hits
    as_given = proofread_file(path, "issue/b.md", ("title",))
    assert _findings_in.cache_info().hits == hits + 1
    assert [f.display for f in by_full_path + as_given] == [str(path), "issue/b.md"]
    assert [(f.line, f.column, f.rule) for f in as_given] == [(f.line, f.column, f.rule) for f in by_full_path]
