"""Worker processes that run SymPy comparisons with a hard timeout, killed and restarted on a hang.

math-verify's own timeouts use ``signal.alarm``, which only works in a main thread, and SymPy can
spin for minutes on an answer like ``10^{10^{10^{10}}}+1``. So each comparison runs in the main
thread of a worker process (``python -m synthloom.verify.math_pool``, talking JSON lines over its
stdin/stdout); a dispatcher thread hands tasks to idle workers, and a worker that has not
answered within ``timeout`` seconds is killed (SIGKILL) and replaced, its task marked
``timeout``. A crashed worker's task is marked ``error``. Workers start lazily, on the first
task that needs SymPy; :meth:`SympyPool.submit` is thread-safe and returns a
:class:`concurrent.futures.Future` (``asyncio.wrap_future`` it from async code).
"""

from __future__ import annotations

import collections
import os
import select
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

import orjson

#: (status, correct, detail); status is "ok", "timeout" or "error"
Outcome = tuple[str, bool, str]

_STARTUP_TIMEOUT_S = 120.0


@dataclass
class _Task:
    pred: str
    gold: str
    future: Future


@dataclass
class _Worker:
    proc: subprocess.Popen
    ready: bool = False
    task: _Task | None = None
    task_id: int = 0
    deadline: float = 0.0
    started: float = field(default_factory=time.monotonic)
    buf: bytes = b""


class SympyPool:
    """``workers`` processes comparing normalised answers with SymPy, each task bounded by
    ``timeout`` seconds. Use as a context manager or call :meth:`close`."""

    def __init__(self, workers: int = 2, timeout: float = 5.0) -> None:
        if workers < 1:
            raise ValueError(f"math verifier: workers must be >= 1, not {workers}")
        if not timeout or timeout <= 0:
            raise ValueError(f"math verifier: timeout must be a positive number of seconds, not {timeout}")
        self.workers = int(workers)
        self.timeout = float(timeout)
        self._lock = threading.Lock()
        self._pending: collections.deque[_Task] = collections.deque()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self.restarts = 0  # workers replaced after a timeout or crash
        self._start_failures = 0  # workers in a row that died before they were ready

    # -- public --------------------------------------------------------------------------------
    def submit(self, pred: str, gold: str) -> Future:
        """Queue one comparison of normalised answers; the future resolves to an :data:`Outcome`."""
        fut: Future = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("math verifier is closed")
            self._pending.append(_Task(pred, gold, fut))
            if self._thread is None:
                self._thread = threading.Thread(target=self._dispatch, name="math-verify-dispatch", daemon=True)
                self._thread.start()
        self._wake()
        return fut

    def close(self) -> None:
        """Stop the workers; queued comparisons resolve as errors."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        self._wake()
        if thread is not None:
            thread.join(timeout=10)
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> SympyPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- dispatcher thread ------------------------------------------------------------------------
    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except (BlockingIOError, OSError):
            pass  # already awake (pipe full) or closed

    def _spawn(self) -> _Worker:
        proc = subprocess.Popen(
            [sys.executable, "-m", "synthloom.verify.math_pool"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            bufsize=0, close_fds=True,
        )
        os.set_blocking(proc.stdout.fileno(), False)
        return _Worker(proc)

    def _dispatch(self) -> None:
        workers: list[_Worker] = []
        next_id = 0
        try:
            while True:
                with self._lock:
                    closed = self._closed
                if closed:
                    break
                busy = sum(1 for w in workers if w.task is not None)
                with self._lock:
                    wanted = min(self.workers, busy + len(self._pending))
                while len(workers) < wanted:
                    workers.append(self._spawn())
                # hand pending tasks to idle, ready workers
                for w in workers:
                    if w.ready and w.task is None:
                        with self._lock:
                            task = self._pending.popleft() if self._pending else None
                        if task is None:
                            break
                        if not task.future.set_running_or_notify_cancel():
                            continue
                        next_id += 1
                        w.task, w.task_id, w.deadline = task, next_id, time.monotonic() + self.timeout
                        try:
                            w.proc.stdin.write(orjson.dumps([next_id, task.pred, task.gold]) + b"\n")
                        except OSError:
                            self._fail(w, workers, "error", "math worker died")
                # wait for answers, new tasks or the nearest deadline
                now = time.monotonic()
                deadlines = [w.deadline for w in workers if w.task is not None]
                deadlines += [w.started + _STARTUP_TIMEOUT_S for w in workers if not w.ready]
                wait = max(0.0, min(deadlines) - now) if deadlines else None
                fds = [self._wake_r] + [w.proc.stdout.fileno() for w in workers]
                readable, _, _ = select.select(fds, [], [], wait)
                if self._wake_r in readable:
                    try:
                        os.read(self._wake_r, 4096)
                    except OSError:
                        pass
                for w in list(workers):
                    if w.proc.stdout.fileno() in readable:
                        self._read(w, workers)
                now = time.monotonic()
                for w in list(workers):
                    if w.task is not None and now >= w.deadline:
                        self._fail(w, workers, "timeout", f"no verdict within {self.timeout:g} s (SymPy killed)")
                    elif not w.ready and now >= w.started + _STARTUP_TIMEOUT_S:
                        self._fail(w, workers, "error", "math worker did not start")
        finally:
            for w in workers:
                # a busy or still-starting worker would first finish its comparison or its imports
                self._stop(w, kill=w.task is not None or not w.ready)
            with self._lock:
                pending, self._pending = list(self._pending), collections.deque()
            for w in workers:
                if w.task is not None:
                    pending.append(w.task)
            for task in pending:
                if not task.future.done():
                    try:
                        task.future.set_result(("error", False, "math verifier closed"))
                    except Exception:  # noqa: BLE001 - cancelled meanwhile
                        pass

    def _read(self, w: _Worker, workers: list[_Worker]) -> None:
        try:
            chunk = w.proc.stdout.read(1 << 16)
        except (BlockingIOError, OSError):
            chunk = None
        if chunk == b"":  # EOF: the worker exited
            self._fail(w, workers, "error", f"math worker crashed (exit code {w.proc.poll()})")
            return
        if not chunk:
            return
        w.buf += chunk
        while b"\n" in w.buf:
            line, w.buf = w.buf.split(b"\n", 1)
            msg = orjson.loads(line)
            if msg[0] == "ready":
                w.ready = True
                self._start_failures = 0
                continue
            task_id, status, correct, detail = msg
            if w.task is not None and task_id == w.task_id:
                task, w.task = w.task, None
                task.future.set_result((status, bool(correct), str(detail)))

    def _fail(self, w: _Worker, workers: list[_Worker], status: str, detail: str) -> None:
        """Kill ``w``, resolve its task with ``status``; a replacement starts on the next loop."""
        self._stop(w, kill=True)
        workers.remove(w)
        self.restarts += 1
        if w.task is not None and not w.task.future.done():
            w.task.future.set_result((status, False, detail))
        if not w.ready:
            self._start_failures += 1
            if self._start_failures >= 3:  # cannot start at all: fail what waits instead of looping
                with self._lock:
                    pending, self._pending = list(self._pending), collections.deque()
                why = (f"{detail}; math workers cannot start (run `{sys.executable} -m synthloom.verify.math_pool` "
                       "to see why)")
                for task in pending:
                    if task.future.set_running_or_notify_cancel():
                        task.future.set_result(("error", False, why))
                self._start_failures = 0

    @staticmethod
    def _stop(w: _Worker, kill: bool = False) -> None:
        proc = w.proc
        if proc.poll() is None:
            if kill:
                proc.kill()
            else:
                try:
                    proc.stdin.close()
                    proc.wait(timeout=2)
                except (OSError, subprocess.TimeoutExpired):
                    proc.kill()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not fail
            pass
        for f in (proc.stdin, proc.stdout):
            try:
                f.close()
            except OSError:
                pass


def _worker_main() -> None:
    """Worker process: read ``[id, pred, gold]`` lines, answer ``[id, status, correct, detail]``."""
    import logging

    logging.disable(logging.WARNING)  # math-verify warns that its own timeout is off: we know
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent stops us
    from synthloom.verify.math_compare import sympy_compare

    sympy_compare("1/2", "\\frac{1}{2}")  # import and warm the parser before saying ready
    out = sys.stdout.buffer
    out.write(orjson.dumps(["ready"]) + b"\n")
    out.flush()
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        task_id, pred, gold = orjson.loads(line)
        try:
            correct, detail = sympy_compare(pred, gold)
            msg = [task_id, "ok", bool(correct), detail]
        except Exception as e:  # noqa: BLE001 - reported as the task's error status
            msg = [task_id, "error", False, f"{type(e).__name__}: {e}"[:500]]
        out.write(orjson.dumps(msg) + b"\n")
        out.flush()


if __name__ == "__main__":
    _worker_main()
