"""Benchmark: build the reference issue several times; print medians of wall time and peak memory.

    .venv/bin/python benchmarks/build_reference.py [--runs 5] [--issue ../shared/reference-issue]

Three cases, each run in its own process as a user runs it (start-up and font loading included):
cold build (a new output folder; the font caches warmed by one untimed build first), unchanged
rebuild (the same folder again), and one-article edit (a paragraph of article 07 changed, then
rebuilt). The issue is copied to a temporary folder, so ../shared stays untouched.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EDITED = "07-xianji-shuiwuju-zhengzhi-jiguan.md"


def writable_copy(source: Path, target: Path) -> Path:
    """The issue copied without its build folder and made writable (../shared is read-only)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("build"))
    for path in target.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


def run_once(issue: Path, out: Path) -> tuple[float, float, int]:
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "typeset", "build", str(issue), "-o", str(out), "-q"],
                               cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def summary(name: str, samples: list[tuple[float, float, int]], pages: int) -> str:
    times = [s[0] for s in samples]
    peaks = [s[1] for s in samples]
    return (f"{name:22} median {statistics.median(times):6.2f} s  (min {min(times):6.2f}, max {max(times):6.2f})  "
            f"peak RSS median {statistics.median(peaks):5.0f} MB  {statistics.median(times) / pages * 1000:5.0f} ms/page")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--issue", type=Path, default=REPO.parent / "shared" / "reference-issue")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        issue = writable_copy(args.issue, Path(temp) / "issue")
        _, _, code = run_once(issue, Path(temp) / "warm")  # font caches, CMYK images, bytecode
        if code not in (0, 3):
            sys.exit(f"build failed with exit code {code}")
        pages = json.loads((Path(temp) / "warm" / "report.json").read_text(encoding="utf-8"))["pages"]
        cold, unchanged, edited = [], [], []
        article = issue / "articles" / EDITED
        original = article.read_text(encoding="utf-8")
        for run in range(args.runs):
            out = Path(temp) / f"out{run}"
            cold.append(run_once(issue, out))
            unchanged.append(run_once(issue, out))
            article.write_text(original.replace("开展调研", f"开展调研（第{run + 1}次）", 1), encoding="utf-8")
            edited.append(run_once(issue, out))
            article.write_text(original, encoding="utf-8")
    print(f"issue: {args.issue} ({pages} pages), {args.runs} runs of each")
    print(summary("cold build", cold, pages))
    print(summary("unchanged rebuild", unchanged, pages))
    print(summary("one-article edit", edited, pages))


if __name__ == "__main__":
    main()
