"""UsageTracker: per (step, model) counts, prices, cached hits, errors, snapshot."""

from __future__ import annotations

import asyncio
import threading

import pytest

from synthloom.llm.types import BudgetExceeded, Choice, PermanentError, Request, Response, Usage
from synthloom.llm.usage import UsageRecordingBackend, UsageTracker, current_step, step_scope


class FixedBackend:
    """Answers with 1000 prompt and 200 completion tokens; raises the queued errors first."""

    def __init__(self, errors: list[Exception] | None = None) -> None:
        self.identity = "fixed:test"
        self.errors = list(errors or [])

    async def complete(self, request: Request) -> Response:
        if self.errors:
            raise self.errors.pop(0)
        return Response([Choice("x")], Usage(1000, 200))

    async def aclose(self) -> None:
        pass


REQ = Request.chat([{"role": "user", "content": "q"}])


def test_counts_per_step_and_model_with_prices():
    tracker = UsageTracker()
    tracker.register_model("default", price_in_per_mtok=2.0, price_out_per_mtok=10.0, spec="openai:m@http://h/v1")
    tracker.register_model("judge")
    gen = UsageRecordingBackend(FixedBackend([PermanentError("400")]), tracker, "default")
    judge = UsageRecordingBackend(FixedBackend(), tracker, "judge")

    async def run():
        with step_scope("generate"):
            with pytest.raises(PermanentError):
                await gen.complete(REQ)
            await asyncio.gather(gen.complete(REQ), gen.complete(REQ))  # tasks inherit the step
        with step_scope("judge"):
            await judge.complete(REQ)
        assert current_step.get() == ""

    asyncio.run(run())
    snap = tracker.snapshot()
    rows = {(r["step"], r["model"]): r for r in snap["by_step"]}
    assert set(rows) == {("generate", "default"), ("judge", "judge")}
    g = rows[("generate", "default")]
    assert (g["requests"], g["errors"], g["cached"]) == (2, 1, 0)
    assert (g["prompt_tokens"], g["completion_tokens"], g["total_tokens"]) == (2000, 400, 2400)
    assert g["cost"] == pytest.approx(2 * (1000 * 2.0 + 200 * 10.0) / 1e6)
    assert rows[("judge", "judge")]["cost"] == 0.0
    assert snap["by_model"]["default"]["spec"] == "openai:m@http://h/v1"
    assert snap["total"]["requests"] == 3 and snap["total"]["errors"] == 1


def test_cached_answers_count_as_hits_without_tokens_or_cost():
    tracker = UsageTracker()
    tracker.register_model("m", 5.0, 5.0)
    cached = Response([Choice("x")], Usage(1000, 1000), cached=True)
    tracker.record_response("m", cached, step="s")
    row = tracker.snapshot()["by_step"][0]
    assert (row["cached"], row["requests"], row["total_tokens"], row["cost"]) == (1, 0, 0, 0.0)


def test_budget_stop_is_not_a_model_error():
    tracker = UsageTracker()
    model = UsageRecordingBackend(FixedBackend([BudgetExceeded("cap")]), tracker, "m")
    with pytest.raises(BudgetExceeded):
        asyncio.run(model.complete(REQ))
    assert tracker.totals().errors == 0


def test_updates_from_threads_are_not_lost():
    tracker = UsageTracker()
    response = Response([Choice("x")], Usage(3, 4))

    def work():
        for _ in range(5000):
            tracker.record_response("m", response, step="s")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = tracker.totals()
    assert total.requests == 20_000 and total.prompt_tokens == 60_000 and total.completion_tokens == 80_000
