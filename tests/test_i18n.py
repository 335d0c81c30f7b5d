"""The Chinese interface: every message has its translation, the language follows the locale,
and the texts a person reads (errors, hints, help, the fit table, the board) are in it."""

import ast
import json
import os
import re
import string
import subprocess
import sys
import urllib.request

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from conftest import DEMO, REPO, write_issue

from typeset import i18n

PACKAGE = REPO / "typeset"
MARKERS = {"_": 0, "N_": 0, "n_": 0, "in_language": 1, "say": 0}


def _catalog():
    with i18n.CATALOG.open("rb") as file:
        return read_po(file, locale="zh_CN")


def _source_messages() -> set[str]:
    """The literal first argument of every _(), N_(), n_() … call in the package: what the
    catalog must translate. Read from the syntax tree, so no call hides inside another."""
    messages = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in MARKERS:
                argument = node.args[MARKERS[node.func.id]] if len(node.args) > MARKERS[node.func.id] else None
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    messages.add(argument.value)
    for path in PACKAGE.rglob("*.j2"):
        messages |= set(re.findall(r'_\("([^"]+)"\)', path.read_text(encoding="utf-8")))
    return messages


def _fields(text: str) -> set[str]:
    return {name for _literal, name, _spec, _conversion in string.Formatter().parse(text) if name}


def test_every_message_has_a_chinese_translation():
    catalog = _catalog()
    translated = {}
    for message in catalog:
        if message.id and not message.fuzzy:
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            for msgid in ids:
                translated[msgid] = all(strings)
    missing = sorted(m for m in _source_messages() if not translated.get(m))
    assert missing == [], "run `python -m typeset.i18n` and translate these in " \
                          f"{i18n.CATALOG.relative_to(REPO)}: {missing}"
    # click's own messages (usage, option errors) are in the catalog too
    click_missing = i18n.untranslated(i18n.extract_messages())
    assert not [m for m in click_missing if not translated.get(m)]


def test_translations_keep_the_fields_of_their_message():
    for message in _catalog():
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if "%(" in ids[0]:
            continue  # click's %-formatted messages
        for msgid, text in zip(ids, strings):
            assert _fields(text) == _fields(msgid), (msgid, text)


def test_the_compiled_catalog_is_up_to_date(tmp_path):
    compiled = tmp_path / "typeset.mo"
    with compiled.open("wb") as file:
        write_mo(file, _catalog(), use_fuzzy=False)
    assert compiled.read_bytes() == i18n.CATALOG.with_suffix(".mo").read_bytes(), \
        "run `python -m typeset.i18n` to compile the catalog"


@pytest.mark.parametrize("environment, expected", [
    ({"LANG": "zh_CN.UTF-8"}, "zh_CN"), ({"LANG": "C.UTF-8"}, "en"), ({"LANGUAGE": "zh_CN:en", "LANG": "C"}, "zh_CN"),
    ({"LC_ALL": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"), ({"TYPESET_LANG": "zh_CN", "LANG": "C"}, "zh_CN"),
    ({"TYPESET_LANG": "en", "LANG": "zh_CN.UTF-8"}, "en"), ({}, "en"),
])
def test_the_language_follows_the_locale(monkeypatch, environment, expected):
    for variable in ("TYPESET_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    assert i18n.language() == expected


def _run(lang: str, *args: str, cwd=REPO) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items()
           if key not in ("TYPESET_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES")}
    env["LANG"] = lang
    return subprocess.run([sys.executable, "-m", "typeset", *args], capture_output=True, text=True, cwd=cwd,
                          env=env)


BROKEN = """
magazine:
  name: 测试刊
page:
  trim: [210mm, 285]
sections:
  - title: 专题
    articles:
      - file: articles/a.md
        pages: "1"
"""


def test_an_input_error_its_hint_and_the_summary_in_chinese_and_in_english(tmp_path):
    issue = write_issue(tmp_path / "issue", BROKEN)
    chinese = _run("zh_CN.UTF-8", "build", str(issue))
    assert chinese.returncode == 1
    assert chinese.stderr.splitlines() == [
        f"{issue}/issue.yaml:4:17 page.trim[1]: 应为长度，例如 210mm，实际是 285",
        "  提示：写数字加单位：mm、cm、in 或 pt",
        f"{issue}/issue.yaml:8:15 sections[0].articles[0].file: “articles/a.md”不存在",
        "  提示：路径相对于 issue.yaml 所在的文件夹",
        "错误：输入有 2 处问题；未写出任何文件",
    ]
    english = _run("C.UTF-8", "build", str(issue))
    assert english.stderr.splitlines()[-1] == "error: 2 problems in the input; nothing was written"
    assert english.stderr.splitlines()[1] == "  hint: write a number with a unit: mm, cm, in or pt"


def test_help_in_chinese_and_in_english():
    top = _run("zh_CN.UTF-8", "--help").stdout
    assert top.startswith("用法: python -m typeset [OPTIONS] COMMAND [ARGS]...")
    assert "把一期中文期刊（issue.yaml 加 Markdown 文章）排成可付印的 PDF。" in top
    assert "显示本帮助并退出。" in top and "命令:" in top
    build = _run("zh_CN.UTF-8", "build", "--help").stdout
    assert "输出文件夹（默认：ISSUE_DIR/build）。" in build and "只显示警告和错误。" in build
    assert "Show this message" not in build
    assert "Usage: python -m typeset build [OPTIONS] ISSUE_DIR" in _run("C.UTF-8", "build", "--help").stdout
    unknown = _run("zh_CN.UTF-8", "bild")
    assert unknown.returncode == 2 and "错误：没有命令 'bild'。" in unknown.stderr


def test_the_fit_table_in_chinese(demo_build):
    _, out = demo_build
    table = _run("zh_CN.UTF-8", "fit", str(DEMO)).stdout.splitlines()
    assert table[0].split() == ["栏目", "标题", "计划", "实际", "调整", "结果"]
    assert any("合适" in line or "留白" in line for line in table[2:])
    assert _run("C.UTF-8", "fit", str(DEMO)).stdout.split()[:6] == ["section", "title", "planned", "actual",
                                                                     "settings", "fit"]


def test_the_board_follows_the_browsers_language(monkeypatch):
    from typeset.serve.board import Board, Message, board_html

    page = board_html("zh_CN").decode()
    strings = json.loads(re.search(r"const T = (.*?);  //", page).group(1))
    assert "<title>typeset · 版面计划</title>" in page and strings["fit"]["overset"] == "超版"
    assert "<title>typeset · page plan</title>" in board_html("en").decode()
    board = Board()
    board.publish(status=Message(i18n.N_("built {time} in {seconds} s"), {"time": "10:00:00", "seconds": 1.5}))
    assert board.snapshot("zh_CN")["status"] == "10:00:00 生成完毕，用时 1.5 秒"
    assert board.snapshot("en")["status"] == "built 10:00:00 in 1.5 s"
    assert i18n.lang_of("zh-CN,zh;q=0.9,en;q=0.8") == "zh_CN" and i18n.lang_of("en-US,en;q=0.9") == "en"


def test_the_served_board_answers_in_the_language_asked(tmp_path):
    import shutil

    issue = tmp_path / "demo"
    shutil.copytree(DEMO, issue, ignore=shutil.ignore_patterns("build"))
    process = subprocess.Popen([sys.executable, "-m", "typeset", "serve", str(issue), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        url = re.search(r"http://127\.0\.0\.1:\d+/", process.stdout.readline()).group(0)
        for language, title in (("zh-CN,zh;q=0.9", "版面计划"), ("en-GB,en;q=0.9", "page plan")):
            request = urllib.request.Request(url, headers={"Accept-Language": language})
            assert f"<title>typeset · {title}</title>" in urllib.request.urlopen(request, timeout=10).read().decode()
    finally:
        process.terminate()
        process.wait(timeout=20)
