"""How a run ends when it cannot end normally: interrupted by a signal, or stopped by the disk.

Both keep what was committed and say so in ``run.json`` (status and a message with the fix), so
a rerun of the same command resumes. :class:`RunAborted` carries that status out of the engine
when the run stopped before it had counts to report (during setup or after the last write).
"""

from __future__ import annotations

import time
from pathlib import Path

from ..io.rundir import RunDir

INTERRUPTED = "interrupted"
STORAGE_FAILED = "failed: disk"


class RunAborted(Exception):
    """A run ended early with ``status`` (``interrupted`` or ``failed: disk``); ``run.json`` says so
    when it could be written. The message is one line with the fix."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status


def interrupted_message(signal_name: str) -> str:
    by = f" by {signal_name}" if signal_name else ""
    return f"interrupted{by}: committed work is kept; rerun the same command to resume"


def storage_message(problem: str, out: Path) -> str:
    return (f"the run stopped: {problem}; committed rows in {out} are kept. Free space (or make the folder "
            f"writable) and rerun the same command to resume")


def mark_run_json(rundir: RunDir, status: str, message: str) -> bool:
    """Best effort: set ``status`` and ``message`` in ``run.json`` (keeping what it already says).
    Returns whether it could be written (a read-only disk cannot take it)."""
    info = rundir.read_run_json() or {}
    info.update({"status": status, "message": message, "finished": time.time()})
    try:
        rundir.write_run_json(info)
    except OSError:
        return False
    return True
