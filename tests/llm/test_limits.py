"""RateLimitedBackend: in-flight cap, AIMD on 429s/timeouts, Retry-After pauses, rate buckets."""

from __future__ import annotations

import asyncio
import time

import pytest

from synthloom.llm.limits import AdaptiveLimit, RateLimitedBackend, TokenBucket, estimate_tokens
from synthloom.llm.types import Choice, PermanentError, RateLimited, Request, Response, Timeout, Usage


class ScriptedBackend:
    """Raises the scripted error for each call (None = answer), records send times and the peak
    number of calls in progress."""

    def __init__(self, script: list[Exception | None] | None = None, delay: float = 0.0, tokens: int = 10) -> None:
        self.identity = "scripted:test"
        self.script = list(script or [])
        self.delay = delay
        self.tokens = tokens
        self.sent_at: list[float] = []
        self.active = 0
        self.peak = 0

    async def complete(self, request: Request) -> Response:
        self.sent_at.append(time.monotonic())
        step = self.script.pop(0) if self.script else None
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if step is not None:
                raise step
            return Response([Choice("ok")], Usage(self.tokens, 0))
        finally:
            self.active -= 1

    async def aclose(self) -> None:
        pass


def req(i: int = 0, **params) -> Request:
    return Request.chat([{"role": "user", "content": f"question {i}"}], **params)


async def gather(model, n: int) -> list:
    return await asyncio.gather(*(model.complete(req(i)) for i in range(n)), return_exceptions=True)


def test_in_flight_cap_starts_at_the_maximum():
    async def run():
        inner = ScriptedBackend(delay=0.02)
        model = RateLimitedBackend(inner, max_in_flight=8)
        await gather(model, 40)
        return inner, model

    inner, model = asyncio.run(run())
    assert inner.peak == 8  # all 8 slots used at once: no slow start
    assert model.in_flight == 0 and model.current_limit == 8


def test_simultaneous_429s_shrink_the_limit_once():
    async def run():
        inner = ScriptedBackend([RateLimited("429")] * 16, delay=0.01)
        model = RateLimitedBackend(inner, max_in_flight=16)
        results = await gather(model, 16)
        return results, model

    results, model = asyncio.run(run())
    assert all(isinstance(r, RateLimited) for r in results)
    assert model.current_limit == 12  # one congestion event: x0.75 once, not 16 times
    assert model.snapshot()["rate_limited"] == 16


def test_limit_shrinks_to_one_and_recovers_additively():
    async def run():
        inner = ScriptedBackend([RateLimited("429")] * 12 + [Timeout("slow")] * 2)
        model = RateLimitedBackend(inner, max_in_flight=16)
        seen = []
        for i in range(14):  # one at a time: each failure is a new congestion event
            with pytest.raises((RateLimited, Timeout)):
                await model.complete(req(i))
            seen.append(model.current_limit)
        grown = []
        for i in range(119):
            await model.complete(req(i))
            grown.append(model.current_limit)
        return seen, grown, model

    seen, grown, model = asyncio.run(run())
    assert seen[:4] == [12, 9, 6, 5]
    assert seen[-1] == 1 and min(seen) == 1
    # +1 per window of `limit` successes: 1 + 2 + ... + 15 = 120 successes to get from 1 back to 16
    assert grown[-1] == 15 and grown == sorted(grown)
    asyncio.run(model.complete(req()))
    assert model.current_limit == 16


def test_non_adaptive_limit_never_moves():
    async def run():
        model = RateLimitedBackend(ScriptedBackend([RateLimited("429")] * 3), max_in_flight=4, adaptive=False)
        for _ in range(3):
            with pytest.raises(RateLimited):
                await model.complete(req())
        return model

    assert asyncio.run(run()).current_limit == 4


def test_permanent_errors_do_not_shrink_the_limit():
    async def run():
        model = RateLimitedBackend(ScriptedBackend([PermanentError("400")] * 3), max_in_flight=4)
        await gather(model, 3)
        return model

    assert asyncio.run(run()).current_limit == 4


def test_retry_after_pauses_every_new_send():
    async def run():
        inner = ScriptedBackend([RateLimited("429", retry_after=0.5)])
        model = RateLimitedBackend(inner, max_in_flight=4)
        with pytest.raises(RateLimited):
            await model.complete(req(0))
        assert 0 < model.paused_for() <= 0.5
        await gather(model, 3)
        return inner

    inner = asyncio.run(run())
    assert len(inner.sent_at) == 4
    assert min(inner.sent_at[1:]) >= inner.sent_at[0] + 0.49


def test_cancelled_waiters_give_their_slots_back():
    async def run():
        inner = ScriptedBackend(delay=0.05)
        model = RateLimitedBackend(inner, max_in_flight=2)
        tasks = [asyncio.create_task(model.complete(req(i))) for i in range(6)]
        await asyncio.sleep(0.01)
        for t in tasks[2:4]:
            t.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        return inner, model, results

    inner, model, results = asyncio.run(run())
    assert sum(isinstance(r, asyncio.CancelledError) for r in results) == 2
    assert len(inner.sent_at) == 4 and inner.peak == 2 and model.in_flight == 0


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_spaces_requests_at_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(per_minute=60, clock=clock)  # 1 a second, burst of 1
    assert bucket.take(1) == 0.0
    assert bucket.take(1) == pytest.approx(1.0)
    assert bucket.take(1) == pytest.approx(2.0)
    clock.now += 0.5  # half a token refills
    assert bucket.take(1) == pytest.approx(2.5)
    bucket.adjust(2)  # two of them turned out free
    assert bucket.take(1) == pytest.approx(1.5)
    clock.now += 60  # refills to the burst, never beyond it
    assert bucket.take(1) == 0.0 and bucket.take(1) == pytest.approx(1.0)


def test_requests_per_minute_delays_sends_beyond_the_burst():
    async def run():
        inner = ScriptedBackend()
        model = RateLimitedBackend(inner, max_in_flight=64, requests_per_minute=1200)  # 20/s, burst 20
        start = time.monotonic()
        await gather(model, 30)
        return inner, start

    inner, start = asyncio.run(run())
    late = sorted(inner.sent_at)[-1] - start
    assert late >= 0.4  # the 30th request waits for 10 more tokens at 20/s


def test_tokens_per_minute_estimate_is_corrected_by_actual_usage():
    request = req(0, max_tokens=100)
    assert estimate_tokens(request) == len("question 0") // 4 + 100
    assert estimate_tokens(Request.completion("x" * 400, max_tokens=10, n=2)) == 100 + 20

    async def run():
        inner = ScriptedBackend(tokens=5)
        model = RateLimitedBackend(inner, max_in_flight=4, tokens_per_minute=60_000)  # burst 1000
        await model.complete(request)
        return model

    model = asyncio.run(run())
    assert model.tokens_bucket.level == pytest.approx(1000 - 5, abs=5)  # 102 estimated, 5 used


def test_adaptive_limit_rejects_zero():
    with pytest.raises(ValueError, match="max_in_flight"):
        AdaptiveLimit(0)
