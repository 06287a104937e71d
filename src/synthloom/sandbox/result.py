"""What one sandboxed run returns: :class:`ExecResult`, and how a raw outcome maps onto a status."""

from __future__ import annotations

import signal
from dataclasses import asdict, dataclass, field
from typing import Any

#: every status a run can end with
STATUSES = ("passed", "failed", "timeout", "memory", "killed", "forbidden", "crashed")

_CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGABRT}


@dataclass
class ExecResult:
    """The outcome of running one program in the sandbox.

    ``status`` is one of :data:`STATUSES`:

    * ``passed``    exit code 0
    * ``failed``    non-zero exit (an uncaught exception, a failed assert, ``sys.exit(3)``)
    * ``timeout``   wall-clock limit or CPU-time limit (SIGXCPU) reached; everything was killed
    * ``memory``    ``MemoryError`` or an allocation refused at the address-space limit
    * ``killed``    ended by a signal it did not cause by crashing (e.g. SIGKILL, SIGTERM),
                    or it killed its own sandbox worker
    * ``forbidden`` stopped by a sandbox block: permission denied, read-only file system,
                    network unreachable/refused, file-size / open-file / process limits,
                    or a seccomp SIGSYS
    * ``crashed``   a crash signal (SIGSEGV, SIGABRT, ...) or a failure of the sandbox itself

    ``stdout``/``stderr`` hold at most the pool's ``max_output`` bytes each (decoded as UTF-8 with
    replacement; never a lone surrogate); ``*_truncated`` says more was written.

    A harness run (``harness=`` on :meth:`SandboxPool.run`) is ``passed`` only when the trusted
    harness process reported that every test passed; a wrong answer or failed assert is
    ``failed`` (the harness's traceback is appended to ``stderr``), and ``extra["verdict"]`` holds
    the harness's report (``ok``, ``got``, ``error``) or None when it never reported. ``isolation`` is ``"bwrap"`` or
    ``"rlimits-only"`` (the weaker fallback, see :mod:`synthloom.sandbox.bwrap`).
    """

    status: str
    returncode: int | None
    stdout: str
    stderr: str
    duration: float
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    signal: int | None = None
    detail: str = ""
    isolation: str = "bwrap"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def clean_text(value: Any) -> str:
    """``value`` as a str that encodes to UTF-8 (lone surrogates replaced)."""
    text = value if isinstance(value, str) else str(value)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def from_worker(raw: dict[str, Any], *, timeout: float, isolation: str, max_output: int) -> ExecResult:
    """Build an :class:`ExecResult` from the JSON the in-sandbox worker sent for one job."""
    rc = raw.get("returncode")
    rc = rc if isinstance(rc, int) and not isinstance(rc, bool) else None
    stdout = clean_text(raw.get("stdout", ""))[: max_output]
    stderr = clean_text(raw.get("stderr", ""))[: max_output]
    duration = float(raw.get("duration", 0.0) or 0.0)
    kw: dict[str, Any] = {
        "returncode": rc, "stdout": stdout, "stderr": stderr, "duration": duration, "isolation": isolation,
        "stdout_truncated": int(raw.get("stdout_bytes", 0) or 0) > max_output,
        "stderr_truncated": int(raw.get("stderr_bytes", 0) or 0) > max_output}
    sig = -rc if rc is not None and rc < 0 else None
    if raw.get("harness"):
        return _harness_result(raw, kw, sig, timeout)
    if raw.get("timed_out"):
        return ExecResult("timeout", signal=sig, detail=f"wall-clock limit of {timeout:g} s reached", **kw)
    if rc == 0:
        return ExecResult("passed", **kw)
    if sig is not None:
        name = signal_name(sig)
        if sig == signal.SIGXCPU:
            return ExecResult("timeout", signal=sig, detail="CPU-time limit reached (SIGXCPU)", **kw)
        if sig == signal.SIGXFSZ:
            return ExecResult("forbidden", signal=sig, detail="file-size limit reached (SIGXFSZ)", **kw)
        if sig == signal.SIGSYS:
            return ExecResult("forbidden", signal=sig, detail="blocked system call (SIGSYS)", **kw)
        if _looks_out_of_memory(stderr):
            return ExecResult("memory", signal=sig, detail=f"{name} after running out of memory", **kw)
        if sig in _CRASH_SIGNALS:
            return ExecResult("crashed", signal=sig, detail=f"crashed with {name}", **kw)
        return ExecResult("killed", signal=sig, detail=f"killed by {name}", **kw)
    kind, exc = raw.get("kind"), raw.get("exception")
    if kind == "memory" or (exc is None and _looks_out_of_memory(stderr)):
        return ExecResult("memory", detail=f"{exc or 'out of memory'} at the {isolation} memory limit", **kw)
    if kind == "forbidden":
        return ExecResult("forbidden", detail=f"{exc}: blocked by the sandbox", **kw)
    return ExecResult("failed", detail=f"exit code {rc}" + (f" ({exc})" if exc else ""), **kw)


def _harness_result(raw: dict[str, Any], kw: dict[str, Any], sig: int | None, timeout: float) -> ExecResult:
    """Status of a harness run: the harness's verdict decides ``passed``; the solution's own
    outcome only names the kind of failure."""
    v = raw.get("verdict")
    verdict = ({"ok": v.get("ok") is True, "got": None if v.get("got") is None else clean_text(v.get("got"))[:2000],
                "error": clean_text(v.get("error") or "")[-8000:]} if isinstance(v, dict) else None)
    if verdict is not None and isinstance(v.get("results"), list):  # an "invoke" run: one result per call
        verdict["results"] = [r for r in v["results"] if isinstance(r, dict)]
        verdict["died"] = v.get("died") is True
    kw["extra"] = {"verdict": verdict}
    if verdict is not None and verdict["error"]:
        kw["stderr"] = (kw["stderr"] + ("\n" if kw["stderr"] and not kw["stderr"].endswith("\n") else "")
                        + verdict["error"])
    if verdict is not None and verdict["ok"] and not raw.get("timed_out"):
        kw["returncode"] = 0
        return ExecResult("passed", **kw)
    if raw.get("timed_out"):
        return ExecResult("timeout", signal=sig, detail=f"wall-clock limit of {timeout:g} s reached", **kw)
    kind = v.get("kind") if isinstance(v, dict) else None
    if kind == "memory":
        return ExecResult("memory", detail="MemoryError in the solution", **kw)
    if kind == "forbidden":
        return ExecResult("forbidden", detail="the solution was stopped by a sandbox block", **kw)
    if sig is not None and isinstance(v, dict) and v.get("died"):
        name = signal_name(sig)
        if sig == signal.SIGXCPU:
            return ExecResult("timeout", signal=sig, detail="CPU-time limit reached (SIGXCPU)", **kw)
        if sig in (signal.SIGXFSZ, signal.SIGSYS):
            return ExecResult("forbidden", signal=sig, detail=f"stopped by {name}", **kw)
        if sig in _CRASH_SIGNALS:
            return ExecResult("crashed", signal=sig, detail=f"the solution crashed with {name}", **kw)
        return ExecResult("killed", signal=sig, detail=f"the solution was killed by {name}", **kw)
    if verdict is None:
        return ExecResult("crashed", detail="the test harness ended without a verdict", **kw)
    last = [ln for ln in verdict["error"].splitlines() if ln.strip()]
    return ExecResult("failed", detail=(last[-1].strip()[:300] if last else "wrong answer"), **kw)


def _looks_out_of_memory(stderr: str) -> bool:
    tail = stderr[-2000:]
    return "MemoryError" in tail or "Cannot allocate memory" in tail or "out of memory" in tail


def infra_failure(detail: str, *, isolation: str, duration: float = 0.0, status: str = "crashed") -> ExecResult:
    """A run that never produced a worker result (sandbox start failure, worker died, ...)."""
    return ExecResult(status, None, "", "", duration, detail=detail, isolation=isolation)
