"""The yardstick of issue 16: WeasyPrint rendering the same article text bare.

    .venv/bin/python benchmarks/bare_render.py [--issue ../shared/reference-issue] [-o bare.pdf]

One plain HTML document of every article's title, heads and paragraphs (Markdown rendered, no
refinement, no photos), two columns of Noto Serif CJK SC at 10 pt, each article on a new page; one
WeasyPrint pass to a PDF: no covers, contents, copyfitting, fillers or checks. What `typeset
build` costs is stated as a multiple of this, measured on the same machine in the same run.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
import tempfile
from pathlib import Path

import yaml
from markdown_it import MarkdownIt

CSS = """
@page { size: 210mm 285mm; margin: 20mm 18mm; }
body { font-family: "Noto Serif CJK SC"; font-size: 10pt; line-height: 1.7; text-align: justify; }
article { columns: 2; column-gap: 6mm; break-before: page; }
h1 { column-span: all; font-size: 20pt; text-align: center; }
h2, h3 { font-size: 11pt; }
p { margin: 0; text-indent: 2em; }
"""


def article_files(issue: Path) -> list[Path]:
    """The article files in the manifest's order."""
    manifest = yaml.safe_load((issue / "issue.yaml").read_text(encoding="utf-8"))
    files = []
    for section in manifest.get("sections", []):
        for entry in section.get("articles", []):
            files.append(issue / entry["file"])
    return files


def bare_html(issue: Path) -> str:
    markdown = MarkdownIt("commonmark")
    parts = []
    for path in article_files(issue):
        text = path.read_text(encoding="utf-8")
        front, body = ({}, text)
        if text.startswith("---"):
            _, head, body = text.split("---", 2)
            front = yaml.safe_load(head) or {}
        body = re.sub(r"^!\[.*$", "", body, flags=re.M)  # the text only
        title = html.escape(str(front.get("title", path.stem)))
        parts.append(f"<article><h1>{title}</h1>{markdown.render(body)}</article>")
    return f'<html lang="zh-Hans-CN"><head><style>{CSS}</style></head><body>{"".join(parts)}</body></html>'


def render(issue: Path, out: Path) -> int:
    """Render the bare document of `issue` to `out`; its page count."""
    import weasyprint

    document = weasyprint.HTML(string=bare_html(issue)).render()
    document.write_pdf(out)
    return len(document.pages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issue", type=Path, default=Path(__file__).resolve().parent.parent.parent
                        / "shared" / "reference-issue")
    parser.add_argument("-o", "--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        pages = render(args.issue, args.out or Path(temp) / "bare.pdf")
    print(f"{pages} pages", file=sys.stderr)


if __name__ == "__main__":
    main()
