"""Budget caps: requests (counting in-flight ones), tokens, cost; cached answers are free."""

from __future__ import annotations

import asyncio

import pytest

from synthloom.llm.budget import Budget, BudgetedBackend
from synthloom.llm.cache import CachedBackend, ResponseCache
from synthloom.llm.types import BudgetExceeded, Choice, PermanentError, Request, Response, Usage


class TokenBackend:
    """Answers every request with fixed token counts after ``delay``; can fail every call."""

    def __init__(self, prompt_tokens: int = 100, completion_tokens: int = 50, delay: float = 0.0, fail: bool = False) -> None:
        self.identity = "tokens:test"
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.delay = delay
        self.fail = fail
        self.calls = 0

    async def complete(self, request: Request) -> Response:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise PermanentError("scripted 400")
        return Response([Choice("ok")], Usage(self.prompt_tokens, self.completion_tokens))

    async def aclose(self) -> None:
        pass


def req(i: int) -> Request:
    return Request.chat([{"role": "user", "content": f"q{i}"}])


def test_request_cap_counts_in_flight_requests():
    async def run():
        inner = TokenBackend(delay=0.05)
        model = BudgetedBackend(inner, Budget(max_requests=5))
        results = await asyncio.gather(*(model.complete(req(i)) for i in range(12)), return_exceptions=True)
        return inner, results

    inner, results = asyncio.run(run())
    assert inner.calls == 5
    assert sum(isinstance(r, Response) for r in results) == 5
    errors = [r for r in results if isinstance(r, BudgetExceeded)]
    assert len(errors) == 7
    message = str(errors[0])
    assert "max_requests=5" in message and "resumed" in message and "higher cap" in message


def test_token_and_cost_caps_are_counted_on_completion():
    async def run():
        budget = Budget(max_tokens=400)
        model = BudgetedBackend(TokenBackend(100, 50), budget)
        done = 0
        with pytest.raises(BudgetExceeded, match="max_tokens=400"):
            for i in range(10):
                await model.complete(req(i))
                done += 1
        return done, budget

    done, budget = asyncio.run(run())
    assert done == 3 and budget.tokens == 450  # 3 x 150; the 4th request is refused

    async def run_cost():
        budget = Budget(max_cost=0.01)
        # $10 / M prompt tokens, $30 / M completion tokens: 100*10e-6 + 50*30e-6 = $0.0025 a call
        model = BudgetedBackend(TokenBackend(100, 50), budget, price_in=10.0, price_out=30.0)
        sent = 0
        with pytest.raises(BudgetExceeded, match="max_cost=0.01"):
            for i in range(10):
                await model.complete(req(i))
                sent += 1
        return sent, budget

    sent, budget = asyncio.run(run_cost())
    assert sent == 4 and budget.cost == pytest.approx(0.01)


def test_failed_requests_count_as_sent_but_add_no_tokens():
    async def run():
        budget = Budget(max_requests=3)
        model = BudgetedBackend(TokenBackend(fail=True), budget)
        for i in range(3):
            with pytest.raises(PermanentError):
                await model.complete(req(i))
        with pytest.raises(BudgetExceeded):
            await model.complete(req(99))
        return budget

    budget = asyncio.run(run())
    assert budget.snapshot() == {
        "max_requests": 3, "max_tokens": None, "max_cost": None, "requests": 3, "in_flight": 0,
        "prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0,
    }


def test_budget_is_shared_across_models_and_cached_answers_are_free(tmp_path):
    async def run():
        budget = Budget(max_requests=2)
        with ResponseCache(tmp_path / "c.db") as cache:
            a = CachedBackend(BudgetedBackend(TokenBackend(), budget), cache)
            b_inner = TokenBackend()
            b_inner.identity = "tokens:judge"
            b = CachedBackend(BudgetedBackend(b_inner, budget), cache)
            await a.complete(req(1))
            await b.complete(req(1))
            replay = [await a.complete(req(1)) for _ in range(5)]
            with pytest.raises(BudgetExceeded):
                await b.complete(req(2))
        return replay, budget

    replay, budget = asyncio.run(run())
    assert all(r.cached for r in replay) and budget.requests == 2


def test_negative_cap_is_rejected():
    with pytest.raises(ValueError, match="max_tokens"):
        Budget(max_tokens=-1)
