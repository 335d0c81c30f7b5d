"""How many processes a run may use: one per core, or as many as `-j N` says. Layouts
(`body.planning`) and the preflight's Ghostscript separations share the number; this module
imports nothing heavy, so `typeset preflight` asks it without loading WeasyPrint. How
Python's garbage collector runs while a build makes its layouts (`few_collections`). And work
done beside the command's own in a child process (`forked`)."""

from __future__ import annotations

import contextvars
import gc
import os
import pickle
import sys
from contextlib import contextmanager
from typing import Callable, TypeVar

T = TypeVar("T")

# Python's collector of reference cycles runs its young generation every 700 new objects (kept
# as it is: young garbage goes soon), and looks at every object in older ones after 10 and 100
# young runs. A layout makes millions of boxes and keeps a few layouts alive: with those
# thresholds the older collections took 0.7-1.1 s of the reference issue's 8 s of layouts in one
# process (0.3 s with these), and in a worker process they also copy the memory pages it shares
# with the process it was forked from (the collector writes into every object it looks at).
BUILD_THRESHOLDS = (700, 100, 100)

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


@contextmanager
def few_collections():
    """The garbage collector's older generations collected rarely (`BUILD_THRESHOLDS`), as
    before once it ends: for a build, and its layouts in the worker processes forked meanwhile."""
    thresholds = gc.get_threshold()
    gc.set_threshold(*BUILD_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


@contextmanager
def frozen_for_fork():
    """Every object there is now left out of the collector's runs while worker processes are
    forked and work (`gc.freeze`): they inherit them, and a worker's collector then neither
    looks at them nor writes into the memory pages they share. Collected again afterwards, but
    in a process that had frozen objects before (a resident process's child, `resident.py`):
    its inherited objects stay frozen, and these with them until the command ends."""
    frozen_before = gc.get_freeze_count() > 0
    gc.freeze()
    try:
        yield
    finally:
        if not frozen_before:
            gc.unfreeze()


def forked(work: Callable[[], T]) -> Callable[[], T]:
    """`work()` run in a child process forked now; the function returned waits for its result,
    pickled back through a pipe. That raises ChildProcessError when the child ended without
    one (`work` raised, or the child was killed): the caller does the work itself, where an
    error shows as it always would. The child writes nothing but its result."""
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its result, then out, past the parent's exit handlers and buffers
        os.close(reading)
        code = 1
        try:
            _own_standard_streams()
            answer = pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(writing, "wb") as pipe:
                pipe.write(answer)
            code = 0
        finally:
            os._exit(code)
    os.close(writing)

    def result() -> T:
        with os.fdopen(reading, "rb") as pipe:
            answer = pipe.read()
        _pid, status = os.waitpid(pid, 0)
        if status != 0 or not answer:
            raise ChildProcessError(f"the child process forked for {work!r} ended without a result")
        return pickle.loads(answer)

    return result


def _own_standard_streams() -> None:
    """In a forked child: sys.stdout and sys.stderr anew on the same files. A thread of the parent
    (the progress line) may have held their locks as it forked, and a child that then warned
    would wait for them for ever, and its parent with it."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        try:
            setattr(sys, name, open(os.dup(stream.fileno()), "w", encoding=stream.encoding,
                                    errors=stream.errors, buffering=1))
        except (AttributeError, OSError, ValueError):  # no such file: nothing written there
            setattr(sys, name, open(os.devnull, "w"))
