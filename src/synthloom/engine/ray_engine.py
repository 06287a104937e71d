"""The Ray engine (``--engine ray``): the local engine's run, with each segment's chain of streaming
steps spread over Ray actors.

Why Ray core actors and not Ray Data ``map_batches``: the run directory's contract (shards named by
partition, a journal line per committed partition, exact resume) needs the driver to know which
partition each row belongs to and to commit partitions itself; Ray Data owns its blocks' order,
retries and output and would hide them. With actors the driver keeps the local engine's journal,
outputs and accounting unchanged and only the per-record work moves: the driver reads the head's
records, cuts them into the same partitions as the local engine, sends each to the least busy
actor (at most :data:`PARTITIONS_PER_WORKER` in flight per actor: back-pressure, so a fast source
never floods the object store), and commits the rows that come back exactly as
:class:`~synthloom.engine.segment_runner.SegmentRunner` does. A worker builds its models once
(``engine/ray_worker.py``) with cluster-wide cache, budget and limits (``engine/ray_services.py``).
A worker lost mid-partition (its process killed, its node gone) is restarted by Ray and the
partition is sent again; nothing of it was committed.

Global steps (dedup, selection) run on the driver over the materialised rows, or in parallel when
they have a distributed form (``engine/ray_global.py``) that yields exactly the local rows.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..llm import client
from ..llm.budget import Budget
from ..llm.spec import ModelConfig
from ..llm.usage import UsageTracker
from ..pipeline.pipeline import Pipeline
from ..pipeline.step import SourceStep, StreamStep
from .accounting import StepCounts
from .outputs import SegmentOutputs
from .plan import Segment
from .ray_worker import ChainWorker, RunSpec, SegmentSpec, Services, cluster_registry, pack, ship_steps, shipped_state
from .segment_runner import RunStopped, SegmentRunner, _atake, _Partition, _take

#: partitions sent to one actor before the driver waits for results
PARTITIONS_PER_WORKER = 2
#: times a partition is sent again after its worker was lost, before the run stops
PARTITION_RETRIES = 3


class RayEngineError(RuntimeError):
    """Ray is missing or the cluster cannot be reached; the message says what to do."""


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayEngineError("--engine ray needs Ray: install it with `pip install 'synthloom[ray]'`") from None
    return ray


class RayCluster:
    """The Ray side of one run: the connection, the service actors and the segments' worker actors."""

    def __init__(self, *, address: str | None, workers: int | None, log: Callable[[str], None]) -> None:
        ray = self.ray = import_ray()
        self.started_here = False
        if not ray.is_initialized():
            try:
                if address:
                    ray.init(address=address, log_to_driver=False, configure_logging=False)
                else:
                    ray.init(num_cpus=workers or os.cpu_count() or 1, include_dashboard=False,
                             log_to_driver=False, configure_logging=False)
                    self.started_here = True
            except (ConnectionError, RuntimeError, ValueError) as e:
                where = f"the Ray cluster at {address}" if address else "a local Ray instance"
                raise RayEngineError(f"cannot start or reach {where}: {e}; check --ray-address "
                                     "(e.g. ray://HOST:10001 or HOST:6379) or leave it out to start Ray locally") from None
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = max(1, workers or cpus)
        self.log = log
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self._here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
        self.services = Services()
        self._service_actors: list[Any] = []
        self.actors: list[Any] = []
        self.run_spec: RunSpec | None = None
        self.usage: UsageTracker | None = None

    # -- services ----------------------------------------------------------------------------------
    def start_services(self, configs: dict[str, ModelConfig], cache_path: Path | None, budget: Budget | None) -> None:
        """Start the run's services actor on this node: the cache (when used), the budget (when set), the limiter."""
        from .ray_services import RunServices

        limits = {name: {"max_in_flight": c.max_in_flight, "requests_per_minute": c.requests_per_minute,
                         "tokens_per_minute": c.tokens_per_minute, "adaptive": c.adaptive} for name, c in configs.items()}
        caps = (budget.max_requests, budget.max_tokens, budget.max_cost) if budget is not None else None
        actor = self.ray.remote(RunServices).options(num_cpus=0, scheduling_strategy=self._here, max_concurrency=10_000) \
            .remote(str(cache_path) if cache_path is not None else None, caps, limits)
        self.ray.get(actor.__ray_ready__.remote())
        self._service_actors.append(actor)
        self.services.cache = actor if cache_path is not None else None
        self.services.cache_path = str(cache_path) if cache_path is not None else ""
        self.services.budget = actor if budget is not None else None
        self.services.limiter = actor
        self.services.clock_offset = 0.0  # the limiter runs on this node: same monotonic clock

    def driver_registry(self, pipeline: Pipeline, configs: dict[str, ModelConfig], state_dir: Path,
                        usage: UsageTracker) -> client.ModelRegistry:
        """Models for the steps the driver runs itself (sources, global steps), on the same services;
        the workers get the same models (built in each, once per run, when the first chain needs them)."""
        self.usage = usage
        self.run_spec = RunSpec(params=pipeline.params, configs=dict(configs), state_dir=str(state_dir),
                                services=self.services, backend_classes=dict(client.BACKEND_CLASSES),
                                shipped=shipped_state())
        return cluster_registry(configs, self.services, usage)

    async def workers_ready(self) -> list[Any]:
        """The run's worker actors, started on first use (one process each, models built once)."""
        if self.actors:
            return self.actors
        ray = self.ray
        assert self.run_spec is not None
        # no CPU held for the actors' lifetime (Ray's default for actors): the tasks of a distributed global step
        # run beside them; SPREAD places them over the cluster's nodes
        actor_cls = ray.remote(ChainWorker).options(
            scheduling_strategy="SPREAD", max_restarts=PARTITION_RETRIES + 1, max_task_retries=0,
            max_concurrency=PARTITIONS_PER_WORKER + 2)
        blob = pack(self.run_spec)
        self.actors = [actor_cls.remote(blob) for _ in range(self.workers)]
        try:
            await asyncio.gather(*[_await_ref(a.ready.remote()) for a in self.actors])
        except ray.exceptions.RayActorError as e:
            await self.close_workers()
            raise RuntimeError(f"a Ray worker could not start: {e}") from None
        return self.actors

    async def close_workers(self) -> None:
        actors, self.actors = self.actors, []
        if not actors:
            return
        refs = [a.close.remote() for a in actors]
        results = await asyncio.gather(*[_await_ref(r) for r in refs], return_exceptions=True)
        for r in results:
            if isinstance(r, dict) and self.usage is not None:
                self.usage.merge(r["usage"])
        for a in actors:
            self.ray.kill(a)

    def limits(self) -> dict[str, Any]:
        if self.services.limiter is None:
            return {}
        return self.ray.get(self.services.limiter.limits_snapshot.remote())

    def budget_snapshot(self) -> dict[str, Any] | None:
        if self.services.budget is None:
            return None
        return self.ray.get(self.services.budget.budget_snapshot.remote())

    def close(self) -> None:
        """Stop the services (call :meth:`close_workers` first) and a Ray instance started here."""
        ray = self.ray
        for actor in self._service_actors:
            try:
                ray.get(actor.close.remote())
            except Exception:  # noqa: BLE001 - the actor is gone; its cache writer committed what it had
                pass
        for actor in self._service_actors:
            ray.kill(actor)
        self._service_actors.clear()
        if self.started_here:
            ray.shutdown()

    # -- segments ----------------------------------------------------------------------------------
    def segment_runner(self, seg: Segment, head_items: Callable, outputs: SegmentOutputs, journal: Any, *,
                       partition_size: int, window: int, io_pool: ThreadPoolExecutor, live: Callable,
                       log: Callable[[str], None]) -> RaySegmentRunner:
        head = seg.head
        spec = SegmentSpec(segment=seg.name, head_name=head.name if head is not None else None,
                           head_is_source=isinstance(head, SourceStep), steps=ship_steps(seg.chain),
                           partition_size=partition_size, window=window)
        return RaySegmentRunner(
            self, pack(spec), seg.name, spec.head_name, head_items, seg.chain, outputs, journal,
            partition_size=partition_size, window=window, io_pool=io_pool, live=live,
            head_is_source=spec.head_is_source, log=log,
        )


def _chain_models(chain: list[StreamStep]) -> set[str]:
    return {m for s in chain for m in s.models} | {m for s in chain for b in s.substeps() for m in b.models}


class RaySegmentRunner(SegmentRunner):
    """:class:`SegmentRunner` whose items are processed by Ray actors, a partition at a time."""

    def __init__(self, cluster: RayCluster, blob: bytes, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cluster = cluster
        self.blob = blob
        self.usage = cluster.usage

    async def run(self) -> int:
        ray = self.cluster.ray
        done = self.journal.done(self.name)
        loop = asyncio.get_running_loop()
        actors = await self.cluster.workers_ready()
        blob = ray.put(self.blob)
        busy = dict.fromkeys(range(len(actors)), 0)
        in_flight: dict[asyncio.Future, tuple[int, int, list[Any], int]] = {}  # -> (actor, part, payloads, tries)
        commits: set[asyncio.Task] = set()
        failure: list[BaseException] = []
        stopped: list[RunStopped] = []

        def send(part: int, payloads: list[Any], tries: int) -> None:
            i = min(busy, key=lambda k: busy[k])
            busy[i] += 1
            fut = asyncio.ensure_future(_await_ref(actors[i].process.remote(self.name, blob, part, payloads)))
            in_flight[fut] = (i, part, payloads, tries)

        async def collect(block: bool) -> None:
            if not in_flight:
                return
            finished, _ = await asyncio.wait(list(in_flight), timeout=None if block else 0,
                                             return_when=asyncio.FIRST_COMPLETED)
            for fut in finished:
                i, part, payloads, tries = in_flight.pop(fut)
                busy[i] -= 1
                try:
                    result = fut.result()
                except ray.exceptions.RayTaskError as e:
                    failure.append(e.as_instanceof_cause())
                    continue
                except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError, ray.exceptions.ObjectLostError) as e:
                    if tries >= PARTITION_RETRIES:
                        failure.append(RunStopped(
                            f"{self.name}: partition {part} lost its Ray worker {tries + 1} times (last: {type(e).__name__}); "
                            "committed rows are kept; check the cluster and rerun the same command to resume",
                            "stopped: workers lost"))
                        continue
                    self.log(f"{self.name}: a Ray worker was lost ({type(e).__name__}); sending partition {part} again")
                    send(part, payloads, tries + 1)
                    continue
                self.usage.merge(result["usage"])
                if "stopped" in result:
                    message, status = result["stopped"]
                    stopped.append(RunStopped(message, status))
                    continue
                self._committed(part, result, commits, failure)

        position = 0
        current: list[Any] = []
        current_index = -1
        iterator = self.head_items()
        if hasattr(iterator, "__anext__"):
            next_batch = lambda: _atake(iterator, 256, self.head_name or "")  # noqa: E731
        else:
            next_batch = lambda: loop.run_in_executor(self.io_pool, _take, iterator, 256)  # noqa: E731
        limit = PARTITIONS_PER_WORKER * len(actors)
        try:
            while not failure and not stopped:
                batch = await next_batch()
                if not batch:
                    break
                for payload in batch:
                    p = position // self.partition_size
                    position += 1
                    if p in done:
                        continue
                    if p != current_index:
                        if current:
                            while len(in_flight) >= limit and not failure:
                                await collect(block=True)
                            send(current_index, current, 0)
                        current, current_index = [], p
                    current.append(payload)
                await collect(block=False)
            if current and not failure and not stopped:
                send(current_index, current, 0)
            while in_flight:
                await collect(block=True)
            await asyncio.gather(*list(commits))
            for actor in actors:
                try:
                    extra = await _await_ref(actor.unload.remote(self.name))
                except ray.exceptions.RayActorError:
                    continue  # lost after its last partition came back: nothing of the segment is missing
                self.usage.merge(extra["usage"])
        except BaseException:
            if hasattr(iterator, "aclose"):
                await iterator.aclose()
            for fut in in_flight:
                fut.cancel()
            await asyncio.gather(*list(commits), return_exceptions=True)
            raise
        if failure:
            raise failure[0]
        if stopped:
            raise stopped[0]
        return (position + self.partition_size - 1) // self.partition_size

    def _committed(self, index: int, result: dict[str, Any], commits: set[asyncio.Task], failure: list[BaseException]) -> None:
        part = _Partition(index)
        part.results = result["results"]
        part.counts = {step: StepCounts.from_dict(c) for step, c in result["counts"].items()}
        part.retry = result["retry"]
        for step, c in part.counts.items():
            self.live(step, "out", c.rows_out)
            if c.rejected:
                self.live(step, "rejected", c.rejected)
            if c.errors:
                self.live(step, "errors", c.errors)
        task = asyncio.ensure_future(self._commit(part))
        commits.add(task)

        def done(t: asyncio.Task) -> None:
            commits.discard(t)
            if not t.cancelled() and t.exception() is not None:
                failure.append(t.exception())

        task.add_done_callback(done)


async def _await_ref(ref: Any) -> Any:
    return await ref
