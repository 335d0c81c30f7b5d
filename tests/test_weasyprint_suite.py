"""WeasyPrint's own tests of text, layout, drawing, fonts and PDF output, run with typeset's
extensions installed: a test that fails only with them fails here."""

import os
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
import weasyprint
from conftest import REPO

SDIST = REPO / ".venv" / "sdist" / f"weasyprint-{weasyprint.__version__}.tar.gz"  # setup.sh --test fetches it
SUITE = ["tests/test_text.py", "tests/layout", "tests/draw/test_text.py", "tests/draw/test_column.py",
         "tests/test_pdf.py", "tests/test_fonts.py"]


def _failures(suite: Path, tests: list[str], with_extensions: bool) -> set[str]:
    """The ids of the tests that fail (or error), from a run in a process of its own."""
    report = suite / f"report-{with_extensions}.xml"
    plugin = ["-p", "weasyprint_with_extensions"] if with_extensions else []
    temporary = suite / f"tmp-{with_extensions}"  # WeasyPrint's tests leave font folders there, not in /tmp
    temporary.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO / "tests"), "TMPDIR": str(temporary)}
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugin,
                    f"--junitxml={report}", *tests], cwd=suite, env=env, capture_output=True, timeout=1800)
    failed = set()
    for case in ElementTree.parse(report).iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed.add(f"{case.get('classname')}::{case.get('name')}")
    return failed


def test_weasyprint_own_tests_pass_with_the_extensions(tmp_path):
    if not SDIST.is_file():
        pytest.skip(f"{SDIST.relative_to(REPO)} is missing: run ./setup.sh --test")
    with tarfile.open(SDIST) as archive:
        members = [m for m in archive.getmembers() if m.name.split("/")[1:2] == ["tests"]]
        archive.extractall(tmp_path, members=members, filter="data")
    suite = tmp_path / f"weasyprint-{weasyprint.__version__}"
    failing = _failures(suite, SUITE, with_extensions=True)
    assert len(list(ElementTree.parse(suite / "report-True.xml").iter("testcase"))) > 1000  # the suite ran
    ids = sorted({f"tests/{name.split('::')[0].removeprefix('tests.').replace('.', '/')}.py" for name in failing})
    failing_without = _failures(suite, ids, with_extensions=False) if ids else set()  # the environment's own
    assert failing - failing_without == set()
