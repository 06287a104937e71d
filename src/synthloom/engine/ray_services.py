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
  a permit goes back to the service after :data:`PERMIT_USES` requests, so a saturated worker
  cannot starve the others and a limit shrunk by a 429 takes effect within that many requests.

The worker-side layers (:class:`ClusterLimitedBackend`, :class:`ClusterBudgetedBackend`,
:class:`RemoteCache`) take the place of the local ``RateLimitedBackend``, ``BudgetedBackend`` and
``ResponseCache`` in the model stack built by ``llm/client.py``.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import time
from pathlib import Path
from typing import Any

from ..llm.budget import Budget
from ..llm.cache import ResponseCache, request_origin
from ..llm.limits import AdaptiveLimit, TokenBucket, estimate_tokens
from ..llm.types import BudgetExceeded, ModelBackend, ModelError, RateLimited, Request, Response, Timeout

#: requests a leased permit serves on a worker before it goes back to the service
PERMIT_USES = 32
#: most permits a worker asks for at once
LEASE_BATCH = 8
#: cache writes a worker buffers before sending them (or after CACHE_FLUSH_S)
CACHE_BATCH = 256
CACHE_FLUSH_S = 0.05


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


# -- worker-side layers -------------------------------------------------------------------------------

class RemoteCache:
    """A worker's view of the run's cache: direct SQLite reads when the file is reachable, else RPC;
    writes buffered and sent to the :class:`CacheService` in batches (visible to this worker at once)."""

    remote = True
    key = staticmethod(ResponseCache.key)

    def __init__(self, service: Any, path: str) -> None:
        self.service = service
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        if self.path.is_file():
            try:
                self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False,
                                             isolation_level=None)
                self._conn.execute("PRAGMA busy_timeout = 10000")
            except sqlite3.Error:
                self._conn = None
        self._buffer: list[tuple] = []
        self._mine: dict[bytes, Response] = {}  # put here, maybe not yet written by the service
        self._sent: collections.deque = collections.deque()
        self._timer: asyncio.TimerHandle | None = None

    async def aget(self, key: bytes) -> Response | None:
        mine = self._mine.get(key)
        if mine is not None:
            copy = Response.from_dict(mine.to_dict())
            copy.cached = True
            return copy
        if self._conn is not None:
            try:
                row = self._conn.execute("SELECT codec, value FROM responses WHERE key = ?", (key,)).fetchone()
            except sqlite3.Error:
                row = None
            else:
                return None if row is None else ResponseCache._decode(row[0], row[1])
        return await self.service.get.remote(key)

    def put(self, key: bytes, response: Response, *, request: Request | None = None, identity: str = "",
            elapsed_s: float | None = None) -> None:
        self._mine[key] = response
        self._buffer.append((key, response, request, identity, elapsed_s, request_origin.get()))
        if len(self._buffer) >= CACHE_BATCH:
            self._send()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(CACHE_FLUSH_S, self._send)

    def _send(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        self._sent.append((self.service.put_many.remote(batch), [e[0] for e in batch]))
        while self._sent and _ready(self._sent[0][0]):
            _, keys = self._sent.popleft()
            for k in keys:
                self._mine.pop(k, None)

    async def aflush(self) -> None:
        self._send()
        while self._sent:
            ref, keys = self._sent.popleft()
            await ref
            for k in keys:
                self._mine.pop(k, None)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _ready(ref: Any) -> bool:
    import ray

    ready, _ = ray.wait([ref], timeout=0)
    return bool(ready)


class ClusterBudgetedBackend:
    """Budget layer whose counts live in the run's :class:`BudgetService`."""

    def __init__(self, inner: ModelBackend, service: Any, price_in: float = 0.0, price_out: float = 0.0,
                 cache_prices: tuple[float, float] | None = None) -> None:
        self.inner = inner
        self.service = service
        self.price_in = price_in
        self.price_out = price_out
        self.cache_prices = cache_prices
        self.identity = inner.identity

    def __getattr__(self, name: str) -> Any:
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    async def complete(self, request: Request) -> Response:
        refused = await self.service.start.remote(self.identity)
        if refused is not None:
            raise BudgetExceeded(refused)
        try:
            response = await self.inner.complete(request)
        except BaseException:
            self.service.finish.remote()
            raise
        u = response.usage
        self.service.finish.remote(u.prompt_tokens, u.completion_tokens, u.cost(self.price_in, self.price_out, self.cache_prices))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class ClusterLimitedBackend:
    """Rate-limit layer drawing in-flight permits, rates and pauses from the run's :class:`LimiterService`."""

    def __init__(self, inner: ModelBackend, service: Any, model: str, *, rated: bool, tokens_rated: bool,
                 clock_offset: float = 0.0) -> None:
        self.inner = inner
        self.service = service
        self.model = model
        self.rated = rated
        self.tokens_rated = tokens_rated
        self.clock_offset = clock_offset  # service clock - this process's clock
        self.identity = inner.identity
        self._free: list[int] = []  # uses left of each idle permit held
        self._in_use = 0
        self._waiters: collections.deque[asyncio.Future[int]] = collections.deque()
        self._leasing = False
        self._successes = 0

    def __getattr__(self, name: str) -> Any:
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    @property
    def in_flight(self) -> int:
        return self._in_use

    async def _acquire(self) -> int:
        if self._free and not self._waiters:
            self._in_use += 1
            return self._free.pop()
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        if not self._leasing:
            self._leasing = True
            asyncio.get_running_loop().create_task(self._lease())
        try:
            return await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._release(fut.result(), ok=False)
            raise

    async def _lease(self) -> None:
        try:
            while self._waiters:
                want = min(LEASE_BATCH, len(self._waiters))
                got = await self.service.lease.remote(self.model, want)
                self._free.extend([PERMIT_USES] * got)
                self._hand_out()
        finally:
            self._leasing = False

    def _hand_out(self) -> None:
        while self._free and self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                self._in_use += 1
                fut.set_result(self._free.pop())

    def _release(self, uses_left: int, *, ok: bool) -> None:
        self._in_use -= 1
        if ok:
            self._successes += 1
        uses_left -= 1
        waiting = any(not f.done() for f in self._waiters)
        if uses_left > 0 and waiting:
            self._free.append(uses_left)
            self._hand_out()
            return
        give = 1 + (len(self._free) if not waiting else 0)
        if not waiting:
            self._free.clear()
        self.service.give_back.remote(self.model, give, self._successes)
        self._successes = 0
        if waiting:
            self._hand_out()
            if self._waiters and not self._leasing:
                self._leasing = True
                asyncio.get_running_loop().create_task(self._lease())

    async def complete(self, request: Request) -> Response:
        uses = await self._acquire()
        ok = False
        try:
            estimate = estimate_tokens(request) if self.tokens_rated else 0
            if self.rated or self.tokens_rated:
                await self.service.take_rate.remote(self.model, 1 if self.rated else 0, estimate)
            sent_at = time.monotonic()
            try:
                response = await self.inner.complete(request)
            except ModelError as exc:
                if getattr(self.inner, "observer", None) is not self:
                    self.attempt_failed(exc, sent_at)
                raise
            ok = True
            if self.tokens_rated:
                self.service.adjust_tokens.remote(self.model, estimate - response.usage.total_tokens)
            return response
        finally:
            self._release(uses, ok=ok)

    # -- the retry layer's AttemptObserver ------------------------------------------------------------
    async def before_retry(self, request: Request) -> None:
        estimate = estimate_tokens(request) if self.tokens_rated else 0
        await self.service.take_rate.remote(self.model, 1 if self.rated else 0, estimate)

    def attempt_failed(self, error: ModelError, sent_at: float) -> None:
        kind = "rate_limited" if isinstance(error, RateLimited) else "timeout" if isinstance(error, Timeout) else ""
        if kind or error.retry_after:
            self.service.overloaded.remote(self.model, kind, error.retry_after, sent_at + self.clock_offset)

    async def aclose(self) -> None:
        await self.inner.aclose()
