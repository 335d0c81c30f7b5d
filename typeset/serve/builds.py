"""The whole build behind the board: `typeset build` in a subprocess, which a newer save cancels."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..build import ISSUE_PDF, REPORT_JSON
from ..i18n import N_, _
from ..pdf.pages import page_images
from ..report import violates_plan
from .board import THUMB_DPI, Board, Message, board_pages


class WholeBuild:
    """Runs the whole build into the output folder and puts its pages on the board when done."""

    def __init__(self, issue_dir: Path, out_dir: Path, board: Board, on_done, log=lambda line: None):
        self.issue_dir, self.out_dir, self.board, self.log = issue_dir, out_dir, board, log
        self.on_done = on_done  # called with the new report once the board shows it
        self.process: subprocess.Popen | None = None
        self.generation = 0
        self.lock = threading.Lock()

    def cancel(self) -> None:
        """Stop the whole build in flight: newer inputs supersede it, and the preview gets both cores."""
        with self.lock:
            self.generation += 1
            if self.process is not None and self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)  # its Ghostscript too

    def start(self) -> None:
        """Start the whole build, cancelling one still running: only the newest inputs count."""
        self.cancel()
        with self.lock:
            generation = self.generation
            self.process = subprocess.Popen(
                [sys.executable, "-m", "typeset", "build", str(self.issue_dir), "-o", str(self.out_dir), "-q"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
            process = self.process
        self.board.publish(building=True)
        threading.Thread(target=self._finish, args=(process, generation), daemon=True).start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()

    def _finish(self, process: subprocess.Popen, generation: int) -> None:
        started = time.monotonic()
        stderr = process.communicate()[1]
        if generation != self.generation:
            return  # a newer build is on its way
        if process.returncode not in (0, 3):
            lines = [line for line in stderr.splitlines() if line.strip()]
            self.board.publish(building=False,
                               error="\n".join(lines) or _("build failed ({code})", code=process.returncode),
                               status=Message(N_("the build stopped on an input error: fix it and save")))
            self.log(_("{time} whole build stopped on an input error", time=time.strftime("%H:%M:%S")))
            return
        try:
            report = json.loads((self.out_dir / REPORT_JSON).read_text(encoding="utf-8"))
            pdf = (self.out_dir / report["outputs"].get("issue", ISSUE_PDF)).read_bytes()
            images = page_images(pdf, THUMB_DPI)
        except (OSError, ValueError, KeyError, subprocess.CalledProcessError) as exc:
            self.board.publish(building=False, error=_("cannot read the build's outputs: {reason}", reason=exc))
            return
        if generation != self.generation:
            return
        self.board.set_pages(board_pages(report), {i: (png, pdf, i + 1, None) for i, png in enumerate(images)})
        violated = any(violates_plan(a["fit"]) for a in report["articles"])
        params = {"time": time.strftime("%H:%M:%S"), "seconds": round(time.monotonic() - started, 1)}
        status = Message(N_("built {time} in {seconds} s — the page plan is violated") if violated else
                         N_("built {time} in {seconds} s"), params)
        self.board.publish(report=report, previewed={}, error=None, building=False, warm=False, status=status)
        self.log(_("{time} whole build: {pages} pages, {laid_out} article(s) laid out, {seconds} s",
                   time=params["time"], pages=len(report["page_labels"]), laid_out=len(report.get("laid_out", [])),
                   seconds=params["seconds"]))
        self.on_done(report)
