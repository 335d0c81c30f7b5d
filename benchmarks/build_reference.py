"""Benchmark: build the reference issue several times; print medians of wall time and peak memory.

    .venv/bin/python benchmarks/build_reference.py [--runs 5] [--issue ../shared/reference-issue]

Each case is a `typeset build` command run as a user runs it: cold build (a new output folder;
the font caches warmed by one untimed build first), unchanged rebuild (the same folder again),
and one-article edit (a paragraph of article 07 changed, then rebuilt). The untimed build leaves
a resident process (typeset/resident.py), as a user's first command does, which the commands
hand their work to; the cold build and the edit are also run without it (TYPESET_RESIDENT=0: a
process that imports everything itself, as the first command of the day). Each is also given as
a multiple of a bare WeasyPrint render of the same text (bare_render.py), timed in the same run.
Peak memory is that of the command's process tree, with the resident process's for the commands
handed to it (the resident process, the child running the build, its worker processes), at its
largest, by proportional set size, so pages the processes share count once; it is sampled in one
more run of every case after the timed ones, as sampling holds up the processes it reads. The issue is copied to a
temporary folder, so ../shared stays untouched; the resident process is stopped at the end.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EDITED = "07-xianji-shuiwuju-zhengzhi-jiguan.md"
SAMPLE_EVERY = 0.5  # seconds between samples of the memory of the process tree
CASES = ("bare WeasyPrint render", "cold build, alone", "cold build", "unchanged rebuild", "one-article edit, alone",
         "one-article edit")


def writable_copy(source: Path, target: Path) -> Path:
    """The issue copied without its build folder and made writable (../shared is read-only)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("build"))
    for path in target.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


def run_once(issue: Path, out: Path, resident: bool = True, sampled: bool = False) -> tuple[float, float, int]:
    return run_measured([sys.executable, "-m", "typeset", "build", str(issue), "-o", str(out), "-q"],
                        None if resident else dict(os.environ, TYPESET_RESIDENT="0"), resident, sampled)


def bare_once(issue: Path, out: Path, sampled: bool = False) -> tuple[float, float, int]:
    return run_measured([sys.executable, str(REPO / "benchmarks" / "bare_render.py"), "--issue", str(issue),
                         "-o", str(out)], sampled=sampled)


def run_measured(command: list[str], env: dict | None = None, resident: bool = False,
                 sampled: bool = False) -> tuple[float, float, int]:
    """(seconds, peak MB of the process tree, and of the resident process's when it runs the
    command, exit code) of `command`; its memory is sampled only when `sampled` (0 MB otherwise)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    if not sampled:
        process.wait()
        return time.perf_counter() - started, 0.0, process.returncode
    # the resident process the command hands its work to is there before it (the untimed first
    # build leaves it): looked up once, not at every sample (reading every process's command line
    # took 35 ms of a core a sample, some 0.4 s of a cold build's, and the bare render has none)
    residents = resident_processes() if resident else []
    peak = 0
    while True:
        if resident and not residents:
            residents = resident_processes()  # the first build starts it
        peak = max(peak, tree_memory([process.pid, *residents]))
        # a sample reads the memory map of every process in the tree, some 30 ms of a core, and
        # holds up the processes it reads meanwhile: hence runs of their own (`main`)
        if _ended(process, within=SAMPLE_EVERY):
            break
    return time.perf_counter() - started, peak / 1024, process.returncode


def _ended(process: subprocess.Popen, within: float) -> bool:
    """Whether `process` ended within `within` seconds (its time is taken as it ends)."""
    try:
        process.wait(timeout=within)
        return True
    except subprocess.TimeoutExpired:
        return False


@lru_cache(maxsize=1)
def resident_key() -> bytes:
    """The key of the commands' resident process (of this environment): hashing typeset's code,
    so once, not in every 50 ms sample."""
    from typeset.resident import resident_key as key_of

    return key_of(dict(os.environ)).encode()


def resident_processes() -> list[int]:
    """The resident process of the commands this benchmark runs; not the children it forks, which
    carry its command line."""
    key = resident_key()
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                command = Path(entry.path, "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"typeset.resident" in command and key in command:
                found.append(int(entry.name))
    return [pid for pid in found if _parent(pid) not in found]


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def tree_memory(roots: list[int]) -> int:
    """kB: the proportional set size of the processes `roots` and every process under them (one
    look at every process's parent for all of them)."""
    parents = {int(entry.name): _parent(int(entry.name)) for entry in os.scandir("/proc") if entry.name.isdigit()}
    tree, grew = set(roots), True
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
    """The timed runs' wall times, and the peak memory of the last run (the one sampled)."""
    times = [s[0] for s in samples[:-1]]
    median = statistics.median(times)
    return (f"{name:24} median {median:6.2f} s  {median / bare:5.2f}x bare  (min {min(times):6.2f}, "
            f"max {max(times):6.2f})  peak memory {samples[-1][1]:5.0f} MB  "
            f"{median / pages * 1000:5.0f} ms/page")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--issue", type=Path, default=REPO.parent / "shared" / "reference-issue")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        issue = writable_copy(args.issue, Path(temp) / "issue")
        # typeset's bytecode, as setup.sh leaves it: the untimed build would not write it where
        # Python may not (PYTHONDONTWRITEBYTECODE), and every command would compile the package
        compileall.compile_dir(REPO / "typeset", quiet=1)
        try:
            _, _, code = run_once(issue, Path(temp) / "warm")  # font caches, CMYK images; the resident process
            if code not in (0, 3):
                sys.exit(f"build failed with exit code {code}")
            time.sleep(5)  # the resident process's imports and warm-up: in the background, between a user's commands
            pages = json.loads((Path(temp) / "warm" / "report.json").read_text(encoding="utf-8"))["pages"]
            cases: dict[str, list] = {name: [] for name in CASES}
            article = issue / "articles" / EDITED
            original = article.read_text(encoding="utf-8")
            # the timed runs, then one more whose memory is sampled (its times are not taken): sampling
            # slowed the cold build handed to the resident process by a tenth, 4.6-4.9 s against
            # 5.3-5.7 s, and the builds after it too, where the bare render (one process, the
            # sampler on the other core) hardly noticed
            for run in range(args.runs + 1):
                sampled = run == args.runs
                cases["bare WeasyPrint render"].append(bare_once(issue, Path(temp) / f"bare{run}.pdf", sampled))
                for resident in (False, True):
                    out = Path(temp) / f"out{run}-{resident}"
                    cases[f"cold build{'' if resident else ', alone'}"].append(run_once(issue, out, resident, sampled))
                    if resident:
                        cases["unchanged rebuild"].append(run_once(issue, out, sampled=sampled))
                    article.write_text(original.replace("开展调研", f"开展调研（第{run + 1}次）", 1), encoding="utf-8")
                    cases[f"one-article edit{'' if resident else ', alone'}"].append(
                        run_once(issue, out, resident, sampled))
                    article.write_text(original, encoding="utf-8")
        finally:
            for pid in resident_processes():
                os.kill(pid, signal.SIGTERM)
    bare_time = statistics.median(s[0] for s in cases["bare WeasyPrint render"][:-1])
    print(f"issue: {args.issue} ({pages} pages), {args.runs} runs of each; 'alone': without the resident process")
    for name, samples in cases.items():
        print(summary(name, samples, pages, bare_time))


if __name__ == "__main__":
    main()
