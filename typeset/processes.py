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
from functools import partial
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
    return forked_steps(work)[0]


def forked_steps(*steps: Callable[[], object]) -> list[Callable[[], object]]:
    """`forked` for work in steps, done one after the other by one child process: each result
    is sent as soon as its step is done, and the function returned for it waits for it alone
    (the caller goes on with the first while the child does the next). A step that raised, and
    those after it, raise ChildProcessError when asked for."""
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its results, then out, past the parent's exit handlers and buffers
        os.close(reading)
        code = 1
        try:
            _own_standard_streams()
            with os.fdopen(writing, "wb") as pipe:
                for step in steps:
                    answer = pickle.dumps(step(), protocol=pickle.HIGHEST_PROTOCOL)
                    pipe.write(len(answer).to_bytes(8, "big") + answer)
                    pipe.flush()
            code = 0
        finally:
            os._exit(code)
    os.close(writing)
    pipe = os.fdopen(reading, "rb")
    answers: list = []

    def result(index: int):
        while len(answers) <= index and not pipe.closed:
            length = pipe.read(8)
            answer = pipe.read(int.from_bytes(length, "big")) if len(length) == 8 else b""
            if not answer:  # the child ended: what it sent is all there is
                pipe.close()
                os.waitpid(pid, 0)
                break
            answers.append(answer)
        if len(answers) <= index:
            raise ChildProcessError(f"the child process forked for {steps[index]!r} ended without a result")
        if index == len(steps) - 1 and not pipe.closed:  # the last: the child is done
            pipe.close()
            os.waitpid(pid, 0)
        return pickle.loads(answers[index])

    return [partial(result, index) for index in range(len(steps))]


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
