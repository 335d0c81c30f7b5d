"""Showing the work while it happens: the stage a run is in, the article being set, the time.

The stages report to the current `Progress` (`current()`); the command line installs one that
draws a live line on a terminal (as each stage starts and every 0.2 s, wiped when the run ends,
never on a pipe or with -q) and, with -v, prints each stage's time as it ends. Every run records
the seconds of each stage, which report.json carries as `timings`.
"""

from __future__ import annotations

import contextvars
import sys
import threading
import time
from contextlib import contextmanager

from .i18n import _

_current: contextvars.ContextVar[Progress | None] = contextvars.ContextVar("progress", default=None)


def stage_name(stage: str) -> str:
    """A stage as a person reads it."""
    return {"read": _("reading"), "layout": _("laying out"), "fit": _("copyfitting"),
            "fill": _("filling pages"),
            "final": _("laying out the pages kept"), "frontpages": _("covers and contents"),
            "assemble": _("assembling"), "printfiles": _("print files"), "preflight": _("preflight"),
            "proof": _("proof"), "write": _("writing")}.get(stage, stage)


class Progress:
    """Stage timings, and optionally a live status line and per-stage times on stderr."""

    def __init__(self, live: bool = False, verbose: bool = False, stream=None):
        self.stream = stream or sys.stderr
        self.live, self.verbose = live, verbose
        self.timings: dict[str, float] = {}
        self.started = time.monotonic()
        self.stage: str | None = None
        self.detail = ""
        self.count = (0, 0)  # done, of how many (0: no count)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._painter: threading.Thread | None = None

    def __enter__(self) -> Progress:
        self._token = _current.set(self)
        if self.live:
            self._painter = threading.Thread(target=self._paint_every_so_often, daemon=True)
            self._painter.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._painter is not None:
            self._painter.join()
            self._write("\r\x1b[K")  # the line goes; the warnings and the table stay
        _current.reset(self._token)

    @contextmanager
    def step(self, stage: str, total: int = 0):
        """A stage of the run: timed, shown while it lasts."""
        with self._lock:
            previous = (self.stage, self.detail, self.count)
            self.stage, self.detail, self.count = stage, "", (0, total)
        if self.live:  # shown as it starts, however short it is, then every 0.2 s
            self._write("\r\x1b[K" + self.line()[:100])
        began = time.monotonic()
        try:
            yield self
        finally:
            seconds = time.monotonic() - began
            with self._lock:
                self.timings[stage] = round(self.timings.get(stage, 0.0) + seconds, 3)
                self.stage, self.detail, self.count = previous
            if self.verbose:
                self._write("\r\x1b[K" * self.live + _("{stage}: {seconds:.1f} s", stage=stage_name(stage),
                                                          seconds=seconds) + "\n")

    def doing(self, detail: str, done: int | None = None) -> None:
        """What the current stage is at now (an article's name), and how far it is when it counts."""
        with self._lock:
            self.detail = detail
            if done is not None:
                self.count = (done, self.count[1])

    def line(self) -> str:
        with self._lock:
            if self.stage is None:
                starting = _("starting")
                return f"{starting} · {time.monotonic() - self.started:.0f} s"
            done, of = self.count
            counted = f" {done}/{of}" if of else ""
            detail = f" · {self.detail}" if self.detail else ""
            return f"{stage_name(self.stage)}{counted}{detail} · {time.monotonic() - self.started:.0f} s"

    def _paint_every_so_often(self) -> None:
        while not self._stop.wait(0.2):
            self._write("\r\x1b[K" + self.line()[:100])

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # the terminal went away: the run goes on


_SILENT = Progress()


@contextmanager
def session():
    """The progress installed by the caller, or a fresh one for this run (its own timings)."""
    installed = _current.get()
    if installed is not None:
        yield installed
        return
    with Progress() as progress:
        yield progress


def silence() -> None:
    """In a worker process: report to no one (the parent's progress line is the parent's)."""
    _current.set(None)


def current() -> Progress:
    """The progress of this run; a silent one that only keeps time when none was installed."""
    return _current.get() or _SILENT
