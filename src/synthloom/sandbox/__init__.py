"""Isolated execution of model-written Python code.

``run_python(code, stdin=..., timeout=..., memory_mb=..., files=...) -> ExecResult`` runs one
program in a fresh bubblewrap jail; :class:`SandboxPool` keeps warm jailed fork-servers for
hundreds of runs per second. Every run ends with a status (see :class:`ExecResult`). Design and
threat model: ``docs/verification/sandbox.md``.
"""

from .bwrap import SandboxConfig, SandboxUnavailable
from .forkserver import PoolClosed, SandboxPool, SandboxWorker, check_harness
from .limits import Limits
from .result import STATUSES, ExecResult
from .runner import run_python

__all__ = [
           "STATUSES",
           "ExecResult",
           "Limits",
           "PoolClosed",
           "SandboxConfig",
           "SandboxPool",
           "SandboxUnavailable",
           "SandboxWorker",
           "check_harness",
           "run_python",
]
