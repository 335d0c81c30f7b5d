"""Benchmark: build the reference issue several times; print medians of wall time and peak memory.

    .venv/bin/python benchmarks/build_reference.py [--runs 5] [--issue ../shared/reference-issue]

Three cases, each run in its own process as a user runs it (start-up and font loading included):
cold build (a new output folder; the font caches warmed by one untimed build first), unchanged
rebuild (the same folder again), and one-article edit (a paragraph of article 07 changed, then
rebuilt). Each is also given as a multiple of a bare WeasyPrint render of the same text
(bare_render.py), timed in the same run. Peak memory is that of the whole process tree (the
build and its worker processes) at its largest, by proportional set size, so pages the workers
share with the build count once. The issue is copied to a temporary folder, so ../shared stays
untouched.
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
    return run_measured([sys.executable, "-m", "typeset", "build", str(issue), "-o", str(out), "-q"])


def bare_once(issue: Path, out: Path) -> tuple[float, float, int]:
    return run_measured([sys.executable, str(REPO / "benchmarks" / "bare_render.py"), "--issue", str(issue),
                         "-o", str(out)])


def run_measured(command: list[str]) -> tuple[float, float, int]:
    """(seconds, peak MB of the process tree, exit code) of `command`."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_memory(process.pid))
        time.sleep(0.05)
    return time.perf_counter() - started, peak / 1024, process.returncode


def tree_memory(root: int) -> int:
    """kB: the proportional set size of `root` and every process under it."""
    parents = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, grew = {root}, True
    while grew:
        grown = tree | {pid for pid, parent in parents.items() if parent in tree}
        grew, tree = grown != tree, grown
    total = 0
    for pid in tree:
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")), 0)
    return total


def summary(name: str, samples: list[tuple[float, float, int]], pages: int, bare: float) -> str:
    times = [s[0] for s in samples]
    peaks = [s[1] for s in samples]
    median = statistics.median(times)
    return (f"{name:22} median {median:6.2f} s  {median / bare:5.2f}x bare  (min {min(times):6.2f}, "
            f"max {max(times):6.2f})  peak memory {statistics.median(peaks):5.0f} MB  "
            f"{median / pages * 1000:5.0f} ms/page")


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
        cold, unchanged, edited, bare = [], [], [], []
        article = issue / "articles" / EDITED
        original = article.read_text(encoding="utf-8")
        for run in range(args.runs):
            out = Path(temp) / f"out{run}"
            bare.append(bare_once(issue, Path(temp) / f"bare{run}.pdf"))
            cold.append(run_once(issue, out))
            unchanged.append(run_once(issue, out))
            article.write_text(original.replace("开展调研", f"开展调研（第{run + 1}次）", 1), encoding="utf-8")
            edited.append(run_once(issue, out))
            article.write_text(original, encoding="utf-8")
    bare_time = statistics.median(s[0] for s in bare)
    print(f"issue: {args.issue} ({pages} pages), {args.runs} runs of each")
    print(summary("bare WeasyPrint render", bare, pages, bare_time))
    print(summary("cold build", cold, pages, bare_time))
    print(summary("unchanged rebuild", unchanged, pages, bare_time))
    print(summary("one-article edit", edited, pages, bare_time))


if __name__ == "__main__":
    main()
