"""What a run of build, package or proof was asked for, and whether the last build still stands.

Light on purpose: the command line asks whether the outputs are up to date before it imports
the build (WeasyPrint, pikepdf, ReportLab: 1.5 s), so an unchanged issue is answered at once.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .inputs.house import find_house
from .store import Inputs, digest, package_folder

if TYPE_CHECKING:
    from .report import BuildReport

REPORT_JSON = "report.json"


@dataclass(frozen=True)
class ProofOptions:
    article_ids: tuple[str, ...] = ()  # file stems; none: the whole issue
    png: bool = False
    spreads: bool = False


@dataclass(frozen=True)
class Request:
    """One run of build, package or proof, as the command line asked for it."""

    issue_dir: Path
    out_dir: Path | None = None  # default: ISSUE_DIR/build
    strict: bool = False
    force: bool = False  # build even when the last build's outputs stand
    package: bool = False
    proof: ProofOptions | None = None

    @property
    def target(self) -> Path:
        return self.out_dir if self.out_dir is not None else self.issue_dir / "build"

    @property
    def display_root(self) -> str:
        return str(self.issue_dir)


@dataclass
class Outcome:
    report: BuildReport
    out_dir: Path
    up_to_date: bool = False  # nothing changed: the last build's outputs stand


def last_build(request: Request) -> tuple[str | None, Outcome | None]:
    """(the digest of what the build reads, None for a proof; the last build's outcome when its
    outputs stand: the same inputs, every output there, and no --force)."""
    if request.proof is not None or not request.issue_dir.is_dir():
        return None, None
    inputs = inputs_digest(request)
    last = None if request.force else _last_report(request.target, inputs)
    return inputs, Outcome(last, request.target, up_to_date=True) if last is not None else None


def inputs_digest(request: Request) -> str:
    """Everything a build reads: the issue folder, the house style and fonts it may use, typeset's
    own code, and the options; a build whose digest matches the last one's is up to date."""
    issue = request.issue_dir.resolve()
    out = request.target.resolve()
    house = find_house(request.issue_dir, request.display_root)
    kind = "package" if request.package else "build"

    def skip(path: Path) -> bool:
        return out in path.parents or (path.is_relative_to(issue) and path.relative_to(issue).parts[:1] == ("build",))

    return digest(Inputs(values=(kind, str(request.strict), os.environ.get("SOURCE_DATE_EPOCH", "")),
                         folders=(issue, *(root / k for root in house.roots for k in ("layout", "styles", "fonts")),
                                  package_folder()), skip=skip))


def _last_report(out_dir: Path, inputs: str) -> BuildReport | None:
    """The last report when the outputs in `out_dir` were built from exactly these inputs."""
    from .report import BuildReport

    try:
        data = json.loads((out_dir / REPORT_JSON).read_text(encoding="utf-8"))
        report = BuildReport.from_json(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if report.inputs != inputs or not all((out_dir / p).exists() for p in report.outputs.values()):
        return None
    return report
