"""The worker side of a Ray run's services (``engine/ray_services.py``): the layers that take the place
of the local ``ResponseCache``, ``BudgetedBackend`` and ``RateLimitedBackend`` in a worker's model stack.

* :class:`RemoteCache` reads the run's cache file directly when it is reachable and over RPC
  otherwise, and sends writes in batches (visible to this worker at once).
* :class:`ClusterBudgetedBackend` counts each request against the run's budget before sending it.
* :class:`ClusterLimitedBackend` leases in-flight permits in batches and recycles them locally while
  requests wait; a permit goes back after :data:`PERMIT_USES` requests (no worker starves the others,
  a limit shrunk by a 429 takes effect within that many requests).
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import time
from pathlib import Path
from typing import Any

from ..llm.cache import ResponseCache, request_origin
from ..llm.limits import estimate_tokens
from ..llm.types import BudgetExceeded, ModelBackend, ModelError, RateLimited, Request, Response, Timeout

#: requests a leased permit serves on a worker before it goes back to the service
PERMIT_USES = 32
#: most permits a worker asks for at once
LEASE_BATCH = 8
#: cache writes a worker buffers before sending them (or after CACHE_FLUSH_S)
CACHE_BATCH = 256
CACHE_FLUSH_S = 0.05


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
