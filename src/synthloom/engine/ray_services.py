"""The run-wide services of a Ray run: one response cache, one budget and one rate limiter per run,
shared by every worker, held by one Ray actor (:class:`RunServices`) pinned to the driver's node.

* :class:`CacheService` owns the run's SQLite response cache (the same file a local run uses, so a
  local run's cache replays on the cluster and back). Workers read it directly when the file is
  reachable from their node (same node or shared storage; SQLite readers never block the writer)
  and over RPC otherwise; their writes go to the service in batches.
* :class:`BudgetService` holds the run's :class:`~synthloom.llm.budget.Budget`: a request counts
  against the cluster's cap the moment any worker sends it, so the whole cluster stops at the cap.
* :class:`LimiterService` holds one in-flight limit (AIMD on 429s and timeouts), request and token
  rate buckets and the ``Retry-After`` pause per model. Workers lease in-flight permits in batches
  and recycle them locally while they have requests waiting (no RPC per request at steady state);
  a permit goes back to the service after ``ray_layers.PERMIT_USES`` requests, so a saturated worker
  cannot starve the others and a limit shrunk by a 429 takes effect within that many requests.

The worker-side layers that use them are in ``engine/ray_layers.py``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from ..llm.budget import Budget
from ..llm.cache import ResponseCache, request_origin
from ..llm.limits import AdaptiveLimit, TokenBucket
from ..llm.types import BudgetExceeded, Request, Response

# -- the services (actors on the driver's node) -------------------------------------------------------

class CacheService:
    """The run's response cache, written by this actor only."""

    def __init__(self, path: str) -> None:
        self.cache = ResponseCache(Path(path))

    def get(self, key: bytes) -> Response | None:
        return self.cache.get(key)

    def put_many(self, entries: list[tuple[bytes, Response, Request | None, str, float | None, str | None]]) -> None:
        for key, response, request, identity, elapsed_s, origin in entries:
            token = request_origin.set(origin)
            try:
                self.cache.put(key, response, request=request, identity=identity, elapsed_s=elapsed_s)
            finally:
                request_origin.reset(token)

    def flush(self) -> None:
        self.cache.flush()

    def close(self) -> None:
        self.cache.close()


class BudgetService:
    """The run's budget, counted across the cluster."""

    def __init__(self, max_requests: int | None, max_tokens: int | None, max_cost: float | None) -> None:
        self.budget = Budget(max_requests=max_requests, max_tokens=max_tokens, max_cost=max_cost)

    def start(self, model: str) -> str | None:
        try:
            self.budget.start(model)
        except BudgetExceeded as e:
            return str(e)
        return None

    def finish(self, prompt_tokens: int = 0, completion_tokens: int = 0, cost: float = 0.0) -> None:
        self.budget.finish(prompt_tokens, completion_tokens, cost)

    def snapshot(self) -> dict[str, Any]:
        return self.budget.snapshot()


class _ModelLimit:
    def __init__(self, max_in_flight: int, requests_per_minute: float | None, tokens_per_minute: float | None,
                 adaptive: bool) -> None:
        self.concurrency = AdaptiveLimit(max_in_flight, adaptive)
        self.requests = TokenBucket(requests_per_minute) if requests_per_minute else None
        self.tokens = TokenBucket(tokens_per_minute) if tokens_per_minute else None
        self.paused_until = 0.0
        self.rate_limited = 0
        self.timeouts = 0
        self.peak_leased = 0

    async def wait_pause(self) -> None:
        while (remaining := self.paused_until - time.monotonic()) > 0:
            await asyncio.sleep(remaining)


class LimiterService:
    """Per-model in-flight limit, rate buckets and pause for the whole cluster (an async actor)."""

    def __init__(self, limits: dict[str, dict[str, Any]]) -> None:
        self.models = {name: _ModelLimit(**cfg) for name, cfg in limits.items()}

    def now(self) -> float:
        return time.monotonic()

    async def lease(self, model: str, want: int) -> int:
        """Wait for at least one in-flight permit, then take up to ``want`` that are free."""
        m = self.models[model]
        await m.wait_pause()
        await m.concurrency.acquire()
        got = 1
        c = m.concurrency
        while got < want and c.in_flight < c.limit and not c._waiters:
            c.in_flight += 1
            got += 1
        m.peak_leased = max(m.peak_leased, c.in_flight)
        return got

    def give_back(self, model: str, permits: int, successes: int) -> None:
        m = self.models[model]
        for _ in range(successes):
            m.concurrency.record_success()
        for _ in range(permits):
            m.concurrency.release()

    async def take_rate(self, model: str, requests: int, tokens: int) -> None:
        """Spend from the rate buckets, waiting out the pause and any debt first."""
        m = self.models[model]
        await m.wait_pause()
        delay = 0.0
        if m.requests is not None and requests:
            delay = m.requests.take(requests)
        if m.tokens is not None and tokens:
            delay = max(delay, m.tokens.take(tokens))
        if delay > 0:
            await asyncio.sleep(delay)

    def adjust_tokens(self, model: str, amount: float) -> None:
        m = self.models[model]
        if m.tokens is not None:
            m.tokens.adjust(amount)

    def overloaded(self, model: str, kind: str, retry_after: float | None, sent_at: float) -> None:
        m = self.models[model]
        if kind == "rate_limited":
            m.rate_limited += 1
            m.concurrency.record_overload(sent_at)
        elif kind == "timeout":
            m.timeouts += 1
            m.concurrency.record_overload(sent_at)
        if retry_after:
            m.paused_until = max(m.paused_until, time.monotonic() + retry_after)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {name: {"limit": m.concurrency.limit, "max_in_flight": m.concurrency.max_limit,
                       "in_flight": m.concurrency.in_flight, "peak_in_flight": m.peak_leased,
                       "rate_limited": m.rate_limited, "timeouts": m.timeouts, "decreases": m.concurrency.decreases}
                for name, m in self.models.items()}


class RunServices:
    """The three services in one actor (one process to start per run, not three): the cache's
    ``get``/``put_many``/``flush``/``close``, the budget's ``start``/``finish``, the limiter's
    ``now``/``lease``/``give_back``/``take_rate``/``adjust_tokens``/``overloaded``."""

    def __init__(self, cache_path: str | None, budget: tuple | None, limits: dict[str, dict[str, Any]]) -> None:
        self.cache = CacheService(cache_path) if cache_path is not None else None
        self.budget = BudgetService(*budget) if budget is not None else None
        self.limiter = LimiterService(limits)

    def get(self, key: bytes) -> Response | None:
        return self.cache.get(key)

    def put_many(self, entries: list) -> None:
        self.cache.put_many(entries)

    def flush(self) -> None:
        self.cache.flush()

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()

    def start(self, model: str) -> str | None:
        return self.budget.start(model)

    def finish(self, prompt_tokens: int = 0, completion_tokens: int = 0, cost: float = 0.0) -> None:
        self.budget.finish(prompt_tokens, completion_tokens, cost)

    def budget_snapshot(self) -> dict[str, Any] | None:
        return self.budget.snapshot() if self.budget is not None else None

    def now(self) -> float:
        return self.limiter.now()

    async def lease(self, model: str, want: int) -> int:
        return await self.limiter.lease(model, want)

    def give_back(self, model: str, permits: int, successes: int) -> None:
        self.limiter.give_back(model, permits, successes)

    async def take_rate(self, model: str, requests: int, tokens: int) -> None:
        await self.limiter.take_rate(model, requests, tokens)

    def adjust_tokens(self, model: str, amount: float) -> None:
        self.limiter.adjust_tokens(model, amount)

    def overloaded(self, model: str, kind: str, retry_after: float | None, sent_at: float) -> None:
        self.limiter.overloaded(model, kind, retry_after, sent_at)

    def limits_snapshot(self) -> dict[str, dict[str, Any]]:
        return self.limiter.snapshot()
