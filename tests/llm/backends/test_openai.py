"""OpenAIBackend against the fake OpenAI-compatible server and a scripted raw loopback server."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from synthloom.llm.backends.openai import OpenAIBackend, parse_retry_after
from synthloom.llm.spec import ModelSpecError, parse_model_spec
from synthloom.llm.types import (
    ModelBackend,
    PermanentError,
    RateLimited,
    Request,
    Response,
    Timeout,
    TransientError,
)
from synthloom.testing.fake_replies import fake_logprob
from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig

SECRET = "sk-test-0123456789abcdef"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(FakeServerConfig(reasoning=True, retry_after_s=2.5, stall_s=60)) as srv:
        yield srv


def run(url: str, request: Request, **settings: Any) -> Response:
    async def go() -> Response:
        backend = OpenAIBackend(parse_model_spec(f"openai:test-model@{url}", **settings))
        try:
            return await backend.complete(request)
        finally:
            await backend.aclose()

    return asyncio.run(go())


def sent_body(server: FakeOpenAIServer) -> dict[str, Any]:
    return json.loads(server.last_request()["body"])


def ask(text: str, **params: Any) -> Request:
    return Request.chat([{"role": "user", "content": text}], **params)


def test_identity_and_repr_name_model_and_url_only(monkeypatch):
    monkeypatch.setenv("MY_KEY", SECRET)
    backend = OpenAIBackend(parse_model_spec("openai:gpt-x@http://127.0.0.1:9/v1/", api_key_env="MY_KEY"))
    assert backend.identity == "openai:gpt-x@http://127.0.0.1:9/v1"
    assert isinstance(backend, ModelBackend)
    assert SECRET not in repr(backend) and SECRET not in backend.identity


def test_base_url_comes_from_the_environment_or_defaults_to_openai(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://10.1.2.3:8000/v1")
    assert OpenAIBackend(parse_model_spec("openai:m")).base_url == "http://10.1.2.3:8000/v1"
    monkeypatch.delenv("OPENAI_BASE_URL")
    assert OpenAIBackend(parse_model_spec("openai:m")).identity == "openai:m@https://api.openai.com/v1"


def test_chat_request_maps_every_field(server):
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    request = ask("map me", n=2, temperature=0.7, top_p=0.9, max_tokens=50, stop=["END"], seed=11, logprobs=True,
                  top_logprobs=3, json_schema=schema, extra={"presence_penalty": 0.5, "temperature": 0.1})
    response = run(server.url, request)
    body = sent_body(server)
    assert server.last_request()["request_line"] == "POST /v1/chat/completions HTTP/1.1"
    assert body == {"model": "test-model", "messages": [{"role": "user", "content": "map me"}], "n": 2,
                    "temperature": 0.1, "top_p": 0.9, "max_tokens": 50, "stop": ["END"], "seed": 11,
                    "logprobs": True, "top_logprobs": 3, "presence_penalty": 0.5,
                    "response_format": {"type": "json_schema",
                                        "json_schema": {"name": "output", "schema": schema, "strict": True}}}
    assert [json.loads(t) for t in response.texts] == [{"answer": "Reply to: map me"}, {"answer": "Reply 2 to: map me"}]


def test_chat_response_is_parsed_with_usage_reasoning_and_logprobs(server):
    response = run(server.url, ask("parse this please", max_tokens=4, logprobs=True, top_logprobs=2))
    choice = response.choices[0]
    assert choice.text == "Reply to: parse this"
    assert choice.finish_reason == "length"
    assert choice.reasoning == "Thinking about: parse this please"
    assert [t.token for t in choice.logprobs] == ["Reply", " to:", " parse", " this"]
    assert choice.logprobs[0].logprob == fake_logprob("Reply")
    assert [t for t, _ in choice.logprobs[0].top] == ["Reply", "Reply~1"]
    assert choice.logprobs[0].top[1][1] == pytest.approx(fake_logprob("Reply") - 1)
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (3, 4)
    assert response.model == "test-model"


def test_prompt_request_goes_to_completions_with_legacy_logprobs(server):
    response = run(server.url, Request.completion("once upon a time", stop="a", logprobs=True, n=2))
    assert server.last_request()["request_line"] == "POST /v1/completions HTTP/1.1"
    body = sent_body(server)
    assert body["prompt"] == "once upon a time" and body["logprobs"] == 1 and body["stop"] == ["a"]
    assert response.texts == ["Reply to: once upon ", "Reply 2 to: once upon "]
    tokens = response.choices[0].logprobs
    assert [t.token for t in tokens] == ["Reply", " to:", " once", " upon"]
    assert all(t.top == [] for t in tokens)  # no alternatives were asked for
    assert response.choices[0].reasoning is None and response.choices[0].finish_reason == "stop"


def test_completion_top_logprobs_are_sorted_alternatives(server):
    response = run(server.url, Request.completion("hi", logprobs=True, top_logprobs=2))
    assert sent_body(server)["logprobs"] == 2
    top = response.choices[0].logprobs[0].top
    assert [t for t, _ in top] == ["Reply", "Reply~1"] and top[0][1] > top[1][1]


def test_endpoint_setting_forces_chat_or_completions(server):
    response = run(server.url, Request.completion("as chat"), endpoint="chat")
    assert server.last_request()["request_line"].startswith("POST /v1/chat/completions")
    assert sent_body(server)["messages"] == [{"role": "user", "content": "as chat"}]
    assert response.text == "Reply to: as chat"
    with pytest.raises(PermanentError, match="endpoint 'completions'"):
        run(server.url, ask("x"), endpoint="completions")
    with pytest.raises(ModelSpecError, match="endpoint must be one of"):
        OpenAIBackend(parse_model_spec("openai:m@http://127.0.0.1:9/v1", endpoint="responses"))


def test_rejected_json_schema_falls_back_and_is_remembered(caplog, monkeypatch):
    monkeypatch.setenv("FALLBACK_KEY", SECRET)
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    with FakeOpenAIServer(FakeServerConfig(json_schema_supported=False)) as srv:
        async def go():
            backend = OpenAIBackend(parse_model_spec(f"openai:m@{srv.url}", api_key_env="FALLBACK_KEY"))
            assert backend.supports_json_schema is None
            first = await backend.complete(ask("structured", json_schema=schema))
            learned = backend.supports_json_schema
            srv.reset_stats()
            second = await backend.complete(ask("again", json_schema=schema))
            await backend.aclose()
            return first, learned, second

        with caplog.at_level(logging.INFO):
            first, learned, second = asyncio.run(go())
        assert first.text == "Reply to: structured" and second.text == "Reply to: again"
        assert learned is False
        assert "response_format" not in sent_body(srv)
        assert srv.stats()["by_status"] == {"200": 1}  # no second rejected attempt
        assert "rejected response_format" in caplog.text and SECRET not in caplog.text
        with pytest.raises(PermanentError, match="response_format") as err:
            run(srv.url, ask("strict", json_schema=schema), supports_json_schema=True)
        assert err.value.status == 400


def test_accepted_json_schema_is_remembered(server):
    async def go():
        backend = OpenAIBackend(parse_model_spec(f"openai:m@{server.url}"))
        await backend.complete(ask("s", json_schema={"type": "object"}))
        return backend.supports_json_schema

    assert asyncio.run(go()) is True
    run(server.url, ask("never", json_schema={"type": "object"}), supports_json_schema=False)
    assert "response_format" not in sent_body(server)


@pytest.mark.parametrize("fault, error_type, status", [
    ("429", RateLimited, 429), ("500", TransientError, 500), ("503", TransientError, 503),
    ("408", TransientError, 408), ("400", PermanentError, 400), ("422", PermanentError, 422),
    ("truncate", TransientError, None), ("reset", TransientError, None), ("malformed", TransientError, None),
])
def test_faults_map_to_the_right_error(server, monkeypatch, fault, error_type, status):
    monkeypatch.setenv("FAULT_KEY", SECRET)
    with pytest.raises(error_type) as err:
        run(server.url, ask(f"fail [[fault:{fault}]]"), api_key_env="FAULT_KEY")
    assert type(err.value) is error_type
    assert err.value.status == status
    assert "/v1/chat/completions" in str(err.value)
    assert SECRET not in str(err.value) and SECRET not in repr(err.value)
    if fault == "429":
        assert err.value.retry_after == 2.5
    if fault == "400":
        assert "injected fault: HTTP 400" in str(err.value)
    if fault == "malformed":
        assert "unparseable JSON" in str(err.value)


def test_stalled_server_raises_timeout(server):
    with pytest.raises(Timeout, match="no complete response within 0.3s"):
        run(server.url, ask("hang [[fault:stall]]"), timeout_s=0.3)


def test_connection_refused_says_the_server_may_not_be_running():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TransientError) as err:
        run(f"http://127.0.0.1:{port}/v1", ask("anyone?"))
    assert f"could not connect to http://127.0.0.1:{port}/v1/chat/completions: is the server running?" in str(
        err.value)


def test_wrong_base_path_gets_a_hint(server):
    with pytest.raises(PermanentError, match="is the model name 'test-model' right") as err:
        run(server.root_url, ask("x"))
    assert err.value.status == 404


def test_api_key_and_extra_headers_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("GOOD_KEY", SECRET)
    monkeypatch.setenv("ORG_HEADER", "acme")
    with FakeOpenAIServer(FakeServerConfig(api_key=SECRET, required_headers={"OpenAI-Organization": "acme"})) as srv:
        response = run(srv.url, ask("hi"), api_key_env="GOOD_KEY", header_env={"OpenAI-Organization": "ORG_HEADER"})
        assert response.text == "Reply to: hi"
        assert srv.last_request()["headers"]["authorization"] == f"Bearer {SECRET}"
        monkeypatch.delenv("GOOD_KEY")
        with pytest.raises(PermanentError, match="environment variable GOOD_KEY is not set") as err:
            run(srv.url, ask("hi"), api_key_env="GOOD_KEY", header_env={"OpenAI-Organization": "ORG_HEADER"})
        assert err.value.status == 401
    with pytest.raises(ModelSpecError, match="MISSING_VAR, which is not set"):
        OpenAIBackend(parse_model_spec("openai:m@http://127.0.0.1:9/v1", header_env={"X-Key": "MISSING_VAR"}))
    with pytest.raises(ModelSpecError, match="do not put credentials in the base URL"):
        OpenAIBackend(parse_model_spec("openai:m@http://user:pw@127.0.0.1:9/v1"))


class ScriptedServer:
    """A loopback HTTP server that answers successive requests with the given raw replies."""

    def __init__(self, replies: list[bytes]):
        self.replies = list(replies)
        self.bodies: list[dict[str, Any]] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/v1"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(10)
        with self.listener:
            conn, _ = self.listener.accept()
            conn.settimeout(10)
            with conn:
                buf = b""
                while self.replies:
                    while b"\r\n\r\n" not in buf:
                        buf += conn.recv(65536)
                    head, _, buf = buf.partition(b"\r\n\r\n")
                    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                    while len(buf) < length:
                        buf += conn.recv(65536)
                    self.bodies.append(json.loads(buf[:length]))
                    buf = buf[length:]
                    conn.sendall(self.replies.pop(0))


def http_reply(status: int, payload: Any, headers: str = "") -> bytes:
    body = orjson.dumps(payload)
    return (f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"{headers}\r\n").encode() + body


def test_server_echoing_the_api_key_is_redacted(monkeypatch):
    monkeypatch.setenv("ECHO_KEY", SECRET)
    srv = ScriptedServer([http_reply(401, {"error": {"message": f"Incorrect API key provided: {SECRET}"}})])
    with pytest.raises(PermanentError) as err:
        run(srv.url, ask("x"), api_key_env="ECHO_KEY")
    assert "Incorrect API key provided: ***" in str(err.value)
    assert SECRET not in str(err.value) and "check the API key in environment variable ECHO_KEY" in str(err.value)


def test_retry_after_http_date_and_server_ignoring_n():
    one_choice = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "only one"},
                               "finish_reason": "stop"}], "usage": {"prompt_tokens": 2, "completion_tokens": 2}}
    srv = ScriptedServer([http_reply(200, one_choice), http_reply(200, one_choice), http_reply(200, one_choice)])
    response = run(srv.url, ask("three please", n=3, seed=5))
    assert response.texts == ["only one"] * 3
    assert [b.get("n") for b in srv.bodies] == [3, 2, None] and [b["seed"] for b in srv.bodies] == [5, 6, 7]
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (6, 6)
    with FakeOpenAIServer(FakeServerConfig(fault="429", retry_after_s=120, retry_after_http_date=True)) as fake:
        with pytest.raises(RateLimited) as err:
            run(fake.url, ask("x"))
    assert 100 < err.value.retry_after <= 121


def test_parse_retry_after_forms():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
