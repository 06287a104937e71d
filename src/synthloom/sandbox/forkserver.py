"""Warm sandbox workers: one long-lived jailed Python per worker that forks a child per snippet.

:class:`SandboxWorker` owns one jailed fork-server process (see ``_inner.py``); :class:`SandboxPool`
keeps up to ``workers`` of them warm, hands each ``run`` to an idle one, recycles a worker every
``recycle_after`` runs and replaces any worker a snippet managed to kill. The host enforces a
wall-clock backstop: a worker that does not answer within ``timeout + grace`` seconds has its
whole process group killed. Every host-side wait is bounded (sending a job to a worker that stopped
reading included), and :meth:`SandboxPool.close` kills busy workers at once, so an interrupted
caller never waits for a running program's time limit.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import struct
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import CancelledError, ThreadPoolExecutor
from typing import Any

from .bwrap import Launch, SandboxConfig, jail_path, plan_launch
from .limits import Limits
from .result import ExecResult, from_worker, infra_failure

_MAX_REPLY = 64 * 1024 * 1024
_START_TIMEOUT = 60.0
_SEND_GRACE = 10.0  # seconds a worker may take to read a job before it counts as stuck
#: processes of a jail besides the program: the server, the template, the row init, the harness
#: (on architectures without a known clone(2) number a short-lived row start process takes one more)
JAIL_PROCESSES = 4


class WorkerDied(Exception):
    """The worker process ended or stopped answering."""


class PoolClosed(RuntimeError):
    """The pool was closed (e.g. on SIGINT/SIGTERM) while this run was waiting or running: it has
    no result, and no verdict must be recorded for it."""


def make_job(code: str, *, stdin: str | None, files: Mapping[str, str] | None, limits: Limits,
             nproc_base: int, harness: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Validate a run's inputs and build the job the in-sandbox worker reads. With ``harness``,
    ``code`` is a solution judged by the tests in ``harness`` (see :func:`check_harness`)."""
    if not isinstance(code, str):
        raise TypeError(f"sandbox code must be a str, got {type(code).__name__}")
    if stdin is not None and not isinstance(stdin, str):
        raise TypeError(f"sandbox stdin must be a str or None, got {type(stdin).__name__}")
    clean: dict[str, str] = {}
    for name, content in (files or {}).items():
        parts = str(name).split("/")
        if not name or str(name).startswith("/") or ".." in parts or name in ("main.py", ".stdin"):
            raise ValueError(f"sandbox files: {name!r} must be a relative path inside the work dir "
                             "(no '..', not main.py)")
        if not isinstance(content, str):
            raise TypeError(f"sandbox files: content of {name!r} must be a str")
        clean[str(name)] = content
    job = {"code": code, "stdin": stdin, "files": clean, **limits.job_fields(nproc_base)}
    if harness is not None:
        job["harness"] = check_harness(harness)
    return job


def check_harness(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a test spec for a harness run: ``{"kind": "assert", "test": python source}`` (the
    test code runs in the trusted harness; the solution's names are proxies) or ``{"kind": "call",
    "entry": name, "args": list | dict, "expected": JSON value}`` (compared by the harness)."""
    spec = dict(spec)
    if spec.get("kind") == "assert" and isinstance(spec.get("test"), str):
        return {"kind": "assert", "test": spec["test"]}
    if spec.get("kind") == "invoke" and isinstance(spec.get("calls"), list) and all(
            isinstance(c, dict) and isinstance(c.get("entry"), str) and isinstance(c.get("args"), (list, dict))
            for c in spec["calls"]):
        return {"kind": "invoke", "calls": [{"entry": c["entry"], "args": c["args"]} for c in spec["calls"]]}
    if spec.get("kind") == "call" and isinstance(spec.get("entry"), str) and isinstance(spec.get("args"), (list, dict)):
        return {"kind": "call", "entry": spec["entry"], "args": spec["args"], "expected": spec.get("expected")}
    raise ValueError('sandbox harness must be {"kind": "assert", "test": str}, '
                     '{"kind": "call", "entry": str, "args": list | dict, "expected": value} or '
                     '{"kind": "invoke", "calls": [{"entry": str, "args": list | dict}, ...]}')


class SandboxWorker:
    """One jailed fork-server process. Not thread-safe: one run at a time (the pool ensures it)."""

    def __init__(self, config: SandboxConfig | None = None, *, launch: Launch | None = None) -> None:
        self.config = config or SandboxConfig()
        self.launch = launch or plan_launch(self.config)
        self.isolation = self.launch.isolation
        self.runs = 0
        self.dead = False
        self.recycle = False
        self.proc = subprocess.Popen(
            self.launch.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            cwd=self.launch.cwd, env=self.launch.env, preexec_fn=self.launch.preexec,  # noqa: PLW1509 (uid drop in the child)
            start_new_session=True, bufsize=0, close_fds=True,
        )
        os.set_blocking(self.proc.stdin.fileno(), False)  # writes wait in select, with a deadline
        try:
            hello = self._read(time.monotonic() + _START_TIMEOUT)
        except WorkerDied as e:
            self.kill()
            raise RuntimeError(f"sandbox worker failed to start ({self.isolation}): {e}") from None
        if not hello.get("ready"):
            self.kill()
            raise RuntimeError(f"sandbox worker sent an unexpected greeting: {hello!r}")

    # -- protocol
    def _write_all(self, data: bytes, deadline: float) -> None:
        fd = self.proc.stdin.fileno()
        view = memoryview(data)
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WorkerDied("the worker stopped reading its jobs")
            _, ready, _ = select.select([], [fd], [], left)
            if ready:
                try:
                    view = view[os.write(fd, view):]
                except BlockingIOError:
                    continue

    def _read_exact(self, n: int, deadline: float) -> bytes:
        fd = self.proc.stdout.fileno()
        buf = bytearray()
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, n - len(buf))
            if not chunk:
                raise WorkerDied("the worker exited")
            buf += chunk
        return bytes(buf)

    def _read(self, deadline: float) -> dict[str, Any]:
        try:
            (n,) = struct.unpack(">I", self._read_exact(4, deadline))
            if n > _MAX_REPLY:
                raise WorkerDied(f"reply of {n} bytes is over the limit")
            reply = json.loads(self._read_exact(n, deadline))
        except TimeoutError:
            raise WorkerDied("no answer before the deadline") from None
        except ValueError as e:
            raise WorkerDied(f"unreadable reply: {e}") from None
        if not isinstance(reply, dict):
            raise WorkerDied("reply is not an object")
        return reply

    def run_job(self, job: dict[str, Any]) -> ExecResult:
        """Send one job and wait for its result (the caller built ``job`` with :func:`make_job`)."""
        if self.dead:
            raise WorkerDied("worker is dead")
        data = json.dumps(job).encode()
        start = time.monotonic()
        try:
            self._write_all(struct.pack(">I", len(data)) + data, start + _SEND_GRACE + len(data) / 10e6)
        except (WorkerDied, OSError) as e:
            self.kill()
            raise WorkerDied(f"could not send the job: {e}") from None
        self.runs += 1
        grace = 5.0 + len(data) / 50e6
        try:
            raw = self._read(time.monotonic() + job["timeout"] + grace)
        except WorkerDied as e:
            elapsed = time.monotonic() - start
            self.kill()
            if elapsed >= job["timeout"]:
                return infra_failure(f"wall-clock limit of {job['timeout']:g} s reached; the sandbox worker was "
                                     f"killed from outside ({e})", isolation=self.isolation, duration=elapsed,
                                     status="timeout")
            return infra_failure(f"the sandbox worker died during the run ({e}); the program probably "
                                 "killed its own sandbox (e.g. kill -9 -1 or killing its parent)",
                                 isolation=self.isolation, duration=elapsed, status="killed")
        self.recycle = bool(raw.get("recycle"))
        if "infra_error" in raw:
            return infra_failure(f"sandbox worker error: {raw['infra_error']}", isolation=self.isolation,
                                 duration=time.monotonic() - start)
        return from_worker(raw, timeout=job["timeout"], isolation=self.isolation, max_output=job["max_output"])

    # -- lifecycle
    def kill(self) -> None:
        """Kill the worker's whole process group (bwrap, the jail's init and everything inside)."""
        self.dead = True
        try:  # bwrap and, through --die-with-parent, the jail's PID 1 and with it the whole jail
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a process that survives SIGKILL
            pass
        self._cleanup()

    def interrupt(self) -> None:
        """Kill the worker's processes from another thread; the thread running a job on it sees the
        end of its output at once and cleans up."""
        self.dead = True
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self) -> None:
        """Ask the worker to exit (end of its input), then make sure its group is gone."""
        if not self.dead:
            self.dead = True
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()

    def _cleanup(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        if self.launch.workdir:
            shutil.rmtree(self.launch.workdir, ignore_errors=True)


class SandboxPool:
    """A pool of warm sandbox workers: ``run`` has :func:`run_python`'s signature and is
    thread-safe; ``run_many`` runs a batch concurrently. Use as a context manager or call
    :meth:`close`.

    ``workers`` defaults to 2 × CPU cores. ``timeout``/``memory_mb``/... are per-run defaults a
    call may override. Workers start lazily and are replaced after ``recycle_after`` runs or
    when a snippet kills one. ``extra_ro_binds`` are host folders the jail sees read-only (bundled
    data a tool reads), at :meth:`jail_path`.
    """

    def __init__(self, workers: int | None = None, *, timeout: float = 5.0, memory_mb: int = 512,
                 fsize_mb: int = 16, nofile: int = 256, nproc: int = 64, max_output: int = 256 * 1024,
                 recycle_after: int = 500, site_packages: bool = False, preload: Iterable[str] = (),
                 tmpfs_mb: int = 256, require_isolation: bool = False, force_fallback: bool = False,
                 extra_ro_binds: Iterable[str] = ()) -> None:
        self.workers = int(workers) if workers is not None else 2 * (os.cpu_count() or 1)
        if self.workers < 1:
            raise ValueError(f"SandboxPool(workers=...) must be >= 1, got {workers!r}")
        if recycle_after < 1:
            raise ValueError(f"SandboxPool(recycle_after=...) must be >= 1, got {recycle_after!r}")
        self.limits = Limits(timeout=timeout, memory_mb=memory_mb, fsize_mb=fsize_mb, nofile=nofile,
                             nproc=nproc, max_output=max_output)
        self.config = SandboxConfig(site_packages=site_packages, preload=tuple(preload), tmpfs_mb=tmpfs_mb,
                                    require_isolation=require_isolation, force_fallback=force_fallback,
                                    extra_ro_binds=tuple(extra_ro_binds))
        self.recycle_after = recycle_after
        self._launch = plan_launch(self.config)  # probes once; raises when isolation is required but missing
        self.isolation = self._launch.isolation
        if self._launch.workdir:  # each worker plans its own launch; this one only answered "which"
            shutil.rmtree(self._launch.workdir, ignore_errors=True)
        self._slots = threading.BoundedSemaphore(self.workers)
        self._idle: list[SandboxWorker] = []
        self._busy: set[SandboxWorker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._executor: ThreadPoolExecutor | None = None
        # Workers are spawned from the pool's own long-lived threads: bwrap's --die-with-parent
        # (PR_SET_PDEATHSIG) fires when the *thread* that forked it exits, so a worker started from a
        # caller's short-lived thread would be killed with that thread.
        self._spawner = ThreadPoolExecutor(self.workers, thread_name_prefix="sandbox-spawn")

    def jail_path(self, host_dir: str) -> str:
        """Where this pool's jails see ``host_dir`` (one of its ``extra_ro_binds``)."""
        return jail_path(self.config, host_dir, self.isolation)

    def _acquire(self) -> SandboxWorker:
        with self._lock:
            if self._closed:
                raise PoolClosed("SandboxPool is closed")
            if self._idle:
                worker = self._idle.pop()
                self._busy.add(worker)
                return worker
        try:
            worker = self._spawner.submit(lambda: SandboxWorker(self.config, launch=plan_launch(self.config))).result()
        except (CancelledError, RuntimeError) as e:  # the spawner was shut down by close()
            if self._closed:
                raise PoolClosed("SandboxPool is closed") from None
            raise RuntimeError(f"sandbox worker failed to start: {e}") from e
        with self._lock:
            if self._closed:
                worker.kill()
                raise PoolClosed("SandboxPool is closed")
            self._busy.add(worker)
        return worker

    def _release(self, worker: SandboxWorker) -> None:
        with self._lock:
            self._busy.discard(worker)
            if not (self._closed or worker.dead or worker.recycle or worker.runs >= self.recycle_after):
                self._idle.append(worker)
                return
        worker.close()

    def limits_for(self, **overrides: Any) -> Limits:
        kw = {k: v for k, v in overrides.items() if v is not None}
        if not kw:
            return self.limits
        base = self.limits
        return Limits(**{**base.__dict__, **kw})

    def run(self, code: str, *, stdin: str | None = None, timeout: float | None = None,
            memory_mb: int | None = None, files: dict[str, str] | None = None,
            harness: Mapping[str, Any] | None = None) -> ExecResult:
        """Run ``code`` as ``__main__`` in a fresh row (own PID, mount and IPC namespaces) of a warm
        jailed worker. With ``harness`` (see :func:`check_harness`), ``code`` is a solution and the
        result's status is the verdict of the tests, decided in a separate process the solution
        cannot reach (``extra["verdict"]`` holds ``ok``, ``got`` and ``error``). Raises
        :class:`PoolClosed` when the pool is closed before the run ends."""
        limits = self.limits_for(timeout=timeout, memory_mb=memory_mb)
        job = make_job(code, stdin=stdin, files=files, limits=limits, harness=harness,
                       nproc_base=self._launch.nproc_base + (JAIL_PROCESSES if self.isolation == "bwrap" else 0))
        with self._slots:
            for attempt in range(2):
                try:
                    worker = self._acquire()
                except PoolClosed:
                    raise
                except RuntimeError as e:
                    return infra_failure(str(e), isolation=self.isolation)
                try:
                    result = worker.run_job(job)
                except WorkerDied as e:  # died before the job was sent (killed by the previous one)
                    if self._closed:
                        raise PoolClosed("SandboxPool was closed during the run") from None
                    if attempt:
                        return infra_failure(f"sandbox worker unavailable: {e}", isolation=self.isolation)
                    continue
                finally:
                    self._release(worker)
                if self._closed:
                    raise PoolClosed("SandboxPool was closed during the run")
                return result
        raise AssertionError("unreachable")  # pragma: no cover

    def run_many(self, jobs: Iterable[Mapping[str, Any]]) -> list[ExecResult]:
        """Run many programs concurrently (each mapping holds ``run``'s arguments, ``code`` required);
        results come back in input order."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="sandbox")
        futures = [self._executor.submit(self.run, **dict(j)) for j in jobs]
        try:
            return [f.result() for f in futures]
        except CancelledError:
            raise PoolClosed("SandboxPool was closed during run_many") from None

    def close(self) -> None:
        """Stop every worker now: idle ones are closed, busy ones killed (their runs raise
        :class:`PoolClosed`); returns without waiting for running programs."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            busy = list(self._busy)
        for w in busy:
            w.interrupt()
        for w in idle:
            w.kill()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._spawner.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:  # noqa: BLE001, S110 - interpreter shutdown
            pass
