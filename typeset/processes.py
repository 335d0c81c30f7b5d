"""How many processes a run may use: one per core, or as many as `-j N` says. Layouts
(`body.planning`) and the preflight's Ghostscript separations share the number; this module
imports nothing heavy, so `typeset preflight` asks it without loading WeasyPrint."""

from __future__ import annotations

import contextvars
import os
from contextlib import contextmanager

_workers: contextvars.ContextVar[int | None] = contextvars.ContextVar("workers", default=None)


def workers() -> int:
    """The processes a run may use: as set by `use_workers` (`-j N`), else one per core."""
    chosen = _workers.get()
    if chosen is not None:
        return chosen
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextmanager
def use_workers(count: int | None):
    token = _workers.set(count if count is None else max(1, count))
    try:
        yield
    finally:
        _workers.reset(token)
