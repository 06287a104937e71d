"""The reward/classification backend over vLLM's /pooling and /classify, against the loopback fake
server: request bodies, reply parsing, HTTP failures as model errors, and the registry variant that
wraps it in the usual layers (cache, retries) and closes it with the other models."""

from __future__ import annotations

import asyncio
import math

import orjson
import pytest

from synthloom.llm.cache import ResponseCache
from synthloom.llm.client import ModelRegistry
from synthloom.llm.pooling import PoolingBackend, parse_pooling_reply, pooled_values, pooling_model, server_root
from synthloom.llm.spec import parse_model_spec
from synthloom.llm.types import PermanentError, Request, TransientError


def conversation(answer: str) -> Request:
    return Request.chat([{"role": "user", "content": "Name a fruit."}, {"role": "assistant", "content": answer}])


def ask(backend, request):
    async def go():
        try:
            return await backend.complete(request)
        finally:
            await backend.aclose()
    return asyncio.run(go())


def test_server_root_strips_the_v1_suffix():
    assert server_root("http://h:8000/v1") == "http://h:8000" and server_root("http://h:8000/v1/") == "http://h:8000"
    assert server_root("http://h:8000/api") == "http://h:8000/api"


def test_pooling_sends_the_conversation_to_the_root_endpoint_and_reads_the_reward(fake_server):
    backend = PoolingBackend(parse_model_spec(f"openai:rm@{fake_server.url}", name="rm"), "pooling")
    assert backend.url == f"{fake_server.root_url}/pooling" and backend.identity.startswith("pooling:rm@")
    response = ask(backend, conversation("An apple, crisp and sweet [[reward:2.5]]"))
    assert pooled_values(response) == ([2.5], None)
    sent = fake_server.last_request()
    assert sent["request_line"].startswith("POST /pooling ")
    assert orjson.loads(sent["body"]) == {"model": "rm", "messages": [
        {"role": "user", "content": "Name a fruit."},
        {"role": "assistant", "content": "An apple, crisp and sweet [[reward:2.5]]"}]}
    assert response.usage.prompt_tokens == 9 and response.usage.completion_tokens == 0


def test_classify_returns_the_class_probabilities_and_label(fake_server):
    backend = PoolingBackend(parse_model_spec(f"openai:clf@{fake_server.url}", name="clf"), "classify")
    values, label = pooled_values(ask(backend, conversation("Pear [[reward:1]]")))
    p = 1 / (1 + math.exp(-1))
    assert label == "good" and values == pytest.approx([1 - p, p])
    assert fake_server.last_request()["request_line"].startswith("POST /classify ")


def test_server_errors_are_model_errors_with_a_hint_for_a_missing_endpoint(fake_server):
    backend = PoolingBackend(parse_model_spec(f"openai:rm@{fake_server.url}", name="rm"), "pooling")
    with pytest.raises(TransientError, match="HTTP 500") as e:
        ask(backend, conversation("boom [[fault:500]]"))
    assert e.value.status == 500 and e.value.retryable
    wrong = PoolingBackend(parse_model_spec(f"openai:rm@{fake_server.url}/extra", name="rm"), "pooling")
    with pytest.raises(PermanentError, match=r"HTTP 404.*--runner pooling"):
        ask(wrong, conversation("x"))
    with pytest.raises(TransientError, match="unparseable JSON"):
        ask(PoolingBackend(parse_model_spec(f"openai:rm@{fake_server.url}", name="rm")),
            conversation("x [[fault:malformed]]"))
    with pytest.raises(ValueError, match="pooling endpoint must be one of pooling, classify"):
        PoolingBackend(parse_model_spec(f"openai:rm@{fake_server.url}", name="rm"), "score")


def test_reply_shapes_vectors_per_token_and_bad_replies():
    assert parse_pooling_reply({"data": [{"data": [[0.1], [0.2], [0.7, 0.3]]}]}, "pooling") == ([0.7, 0.3], None)
    assert parse_pooling_reply({"data": [{"probs": [0.2, 0.8], "label": "yes"}]}, "classify") == ([0.2, 0.8], "yes")
    for data, endpoint in [({"data": []}, "pooling"), ({"data": [{"data": "AAAA"}]}, "pooling"),
                           ({"data": [{"data": [0.1]}]}, "classify"), ({"data": [{"data": [True]}]}, "pooling"),
                           ({"object": "error"}, "pooling")]:
        with pytest.raises(TransientError):
            parse_pooling_reply(data, endpoint)


def test_the_registry_variant_is_cached_built_once_and_closed_with_the_others(fake_server, tmp_path):
    cache = ResponseCache(tmp_path / "cache.sqlite")
    registry = ModelRegistry([parse_model_spec(f"openai:rm@{fake_server.url}", name="rm", max_retries=0),
                              parse_model_spec("embedded", name="local")], cache=cache)

    async def go():
        model = pooling_model(registry, "rm", "pooling")
        assert pooling_model(registry, "rm", "pooling") is model
        assert pooling_model(registry, "rm", "classify") is not model
        fake_server.reset_stats()
        first = await model.complete(conversation("one two three four"))
        again = await model.complete(conversation("one two three four"))
        served = fake_server.stats()["by_path"].get("/pooling", 0)
        await registry.aclose_all()
        return first, again, served

    first, again, served = asyncio.run(go())
    assert pooled_values(first)[0] == [0.4] and pooled_values(again)[0] == [0.4]
    assert served == 1 and again.cached  # the rerun of a request is replayed from the cache
    assert registry._models == {}
    with pytest.raises(PermanentError, match="needs a server"):
        pooling_model(registry, "local", "pooling")
    with pytest.raises(PermanentError, match="no model named 'judge'"):
        pooling_model(registry, "judge", "pooling")
    with pytest.raises(PermanentError, match="model registry"):
        pooling_model(object(), "rm", "pooling")
    cache.close()
