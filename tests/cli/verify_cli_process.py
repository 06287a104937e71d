"""A `synthloom` command as a real child process, for signal tests: started in its own session
(so a signal to its group is what Ctrl-C in a terminal sends), with SIGINT handled as Python's
default even when the test runner ignores it, plus waits on events seen in /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

_MAIN = ("import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
         "from synthloom.cli.main import app; app()")


def start_cli(args: list[str], cwd: Path) -> subprocess.Popen:
    """``synthloom ARGS`` in ``cwd``; stdout and stderr are captured."""
    return subprocess.Popen([sys.executable, "-c", _MAIN, *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, text=True)


def pids_named(name: str) -> list[int]:
    """Processes whose name (``/proc/PID/comm``) is ``name``."""
    return [pid for pid in _pids() if _read(f"/proc/{pid}/comm").strip() == name]


def descendants(root: int) -> set[int]:
    """Every live process below ``root``."""
    children: dict[int, list[int]] = {}
    for pid in _pids():
        stat = _read(f"/proc/{pid}/stat")
        if stat:
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def cmdline(pid: int) -> str:
    return _read(f"/proc/{pid}/cmdline").replace("\0", " ")


def wait_for(condition: Callable[[], object], what: str, deadline_s: float = 90.0):
    """Poll ``condition`` until it is truthy and return its value; fail after ``deadline_s``."""
    end = time.monotonic() + deadline_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def _pids() -> list[int]:
    return [int(e) for e in os.listdir("/proc") if e.isdigit()]


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""
