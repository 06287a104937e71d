"""Rate limits and adaptive concurrency for one model.

:class:`RateLimitedBackend` keeps at most ``limit`` requests in flight and, when the model has
them, requests-per-minute and tokens-per-minute caps. The in-flight limit adapts AIMD-style (as in
TCP congestion control, and NVIDIA Data Designer's per-model concurrency): it starts at
``max_in_flight``, shrinks ×0.75 on a 429 or timeout, and grows by one per window of successes back
to ``max_in_flight``. A server's ``Retry-After`` pauses every new send of this model for that long,
since a 429 is usually server-wide.

The retry layer sits inside this one and reports every failed attempt here (see
:class:`~synthloom.llm.retries.AttemptObserver`), so 429s that a retry absorbs still shrink the
limit, and retried attempts also wait for the pause and the rate buckets.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from typing import Any

from synthloom.llm.types import ModelBackend, ModelError, RateLimited, Request, Response, Timeout

DECREASE_FACTOR = 0.75


class TokenBucket:
    """A rate as a token bucket that may go into debt: ``take`` always succeeds and says how long
    to wait before acting, so callers are served in arrival order without polling.

    ``burst_s`` seconds of the rate may be spent at once (at least one unit).
    """

    def __init__(self, per_minute: float, burst_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute <= 0:
            raise ValueError(f"a rate limit must be > 0 per minute, got {per_minute}")
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_s)
        self.level = self.capacity
        self.clock = clock
        self.updated = clock()

    def take(self, amount: float) -> float:
        """Spend ``amount``; return the seconds to wait until the spending is covered."""
        now = self.clock()
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now
        self.level -= amount
        return 0.0 if self.level >= 0 else -self.level / self.rate

    def adjust(self, amount: float) -> None:
        """Give back (positive) or charge (negative) ``amount`` after the fact."""
        self.level = min(self.capacity, self.level + amount)


class AdaptiveLimit:
    """A concurrency limit that asyncio tasks acquire and release, resizable at any time (AIMD).

    Acquiring below the limit is a counter increment (no await, no lock); only callers over the
    limit queue, first come first served.
    """

    def __init__(self, max_limit: int, adaptive: bool = True) -> None:
        if max_limit < 1:
            raise ValueError(f"max_in_flight must be >= 1, got {max_limit}")
        self.max_limit = max_limit
        self.adaptive = adaptive
        self._limit = float(max_limit)
        self.in_flight = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._successes = 0
        self._last_decrease = float("-inf")
        self.decreases = 0

    @property
    def limit(self) -> int:
        return max(1, int(self._limit))

    async def acquire(self, request: Request | None = None) -> None:
        """Wait for a slot (``request`` is what it is for: a subclass may order waiters by it)."""
        waiters = self._waiters
        while waiters and waiters[0].done():
            waiters.popleft()
        if self.in_flight < self.limit and not waiters:
            self.in_flight += 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # granted just as we were cancelled: hand the slot on
            raise

    def release(self) -> None:
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        waiters = self._waiters
        limit = self.limit
        while waiters and self.in_flight < limit:
            fut = waiters.popleft()
            if not fut.done():
                self.in_flight += 1
                fut.set_result(None)

    def record_success(self) -> None:
        if self.adaptive and self._limit < self.max_limit:
            self._successes += 1
            if self._successes >= self.limit:
                self._successes = 0
                self._limit = min(float(self.max_limit), self._limit + 1.0)
                self._wake()

    def record_overload(self, sent_at: float) -> None:
        """Shrink once per congestion event: answers to requests sent before the last decrease
        belong to the event that caused it."""
        if not self.adaptive or sent_at < self._last_decrease:
            return
        self._limit = max(1.0, self._limit * DECREASE_FACTOR)
        self._successes = 0
        self._last_decrease = time.monotonic()
        self.decreases += 1


def estimate_tokens(request: Request) -> int:
    """Tokens a request may use before the server says: prompt characters / 4 plus max_tokens."""
    if request.messages is not None:
        chars = sum(len(m.get("content") or "") for m in request.messages)
    else:
        chars = len(request.prompt or "")
    return chars // 4 + (request.max_tokens or 0) * request.n


class RateLimitedBackend:
    """Layer that enforces a model's in-flight, requests-per-minute and tokens-per-minute limits.

    ``current_limit`` and ``in_flight`` are for the progress display.
    """

    def __init__(
        self,
        inner: ModelBackend,
        max_in_flight: int = 64,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        adaptive: bool = True,
        prefix_scheduling: bool = False,
    ) -> None:
        self.inner = inner
        self.identity = inner.identity
        if prefix_scheduling:  # waiting requests sharing a prompt prefix go out together (llm/prefix_scheduling.py)
            from synthloom.llm.prefix_scheduling import PrefixGroupedLimit

            self.concurrency: AdaptiveLimit = PrefixGroupedLimit(max_in_flight, adaptive)
        else:
            self.concurrency = AdaptiveLimit(max_in_flight, adaptive)
        self.requests_bucket = TokenBucket(requests_per_minute) if requests_per_minute else None
        self.tokens_bucket = TokenBucket(tokens_per_minute) if tokens_per_minute else None
        self._paused_until = 0.0
        self.rate_limited = 0
        self.timeouts = 0

    def __getattr__(self, name: str) -> Any:
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    @property
    def current_limit(self) -> int:
        return self.concurrency.limit

    @property
    def in_flight(self) -> int:
        return self.concurrency.in_flight

    def paused_for(self) -> float:
        """Seconds left of a server-requested pause (0 when not paused)."""
        return max(0.0, self._paused_until - time.monotonic())

    async def complete(self, request: Request) -> Response:
        if self._paused_until:
            await self._wait_pause()
        await self.concurrency.acquire(request)
        try:
            estimate = await self._take_rate(request)
            sent_at = time.monotonic()
            try:
                response = await self.inner.complete(request)
            except ModelError as exc:
                if getattr(self.inner, "observer", None) is not self:  # else the retry layer told us
                    self.attempt_failed(exc, sent_at)
                raise
            self.concurrency.record_success()
            if self.tokens_bucket is not None:
                self.tokens_bucket.adjust(estimate - response.usage.total_tokens)
            return response
        finally:
            self.concurrency.release()

    async def _wait_pause(self) -> None:
        while True:
            remaining = self._paused_until - time.monotonic()
            if remaining <= 0:
                self._paused_until = 0.0
                return
            await asyncio.sleep(remaining)

    async def _take_rate(self, request: Request) -> int:
        delay = 0.0
        estimate = 0
        if self.requests_bucket is not None:
            delay = self.requests_bucket.take(1)
        if self.tokens_bucket is not None:
            estimate = estimate_tokens(request)
            delay = max(delay, self.tokens_bucket.take(estimate))
        if delay > 0:
            await asyncio.sleep(delay)
        return estimate

    # -- the retry layer's AttemptObserver ---------------------------------------------------

    async def before_retry(self, request: Request) -> None:
        """A retried attempt waits for the server's pause and spends rate like a new request."""
        if self._paused_until:
            await self._wait_pause()
        await self._take_rate(request)

    def attempt_failed(self, error: ModelError, sent_at: float) -> None:
        """Shrink the limit on overload signals and honour ``Retry-After`` for every sender."""
        if isinstance(error, RateLimited):
            self.rate_limited += 1
            self.concurrency.record_overload(sent_at)
        elif isinstance(error, Timeout):
            self.timeouts += 1
            self.concurrency.record_overload(sent_at)
        if error.retry_after:
            self._paused_until = max(self._paused_until, time.monotonic() + error.retry_after)

    def snapshot(self) -> dict[str, Any]:
        return {
            "limit": self.current_limit,
            "max_in_flight": self.concurrency.max_limit,
            "in_flight": self.in_flight,
            "paused_for_s": round(self.paused_for(), 3),
            "rate_limited": self.rate_limited,
            "timeouts": self.timeouts,
            "decreases": self.concurrency.decreases,
        }

    async def aclose(self) -> None:
        await self.inner.aclose()
