"""Retries with exponential backoff and full jitter, and the per-request deadline.

Retryable errors (:class:`RateLimited`, :class:`TransientError` and its :class:`Timeout`) are
retried up to ``max_retries`` times, waiting ``uniform(0, min(max_delay, base * 2**k))`` before
retry ``k+1`` ("full jitter", AWS Architecture Blog, *Exponential Backoff And Jitter*, 2015), or the
server's ``Retry-After`` when that is longer. Anything else is raised at once.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any, Protocol

from synthloom.llm.types import BudgetExceeded, ModelBackend, ModelError, Request, Response, Timeout


class AttemptObserver(Protocol):
    """Told about every attempt, so an outer layer (rate limits) can react to errors that a retry
    hides from it and can hold back retried attempts like new requests."""

    async def before_retry(self, request: Request) -> None: ...

    def attempt_failed(self, error: ModelError, sent_at: float) -> None: ...


class RetryingBackend:
    """Layer that retries retryable model errors and enforces ``timeout_s`` per attempt.

    When retries run out, the last error is raised with the number of attempts in its message.
    """

    def __init__(
        self,
        inner: ModelBackend,
        max_retries: int = 6,
        base: float = 0.5,
        max_delay: float = 60.0,
        timeout_s: float | None = None,
        observer: AttemptObserver | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.inner = inner
        self.identity = inner.identity
        self.max_retries = max_retries
        self.base = base
        self.max_delay = max_delay
        self.timeout_s = timeout_s
        # a backend that enforces the same deadline on every request itself (the HTTP client does)
        # needs no second timer per attempt (~6 us each on the hot path)
        self._own_timer = timeout_s is not None and not getattr(inner, "enforces_timeout", False)
        self.observer = observer
        self._rng = rng or random.Random()
        self.retries = 0

    def __getattr__(self, name: str) -> Any:
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def backoff(self, retry: int, error: ModelError) -> float:
        """Seconds to wait before retry number ``retry`` (1-based) after ``error``."""
        delay = self._rng.uniform(0.0, min(self.max_delay, self.base * 2 ** (retry - 1)))
        if error.retry_after is not None and error.retry_after > delay:
            delay = error.retry_after
        return delay

    async def _attempt(self, request: Request) -> Response:
        if not self._own_timer:
            return await self.inner.complete(request)
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self.inner.complete(request)
        except TimeoutError:
            raise Timeout(f"{self.identity}: no answer within timeout_s={self.timeout_s:g}s") from None

    async def complete(self, request: Request) -> Response:
        attempt = 0
        while True:
            attempt += 1
            sent_at = time.monotonic()
            try:
                return await self._attempt(request)
            except ModelError as error:
                if self.observer is not None:
                    self.observer.attempt_failed(error, sent_at)
                if not error.retryable or isinstance(error, BudgetExceeded):
                    raise
                if attempt > self.max_retries:
                    if error.args and isinstance(error.args[0], str):
                        error.args = (f"{error.args[0]} (gave up after {attempt} attempts)", *error.args[1:])
                    error.attempts = attempt  # type: ignore[attr-defined]
                    raise
                self.retries += 1
                await asyncio.sleep(self.backoff(attempt, error))
            if self.observer is not None:
                await self.observer.before_retry(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
