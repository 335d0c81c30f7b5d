"""The resident process (typeset/resident.py): a command handed to it runs as in a process of
its own — its files, folder, environment, exit code and signals — and leaves nothing behind."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import DEMO, REPO

from typeset import resident


def _wait_until(ready, seconds: float = 60.0, what: str = "") -> None:
    end = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def _resident_processes(key: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"typeset.resident" in command and key.encode() in command:
            found.append(int(entry.name))
    return found


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@pytest.fixture
def running(tmp_path, monkeypatch):
    """A resident process of this test's own (its environment names the test's folder), warmed up
    on the demo issue; stopped at the end."""
    monkeypatch.setenv("TYPESET_TEST_FOLDER", str(tmp_path))
    monkeypatch.setenv("TYPESET_RESIDENT", "1")
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)  # pytest changes it between set-up and test
    key = resident.resident_key(dict(os.environ))
    resident.start(DEMO)
    _wait_until(lambda: _listening(resident.address()), what="the resident process to listen")
    (pid,) = _resident_processes(key)
    yield pid
    os.kill(pid, signal.SIGTERM)
    _wait_until(lambda: not _listening(resident.address()), 10, "the resident process to end")


def _hand_off(argv: list[str]) -> int | None:
    os.environ.pop("PYTEST_CURRENT_TEST", None)  # as in the fixture: the resident process's key is of the environment
    return resident.hand_off(argv)


def _listening(address: str) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(address)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def test_a_handed_off_build_is_the_build_of_a_process_of_its_own(running, tmp_path, capfd):
    issue = shutil.copytree(DEMO, tmp_path / "demo", ignore=shutil.ignore_patterns("build"))
    local = subprocess.run([sys.executable, "-m", "typeset", "build", str(issue), "-o", str(tmp_path / "local"), "-q"],
                           env=dict(os.environ, TYPESET_RESIDENT="0"), cwd=REPO, capture_output=True, text=True)
    assert local.returncode == 0, local.stderr
    capfd.readouterr()
    os.chdir(tmp_path)  # a relative ISSUE_DIR and -o are the command's, from its folder
    try:
        code = _hand_off(["build", "demo", "-o", "handed", "-q"])
    finally:
        os.chdir(REPO)
    assert code == 0
    out, err = capfd.readouterr()
    assert (out, err) == ("", local.stderr)
    mine, theirs = (json.loads((tmp_path / name / "report.json").read_text()) for name in ("handed", "local"))
    assert mine["pages"] == theirs["pages"] and mine["articles"] == theirs["articles"]
    assert sorted(mine["outputs"]) == sorted(theirs["outputs"])


def test_exit_codes_and_messages_come_back(running, tmp_path, capfd):
    assert _hand_off(["build", str(tmp_path / "missing")]) == 1
    assert f"'{tmp_path / 'missing'}' is not a folder" in capfd.readouterr().err
    assert _hand_off(["build", "--bogus"]) == 2
    assert "No such option '--bogus'" in capfd.readouterr().err
    assert _hand_off(["serve", str(DEMO)]) is None  # serve keeps a process of its own


def test_ctrl_c_and_a_killed_command_stop_the_child(running, tmp_path):
    pid = running
    command = [sys.executable, "-m", "typeset", "build", str(DEMO), "-o", str(tmp_path / "out"), "--force", "-q"]
    os.environ.pop("PYTEST_CURRENT_TEST", None)
    interrupted = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_until(lambda: _children(pid), 30, "the command's child")
    (child,) = _children(pid)
    interrupted.send_signal(signal.SIGINT)
    _out, err = interrupted.communicate(timeout=30)
    assert interrupted.returncode == 1 and "Aborted!" in err  # as click ends a command on Ctrl-C
    _wait_until(lambda: not Path(f"/proc/{child}").exists(), 10, "the interrupted child to end")

    killed = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_until(lambda: _children(pid), 30, "the command's child")
    (child,) = _children(pid)
    killed.kill()
    killed.wait()
    _wait_until(lambda: not Path(f"/proc/{child}").exists(), 10, "the child of a killed command to end")
    assert Path(f"/proc/{pid}").exists()  # the resident process stays for the next command


def test_the_resident_process_runs_the_code_of_the_command_that_starts_it(tmp_path):
    """A command run from a checkout that is not the installed package (`python -m typeset` in
    another clone) starts a resident process of that checkout's code, whose key is the command's."""
    checkout = tmp_path / "checkout"
    shutil.copytree(Path(resident.__file__).parent, checkout / "typeset", ignore=shutil.ignore_patterns("__pycache__"))
    starting = ("import subprocess, typeset.resident as r; "
                "subprocess.Popen = lambda command, **options: print(options['cwd'], *command[1:3]); r.start()")
    environment = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}  # a key no resident process has
    started = subprocess.run([sys.executable, "-c", starting], cwd=checkout, env=environment,
                             capture_output=True, text=True, check=True).stdout.split()
    assert started[1:] == ["-m", "typeset.resident"]
    imported = subprocess.run([sys.executable, "-c", "import typeset; print(typeset.__file__)"], cwd=started[0],
                              env=environment, capture_output=True, text=True, check=True).stdout
    assert Path(imported.strip()).resolve() == (checkout / "typeset" / "__init__.py").resolve()


def test_one_resident_process_per_code_python_and_environment(monkeypatch):
    environment = {"HOME": "/home/editor", "LANG": "zh_CN.UTF-8", "PWD": "/home/editor/issue-5"}
    key = resident.resident_key(environment)
    assert resident.resident_key({**environment, "PWD": "/tmp", "SHLVL": "3"}) == key
    assert resident.resident_key({**environment, "LANG": "en_US.UTF-8"}) != key
    monkeypatch.setenv("TYPESET_RESIDENT", "0")
    assert resident.hand_off(["build", str(DEMO)]) is None
