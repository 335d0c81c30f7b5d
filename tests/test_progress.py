"""Showing the work while it happens: a live line on a terminal, stage times with -v and in the report."""

import json
import os
import pty
import select
import shutil
import subprocess
import sys
import time

import pytest

from conftest import DEMO, REPO, run_cli


def _on_a_terminal(*args: str) -> tuple[list[tuple[float, bytes]], subprocess.CompletedProcess]:
    """Run typeset with stderr on a pseudo-terminal: what it wrote there and when (seconds after start)."""
    master, slave = pty.openpty()
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "typeset", *args], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=slave, cwd=REPO)
    os.close(slave)
    written = []
    while True:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the process closed its end
                break
            if not data:
                break
            written.append((time.monotonic() - started, data))
        elif process.poll() is not None:
            break
    os.close(master)
    stdout = process.communicate()[0].decode()
    return written, subprocess.CompletedProcess(process.args, process.returncode, stdout, b"")


@pytest.fixture
def demo(tmp_path):
    issue = tmp_path / "demo"
    shutil.copytree(DEMO, issue, ignore=shutil.ignore_patterns("build"))
    return issue


def test_a_build_on_a_terminal_shows_its_stage_and_article_every_second(demo, tmp_path):
    written, result = _on_a_terminal("build", str(demo), "-o", str(tmp_path / "out"))
    assert result.returncode == 0
    times = [at for at, _ in written]
    assert times[0] < 1.0  # says what it does within a second of starting
    assert max(later - earlier for earlier, later in zip(times, times[1:])) < 1.0  # and at least every second
    text = b"".join(data for _, data in written).decode()
    # the articles the worker processes are setting, by file
    assert "laying out" in text and "02-yiben-zazhi" in text and "preflight" in text
    assert text.endswith("\r\x1b[K")  # the line goes when the run ends …
    assert "一本杂志是怎样排出来的" in result.stdout  # … and the table stays


def test_no_live_line_on_a_pipe_or_with_quiet(demo, tmp_path):
    piped = run_cli("build", str(demo), "-o", str(tmp_path / "piped"))
    assert piped.returncode == 0 and "\r" not in piped.stderr and "\x1b" not in piped.stderr
    written, quiet = _on_a_terminal("build", str(demo), "-o", str(tmp_path / "quiet"), "-q", "--force")
    assert quiet.returncode == 0 and b"\r" not in b"".join(data for _, data in written)
    fitted = run_cli("fit", str(demo), "--json")
    assert json.loads(fitted.stdout) and "\r" not in fitted.stderr


def test_stage_times_with_verbose_and_in_the_report(demo, tmp_path):
    result = run_cli("build", str(demo), "-o", str(tmp_path / "out"), "-v")
    assert result.returncode == 0, result.stderr
    stages = [line.split(":")[0] for line in result.stderr.splitlines() if line.endswith(" s")]
    assert stages[:1] == ["reading"] and {"laying out", "covers and contents", "assembling", "print files",
                                          "preflight", "writing"} <= set(stages)
    timings = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))["timings"]
    assert {"read", "layout", "frontpages", "assemble", "printfiles", "preflight"} <= set(timings)
    assert all(seconds >= 0 for seconds in timings.values())
