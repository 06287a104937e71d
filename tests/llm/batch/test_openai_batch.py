"""OpenAIBatchProvider against the fake server's batch API: encoding, decoding, expiry, failures, cancel."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from synthloom.llm.backends.openai import OpenAIBackend
from synthloom.llm.batch.openai import OpenAIBatchProvider
from synthloom.llm.batch.provider import BatchItem, BatchProvider
from synthloom.llm.spec import parse_model_spec
from synthloom.llm.types import PermanentError, Request, Response, TransientError
from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig

SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


def _provider(url: str) -> OpenAIBatchProvider:
    return OpenAIBatchProvider(OpenAIBackend(parse_model_spec(f"openai:fake@{url}")))


async def _wait_finished(provider: OpenAIBatchProvider, batch_id: str):
    for _ in range(200):
        state = await provider.state(batch_id)
        if state.finished:
            return state
        await asyncio.sleep(0.02)
    raise AssertionError(f"batch {batch_id} never finished")


def test_batch_answers_equal_direct_answers_and_bodies_are_the_backends():
    requests = [
        Request.chat([{"role": "user", "content": "plain question"}], temperature=0.0, max_tokens=6),
        Request.chat([{"role": "system", "content": "be brief"}, {"role": "user", "content": "two of them"}], n=2, seed=3),
        Request.chat([{"role": "user", "content": "with logprobs"}], logprobs=True, top_logprobs=3),
        Request.chat([{"role": "user", "content": "as json"}], json_schema=SCHEMA),
    ]

    async def main():
        with FakeOpenAIServer(FakeServerConfig(batch_hold=True)) as server:
            provider = _provider(server.url)
            assert isinstance(provider, BatchProvider)
            direct = OpenAIBackend(parse_model_spec(f"openai:fake@{server.url}"))
            items = [BatchItem(f"id-{i}", r) for i, r in enumerate(requests)]
            batch_id = await provider.submit(items)
            state = await provider.state(batch_id)
            assert state.status == "in_progress" and not state.finished
            server.release_batches()
            state = await _wait_finished(provider, batch_id)
            assert state.status == "ended" and state.counts["succeeded"] == len(requests)
            results = await provider.results(batch_id, {it.custom_id: it.request for it in items})
            for item in items:
                expected = await direct.complete(item.request)
                assert isinstance(results[item.custom_id], Response)
                assert results[item.custom_id].to_dict() == expected.to_dict()
            # without the requests (after a restart) the replies decode the same
            assert {k: v.to_dict() for k, v in (await provider.results(batch_id, {})).items()} == \
                {k: v.to_dict() for k, v in results.items()}
            # the uploaded file holds exactly the bodies the backend sends for each request alone
            batch = await provider._json("GET", f"/batches/{batch_id}")
            uploaded = await provider._request("GET", f"/files/{batch['input_file_id']}/content")
            lines = [orjson.loads(x) for x in uploaded.body.splitlines()]
            assert [x["custom_id"] for x in lines] == [it.custom_id for it in items]
            assert all(x["url"] == "/v1/chat/completions" and x["method"] == "POST" for x in lines)
            assert [x["body"] for x in lines] == [orjson.loads(orjson.dumps(direct.request_body(r, True))) for r in requests]
            await direct.aclose()
            await provider.aclose()

    asyncio.run(main())


def test_raw_prompts_go_to_their_own_batch_on_the_completions_endpoint():
    async def main():
        with FakeOpenAIServer() as server:
            provider = _provider(server.url)
            chat = Request.chat([{"role": "user", "content": "hi"}])
            raw = Request.completion("Once upon a time", max_tokens=4)
            assert provider.batch_key(chat) != provider.batch_key(raw)
            with pytest.raises(PermanentError, match="cannot mix"):
                await provider.submit([BatchItem("a", chat), BatchItem("b", raw)])
            batch_id = await provider.submit([BatchItem("b", raw)])
            await _wait_finished(provider, batch_id)
            result = (await provider.results(batch_id, {"b": raw}))["b"]
            assert result.text == "Reply to: Once upon"
            assert (await provider._json("GET", f"/batches/{batch_id}"))["endpoint"] == "/v1/completions"
            await provider.aclose()

    asyncio.run(main())


def test_item_failures_expiry_and_whole_batch_failure():
    async def main():
        with FakeOpenAIServer(FakeServerConfig(batch_fail_first=1)) as server:
            provider = _provider(server.url)
            items = [BatchItem(cid, Request.chat([{"role": "user", "content": text}])) for cid, text in
                     [("ok", "fine"), ("bad", "[[fault:400]] refused"), ("flaky", "[[fault:500]] down"),
                      ("late", "[[batch:expire]] slow")]]
            failed = await provider.submit(items)
            state = await _wait_finished(provider, failed)
            assert state.status == "failed" and "refused" in state.message
            assert await provider.results(failed, {}) == {}

            batch_id = await provider.submit(items)
            state = await _wait_finished(provider, batch_id)
            assert state.status == "expired"
            assert state.counts == {"succeeded": 1, "errored": 3, "processing": 0}
            results = await provider.results(batch_id, {it.custom_id: it.request for it in items})
            assert results["ok"].text == "Reply to: fine"
            assert isinstance(results["bad"], PermanentError) and results["bad"].status == 400
            assert isinstance(results["flaky"], TransientError) and results["flaky"].retryable
            assert "late" not in results  # not processed: the layer submits it again
            assert server.stats()["batches"]["created"] == 2
            await provider.aclose()

    asyncio.run(main())


def test_cancel_leaves_items_unprocessed():
    async def main():
        with FakeOpenAIServer(FakeServerConfig(batch_hold=True)) as server:
            provider = _provider(server.url)
            batch_id = await provider.submit([BatchItem("x", Request.chat([{"role": "user", "content": "hi"}]))])
            await provider.cancel(batch_id)
            state = await provider.state(batch_id)
            assert state.status == "cancelled"
            assert await provider.results(batch_id, {}) == {}
            assert server.stats()["batches"]["cancelled"] == 1
            await provider.aclose()

    asyncio.run(main())


def test_a_server_without_the_batch_api_is_a_clear_permanent_error(fake_server):
    async def main():
        provider = _provider(fake_server.url.replace("/v1", "/nope/v1"))
        with pytest.raises(PermanentError, match="batch API"):
            await provider.submit([BatchItem("x", Request.chat([{"role": "user", "content": "hi"}]))])
        await provider.aclose()

    asyncio.run(main())
