"""AnthropicBackend against the fake Anthropic server: the Messages API mapping, tool use, structured
output, prompt caching, errors, retries and a recipe run through ``synthloom run``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from synthloom.llm.backends.anthropic import AnthropicBackend
from synthloom.llm.budget import Budget
from synthloom.llm.client import build_model, check_model
from synthloom.llm.spec import ModelSpecError, parse_model_spec
from synthloom.llm.structured import complete_structured
from synthloom.llm.tools import ToolCall, assistant_message, tool_message
from synthloom.llm.types import ModelBackend, PermanentError, RateLimited, Request, Response, Timeout, TransientError
from synthloom.llm.usage import UsageTracker
from synthloom.testing.fake_anthropic import FakeAnthropicConfig, FakeAnthropicServer
from synthloom.testing.recipe_runs import completed_outputs, run_recipe

KEY = "sk-ant-test-0123456789"
SEARCH = {"type": "function", "function": {"name": "search", "description": "Search the web",
                                           "parameters": {"type": "object", "properties": {"q": {"type": "string"}},
                                                          "required": ["q"]}}}
CLOCK = {"type": "function", "function": {"name": "clock", "parameters": {"type": "object", "properties": {}}}}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer(FakeAnthropicConfig(retry_after_s=0.2, stall_s=30)) as srv:
        yield srv


def spec(srv: FakeAnthropicServer) -> str:
    return f"anthropic:claude-x@{srv.root_url}"


def run(srv: FakeAnthropicServer, request: Request, **settings: Any) -> Response:
    async def go() -> Response:
        backend = AnthropicBackend(parse_model_spec(spec(srv), **settings))
        try:
            return await backend.complete(request)
        finally:
            await backend.aclose()

    return asyncio.run(go())


def sent(srv: FakeAnthropicServer) -> dict[str, Any]:
    return json.loads(srv.last_request()["body"])


def ask(text: str, system: str | None = None, **params: Any) -> Request:
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
    return Request.chat(messages, **params)


def test_spec_names_the_backend_key_variable_and_url():
    cfg = parse_model_spec("anthropic:claude-sonnet-4-5")
    assert (cfg.backend, cfg.model, cfg.base_url, cfg.api_key_env) == ("anthropic", "claude-sonnet-4-5", None,
                                                                         "ANTHROPIC_API_KEY")
    proxied = parse_model_spec("anthropic:claude-x@http://127.0.0.1:9")
    assert (proxied.base_url, proxied.api_key_env) == ("http://127.0.0.1:9", None)
    for bad, message in (("anthropic:", "has no model name"), ("anthropic:m@ftp://h", "must be an http")):
        with pytest.raises(ModelSpecError, match=message):
            parse_model_spec(bad)
    with pytest.raises(ModelSpecError, match="'prompt_cache' must be true or false"):
        parse_model_spec("anthropic:m", prompt_cache="yes")


def test_missing_key_is_one_line_saying_which_variable_to_set(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ModelSpecError) as err:
        check_model(parse_model_spec("anthropic:claude-x", name="judge"))
    assert "export ANTHROPIC_API_KEY=" in str(err.value) and "model 'judge'" in str(err.value)
    assert "\n" not in str(err.value)


def test_identity_base_url_and_secrets(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://10.0.0.5:8080/v1/")
    backend = AnthropicBackend(parse_model_spec("anthropic:claude-x"))
    assert backend.identity == "anthropic:claude-x@http://10.0.0.5:8080" and isinstance(backend, ModelBackend)
    assert backend.messages_url == "http://10.0.0.5:8080/v1/messages"
    assert KEY not in repr(backend) and KEY not in backend.identity
    monkeypatch.delenv("ANTHROPIC_BASE_URL")
    assert AnthropicBackend(parse_model_spec("anthropic:claude-x")).base_url == "https://api.anthropic.com"


def test_key_and_version_headers_are_sent_and_required(monkeypatch):
    monkeypatch.setenv("MY_ANTHROPIC_KEY", KEY)
    with FakeAnthropicServer(FakeAnthropicConfig(api_key=KEY)) as srv:
        response = run(srv, ask("with key"), api_key_env="MY_ANTHROPIC_KEY")
        headers = srv.last_request()["headers"]
        assert headers["x-api-key"] == KEY and headers["anthropic-version"] == "2023-06-01"
        assert "authorization" not in headers and response.text == "Reply to: with key"
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-wrong")
        with pytest.raises(PermanentError) as err:
            run(srv, ask("wrong key"), api_key_env="ANTHROPIC_API_KEY")
        assert str(err.value) == ("model 'default' (anthropic:claude-x@" + srv.root_url + "): the API key was refused "
                                  "(HTTP 401); set ANTHROPIC_API_KEY to a valid Anthropic API key")
        with pytest.raises(PermanentError, match=r"HTTP 401\); set api_key_env to the variable .*ANTHROPIC_API_KEY"):
            run(srv, ask("no key"))


def test_plain_text_round_trip_with_default_max_tokens(server):
    response = run(server, ask("hello there"))
    body = sent(server)
    assert server.last_request()["request_line"] == "POST /v1/messages HTTP/1.1"
    assert body == {"model": "claude-x", "max_tokens": 4096,
                    "messages": [{"role": "user", "content": [{"type": "text", "text": "hello there"}]}]}
    assert response.text == "Reply to: hello there" and response.choices[0].finish_reason == "stop"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (2, 4)
    assert response.model == "claude-x"


def test_system_prompts_move_to_the_system_field(server):
    request = Request.chat([{"role": "system", "content": "Be brief."}, {"role": "developer", "content": "No emoji."},
                            {"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello! "},
                            {"role": "user", "content": [{"type": "text", "text": "again"}]}])
    response = run(server, request, prompt_cache=False)
    body = sent(server)
    assert body["system"] == [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "No emoji."}]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert response.text == "Reply to: again"


def test_sampling_parameters_are_mapped(server):
    request = ask("one two three four five", temperature=0.3, top_p=0.9, max_tokens=3, stop=["XYZ"], seed=7,
                  extra={"top_k": 5})
    response = run(server, request)
    body = sent(server)
    assert {k: body[k] for k in ("temperature", "top_p", "max_tokens", "stop_sequences", "top_k")} == {
        "temperature": 0.3, "top_p": 0.9, "max_tokens": 3, "stop_sequences": ["XYZ"], "top_k": 5}
    assert "seed" not in body and "n" not in body
    assert response.text == "Reply to: one" and response.choices[0].finish_reason == "length"
    cut = run(server, ask("alpha beta gamma", stop=["beta"]))
    assert cut.text == "Reply to: alpha " and cut.choices[0].finish_reason == "stop"


def test_n_is_sent_as_repeated_requests_and_the_later_ones_read_the_cache(server):
    server.reset_stats()
    response = run(server, ask("many samples of this prompt", system="shared rules", n=3))
    assert len(response.choices) == 3 and server.stats()["by_path"] == {"/v1/messages": 3}
    assert sent(server)["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    usage = response.usage
    assert usage.prompt_tokens == 3 * 7 and usage.completion_tokens == 3 * 7
    assert (usage.cache_creation_tokens, usage.cache_read_tokens) == (7, 14)


def test_unsupported_requests_fail_at_once_saying_why(server):
    server.reset_stats()
    with pytest.raises(PermanentError, match="returns no log probabilities.*turn logprobs off"):
        run(server, ask("x", logprobs=True, top_logprobs=5))
    with pytest.raises(PermanentError, match="chat messages only, not a raw prompt"):
        run(server, Request.completion("raw"))
    with pytest.raises(PermanentError, match="temperature 1.5 is above 1"):
        run(server, ask("hot", temperature=1.5))
    assert server.stats()["requests"] == 0


def test_tools_and_tool_choice_are_mapped(server):
    run(server, ask("look it up", tools=[SEARCH, CLOCK], tool_choice="auto"))
    body = sent(server)
    assert body["tools"] == [{"name": "search", "description": "Search the web",
                              "input_schema": SEARCH["function"]["parameters"]},
                             {"name": "clock", "input_schema": {"type": "object", "properties": {}},
                              "cache_control": {"type": "ephemeral"}}]  # no system prompt: the tools are the prefix
    assert body["tool_choice"] == {"type": "auto"}
    for choice, mapped in (("required", {"type": "any"}), ("none", {"type": "none"}),
                           ({"type": "function", "function": {"name": "clock"}}, {"type": "tool", "name": "clock"})):
        response = run(server, ask("pick", tools=[SEARCH, CLOCK], tool_choice=choice))
        assert sent(server)["tool_choice"] == mapped
    assert [c.name for c in response.tool_calls] == ["clock"] and response.choices[0].finish_reason == "tool_calls"


def test_parallel_tool_calls_and_their_results_round_trip(server):
    first = run(server, ask("weather in two cities [[call:search]] [[call:clock]]", tools=[SEARCH, CLOCK]))
    calls = first.tool_calls
    assert [c.name for c in calls] == ["search", "clock"] and all(isinstance(c, ToolCall) and c.ok for c in calls)
    assert calls[0].arguments == {"q": "weather in two cities"} and calls[0].id.startswith("toolu_")
    assert first.choices[0].finish_reason == "tool_calls" and first.text == ""
    conversation = [{"role": "user", "content": "weather in two cities [[call:search]] [[call:clock]]"},
                    assistant_message(calls, "Let me check."),
                    tool_message(calls[0].id, "sunny"), tool_message(calls[1].id, "noon")]
    second = run(server, Request.chat(conversation, tools=[SEARCH, CLOCK]))
    messages = sent(server)["messages"]
    assert messages[1] == {"role": "assistant", "content": [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": calls[0].id, "name": "search", "input": {"q": "weather in two cities"}},
        {"type": "tool_use", "id": calls[1].id, "name": "clock", "input": {}}]}
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    results = messages[2]["content"]
    assert [(b["type"], b["tool_use_id"], b["content"][0]["text"]) for b in results] == [
        ("tool_result", calls[0].id, "sunny"), ("tool_result", calls[1].id, "noon")]
    assert second.tool_calls == [] and second.choices[0].finish_reason == "stop"


def test_structured_output_forces_a_tool_with_the_schema(server):
    schema = {"type": "object", "properties": {"answer": {"type": "string"}, "score": {"type": "integer", "minimum": 3}},
              "required": ["answer", "score"]}

    async def go() -> tuple[Any, Response]:
        backend = AnthropicBackend(parse_model_spec(spec(server)))
        try:
            return await complete_structured(backend, ask("rate this"), schema)
        finally:
            await backend.aclose()

    value, response = asyncio.run(go())
    body = sent(server)
    assert body["tools"][0]["input_schema"] == schema
    assert body["tool_choice"] == {"type": "tool", "name": body["tools"][0]["name"]}
    assert value == {"answer": "rate this", "score": 3} and response.choices[0].finish_reason == "stop"
    assert response.tool_calls == []
    listed = run(server, ask("list", json_schema={"type": "array", "items": {"type": "string"}, "minItems": 2}))
    assert sent(server)["tools"][0]["input_schema"]["required"] == ["value"]
    assert json.loads(listed.text) == ["list", "list"]
    run(server, ask("in words", json_schema=schema), supports_json_schema=False)
    assert "tools" not in sent(server)


def test_prompt_cache_breakpoints_and_usage(server):
    rubric = "Judge the answer for accuracy, clarity and completeness on a scale of one to ten. " * 4
    first = run(server, ask("item one", system=rubric))
    body = sent(server)
    assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in body["messages"][-1]["content"][-1]  # one sample, one turn: no write of it
    rubric_words = len(rubric.split())
    assert (first.usage.cache_creation_tokens, first.usage.cache_read_tokens) == (rubric_words, 0)
    second = run(server, ask("item two", system=rubric))
    assert (second.usage.cache_creation_tokens, second.usage.cache_read_tokens) == (0, rubric_words)
    assert second.usage.prompt_tokens == rubric_words + 2
    run(server, ask("item three", system=rubric), prompt_cache=False)
    assert "cache_control" not in json.dumps(sent(server))


def test_conversation_caches_its_end_and_breakpoints_stay_within_four(server):
    marked = [{"type": "text", "text": f"part {i}", "cache_control": {"type": "ephemeral"}} for i in range(3)]
    run(server, Request.chat([{"role": "system", "content": "rules"}, {"role": "user", "content": "q1"},
                              {"role": "assistant", "content": "a1"}, {"role": "user", "content": marked}]))
    body = sent(server)
    assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
    assert json.dumps(body).count("cache_control") == 4  # three given + the system prompt; the API allows four
    run(server, Request.chat([{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"},
                              {"role": "user", "content": "q2"}], tools=[SEARCH]))
    body = sent(server)
    assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert body["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}


def test_cache_tokens_are_priced_in_usage_and_budget(server):
    rubric = "shared rubric words " * 10  # 30 words
    config = parse_model_spec(spec(server), price_input_per_mtok=1_000_000.0, price_output_per_mtok=0.0)
    usage, budget = UsageTracker(), Budget()

    async def go() -> None:
        model = build_model(config, budget=budget, usage=usage)
        try:
            await model.complete(ask("fresh prompt cost check", system=rubric))
            await model.complete(ask("second prompt cost check", system=rubric))
        finally:
            await model.aclose()

    asyncio.run(go())
    # first: 30 written at 1.25 + 4 plain; second: 30 read at 0.1 + 4 plain (a token costs 1.0 here)
    expected = 30 * 1.25 + 4 + 30 * 0.1 + 4
    total = usage.snapshot()["total"]
    assert total["cost"] == pytest.approx(expected) and budget.cost == pytest.approx(expected)
    assert (total["cache_creation_tokens"], total["cache_read_tokens"], total["prompt_tokens"]) == (30, 30, 68)
    explicit = parse_model_spec(spec(server), price_input_per_mtok=1.0, price_cache_write_per_mtok=2.0,
                                price_cache_read_per_mtok=0.5)
    assert explicit.cache_prices() == (2.0, 0.5)


@pytest.mark.parametrize("fault, error_type, status", [
    ("429", RateLimited, 429), ("529", RateLimited, 529), ("500", TransientError, 500),
    ("400", PermanentError, 400), ("404", PermanentError, 404), ("malformed", TransientError, None),
    ("truncate", TransientError, None), ("reset", TransientError, None),
])
def test_errors_map_to_the_right_error(server, fault, error_type, status):
    with pytest.raises(error_type) as err:
        run(server, ask(f"fail [[fault:{fault}]]"))
    assert type(err.value) is error_type and err.value.status == status
    assert err.value.retryable is (error_type is not PermanentError)
    if fault == "429":
        assert err.value.retry_after == 0.2
    if fault in ("400", "529"):
        assert "/v1/messages: HTTP" in str(err.value)
        assert ("invalid_request_error: injected fault: HTTP 400" if fault == "400" else "overloaded_error") in str(
            err.value)
    if fault == "404":
        assert "is the model name 'claude-x' right" in str(err.value)


def test_server_refusal_keeps_the_servers_message(server):
    with pytest.raises(PermanentError, match="HTTP 400: invalid_request_error: n: Extra inputs are not permitted"):
        run(server, ask("hi", extra={"n": 2}))


def test_stall_is_a_timeout(server):
    with pytest.raises(Timeout, match="no complete response within 0.3s"):
        run(server, ask("hang [[fault:stall]]"), timeout_s=0.3)


def test_retry_after_429_and_529_then_success(server):
    async def go() -> tuple[Response, Response]:
        model = build_model(parse_model_spec(spec(server), backoff_base_s=0.01))
        try:
            return await model.complete(ask("busy [[fault:429:2]]")), await model.complete(ask("over [[fault:529:1]]"))
        finally:
            await model.aclose()

    server.reset_stats()
    limited, overloaded = asyncio.run(go())
    assert limited.text == "Reply to: busy [[fault:429:2]]" and overloaded.text.startswith("Reply to: over")
    assert server.stats()["by_status"] == {"429": 2, "529": 1, "200": 2}


def test_generate_recipe_runs_end_to_end_against_the_fake(server, tmp_path: Path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"question number {i}"}) + "\n" for i in range(4)))
    out = tmp_path / "run"
    server.reset_stats()
    run_json = run_recipe("generate", out, f"input={prompts}", "system=You answer briefly.",
                          extra_cli_args=["--model", f"anthropic:claude-x@{server.root_url}"])
    data, rejected, errors = completed_outputs(run_json, out)
    assert sorted(r["response"] for r in data) == [f"Reply to: question number {i}" for i in range(4)]
    assert rejected == [] and errors == []
    assert server.stats()["by_path"] == {"/v1/messages": 4}
    body = sent(server)
    assert body["system"][0]["text"] == "You answer briefly." and body["temperature"] == 0.7
    assert body["max_tokens"] == 512
