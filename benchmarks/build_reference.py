"""Benchmark: build the reference issue several times; print median wall time and peak memory.

    .venv/bin/python benchmarks/build_reference.py [--runs 5] [--issue ../shared/reference-issue]

Each build runs in its own process (as a user runs it), so the figures include start-up and
font loading. The font-face extraction cache is warmed by one untimed build first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_once(issue: Path, out: Path) -> tuple[float, float, int]:
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "typeset", "build", str(issue), "-o", str(out), "-q"],
                               cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    return elapsed, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--issue", type=Path, default=REPO.parent / "shared" / "reference-issue")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        out = Path(temp)
        _, _, code = run_once(args.issue, out)  # warm-up: font cache, Python bytecode
        if code not in (0, 3):
            sys.exit(f"build failed with exit code {code}")
        times, peaks = [], []
        for _ in range(args.runs):
            elapsed, peak_mb, _ = run_once(args.issue, out)
            times.append(elapsed)
            peaks.append(peak_mb)
        pages = __import__("json").loads((out / "report.json").read_text(encoding="utf-8"))["pages"]
    print(f"issue: {args.issue} ({pages} pages), {args.runs} runs")
    print(f"wall time  median {statistics.median(times):6.2f} s   min {min(times):6.2f} s   max {max(times):6.2f} s")
    print(f"peak RSS   median {statistics.median(peaks):6.0f} MB  max {max(peaks):6.0f} MB")
    print(f"per page   median {statistics.median(times) / pages * 1000:6.0f} ms")


if __name__ == "__main__":
    main()
