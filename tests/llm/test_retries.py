"""RetryingBackend: which errors are retried, backoff bounds, Retry-After, deadline, give-up message."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from synthloom.llm.limits import RateLimitedBackend
from synthloom.llm.retries import RetryingBackend
from synthloom.llm.types import (
    BudgetExceeded,
    Choice,
    PermanentError,
    RateLimited,
    Request,
    Response,
    Timeout,
    TransientError,
)


class ScriptedBackend:
    """Each call takes the next script entry: an exception to raise, a float to sleep before
    answering, or None to answer at once. Records when each call was made."""

    def __init__(self, script: list) -> None:
        self.identity = "scripted:test"
        self.script = list(script)
        self.calls: list[float] = []

    async def complete(self, request: Request) -> Response:
        self.calls.append(time.monotonic())
        step = self.script.pop(0) if self.script else None
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, float):
            await asyncio.sleep(step)
        return Response([Choice(f"answer {len(self.calls)}")])

    async def aclose(self) -> None:
        pass


REQ = Request.chat([{"role": "user", "content": "hi"}])


def run(coro):
    return asyncio.run(coro)


def fast(inner, **kw) -> RetryingBackend:
    return RetryingBackend(inner, base=0.001, max_delay=0.01, **kw)


def test_retryable_errors_are_retried_until_success():
    inner = ScriptedBackend([TransientError("500"), RateLimited("429"), Timeout("slow"), None])
    model = fast(inner)
    answer = run(model.complete(REQ))
    assert answer.text == "answer 4" and len(inner.calls) == 4 and model.retries == 3


@pytest.mark.parametrize("error", [PermanentError("400 bad request"), BudgetExceeded("cap")])
def test_permanent_errors_are_raised_at_once(error):
    inner = ScriptedBackend([error, None])
    with pytest.raises(type(error)):
        run(fast(inner).complete(REQ))
    assert len(inner.calls) == 1


def test_exhausted_retries_raise_the_last_error_with_the_attempt_count():
    last = TransientError("HTTP 502 from upstream", status=502)
    inner = ScriptedBackend([TransientError("first"), RateLimited("second"), last])
    with pytest.raises(TransientError) as caught:
        run(fast(inner, max_retries=2).complete(REQ))
    assert caught.value is last
    assert str(caught.value) == "HTTP 502 from upstream (gave up after 3 attempts)"
    assert caught.value.status == 502 and caught.value.attempts == 3


def test_backoff_is_full_jitter_and_capped():
    model = RetryingBackend(ScriptedBackend([]), base=0.5, max_delay=4.0, rng=random.Random(7))
    err = TransientError("x")
    for retry in range(1, 10):
        ceiling = min(4.0, 0.5 * 2 ** (retry - 1))
        delays = [model.backoff(retry, err) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > 0.8 * ceiling and min(delays) < 0.2 * ceiling  # spread over the range


def test_retry_after_overrides_a_shorter_backoff():
    model = RetryingBackend(ScriptedBackend([]), base=0.01, max_delay=0.01)
    assert model.backoff(1, RateLimited("429", retry_after=2.5)) == 2.5
    assert model.backoff(1, RateLimited("429", retry_after=0.0)) <= 0.01

    inner = ScriptedBackend([RateLimited("429", retry_after=0.3), None])
    run(RetryingBackend(inner, base=0.001, max_delay=0.01).complete(REQ))
    assert inner.calls[1] - inner.calls[0] >= 0.28


def test_deadline_turns_a_stall_into_a_retried_timeout():
    inner = ScriptedBackend([5.0, None])  # the first attempt stalls
    model = fast(inner, timeout_s=0.1)
    answer = run(model.complete(REQ))
    assert answer.text == "answer 2" and model.retries == 1

    stalled = ScriptedBackend([5.0, 5.0])
    with pytest.raises(Timeout, match=r"timeout_s=0.1s.*gave up after 2 attempts"):
        run(fast(stalled, timeout_s=0.1, max_retries=1).complete(REQ))


def test_every_failed_attempt_reaches_the_rate_limiter():
    async def go():
        inner = ScriptedBackend([RateLimited("429", retry_after=0.05), RateLimited("429"), None])
        retries = fast(inner)
        limits = RateLimitedBackend(retries, max_in_flight=16)
        retries.observer = limits
        answer = await limits.complete(REQ)
        return answer, limits

    answer, limits = run(go())
    assert answer.text == "answer 3"
    assert limits.rate_limited == 2 and limits.current_limit == 9  # 16 -> 12 -> 9
