"""Every benchmark of the reference issue, one after the other, each printing its medians.

    .venv/bin/python benchmarks/run.py [--runs 3] [--issue ../shared/reference-issue]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("build_reference.py", "serve_edit.py")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--issue", type=Path, default=HERE.parent.parent / "shared" / "reference-issue")
    args = parser.parse_args()
    for script in BENCHMARKS:
        print(f"== {script}", flush=True)
        subprocess.run([sys.executable, str(HERE / script), "--runs", str(args.runs), "--issue", str(args.issue)],
                       check=True)


if __name__ == "__main__":
    main()
