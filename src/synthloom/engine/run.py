"""Running a pipeline locally into a run directory, resuming whatever a previous run committed.

``run_pipeline(pipeline, out)`` validates the pipeline and its models, opens ``OUT/.state``
(journal and response cache), runs the segments in order with the streaming segment runner,
unifies shard schemas, and writes ``run.json``, ``recipe.lock.yaml`` and ``card.md``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..io.rundir import RunDir
from ..io.rundir_guard import claim_run_dir
from ..io.shards import finalize, read_shards
from ..io.sources import SourceError
from ..io.storage import storage_problem
from ..llm.batch.provider import check_batch_engine, enable_batch
from ..llm.budget import Budget
from ..llm.cache import ResponseCache
from ..llm.client import ModelRegistry
from ..llm.usage import UsageTracker
from ..pipeline.context import StepContext
from ..pipeline.pipeline import Pipeline
from ..pipeline.step import GlobalStep, JoinStep, SourceStep, Step
from .accounting import StepCounts, sum_counts
from .card import write_card
from .fingerprints import run_fingerprint, segment_fingerprints
from .interrupts import RunInterrupts
from .journal import Journal
from .outputs import SegmentOutputs
from .plan import Segment, plan_segments
from .preflight import probe_servers
from .progress import Progress
from .run_end import INTERRUPTED, STORAGE_FAILED, RunAborted, interrupted_message, mark_run_json, storage_message
from .segment_runner import RunStopped, SegmentRunner


@dataclass
class RunOptions:
    """How to run: ``limit`` caps every source (``-n``); ``fresh`` discards committed outputs
    (the response cache is kept: it is content-addressed); ``use_cache=False`` bypasses it."""

    limit: int | None = None
    fresh: bool = False
    use_cache: bool = True
    cache_dir: Path | None = None
    partition_size: int = 1000
    data_format: str = "parquet"
    progress: str = "auto"  # auto | rich | plain | quiet
    budget: Budget | None = None
    recipe_text: str | None = None  # the resolved recipe, for recipe.lock.yaml
    recipe_source: str | None = None  # where the recipe came from, for the card
    probe: bool = True  # check that model servers answer before starting
    log: Callable[[str], None] = print
    batch: bool = False  # --batch: models whose provider has a batch API send their requests in batches
    engine: str = "local"  # local | ray
    ray_address: str | None = None  # an existing Ray cluster (default: start Ray on this machine)
    ray_workers: int | None = None  # Ray worker actors per segment (default: the cluster's CPUs)


@dataclass
class RunResult:
    """What a run did: its status, where its rows are, the per-step counts and usage."""

    status: str
    out: Path
    counts: dict[str, StepCounts]
    rows: dict[str, int]
    usage: dict[str, Any]
    elapsed_s: float
    resumed_partitions: int = 0
    retryable_errors: int = 0  # error rows from model failures: rerunning the command retries them
    message: str = ""
    steps: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "completed"


def run_pipeline(pipeline: Pipeline, out: str | os.PathLike[str], options: RunOptions | None = None) -> RunResult:
    """Validate, then run ``pipeline`` into ``out`` (blocking). Raises PipelineError/ModelSpecError
    before anything is written when the pipeline or a model is misconfigured, RunDirError when
    ``out`` is not a folder this run may write into (or another run holds it), RunAborted when
    the run was interrupted or the disk refused a write before there was anything to count."""
    options = options or RunOptions()
    pipeline.validate()
    used = sorted({m for s in pipeline.steps for m in s.models} | _loop_models(pipeline))
    if options.batch:
        enable_batch([pipeline.model_configs[name] for name in used])
    configs = {name: pipeline.model_configs[name] for name in used}
    check_batch_engine(configs.values(), options.engine)
    registry_check = ModelRegistry(configs)
    registry_check.check_all()
    if options.probe:
        probe_servers(configs.values())
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:  # pragma: no cover - uvloop is a core dependency on Linux
        runner = asyncio.Runner()
    with claim_run_dir(Path(out), pipeline.name, fresh=options.fresh), runner:
        return runner.run(_run_guarded(pipeline, Path(out), options, configs))


async def _run_guarded(pipeline: Pipeline, out: Path, options: RunOptions, configs: dict) -> RunResult:
    """:func:`_run` with SIGTERM/SIGINT handled and the ends it cannot report itself (a signal
    during setup, a full disk outside the segments) written to run.json as one-line reasons."""
    interrupts = RunInterrupts(asyncio.get_running_loop(), asyncio.current_task()).install()
    try:
        return await _run(pipeline, out, options, configs, interrupts)
    except asyncio.CancelledError:
        interrupts.absorb_cancel()
        message = interrupted_message(interrupts.signal_name)
        mark_run_json(RunDir(out), INTERRUPTED, message)
        raise RunAborted(INTERRUPTED, message) from None
    except Exception as e:
        problem = storage_problem(e)
        if problem is None:
            raise
        message = storage_message(problem, out)
        RunDir(out).free_reserve()
        mark_run_json(RunDir(out), STORAGE_FAILED, message)
        raise RunAborted(STORAGE_FAILED, message) from None
    finally:
        interrupts.remove()


def _loop_models(pipeline: Pipeline) -> set[str]:
    return {m for s in pipeline.steps for b in s.substeps() for m in b.models}


async def _run(pipeline: Pipeline, out: Path, options: RunOptions, configs: dict,
               interrupts: RunInterrupts) -> RunResult:
    started = time.time()
    rundir = RunDir(out)
    rundir.create()
    journal = Journal(rundir.journal)
    segments = plan_segments(pipeline)
    seg_fps = segment_fingerprints(pipeline, segments, limit=options.limit, partition_size=options.partition_size,
                                   data_format=options.data_format, prefix_sources=options.engine == "local")
    fp = run_fingerprint(seg_fps)
    if options.fresh or journal.fingerprint is None or not journal.segment_fps:
        rundir.clear_outputs()
        journal.start(fp)
    elif journal.fingerprint != fp:
        changed = [s.name for s in segments if journal.segment_fps.get(s.name) != seg_fps[s.name]]
        options.log(f"the recipe or its inputs changed since the last run in {out}: recomputing "
                    f"{', '.join(changed)} (cached model responses are reused); the rest resumes")
        _forget_stale_segments(rundir, journal, {s.name for s in segments})
        journal.append({"fingerprint": fp})
    for seg in segments:
        if journal.segment_fps.get(seg.name) != seg_fps[seg.name]:
            journal.set_segment_fingerprint(seg.name, seg_fps[seg.name])
        if isinstance(seg.head, SourceStep):  # another -n: the segment runs again, keeping what still holds
            journal.note_limit(seg.name, options.limit)
    resumed = sum(len(p) for p in journal.partitions.values())
    if resumed:
        options.log(f"resuming the run in {out}: {resumed} partition(s) already committed")
    retrying = _invalidate_for_retry(journal, segments)
    if retrying:
        options.log(f"retrying {retrying} row(s) that failed on the model last time")
    rundir.write_run_json({"status": "running", "pipeline": pipeline.name, "started": started, "fingerprint": fp})
    rundir.make_reserve()
    if options.recipe_text is not None:
        rundir.write_lock(options.recipe_text)
    else:
        rundir.write_lock(yaml.safe_dump(pipeline.describe(), sort_keys=False, allow_unicode=True))

    cache = cluster = None
    cache_path = None
    if options.use_cache:
        cache_path = (options.cache_dir or rundir.state) / "cache.sqlite"
        cache_path.parent.mkdir(parents=True, exist_ok=True)
    usage = UsageTracker()
    if options.engine == "ray":
        from .ray_engine import RayCluster

        cluster = RayCluster(address=options.ray_address, workers=options.ray_workers, log=options.log)
        cluster.start_services(configs, cache_path, options.budget)
        registry = cluster.driver_registry(pipeline, configs, rundir.state, usage)
    else:
        cache = ResponseCache(cache_path) if cache_path is not None else None
        registry = ModelRegistry(configs, cache=cache, budget=options.budget, usage=usage, state_dir=rundir.state)
    base_ctx = StepContext(step="", models=registry, params=pipeline.params, state_dir=rundir.state)
    for step in pipeline.steps:
        step.setup(base_ctx.for_step(step.name))

    progress = Progress(pipeline, usage, registry, mode=options.progress, totals=_source_totals(pipeline, options))
    io_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="synthloom-io")
    try:  # the io threads finish (a write in flight removes its temp file) whatever ends the run
        status, message = "completed", ""
        loop = asyncio.get_running_loop()
        progress.start()
        try:
            for seg in segments:
                if seg.name in journal.complete:
                    continue
                await _run_segment(seg, pipeline, rundir, journal, options, io_pool, progress, cluster)
                journal.mark_complete(seg.name, _n_partitions(journal, seg.name))
        except RunStopped as e:
            status, message = e.status, str(e)
        except SourceError as e:  # a bad line deep in an input file: keep what was committed
            status, message = "failed: bad input", f"{e}. Fix the input and rerun the same command: committed rows are kept"
        except asyncio.CancelledError:
            interrupts.absorb_cancel()
            status, message = INTERRUPTED, interrupted_message(interrupts.signal_name)
        except Exception as e:  # a full or read-only disk ends the run cleanly; anything else is a bug
            problem = storage_problem(e)
            if problem is None:
                raise
            status, message = STORAGE_FAILED, storage_message(problem, out)
        finally:
            interrupts.shutting_down()  # signals from here on are recorded: the cleanup below must finish
            progress.stop()
            for step in pipeline.steps:
                await step.aclose()
            if cluster is not None:
                await cluster.close_workers()
            await registry.aclose_all()
            if cluster is not None:
                _close_cluster(cluster, options.budget)
            if cache is not None:
                try:
                    cache.close()
                except Exception as e:  # noqa: BLE001 - a cache that lost writes to a full disk
                    if storage_problem(e) is None:
                        raise
                    if status == "completed":
                        status, message = STORAGE_FAILED, storage_message(storage_problem(e) or "", out)

        if status == "completed" and interrupts.interrupted:
            status, message = INTERRUPTED, interrupted_message(interrupts.signal_name)
        if status == "completed":
            try:
                await loop.run_in_executor(io_pool, _finalize_all, rundir)
            except OSError as e:
                if storage_problem(e) is None:
                    raise
                status, message = STORAGE_FAILED, storage_message(storage_problem(e) or "", out)
    finally:
        io_pool.shutdown(wait=True)
    if status == STORAGE_FAILED:
        rundir.free_reserve()
    if status == "completed" and interrupts.interrupted:
        status, message = INTERRUPTED, interrupted_message(interrupts.signal_name)
    counts = sum_counts([journal.partitions[s][p]["counts"] for s in journal.partitions for p in journal.partitions[s]])
    rows = _row_totals(journal, segments)
    elapsed = time.time() - started
    result = RunResult(
        status=status, out=out, counts=counts, rows=rows, usage=usage.snapshot(), elapsed_s=elapsed,
        resumed_partitions=resumed, message=message, steps=[s.name for s in pipeline.topological()],
        retryable_errors=sum(e.get("retry", 0) for parts in journal.partitions.values() for e in parts.values()),
    )
    rundir.write_run_json({
        "status": status,
        "message": message,
        "pipeline": pipeline.name,
        "started": started,
        "finished": time.time(),
        "elapsed_s": round(elapsed, 3),
        "fingerprint": fp,
        "engine": options.engine,
        "resumed_partitions": resumed,
        "rows": rows,
        "retryable_errors": result.retryable_errors,
        "counts": {name: counts[name].to_dict() for name in result.steps if name in counts},
        "usage": result.usage,
        "models": {name: cfg.public_dict() for name, cfg in configs.items()},
    })
    if status == "completed":
        await _after_run_hooks(pipeline, out, options.log)
    write_card(rundir, pipeline, result, configs, options.recipe_text, options.recipe_source)
    if status == "completed" and interrupts.interrupted:  # a signal during the after-run hooks or the card
        result.status, result.message = INTERRUPTED, interrupted_message(interrupts.signal_name)
        mark_run_json(rundir, result.status, result.message)
    if result.status != STORAGE_FAILED:
        rundir.free_reserve()
    return result


async def _after_run_hooks(pipeline: Pipeline, out: Path, log: Callable[[str], None]) -> None:
    """Steps that define ``after_run(out, log)`` (e.g. ``type: report``) run it once a run has
    completed and run.json is written; a failure there is logged and never fails the run."""
    for step in pipeline.steps:
        if type(step).after_run is not Step.after_run:
            try:
                await asyncio.get_running_loop().run_in_executor(None, step.after_run, out, log)
            except Exception as e:  # noqa: BLE001 - the data is complete; the extra output is not
                log(f"step {step.name!r}: after the run: {type(e).__name__}: {e}")


def _close_cluster(cluster: Any, budget: Budget | None) -> None:
    """Stop a Ray run's services; the cluster-wide budget's spending is copied into the run's."""
    spent = cluster.budget_snapshot()
    if budget is not None and spent is not None:
        for key in ("requests", "in_flight", "prompt_tokens", "completion_tokens", "cost"):
            setattr(budget, key, spent[key])
    cluster.close()


async def _run_segment(
    seg: Segment, pipeline: Pipeline, rundir: RunDir, journal: Journal, options: RunOptions,
    io_pool: ThreadPoolExecutor, progress: Progress, cluster: Any = None,
) -> None:
    data_dir = rundir.data if seg.final else rundir.node(seg.name)
    outputs = SegmentOutputs(data_dir, rundir.rejected / seg.name, rundir.errors / seg.name,
                             data_format=options.data_format if seg.final else "parquet")
    outputs.keep_only(journal.done(seg.name))
    head = seg.head
    items = _head_items(seg, rundir, options.limit, cluster)
    window = _window(seg, pipeline)
    if cluster is not None and seg.chain:
        runner = cluster.segment_runner(seg, items, outputs, journal, partition_size=options.partition_size,
                                        window=window, io_pool=io_pool, live=progress.bump, log=options.log)
        await runner.run()
        return
    runner = SegmentRunner(
        seg.name, head.name if head is not None else None, items, seg.chain, outputs, journal,
        partition_size=options.partition_size, window=window, io_pool=io_pool, live=progress.bump,
        head_is_source=isinstance(head, SourceStep), log=options.log, verify_source=True,
    )
    await runner.run()


def _head_items(seg: Segment, rundir: RunDir, limit: int | None, cluster: Any = None) -> Callable[[], Any]:
    """What a segment streams: its source's records (an async iterator for an ``aread`` source), a
    global or join step's output over the materialised upstream rows, or those rows themselves.
    On Ray, a global step with a distributed form runs it over the upstream shard folders."""
    head = seg.head
    if cluster is not None and isinstance(head, GlobalStep) and not isinstance(head, JoinStep):
        from .ray_global import RayGlobalContext, distributed_form

        form = distributed_form(head)
        if form is not None:
            spill = rundir.state / "spill" / head.name
            return lambda: form([rundir.node(n) for n in seg.upstream],
                                RayGlobalContext(workers=cluster.workers, spill_dir=spill))

    def items() -> Any:
        if isinstance(head, SourceStep):
            return head.aread(limit=limit) if head.is_async else iter(head.read(limit=limit))
        if isinstance(head, JoinStep):
            return head.run_join([read_shards(rundir.node(n)) for n in seg.upstream])
        upstream = read_shards(rundir.node(seg.upstream[0]))
        return head.run(upstream) if isinstance(head, GlobalStep) else upstream

    return items


def _forget_stale_segments(rundir: RunDir, journal: Journal, current: set[str]) -> None:
    """Drop what segments that are no longer in the pipeline (a renamed step) committed."""
    for seg in [s for s in {*journal.partitions, *journal.complete, *journal.segment_fps} if s not in current]:
        journal.reset(seg)
        journal.segment_fps.pop(seg, None)
        for folder in (rundir.node(seg), rundir.rejected / seg, rundir.errors / seg):
            shutil.rmtree(folder, ignore_errors=True)


def _invalidate_for_retry(journal: Journal, segments: list[Segment]) -> int:
    """Partitions with model-failure error rows are recomputed; segments downstream of a segment
    that recomputes anything start over (their input changes). Returns the rows to retry."""
    rows = 0
    dirty: set[str] = set()
    for seg in segments:
        retry = journal.to_retry(seg.name)
        rows += sum(journal.partitions[seg.name][p]["retry"] for p in retry)
        if any(u in dirty for u in seg.upstream):
            if journal.partitions.get(seg.name) or seg.name in journal.complete:
                journal.reset(seg.name)
            dirty.add(seg.name)
        elif retry:
            journal.complete.pop(seg.name, None)
            dirty.add(seg.name)
    return rows


BATCH_IN_FLIGHT = 4096  # rows in flight per batch model (the window is at most 8192)


def _window(seg: Segment, pipeline: Pipeline) -> int:
    """Records in flight: enough to keep every model of the chain at its concurrency limit."""
    in_flight = 0
    for step in seg.chain:
        for m in step.models:
            cfg = pipeline.model_configs[m]  # a batch model's requests wait in provider batches: keep many
            in_flight += max(cfg.max_in_flight, BATCH_IN_FLIGHT) if cfg.batch else cfg.max_in_flight
    return max(32, min(8192, 2 * in_flight)) if in_flight else 32


def _n_partitions(journal: Journal, seg: str) -> int:
    done = journal.done(seg)
    return max(done) + 1 if done else 0


def _source_totals(pipeline: Pipeline, options: RunOptions) -> dict[str, int]:
    totals = {}
    for s in pipeline.steps:
        if isinstance(s, SourceStep):
            n = s.count(limit=options.limit)
            if n is not None:
                totals[s.name] = n
    return totals


def _row_totals(journal: Journal, segments: list[Segment]) -> dict[str, int]:
    rows = {"data": 0, "rejected": 0, "errors": 0}
    for seg in segments:
        for entry in journal.partitions.get(seg.name, {}).values():
            if seg.final:
                rows["data"] += entry["rows"]["data"]
            rows["rejected"] += entry["rows"]["rejected"]
            rows["errors"] += entry["rows"]["error"]
    return rows


def _finalize_all(rundir: RunDir) -> None:
    if rundir.data.exists():
        finalize(rundir.data)
    for parent in (rundir.rejected, rundir.errors):
        if parent.exists():
            for sub in parent.iterdir():
                if sub.is_dir():
                    finalize(sub)

