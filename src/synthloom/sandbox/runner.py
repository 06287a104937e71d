"""One-shot sandboxed run: start a jailed worker, run one program in it, tear everything down."""

from __future__ import annotations

from typing import Any

from .bwrap import SandboxConfig, plan_launch
from .forkserver import JAIL_PROCESSES, SandboxWorker, WorkerDied, make_job
from .limits import Limits
from .result import ExecResult, infra_failure


def run_python(code: str, *, stdin: str | None = None, timeout: float = 5.0, memory_mb: int = 512,
               files: dict[str, str] | None = None, fsize_mb: int = 16, nofile: int = 256, nproc: int = 64,
               max_output: int = 256 * 1024, site_packages: bool = False, require_isolation: bool = False,
               force_fallback: bool = False, harness: dict[str, Any] | None = None) -> ExecResult:
    """Run Python source ``code`` as ``__main__`` in a fresh sandbox and return its :class:`ExecResult`.

    ``stdin`` is fed to the program; ``files`` (relative path -> text) are written into its work
    dir, which is also on ``sys.path``. With ``harness``, ``code`` is a solution judged by those tests
    (see :meth:`~synthloom.sandbox.SandboxPool.run`). Costs one jail start (~30-50 ms); for many runs use
    :class:`~synthloom.sandbox.SandboxPool`.
    """
    limits = Limits(timeout=timeout, memory_mb=memory_mb, fsize_mb=fsize_mb, nofile=nofile, nproc=nproc,
                    max_output=max_output)
    config = SandboxConfig(site_packages=site_packages, require_isolation=require_isolation,
                           force_fallback=force_fallback)
    launch = plan_launch(config)
    job = make_job(code, stdin=stdin, files=files, limits=limits, harness=harness,
                   nproc_base=launch.nproc_base + (JAIL_PROCESSES if launch.isolation == "bwrap" else 0))
    try:
        worker = SandboxWorker(config, launch=launch)
    except RuntimeError as e:
        return infra_failure(str(e), isolation=launch.isolation)
    try:
        return worker.run_job(job)
    except WorkerDied as e:
        return infra_failure(f"sandbox worker unavailable: {e}", isolation=launch.isolation)
    finally:
        worker.close()
