"""BatchingBackend over the fake server's batch API: collection, resubmission, errors, restart, prices."""

from __future__ import annotations

import asyncio

import pytest

from synthloom.llm.backends.openai import OpenAIBackend
from synthloom.llm.batch.journal import BatchJournal
from synthloom.llm.batch.layer import BatchingBackend
from synthloom.llm.batch.openai import OpenAIBatchProvider
from synthloom.llm.budget import Budget
from synthloom.llm.cache import ResponseCache
from synthloom.llm.client import build_model, check_model
from synthloom.llm.spec import ModelSpecError, parse_model_spec
from synthloom.llm.types import PermanentError, Request, TransientError
from synthloom.llm.usage import UsageTracker
from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig

FAST = {"window_s": 0.05, "poll_s": 0.02, "poll_max_s": 0.05}


def _layer(url: str, journal: BatchJournal | None = None, **options) -> BatchingBackend:
    backend = OpenAIBackend(parse_model_spec(f"openai:fake@{url}"))
    return BatchingBackend(OpenAIBatchProvider(backend), backend, journal=journal, **{**FAST, **options})


def _ask(text: str) -> Request:
    return Request.chat([{"role": "user", "content": text}], max_tokens=8)


def test_concurrent_calls_are_collected_into_batches_and_each_gets_its_answer():
    async def main():
        with FakeOpenAIServer() as server:
            layer = _layer(server.url, batch_size=8)
            texts = [f"question {i}" for i in range(20)] + ["question 3", "question 3"]  # a request asked three times
            answers = await asyncio.gather(*(layer.complete(_ask(t)) for t in texts))
            assert [a.text for a in answers] == [f"Reply to: {t}" for t in texts]
            assert answers[3] is not answers[20]  # callers of the same request get their own copy
            batches = server.stats()["batches"]
            assert batches["created"] == 3 and batches["items"] == 20 and batches["max_item_submissions"] == 1
            assert layer.stats["batches_submitted"] == 3
            await layer.aclose()

    asyncio.run(main())


def test_an_expired_item_is_submitted_again_then_given_up_as_a_retryable_error():
    async def main():
        with FakeOpenAIServer() as server:
            layer = _layer(server.url)
            once, always, fine = (_ask("[[batch:expire:1]] late once"), _ask("[[batch:expire]] never"), _ask("fine"))
            results = await asyncio.gather(*(layer.complete(r) for r in (once, always, fine)), return_exceptions=True)
            assert results[0].text.startswith("Reply to:") and results[2].text == "Reply to: fine"
            assert isinstance(results[1], TransientError) and results[1].retryable
            assert "no answer after 2 batch submission(s)" in str(results[1]) and "expired" in str(results[1])
            assert server.stats()["batches"]["max_item_submissions"] == 2
            await layer.aclose()

            none_again = _layer(server.url, resubmits=0)
            server.reset_stats()
            with pytest.raises(TransientError, match="after 1 batch submission"):
                await none_again.complete(_ask("[[batch:expire]] still never"))
            assert server.stats()["batches"]["items"] == 1
            await none_again.aclose()

    asyncio.run(main())


def test_partial_failure_rejected_items_fail_at_once_and_server_errors_get_one_more_try():
    async def main():
        with FakeOpenAIServer() as server:
            layer = _layer(server.url)
            bad, flaky, fine = _ask("[[fault:400]] no"), _ask("[[fault:500:1]] wobbly"), _ask("fine")
            results = await asyncio.gather(*(layer.complete(r) for r in (bad, flaky, fine)), return_exceptions=True)
            assert isinstance(results[0], PermanentError) and results[0].status == 400
            assert results[1].text.startswith("Reply to:") and results[2].text == "Reply to: fine"
            stats = server.stats()["batches"]
            assert stats["created"] == 2 and stats["items"] == 4  # only the 500 went again
            await layer.aclose()

    asyncio.run(main())


def test_whole_batch_expiry_and_failure_resubmit_the_items():
    async def main():
        with FakeOpenAIServer(FakeServerConfig(batch_expire_first=1, batch_fail_first=0)) as server:
            layer = _layer(server.url)
            answers = await asyncio.gather(*(layer.complete(_ask(f"q{i}")) for i in range(5)))
            assert [a.text for a in answers] == [f"Reply to: q{i}" for i in range(5)]
            assert server.stats()["batches"]["created"] == 2 and server.stats()["batches"]["items"] == 10
            await layer.aclose()

    asyncio.run(main())


def test_a_new_process_collects_journaled_batches_instead_of_submitting_again(tmp_path):
    path = tmp_path / "batches.jsonl"
    texts = [f"item {i}" for i in range(6)]

    async def first_run(url: str) -> None:
        layer = _layer(url, journal=BatchJournal(path), batch_size=3)
        calls = [asyncio.ensure_future(layer.complete(_ask(t))) for t in texts]
        while layer.stats["batches_submitted"] < 2:
            await asyncio.sleep(0.01)
        for call in calls:  # the process dies: nothing more happens to these calls
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        await layer.aclose()

    async def second_run(url: str) -> list[str]:
        layer = _layer(url, journal=BatchJournal(path))
        first = await asyncio.gather(*(layer.complete(_ask(t)) for t in texts[:2]))
        rest = await asyncio.gather(*(layer.complete(_ask(t)) for t in texts[2:]))  # asked after the collection
        assert layer.stats["items_from_earlier_runs"] == 6 and layer.stats["batches_submitted"] == 0
        await layer.aclose()
        return [a.text for a in first + rest]

    with FakeOpenAIServer(FakeServerConfig(batch_hold=True)) as server:
        asyncio.run(first_run(server.url))
        assert len(BatchJournal(path).pending) == 2
        server.release_batches()
        assert asyncio.run(second_run(server.url)) == [f"Reply to: {t}" for t in texts]
        assert server.stats()["batches"]["created"] == 2 and server.stats()["batches"]["items"] == 6
        assert BatchJournal(path).pending == {}  # settled: a third run has nothing to collect


def test_stack_fills_the_cache_and_counts_cost_at_batch_prices(tmp_path):
    async def main(url: str):
        config = parse_model_spec(f"openai:fake@{url}", batch=True, batch_window_s=0.05, batch_poll_s=0.02,
                                  batch_poll_max_s=0.05, price_input_per_mtok=2.0, price_output_per_mtok=8.0)
        direct_config = parse_model_spec(f"openai:fake@{url}", price_input_per_mtok=2.0, price_output_per_mtok=8.0)
        cache = ResponseCache(tmp_path / "cache.sqlite")
        batch_usage, direct_usage, budget = UsageTracker(), UsageTracker(), Budget(max_cost=1.0)
        model = build_model(config, cache=cache, budget=budget, usage=batch_usage)
        direct = build_model(direct_config, usage=direct_usage)
        requests = [_ask(f"cost {i}") for i in range(4)]
        answers = await asyncio.gather(*(model.complete(r) for r in requests))
        await asyncio.gather(*(direct.complete(r) for r in requests))
        batch_cost, direct_cost = batch_usage.totals().cost, direct_usage.totals().cost
        assert direct_cost > 0 and batch_cost == pytest.approx(direct_cost * 0.5)
        assert budget.cost == pytest.approx(batch_cost)
        again = await model.complete(requests[0])  # answered from the cache, no new batch
        assert again.cached and again.text == answers[0].text
        await model.aclose()
        await direct.aclose()
        cache.close()

    with FakeOpenAIServer() as server:
        asyncio.run(main(server.url))
        assert server.stats()["batches"]["items"] == 4


def test_batch_on_a_backend_without_a_batch_api_is_refused_in_one_line():
    config = parse_model_spec("embedded", batch=True)
    with pytest.raises(ModelSpecError) as info:
        check_model(config)
    message = str(info.value)
    assert "\n" not in message and "model 'default' (embedded)" in message and "remove `batch: true`" in message
    with pytest.raises(ModelSpecError, match="batch_poll_s"):
        check_model(parse_model_spec("openai:m@http://localhost:1/v1", batch=True, batch_poll_s=0))
    with pytest.raises(ModelSpecError, match="must be true or false"):
        parse_model_spec("openai:m@http://localhost:1/v1", batch="yes")


def test_an_unreachable_provider_fails_the_calls_but_keeps_the_batch_journaled(tmp_path):
    path = tmp_path / "batches.jsonl"

    async def main(server: FakeOpenAIServer):
        layer = _layer(server.url, journal=BatchJournal(path), call_retries=1, backoff_base_s=0.01, backoff_max_s=0.02)
        call = asyncio.ensure_future(layer.complete(_ask("held")))
        while layer.stats["batches_submitted"] < 1:
            await asyncio.sleep(0.01)
        server.stop()
        with pytest.raises(TransientError, match="stays journaled: rerun the same command to collect it"):
            await call
        await layer.aclose()

    server = FakeOpenAIServer(FakeServerConfig(batch_hold=True)).start()
    try:
        asyncio.run(main(server))
    finally:
        server.stop()
    assert len(BatchJournal(path).pending) == 1
