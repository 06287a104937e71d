"""AnthropicBatchProvider against the fake Message Batches API: submit, poll, collect, partial
failure, expiry, cancel, and batch mode through the model layer (a restart collects, not resubmits)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from synthloom.llm.backends.anthropic import AnthropicBackend
from synthloom.llm.batch.anthropic import AnthropicBatchProvider
from synthloom.llm.batch.journal import BatchJournal
from synthloom.llm.batch.provider import BatchItem, BatchProvider, make_provider
from synthloom.llm.client import build_model
from synthloom.llm.spec import parse_model_spec
from synthloom.llm.types import PermanentError, Request, Response, TransientError
from synthloom.llm.usage import UsageTracker
from synthloom.testing.fake_anthropic import FakeAnthropicConfig, FakeAnthropicServer

SCHEMA = {"type": "object", "properties": {"label": {"type": "string"}}, "required": ["label"]}


def ask(text: str, **params: Any) -> Request:
    return Request.chat([{"role": "user", "content": text}], **params)


def with_provider(srv: FakeAnthropicServer, work: Any, **settings: Any) -> Any:
    async def go() -> Any:
        config = parse_model_spec(f"anthropic:claude-x@{srv.root_url}", **settings)
        provider = make_provider(config, AnthropicBackend(config))
        try:
            return await work(provider)
        finally:
            await provider.aclose()

    return asyncio.run(go())


async def poll_until_done(provider: AnthropicBatchProvider, batch_id: str) -> list[str]:
    statuses = []
    while True:
        state = await provider.state(batch_id)
        statuses.append(state.status)
        if state.finished:
            return statuses


@pytest.fixture(scope="module")
def server() -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer(FakeAnthropicConfig(batch_polls=2)) as srv:
        yield srv


def test_submit_poll_and_collect(server):
    items = [BatchItem("a1", ask("first question")), BatchItem("b2", ask("two samples", n=2)),
             BatchItem("c3", ask("label it", json_schema=SCHEMA)), BatchItem("d4", ask("with scores", logprobs=True))]
    requests = {i.custom_id: i.request for i in items}

    async def work(provider: AnthropicBatchProvider) -> Any:
        assert isinstance(provider, BatchProvider) and provider.price_factor == 0.5
        batch_id = await provider.submit(items)
        early = await provider.state(batch_id)
        statuses = [early.status, *await poll_until_done(provider, batch_id)]
        return batch_id, early, statuses, await provider.results(batch_id, requests)

    server.reset_stats()
    batch_id, early, statuses, results = with_provider(server, work)
    assert batch_id.startswith("msgbatch_")
    assert early.counts["processing"] == 4 and statuses == ["in_progress", "in_progress", "ended"]
    stats = server.stats()["batches"]
    assert (stats["created"], stats["items"]) == (1, 4)  # n=2 is two items; logprobs kept out
    assert results["a1"].text == "Reply to: first question" and results["a1"].usage.prompt_tokens == 2
    assert results["b2"].texts == ["Reply to: two samples"] * 2 and results["b2"].usage.completion_tokens == 8
    assert json.loads(results["c3"].text) == {"label": "label it"}
    assert isinstance(results["d4"], PermanentError) and "no log probabilities" in str(results["d4"])


def test_results_decode_without_their_requests_after_a_restart(server):
    items = [BatchItem("s1", ask("structured", json_schema={"type": "array", "items": {"type": "integer"},
                                                            "minItems": 1})), BatchItem("p2", ask("plain", n=2))]

    async def work(provider: AnthropicBatchProvider) -> dict[str, Any]:
        batch_id = await provider.submit(items)
        await poll_until_done(provider, batch_id)
        return await provider.results(batch_id, {})

    results = with_provider(server, work)
    assert results["s1"].text == "[0]" and results["p2"].texts == ["Reply to: plain"] * 2


def test_partial_failure_marks_errored_items_retryable_or_not():
    items = [BatchItem(f"i{k}", ask(f"question {k}")) for k in range(4)] + [BatchItem("bad", ask("no [[fault:400]]"))]

    async def work(provider: AnthropicBatchProvider) -> Any:
        batch_id = await provider.submit(items)
        statuses = await poll_until_done(provider, batch_id)
        return await provider.state(batch_id), statuses, await provider.results(batch_id, {})

    with FakeAnthropicServer(FakeAnthropicConfig(batch_error_every=2)) as srv:
        state, statuses, results = with_provider(srv, work)
    assert statuses == ["ended"] and state.counts["errored"] == 3 and state.counts["succeeded"] == 2
    assert [k for k, r in results.items() if isinstance(r, Response)] == ["i0", "i2"]
    for key in ("i1", "i3"):
        assert isinstance(results[key], TransientError) and results[key].retryable and "api_error" in str(results[key])
    assert type(results["bad"]) is PermanentError and "invalid_request_error: injected fault" in str(results["bad"])


def test_expired_and_cancelled_items_are_left_out_for_resubmission():
    items = [BatchItem(f"e{k}", ask(f"expiring {k}" + (" [[batch:expire:2]]" if k >= 2 else ""))) for k in range(4)]

    async def work(provider: AnthropicBatchProvider) -> Any:
        outcomes = []
        for _ in range(3):  # all expire (batch_expire_first), two (in their first 2 submissions), none
            batch_id = await provider.submit(items)
            await poll_until_done(provider, batch_id)
            outcomes.append((await provider.state(batch_id), await provider.results(batch_id, {})))
        cancelled_id = await provider.submit(items)
        await provider.cancel(cancelled_id)
        return outcomes, (await provider.state(cancelled_id), await provider.results(cancelled_id, {}))

    with FakeAnthropicServer(FakeAnthropicConfig(batch_expire_first=1, batch_polls=1, batch_hold=True)) as srv:
        srv.release_batches()
        outcomes, (cancelled_state, cancelled) = with_provider(srv, work)
        stats = srv.stats()["batches"]
    assert [(state.status, sorted(results)) for state, results in outcomes] == [
        ("expired", []), ("expired", ["e0", "e1"]), ("ended", ["e0", "e1", "e2", "e3"])]
    assert "4 request(s) expired" in outcomes[0][0].message and "2 request(s)" in outcomes[1][0].message
    assert cancelled_state.status == "cancelled" and cancelled == {}
    assert (stats["created"], stats["cancelled"], stats["max_item_submissions"]) == (4, 1, 4)


def test_held_batches_stay_in_progress_until_released():
    async def work(provider: AnthropicBatchProvider, srv: FakeAnthropicServer) -> list[str]:
        batch_id = await provider.submit([BatchItem("h1", ask("held"))])
        statuses = [(await provider.state(batch_id)).status for _ in range(3)]
        srv.release_batches()
        return statuses + [(await provider.state(batch_id)).status]

    with FakeAnthropicServer(FakeAnthropicConfig(batch_hold=True)) as srv:
        assert with_provider(srv, lambda p: work(p, srv)) == ["in_progress"] * 3 + ["ended"]


def test_refused_batches_and_unknown_ids_raise_model_errors(server):
    async def work(provider: AnthropicBatchProvider) -> None:
        with pytest.raises(PermanentError, match="no log probabilities"):
            await provider.submit([BatchItem("only", ask("x", logprobs=True))])
        with pytest.raises(PermanentError, match="HTTP 404: not_found_error"):
            await provider.state("msgbatch_nope")

    with_provider(server, work)


def test_batch_mode_through_the_model_layer_collects_after_a_restart(tmp_path: Path):
    journal_path = tmp_path / "batches.jsonl"
    requests = [ask(f"batched question {k}", temperature=0.0) for k in range(3)]

    def model_for(srv: FakeAnthropicServer, usage: UsageTracker | None = None) -> Any:
        config = parse_model_spec(f"anthropic:claude-x@{srv.root_url}", batch=True, batch_window_s=0.05,
                                  batch_poll_s=0.05, batch_poll_max_s=0.1, price_input_per_mtok=1_000_000.0)
        return build_model(config, usage=usage, batch_journal=BatchJournal(journal_path))

    async def first_run(srv: FakeAnthropicServer) -> None:
        model = model_for(srv)
        calls = [asyncio.ensure_future(model.complete(r)) for r in requests]
        while srv.stats()["batches"]["created"] == 0:
            await asyncio.sleep(0.02)
        await model.aclose()  # the "crash": the batch stays journaled, unanswered
        await asyncio.gather(*calls, return_exceptions=True)

    async def second_run(srv: FakeAnthropicServer, usage: UsageTracker) -> list[Response]:
        model = model_for(srv, usage)
        try:
            return list(await asyncio.gather(*(model.complete(r) for r in requests)))
        finally:
            await model.aclose()

    with FakeAnthropicServer(FakeAnthropicConfig(batch_polls=3)) as srv:
        asyncio.run(first_run(srv))
        usage = UsageTracker()
        answers = asyncio.run(second_run(srv, usage))
        stats = srv.stats()["batches"]
    assert [a.text for a in answers] == [f"Reply to: batched question {k}" for k in range(3)]
    assert (stats["created"], stats["items"]) == (1, 3)  # collected, never resubmitted
    assert usage.snapshot()["total"]["cost"] == pytest.approx(3 * 3 * 0.5)  # 3 prompt tokens each, batch price
