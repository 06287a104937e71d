"""The sandbox as a pipeline step uses it: :class:`SandboxClient`, a lazily started
:class:`~synthloom.sandbox.SandboxPool` plus the threads that run blocking verifications off the
event loop. Closing it ends the runs in flight at once (the pool kills busy workers), so a step
closed by SIGTERM/SIGINT does not wait for the running tests' time limits."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..sandbox import SandboxPool


class SandboxClient:
    """A :class:`~synthloom.sandbox.SandboxPool` owned by one step (started on first use), with a
    thread pool to run blocking verifications off the event loop.

    ``timeout`` is seconds per test, ``memory_mb`` the address-space limit, ``workers`` the
    number of warm jailed workers (default: the pool's, 2 × cores), ``site_packages`` whether
    the jail sees the installed packages, ``thread_name`` the prefix of the threads.
    :meth:`close` kills what is running: a step is closed at the end of a run, or when SIGTERM /
    SIGINT stops it, and then nothing it started may outlive it. A later call starts a new pool."""

    def __init__(self, *, timeout: float = 5.0, memory_mb: int = 512, workers: int | None = None,
                 site_packages: bool = False, thread_name: str = "code-method") -> None:
        if float(timeout) <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout}")
        if workers is not None and int(workers) < 1:
            raise ValueError(f"workers must be >= 1, not {workers}")
        self.timeout, self.memory_mb, self.workers = float(timeout), int(memory_mb), workers
        self.site_packages, self.thread_name = site_packages, thread_name
        self._pool: SandboxPool | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def pool(self) -> SandboxPool:
        with self._lock:
            if self._pool is None:
                self._pool = SandboxPool(self.workers, timeout=self.timeout, memory_mb=self.memory_mb,
                                         site_packages=self.site_packages)
                self._executor = ThreadPoolExecutor(max(4, self._pool.workers), thread_name_prefix=self.thread_name)
            return self._pool

    async def call(self, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` in this client's threads (the pool is started first)."""
        self.pool  # noqa: B018 - start the pool (and executor) before handing off
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def verify(self, code: str, tests: Any, **kw: Any):
        """:func:`~synthloom.verify.code.verify_code` on this pool (blocking)."""
        from .code import verify_code

        kw.setdefault("timeout", self.timeout)
        kw.setdefault("memory_mb", self.memory_mb)
        return verify_code(code, tests, pool=self.pool, **kw)

    async def averify(self, code: str, tests: Any, **kw: Any):
        return await self.call(lambda: self.verify(code, tests, **kw))

    async def arun_many(self, jobs: list[dict[str, Any]]):
        """Raw sandbox runs (``SandboxPool.run_many`` arguments) in a thread."""
        return await self.call(self.pool.run_many, jobs)

    def close(self) -> None:
        """Kill the runs in flight (they raise :class:`~synthloom.sandbox.PoolClosed`: no verdict is
        recorded for them), drop queued verifications and stop the pool (idempotent)."""
        with self._lock:
            pool, self._pool = self._pool, None
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        if pool is not None:
            pool.close()
