"""Tool calls executed for real, in the sandbox: :class:`ToolExecutor`.

A run takes the source of the tool implementations (one or more :class:`~synthloom.tools.spec.ToolModule`,
or the :class:`~synthloom.tools.spec.Tool` objects that name them) and a list of calls. All calls of one
run execute in order in ONE fresh jail row: they share its work dir (a file written by the first call
is there for the second) and nothing else; two runs never share anything. The tool code runs in the
sandbox's *solution* process; the calls are made, and their return values checked and converted to
JSON, by the trusted harness process (``sandbox/_harness.py``, kind ``invoke``), so a tool cannot
forge a result, a status or another call's outcome by writing to stdout. Each call ends as a
:class:`CallResult`; a call that kills the row (endless loop, memory bomb, ``os._exit``) takes the
run's status and the calls after it are ``not_run``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from ..records_text import storable
from ..sandbox import ExecResult, PoolClosed, SandboxPool

#: every status a call can end with
CALL_STATUSES = ("ok", "error", "invalid", "timeout", "memory", "forbidden", "killed", "crashed", "not_run")

_PRELUDE = '''import types as _sl_types


def _sl_load(_sl_name, _sl_source, _sl_data_dir, _sl_bind):
    module = _sl_types.ModuleType("synthloom_tools_" + _sl_name)
    module.__file__ = _sl_name + ".py"
    if _sl_data_dir is not None:
        module.DATA_DIR = _sl_data_dir
    exec(compile(_sl_source, _sl_name + ".py", "exec"), module.__dict__)
    if _sl_bind is None:  # every public function the module defines, under its own name
        _sl_bind = {k: k for k, v in vars(module).items() if not k.startswith("_") and callable(v)
                    and getattr(v, "__module__", None) == module.__name__}
    for exposed, entry in _sl_bind.items():
        globals()[exposed] = getattr(module, entry)
'''


@dataclass
class Invocation:
    """One call to make: ``name`` is the function the run exposes (a tool's name when the run was
    given tools; a module function's own name when it was given modules), ``arguments`` its keyword
    arguments, ``call_id`` the id it answers (the model's tool-call id)."""

    call_id: str
    name: str
    arguments: dict[str, Any]

    @staticmethod
    def of(call: Any) -> Invocation:
        """An invocation from a :class:`~synthloom.llm.tools.ToolCall`, a ``{"id", "name",
        "arguments"}`` dict, or an Invocation."""
        if isinstance(call, Invocation):
            return call
        if isinstance(call, Mapping):
            return Invocation(str(call.get("id") or call.get("call_id") or ""), call["name"], dict(call.get("arguments") or {}))
        return Invocation(call.id, call.name, dict(call.arguments))


@dataclass
class CallResult:
    """How one call ended: ``status`` is one of :data:`CALL_STATUSES` (``error``: the tool raised;
    ``invalid``: it returned something that is not JSON; ``timeout``/``memory``/``forbidden``/
    ``killed``/``crashed``: the call ended the run that way; ``not_run``: an earlier call ended the
    run), ``value`` the JSON return value when ``ok``, ``error`` one line otherwise."""

    call_id: str
    name: str
    status: str
    value: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> CallResult:
        return CallResult(d["call_id"], d["name"], d["status"], d.get("value"), d.get("error"))


class NameClash(ValueError):
    """Two units of one program would expose different functions under one name."""


#: statuses that mean a call ended its jail row (the calls after it did not run)
_RUN_ENDING = ("timeout", "killed", "crashed", "not_run")


def _stateless(units: Sequence[Any]) -> bool:
    modules = [getattr(u, "module", None) if hasattr(u, "entry") else u for u in units]
    return bool(modules) and all(m is not None and getattr(m, "stateless", False) for m in modules)


def _settle(done: asyncio.Future, futures: list[asyncio.Future]) -> None:
    error = done.exception()
    for i, future in enumerate(futures):
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(done.result()[i])


def data_dirs(units: Sequence[Any]) -> tuple[str, ...]:
    """The bundled data folders the implementations of ``units`` read."""
    modules = [getattr(u, "module", None) if hasattr(u, "entry") else u for u in units]
    return tuple(sorted({m.data_dir for m in modules if m is not None and m.data_dir}))


def program_source(units: Sequence[Any], *, strict: bool = False,
                   jail_path: Callable[[str], str] = lambda d: d) -> tuple[str, tuple[str, ...]]:
    """The solution program that loads ``units`` (Tools or ToolModules) and the data folders it
    reads. Tools expose ``tool.name`` bound to ``tool.module``'s ``tool.entry``; a ToolModule
    exposes all its public functions. With ``strict``, a name bound to two different functions
    raises :class:`NameClash` (otherwise the last one wins). ``jail_path`` maps a data folder to
    where the jail sees it (:meth:`SandboxPool.jail_path`)."""
    if strict:
        seen: dict[str, tuple[str, str]] = {}
        for unit in units:
            if hasattr(unit, "entry") and unit.module is not None:
                target = (f"{unit.module.name}\x00{hash(unit.module.source)}", unit.entry)
                if seen.setdefault(unit.name, target) != target:
                    raise NameClash(unit.name)
            elif not hasattr(unit, "entry"):
                raise NameClash(unit.name)  # a whole module's names are not known here
    modules: dict[str, tuple[Any, dict[str, str] | None]] = {}
    for unit in units:
        module = getattr(unit, "module", None) if hasattr(unit, "entry") else unit
        if module is None:
            raise ValueError(f"tool {getattr(unit, 'name', unit)!r} has no implementation to execute "
                             "(it can only be simulated; see toolalpaca)")
        key = f"{module.name}\x00{hash(module.source)}"
        _, bind = modules.setdefault(key, (module, {} if hasattr(unit, "entry") else None))
        if hasattr(unit, "entry"):
            if bind is None:
                continue  # the whole module is exposed already
            bind[unit.name] = unit.entry
        else:
            modules[key] = (module, None)
    lines = [_PRELUDE]
    for module, bind in modules.values():
        where = jail_path(module.data_dir) if module.data_dir else None
        lines.append(f"_sl_load({module.name!r}, {module.source!r}, {where!r}, {bind!r})")
    lines.append("del _sl_load, _sl_types")
    dirs = tuple(sorted({m.data_dir for m, _ in modules.values() if m.data_dir}))
    return "\n".join(lines) + "\n", dirs


def results_of(calls: Sequence[Invocation], result: ExecResult) -> list[CallResult]:
    """Per-call results out of an ``invoke`` harness run."""
    verdict = result.extra.get("verdict") or {}
    reported = verdict.get("results") if isinstance(verdict, dict) else None
    reported = reported if isinstance(reported, list) else []
    if not reported and result.status != "passed":  # the tool code did not even load
        first = _run_failure(result)
        return [CallResult(c.call_id, c.name, result.status if result.status in CALL_STATUSES else "crashed",
                           None, first)
                if i == 0 else CallResult(c.call_id, c.name, "not_run", None, "an earlier call ended the run")
                for i, c in enumerate(calls)]
    out = []
    for i, call in enumerate(calls):
        r = reported[i] if i < len(reported) and isinstance(reported[i], dict) else {"status": "not_run"}
        status = r.get("status")
        if status == "ok":
            out.append(CallResult(call.call_id, call.name, "ok", storable(r.get("value"))))
            continue
        if status == "died":  # the call ended the run: the run's status says how
            if result.status in ("passed", "failed"):
                rc = "" if result.returncode is None else f" (exit code {result.returncode})"
                out.append(CallResult(call.call_id, call.name, "killed", None, f"the tool process ended during the call{rc}"))
            else:
                out.append(CallResult(call.call_id, call.name, result.status, None, _run_failure(result)))
            continue
        if status not in CALL_STATUSES:
            status = "crashed"
        error = r.get("error") or ("an earlier call ended the run" if status == "not_run" else status)
        out.append(CallResult(call.call_id, call.name, status, None, storable(str(error))[:2000]))
    return out


def _run_failure(result: ExecResult) -> str:
    lines = [ln.strip() for ln in (result.stderr or "").splitlines() if ln.strip()]
    tail = lines[-1] if lines else ""
    detail = result.detail or result.status
    return storable(f"{detail}: {tail}" if tail and tail not in detail else detail)[:2000]


class ToolExecutor:
    """Executes tool calls in warm sandbox workers (one pool per set of bundled data folders, started
    on first use). ``timeout`` is the wall-clock limit of one run (all its calls), ``memory_mb`` its
    address-space limit, ``workers`` the warm jails per pool (default: 2 × cores).

    :meth:`run` blocks; :meth:`arun` runs it in this executor's threads so the event loop keeps
    serving model requests. :meth:`close` kills what is running (runs in flight raise
    :class:`~synthloom.sandbox.PoolClosed`; no result is recorded for them); a later call starts anew."""

    def __init__(self, *, timeout: float = 5.0, memory_mb: int = 512, workers: int | None = None,
                 pack: int = 16) -> None:
        if float(timeout) <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout}")
        if workers is not None and int(workers) < 1:
            raise ValueError(f"workers must be >= 1, not {workers}")
        if int(pack) < 1:
            raise ValueError(f"pack must be >= 1, not {pack}")
        self.timeout, self.memory_mb, self.workers, self.pack = float(timeout), int(memory_mb), workers, int(pack)
        self._pools: dict[tuple[str, ...], SandboxPool] = {}
        self._threads: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._waiting: list[tuple[list[Any], list[Invocation], asyncio.Future]] = []
        self._flush_armed = False
        self.runs = 0
        self.calls = 0
        self.packed_runs = 0

    def pool(self, data_dirs: Iterable[str] = ()) -> SandboxPool:
        key = tuple(sorted(data_dirs))
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = SandboxPool(self.workers, timeout=self.timeout, memory_mb=self.memory_mb, extra_ro_binds=key)
                self._pools[key] = pool
            return pool

    def run(self, units: Sequence[Any], calls: Sequence[Any], *, files: Mapping[str, str] | None = None) -> list[CallResult]:
        """Execute ``calls`` (Invocations, ToolCalls or ``{"id", "name", "arguments"}`` dicts) in order
        in one fresh jail row against the implementations of ``units`` (Tools or ToolModules);
        ``files`` are written to the work dir first."""
        invocations = [Invocation.of(c) for c in calls]
        if not invocations:
            return []
        pool = self.pool(data_dirs(units))
        code, _ = program_source(units, jail_path=pool.jail_path)
        harness = {"kind": "invoke", "calls": [{"entry": c.name, "args": c.arguments} for c in invocations]}
        result = pool.run(code, files=dict(files or {}), harness=harness)
        with self._lock:
            self.runs += 1
            self.calls += len(invocations)
        return results_of(invocations, result)

    async def arun(self, units: Sequence[Any], calls: Sequence[Any], *,
                   files: Mapping[str, str] | None = None) -> list[CallResult]:
        """:meth:`run` from the event loop. Runs whose tools are all *stateless* (bundled catalogue modules that
        keep nothing between calls and touch no files) and that bring no ``files`` are packed, up to ``pack`` at a
        time, into one jail row: the results are the same as separate runs (a packed run that a call ends early is
        rerun run by run), at a fraction of the cost of a row per run."""
        invocations = [Invocation.of(c) for c in calls]
        loop = asyncio.get_running_loop()
        if self.pack > 1 and not files and invocations and _stateless(units):
            future: asyncio.Future = loop.create_future()
            self._waiting.append((list(units), invocations, future))
            if len(self._waiting) >= self.pack:
                self._flush(loop)
            elif not self._flush_armed:
                self._flush_armed = True
                loop.call_soon(self._flush, loop)  # everything queued in this loop iteration goes together
            return await future
        return await loop.run_in_executor(self._thread_pool(), lambda: self.run(units, invocations, files=files))

    def _thread_pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(max(4, self.workers or 4), thread_name_prefix="tool-exec")
            return self._threads

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        self._flush_armed = False
        while self._waiting:
            batch, self._waiting = self._waiting[: self.pack], self._waiting[self.pack:]
            task = loop.run_in_executor(self._thread_pool(), self.run_packed, [(u, c) for u, c, _ in batch])
            task.add_done_callback(lambda done, batch=batch: _settle(done, [f for _, _, f in batch]))

    def run_packed(self, runs: Sequence[tuple[Sequence[Any], Sequence[Any]]]) -> list[list[CallResult]]:
        """Several runs of stateless tools in one jail row; each run's results as if it had its own row. When a call
        ends the packed row (timeout, crash, ...), or the runs expose clashing names, every run is made separately."""
        runs = [(list(units), [Invocation.of(c) for c in calls]) for units, calls in runs]
        if len(runs) == 1:
            return [self.run(*runs[0])]
        units = [u for run_units, _ in runs for u in run_units]
        pool = self.pool(data_dirs(units))
        try:
            code, _ = program_source(units, strict=True, jail_path=pool.jail_path)
        except NameClash:
            return [self.run(u, c) for u, c in runs]
        everything = [c for _, calls in runs for c in calls]
        harness = {"kind": "invoke", "calls": [{"entry": c.name, "args": c.arguments} for c in everything]}
        result = pool.run(code, harness=harness)
        results = results_of(everything, result)
        if any(r.status in _RUN_ENDING for r in results):
            return [self.run(u, c) for u, c in runs]
        with self._lock:
            self.runs += 1
            self.packed_runs += 1
            self.calls += len(everything)
        out, start = [], 0
        for _, calls in runs:
            out.append(results[start: start + len(calls)])
            start += len(calls)
        return out

    def close(self) -> None:
        """Kill the runs in flight and stop the pools (idempotent)."""
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
            threads, self._threads = self._threads, None
            waiting, self._waiting = self._waiting, []
        for _, _, future in waiting:
            future.get_loop().call_soon_threadsafe(future.cancel)
        if threads is not None:
            threads.shutdown(wait=False, cancel_futures=True)
        for pool in pools:
            pool.close()

    def __enter__(self) -> ToolExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


__all__ = ["CALL_STATUSES", "CallResult", "Invocation", "NameClash", "PoolClosed", "ToolExecutor", "program_source",
           "results_of"]
