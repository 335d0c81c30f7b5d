import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# The tests read English messages unless they ask for Chinese (test_i18n.py); a developer's own
# zh_CN locale must not change what they expect.
os.environ["TYPESET_LANG"] = "en"
# Each command in a process of its own: a resident process (typeset/resident.py) outliving a test
# would hold its temporary folders; test_resident.py starts its own and stops it.
os.environ["TYPESET_RESIDENT"] = "0"

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "issues" / "demo"
REFERENCE = REPO.parent / "shared" / "reference-issue"

PARAGRAPH = ("排版是一门老手艺，从铅字到照排，从照排到桌面出版，工具换了一代又一代，规矩却大多留了下来："
             "正文首行缩进两字，标点不出现在不该出现的位置，每一栏都要齐头齐尾。")


def write_issue(root: Path, manifest: str, articles: dict[str, str] | None = None) -> Path:
    """A small issue folder: issue.yaml plus articles/NAME.md files."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "issue.yaml").write_text(textwrap.dedent(manifest).lstrip(), encoding="utf-8")
    for name, text in (articles or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


def article(title: str = "测试文章", paragraphs: int = 3, extra_front: str = "", body: str | None = None) -> str:
    text = body if body is not None else "\n\n".join([PARAGRAPH] * paragraphs)
    return f"---\ntitle: {title}\n{extra_front}---\n\n{text}\n"


MINIMAL_MANIFEST = """
magazine:
  name: 测试刊
issue:
  year: 2026
  number: 1
page:
  trim: [210mm, 285mm]
sections:
  - title: 专题
    articles:
      - file: articles/a.md
        pages: "1"
"""


@pytest.fixture
def minimal_issue(tmp_path) -> Path:
    return write_issue(tmp_path / "issue", MINIMAL_MANIFEST, {"articles/a.md": article()})


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "typeset", *args], capture_output=True, text=True,
                          cwd=cwd or REPO)


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo-build")
    result = run_cli("build", str(DEMO), "-o", str(out))
    return result, out


@pytest.fixture(scope="session")
def reference_build(tmp_path_factory):
    if not REFERENCE.is_dir():
        pytest.skip("the reference issue is not at ../shared/reference-issue")
    out = tmp_path_factory.mktemp("reference-build")
    result = run_cli("build", str(REFERENCE), "-o", str(out))
    return result, out


def pdf_text_by_page(pdf_path: Path) -> list[str]:
    import pdfplumber

    with pdfplumber.open(pdf_path) as pdf:
        return [page.extract_text() or "" for page in pdf.pages]


def column_text(pdf_path: Path, page_index: int, column: int, columns: int = 2) -> str:
    """The text of one column of a page, lines joined: what a reader copies out of that column."""
    import pdfplumber

    with pdfplumber.open(pdf_path) as pdf:
        page = pdf.pages[page_index]
        x0, top, x1, bottom = page.bbox  # pages with bleed do not start at 0
        width = (x1 - x0) / columns
        region = page.crop((x0 + column * width, top, x0 + (column + 1) * width, bottom))
        return (region.extract_text() or "").replace("\n", "")


def pdffonts(pdf_path: Path) -> list[dict]:
    output = subprocess.run(["pdffonts", str(pdf_path)], capture_output=True, text=True, check=True).stdout
    rows = []
    for line in output.splitlines()[2:]:
        parts = line.split()
        # name type... encoding emb sub uni object ID: the three yes/no flags stand before the object number
        rows.append({"name": parts[0], "emb": parts[-5], "sub": parts[-4], "uni": parts[-3]})
    return rows



