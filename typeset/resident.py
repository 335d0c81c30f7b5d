"""A resident process that runs typeset's commands with everything already imported.

A fresh `typeset build` spends 1.2–1.5 s importing WeasyPrint, pikepdf, ReportLab and the
stages before it reads a file: more than a one-article edit's layouts. So, as a build tool's
daemon does, the first command that does such work leaves a process behind that has imported
them (`serve_forever`); the next commands hand their work to it (`hand_off`). For each command
the resident process forks a child, which takes the command's terminal (its stdin, stdout and
stderr, passed over a Unix socket), working folder and environment, runs the command line as a
fresh process would, and exits with the command's code; the command exits with that code.
Ctrl-C and SIGTERM reach the child; a command killed outright takes its child with it.
Nothing is kept from one command to the next: each child starts from the state the resident
process had after its imports.

The resident process is known by a key of the user, typeset's code, the Python and its packages,
and the environment: a change to any of them starts another, and the one before ends once it
sees the code or packages changed. It ends by itself after `IDLE_SECONDS` without a command.
`TYPESET_RESIDENT=0` turns all this off (each command then runs in a process of its own, as in
the tests).
"""

from __future__ import annotations

import array
import gc
import hashlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

# the commands that load the layout engine or the PDF libraries; `serve` keeps its own process
HANDED_OFF = frozenset({"build", "fit", "proof", "package", "preflight", "check", "diff"})
IDLE_SECONDS = 15 * 60
# what differs between two shells of one session and is read by no command
_VOLATILE = frozenset({"PWD", "OLDPWD", "SHLVL", "_", "COLUMNS", "LINES", "TERM_SESSION_ID", "WINDOWID"})
_WAKE_SECONDS = 1.0
_CHECK_SECONDS = 10.0  # how often an idle resident process looks whether the code on disk has changed


def main() -> None:
    """The `typeset` command: handed to the resident process when one is running, else run here
    (and a resident process started for the next command)."""
    argv = sys.argv[1:]
    key = resident_key(dict(os.environ)) if _wanted(argv) else None
    code = hand_off(argv, key) if key else None
    if code is not None:
        sys.exit(code)
    from .cli import main as command_line

    try:
        command_line(args=argv, prog_name=_program_name())
    finally:
        # the collector's last run at the exit looks at every object the command left (a build's
        # heap: 0.2 s of a one-article edit's 2 s), which the process's end frees all the same
        gc.freeze()
        if key:
            start(_issue_folder(argv), key)


def _program_name() -> str:
    """What usage lines call this command, as click names it: `typeset`, or `python -m typeset`."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name in ("typeset", "typeset.__main__"):
        return "python -m typeset"
    return os.path.basename(sys.argv[0])


def _wanted(argv: list[str]) -> bool:
    return (os.environ.get("TYPESET_RESIDENT", "1") != "0" and bool(argv) and argv[0] in HANDED_OFF
            and sys.platform.startswith("linux") and hasattr(socket, "send_fds"))


def _issue_folder(argv: list[str]) -> Path | None:
    """The ISSUE_DIR a command names (its first argument that is not an option), if it is one."""
    for argument in argv[1:]:
        if not argument.startswith("-"):
            folder = Path(argument).resolve()
            return folder if (folder / "issue.yaml").is_file() else None
    return None


def address(environ: dict[str, str] | None = None) -> str:
    """Where the resident process for this user, code, Python and environment listens: a socket
    in Linux's abstract namespace (no file to leave behind, gone with its process)."""
    return _address_of(resident_key(dict(os.environ if environ is None else environ)))


def _address_of(key: str) -> str:
    return f"\0typeset-{os.getuid()}-{key}"


def resident_key(environ: dict[str, str]) -> str:
    from .store import Inputs, digest, package_folder

    hashed = hashlib.sha256()
    code = digest(Inputs(folders=(package_folder(),), suffix=".py"))  # as it is now on disk, not as loaded
    for value in (code, sys.executable, sys.version, *_package_stamps(),
                  json.dumps(sorted((k, v) for k, v in environ.items() if k not in _VOLATILE))):
        hashed.update(value.encode() + b"\0")
    return hashed.hexdigest()[:20]


def _package_stamps() -> list[str]:
    """The folders packages are installed to, by modification time: installing or removing one changes it."""
    stamps = []
    for name in ("purelib", "platlib"):
        try:
            stamps.append(str(os.stat(sysconfig.get_paths()[name]).st_mtime_ns))
        except (KeyError, OSError):
            stamps.append("")
    return stamps


# ---------------------------------------------------------------- the command's side


_PASSED_ON = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def hand_off(argv: list[str], key: str | None = None) -> int | None:
    """Run the command `argv` in the resident process (for `key`, default: of this process):
    its exit code, or None when there is no resident process to take it (the command then runs here).
    The signals that would stop this command are passed on to the child running it."""
    if not _wanted(argv):
        return None
    child: dict = {}
    pending: list[int] = []

    def pass_on(signum, _frame):
        if "pid" not in child:
            pending.append(signum)  # the child is being started: it gets it as soon as it is
            return
        try:
            os.kill(child["pid"], signum)
        except ProcessLookupError:
            pass

    handlers = {signum: signal.signal(signum, pass_on) for signum in _PASSED_ON}
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with connection:
        try:
            connection.connect(_address_of(key or resident_key(dict(os.environ))))
            request = json.dumps({"argv": argv, "program": _program_name(), "cwd": os.getcwd(),
                                  "env": dict(os.environ)}).encode() + b"\n"
            socket.send_fds(connection, [request[:1]], [0, 1, 2])  # the files with the first byte
            connection.sendall(request[1:])
            started = _read_message(connection)
        except OSError:
            started = None
        if started is None:  # no resident process, or it went away before it took the command
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
            for signum in pending:
                signal.raise_signal(signum)
            return None
        child["pid"] = started["pid"]
        for signum in pending:
            pass_on(signum, None)
        return _exit_code(_read_message(connection))


def _exit_code(answer: dict | None) -> int:
    if answer is None:
        from .i18n import _

        print(_("error: the resident typeset process ended while it ran this command"), file=sys.stderr)
        print(_("  hint: run the command again; TYPESET_RESIDENT=0 runs it in a process of its own"), file=sys.stderr)
        return 1
    code = answer["exit"]
    return 128 - code if code < 0 else code  # killed by a signal: the shell's code for it


def _read_message(connection: socket.socket) -> dict | None:
    """One line of JSON, or None at the end of the stream."""
    data = b""
    while not data.endswith(b"\n"):
        try:
            chunk = connection.recv(4096)
        except InterruptedError:
            continue
        if not chunk:
            return None
        data += chunk
    return json.loads(data)


def start(issue_dir: Path | None = None, key: str | None = None) -> None:
    """Start a resident process for the next commands, unless one is running; it imports (and
    lays out an article of `issue_dir`) in the background while this command ends."""
    key = key or resident_key(dict(os.environ))
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(_address_of(key))
        return  # one is there
    except OSError:
        pass
    finally:
        probe.close()
    from .store import package_folder

    # started in the folder this typeset is imported from, `-m` imports the same code: a command run
    # from a checkout other than the installed one gets a resident process whose key is its own
    subprocess.Popen([sys.executable, "-m", "typeset.resident", key, *([str(issue_dir)] if issue_dir else [])],
                     cwd=package_folder().parent, start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ---------------------------------------------------------------- the resident process


def serve_forever(key: str, issue_dir: Path | None = None) -> None:
    """Import what the commands load (and warm up on `issue_dir`), listen as the resident process
    for `key`, fork a child for each command; end when idle for `IDLE_SECONDS`, or when the code
    or the packages on disk have changed (the next command starts another)."""
    _import_the_stages()
    if issue_dir is not None:
        _warm_up(issue_dir)
    gc.collect()
    gc.freeze()  # what is loaded now is never traversed by a child's collector: its pages stay shared
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(_address_of(key))
    except OSError:
        return  # another, started at the same moment, listens
    listener.listen(8)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes select through the wakeup fd
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    children: dict[int, socket.socket] = {}  # pid -> the command's connection
    stopped: set[int] = set()
    last_used = last_checked = time.monotonic()
    while True:
        waiting = [listener, wake_read, *(c for pid, c in children.items() if pid not in stopped)]
        ready, _, _ = select.select(waiting, [], [], _WAKE_SECONDS)
        if wake_read in ready:
            os.read(wake_read, 512)
        _reap(children)
        stopped &= children.keys()
        for pid, connection in list(children.items()):
            if connection in ready and _gone(connection):  # killed outright: its child goes too
                _kill(pid)
                stopped.add(pid)
        if listener in ready:
            child = _take_command(listener, wake_read, wake_write)
            if child is not None:
                children[child[0]] = child[1]
        now = time.monotonic()
        if children or listener in ready:
            last_used = now
        elif now - last_used > IDLE_SECONDS:
            return
        elif now - last_checked > _CHECK_SECONDS:
            last_checked = now
            if resident_key(dict(os.environ)) != key:
                return


def _import_the_stages() -> None:
    """Everything the handed-off commands import (cli.py imports the stages where they are needed)."""
    import typeset.build  # noqa: F401  (the layout engine, pikepdf)
    import typeset.cli  # noqa: F401
    import typeset.frontpages.contents  # noqa: F401  (ReportLab: build.py imports it where it draws)
    import typeset.frontpages.covers  # noqa: F401
    import typeset.inputs.proofread  # noqa: F401  (check)
    import typeset.pdf.diff  # noqa: F401
    import typeset.pdf.preflight  # noqa: F401
    import typeset.report  # noqa: F401


def _warm_up(issue_dir: Path) -> None:
    """The issue's fonts loaded and house stylesheet parsed once, here, rather than by each
    command's first layout (and by each of its worker processes)."""
    from .build import warm_up

    try:
        warm_up(issue_dir)
    except Exception:  # noqa: BLE001  only a warm-up: the command that reads the issue reports its problems
        pass


def _take_command(listener: socket.socket, *pipe: int) -> tuple[int, socket.socket] | None:
    """Accept a command and fork its child: (its pid, the command's connection)."""
    connection, _ = listener.accept()
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    if array.array("i", credentials)[1] != os.getuid():  # (pid, uid, gid): the same user only
        connection.close()
        return None
    fds: list[int] = []
    connection.settimeout(5)  # a command sends its request at once: one that does not cannot hold up the others
    try:
        data, fds, _flags, _address = socket.recv_fds(connection, 1 << 20, 3)
        while not data.endswith(b"\n"):
            more = connection.recv(1 << 20)
            if not more:
                raise ValueError("the command went away")
            data += more
        request = json.loads(data)
        if len(fds) != 3:
            raise ValueError("no terminal")
        connection.settimeout(None)
    except (OSError, ValueError):
        for fd in fds:
            os.close(fd)
        connection.close()
        return None
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _PASSED_ON)  # until the child has its handlers
    pid = os.fork()
    if pid == 0:
        try:
            signal.set_wakeup_fd(-1)
            listener.close()
            for fd in pipe:
                os.close(fd)
            _run_command(request, fds, connection, blocked)
        finally:
            os._exit(1)  # never back into the resident process's loop
    signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    for fd in fds:
        os.close(fd)
    connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    return pid, connection


def _run_command(request: dict, fds: list[int], connection: socket.socket, mask) -> None:
    """In the child: become the command (its terminal, folder and environment) and run it."""
    connection.close()  # the resident process answers with the exit code once this child is gone
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.setsid()  # its own process group: a signal to the resident process's group does not reach it
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    _reopen_standard_streams()
    from .body.engine import leave_inherited_folders

    leave_inherited_folders()
    code = 1
    try:
        from .cli import main as command_line

        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a signal passed on before now is taken here
        command_line(args=request["argv"], prog_name=request["program"])
        code = 0
    except KeyboardInterrupt:  # before the command line took it: as it would have ended
        from .i18n import _

        print(_("Aborted!"), file=sys.stderr)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        if isinstance(exit_.code, str):
            print(exit_.code, file=sys.stderr)
    finally:
        _end_child(code)


def _reopen_standard_streams() -> None:
    """Python's streams as a new process would have them on these files (stdout on a terminal
    and stderr always: line by line)."""
    import io

    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        old = getattr(sys, name)
        raw = io.FileIO(fd, "rb" if fd == 0 else "wb", closefd=False)
        setattr(sys, name, io.TextIOWrapper(io.BufferedReader(raw) if fd == 0 else io.BufferedWriter(raw),
                                            encoding=old.encoding if old else "utf-8",
                                            errors="backslashreplace" if fd == 2 else "strict",
                                            line_buffering=fd == 2 or (fd == 1 and os.isatty(fd))))


def _end_child(code: int) -> None:
    import atexit

    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        atexit._run_exitfuncs()  # the child's own clean-up (temporary folders), as at a normal exit
        os._exit(code)


def _reap(children: dict[int, socket.socket]) -> None:
    """Tell each command whose child has ended its exit code."""
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        connection = children.pop(pid, None)
        if connection is not None:
            try:
                connection.sendall(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
            except OSError:
                pass
            connection.close()


def _gone(connection: socket.socket) -> bool:
    """A command says nothing once it has handed its work off: its connection readable means it has ended."""
    try:
        return not connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return False
    except OSError:
        return True


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass


if __name__ == "__main__":
    serve_forever(sys.argv[1], Path(sys.argv[2]) if len(sys.argv) > 2 else None)
