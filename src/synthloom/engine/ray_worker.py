"""A Ray worker of a segment: the segment's fused chain of streaming steps, rebuilt from their
declared config, pushing whole partitions through it.

The driver ships each step as ``(class, name, config, inputs)``: a step's constructor options are
its whole configuration (``pipeline/config.py``), so the worker rebuilds exactly the step the
driver has (same ``describe()``, hence the same fingerprint) and sets it up against models built
once per worker with the cluster-wide layers (``engine/ray_services.py``). A partition's records
go through :meth:`SegmentRunner._process_item` — the local engine's own code — so every row, id,
rejection and error row is what the local engine makes; the driver sorts and commits them.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..llm import client
from ..llm.retries import RetryingBackend
from ..llm.spec import ModelConfig
from ..llm.types import ModelBackend
from ..llm.usage import UsageTracker
from ..pipeline.context import StepContext
from ..pipeline.step import Step
from .ray_layers import ClusterBudgetedBackend, ClusterLimitedBackend, RemoteCache
from .segment_runner import RunStopped, SegmentRunner, _Partition
from .worker_state import SHIPPED_STATE


@dataclass
class Services:
    """Handles of the run's service actors (None: not used by this run)."""

    cache: Any = None
    cache_path: str = ""
    budget: Any = None
    limiter: Any = None
    clock_offset: float = 0.0


@dataclass
class RunSpec:
    """What every worker of a run shares: models, services, parameters and state folder."""

    params: dict[str, Any]
    configs: dict[str, ModelConfig]
    state_dir: str
    services: Services
    backend_classes: dict[str, tuple[str, str]] = field(default_factory=dict)
    shipped: dict[str, tuple[str, Any]] = field(default_factory=dict)


@dataclass
class SegmentSpec:
    """One segment's chain, as a worker rebuilds it."""

    segment: str
    head_name: str | None
    head_is_source: bool
    steps: list[tuple[type, str, dict[str, Any], list[str]]]
    partition_size: int
    window: int


def ship_steps(steps: list[Step]) -> list[tuple[type, str, dict[str, Any], list[str]]]:
    """Steps as ``(class, name, config, inputs)``; classes of modules a worker may not import (a test
    module, ``__main__``) are pickled by value."""
    for step in steps:
        _by_value(type(step))
    return [(type(s), s.name, dict(s.config), list(s.inputs)) for s in steps]


def rebuild_steps(shipped: list[tuple[type, str, dict[str, Any], list[str]]]) -> list[Step]:
    steps = []
    for cls, name, config, inputs in shipped:
        step = cls(name, **config)
        step.inputs = list(inputs)
        steps.append(step)
    return steps


def _by_value(obj: Any) -> None:
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    if module is None or module.__name__.split(".")[0] in ("synthloom", "builtins"):
        return
    file = getattr(module, "__file__", None) or ""
    if "site-packages" in file or "dist-packages" in file or file.startswith(sys.base_prefix):
        return
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(module)


def pack(spec: RunSpec | SegmentSpec) -> bytes:
    """``spec`` pickled for the workers (modules they may not import pickled by value)."""
    if isinstance(spec, RunSpec):
        for _, value in spec.shipped.values():
            _by_value(value if callable(value) else type(value))
            if isinstance(value, dict):
                for v in value.values():
                    _by_value(v)
    from ray import cloudpickle

    return cloudpickle.dumps(spec)


def shipped_state() -> dict[str, tuple[str, Any]]:
    """The registered state, each with the module that registers it (imported first on a worker)."""
    return {name: (get.__module__, get()) for name, (get, _) in SHIPPED_STATE.items()}


def cluster_build_model(services: Services):
    """A ``build`` for :class:`~synthloom.llm.client.ModelRegistry`: ``build_model``'s stack with the
    limits and budget layers drawing on the run's services."""

    def limits(config: ModelConfig, inner: ModelBackend) -> ModelBackend:
        retries = RetryingBackend(inner, max_retries=config.max_retries, base=config.backoff_base_s,
                                  max_delay=config.backoff_max_s, timeout_s=config.timeout_s)
        layer = ClusterLimitedBackend(retries, services.limiter, config.name, rated=bool(config.requests_per_minute),
                                      tokens_rated=bool(config.tokens_per_minute), clock_offset=services.clock_offset)
        retries.observer = layer
        return layer

    def budget_layer(model: ModelBackend, price_in: float, price_out: float,
                     cache_prices: tuple[float, float]) -> ModelBackend:
        return ClusterBudgetedBackend(model, services.budget, price_in, price_out, cache_prices)

    def build(config: ModelConfig, **kwargs: Any) -> ModelBackend:
        kwargs.pop("batch_journal", None)
        return client.build_model(config, limits=limits if services.limiter is not None else None,
                                  budget_layer=budget_layer if services.budget is not None else None, **kwargs)

    return build


def cluster_registry(configs: dict[str, ModelConfig], services: Services, usage: UsageTracker) -> client.ModelRegistry:
    cache = RemoteCache(services.cache, services.cache_path) if services.cache is not None else None
    return client.ModelRegistry(configs, cache=cache, usage=usage, build=cluster_build_model(services))


class ChainWorker:
    """The actor class (wrapped with ``ray.remote`` by the engine): built once per run with the run's
    models, it loads each segment's chain in turn and pushes partitions through it."""

    def __init__(self, blob: bytes) -> None:
        from ray import cloudpickle

        spec: RunSpec = cloudpickle.loads(blob)
        self.spec = spec
        client.BACKEND_CLASSES.update(spec.backend_classes)
        for name, (module, value) in spec.shipped.items():
            importlib.import_module(module)
            SHIPPED_STATE[name][1](value)
        if spec.services.limiter is not None:
            import ray

            spec.services.clock_offset = ray.get(spec.services.limiter.now.remote()) - time.monotonic()
        self.usage = UsageTracker()
        self.registry = cluster_registry(spec.configs, spec.services, self.usage)
        self.segments: dict[str, tuple[list[Step], SegmentRunner, asyncio.Semaphore]] = {}

    def ready(self) -> int:
        import os

        return os.getpid()

    def load(self, blob: bytes) -> None:
        """Rebuild and set up a segment's chain (idempotent: a restarted worker loads it again)."""
        from ray import cloudpickle

        seg: SegmentSpec = cloudpickle.loads(blob)
        if seg.segment in self.segments:
            return
        chain = rebuild_steps(seg.steps)
        base = StepContext(step="", models=self.registry, params=self.spec.params, state_dir=Path(self.spec.state_dir))
        for step in chain:
            step.setup(base.for_step(step.name))
        runner = SegmentRunner(seg.segment, seg.head_name, lambda: iter(()), chain, None, None,
                               partition_size=seg.partition_size, window=seg.window, io_pool=None,
                               head_is_source=seg.head_is_source)
        self.segments[seg.segment] = (chain, runner, asyncio.Semaphore(seg.window))

    async def process(self, segment: str, blob: bytes, index: int, payloads: list[Any]) -> dict[str, Any]:
        """Push one partition through the segment's chain (loaded from ``blob`` on first use): its rows
        (unsorted), counts, retries and the usage since the last report."""
        if segment not in self.segments:
            self.load(blob)
        _, runner, slots = self.segments[segment]
        part = _Partition(index)

        async def one(idx: int, payload: Any) -> None:
            async with slots:
                await runner._process_item(part, idx, payload)

        tasks = [asyncio.ensure_future(one(i, p)) for i, p in enumerate(payloads)]
        try:
            await asyncio.gather(*tasks)
        except RunStopped as e:
            await _cancel(tasks)
            return {"stopped": (str(e), e.status), "usage": self.usage.drain()}
        except BaseException:
            await _cancel(tasks)
            raise
        return {"results": part.results, "counts": {k: c.to_dict() for k, c in part.counts.items()},
                "retry": part.retry, "usage": self.usage.drain()}

    async def unload(self, segment: str) -> dict[str, Any]:
        """Close a finished segment's steps and send buffered cache writes; the usage not yet shipped."""
        entry = self.segments.pop(segment, None)
        if entry is not None:
            for step in entry[0]:
                await step.aclose()
        if self.registry.cache is not None:
            await self.registry.cache.aflush()
        return {"usage": self.usage.drain()}

    async def close(self) -> dict[str, Any]:
        for segment in list(self.segments):
            await self.unload(segment)
        await self.registry.aclose_all()
        if self.registry.cache is not None:
            self.registry.cache.close()
        return {"usage": self.usage.drain()}


async def _cancel(tasks: list[asyncio.Task]) -> None:
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
