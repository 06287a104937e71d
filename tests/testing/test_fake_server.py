"""The fake OpenAI-compatible server, driven by the standard library's HTTP client."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import pytest

from synthloom.testing.fake_replies import fake_logprob, minimal_instance
from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig


@pytest.fixture(scope="module")
def server():
    with FakeOpenAIServer(FakeServerConfig(reasoning=True, retry_after_s=7)) as srv:
        yield srv


def post(url: str, path: str, payload: dict[str, Any], timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url + path, data=json.dumps(payload).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def chat(url: str, content: str, **params: Any) -> tuple[int, dict[str, str], bytes]:
    return post(url, "/chat/completions", {"model": "m", "messages": [{"role": "user", "content": content}], **params})


def test_chat_reply_is_deterministic_with_usage_and_reasoning(server):
    status, _, body = chat(server.url, "what is two plus two")
    data = json.loads(body)
    assert status == 200
    choice = data["choices"][0]
    assert choice["message"]["content"] == "Reply to: what is two plus two"
    assert choice["message"]["reasoning_content"] == "Thinking about: what is two plus two"
    assert choice["finish_reason"] == "stop"
    assert data["usage"] == {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
    assert data["model"] == "m"
    assert json.loads(chat(server.url, "what is two plus two")[2]) == data


def test_reply_answers_the_last_user_message(server):
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "first"},
                {"role": "assistant", "content": "ok"}, {"role": "user", "content": "second question"}]
    data = json.loads(post(server.url, "/chat/completions", {"messages": messages})[2])
    assert data["choices"][0]["message"]["content"] == "Reply to: second question"
    assert data["usage"]["prompt_tokens"] == 6


def test_max_tokens_truncates_with_finish_reason_length(server):
    data = json.loads(chat(server.url, "one two three four five", max_tokens=3)[2])
    assert data["choices"][0]["message"]["content"] == "Reply to: one"
    assert data["choices"][0]["finish_reason"] == "length"
    assert data["usage"]["completion_tokens"] == 3


def test_n_choices_are_distinct(server):
    data = json.loads(chat(server.url, "hello", n=3)[2])
    texts = [c["message"]["content"] for c in data["choices"]]
    assert texts == ["Reply to: hello", "Reply 2 to: hello", "Reply 3 to: hello"]
    assert [c["index"] for c in data["choices"]] == [0, 1, 2]


def test_stop_cuts_the_reply(server):
    data = json.loads(post(server.url, "/completions", {"prompt": "alpha beta gamma", "stop": ["beta", "zeta"]})[2])
    assert data["choices"][0]["text"] == "Reply to: alpha "
    assert data["choices"][0]["finish_reason"] == "stop"
    assert data["object"] == "text_completion"


def test_chat_logprobs_in_openai_format(server):
    data = json.loads(chat(server.url, "hi", logprobs=True, top_logprobs=2)[2])
    content = data["choices"][0]["logprobs"]["content"]
    assert [t["token"] for t in content] == ["Reply", " to:", " hi"]
    first = content[0]
    assert first["logprob"] == fake_logprob("Reply") and -5.0 <= first["logprob"] < 0
    assert first["bytes"] == list(b"Reply")
    assert [a["token"] for a in first["top_logprobs"]] == ["Reply", "Reply~1"]
    assert first["top_logprobs"][1]["logprob"] < first["top_logprobs"][0]["logprob"]
    assert json.loads(chat(server.url, "hi")[2])["choices"][0]["logprobs"] is None


def test_completion_logprobs_in_legacy_format(server):
    data = json.loads(post(server.url, "/completions", {"prompt": "hi there", "logprobs": 2})[2])
    lp = data["choices"][0]["logprobs"]
    assert lp["tokens"] == ["Reply", " to:", " hi", " there"]
    assert lp["token_logprobs"] == [fake_logprob(t) for t in lp["tokens"]]
    assert lp["text_offset"] == [0, 5, 9, 12]
    assert len(lp["top_logprobs"][0]) == 2 and "Reply" in lp["top_logprobs"][0]


def test_json_schema_reply_is_a_minimal_valid_instance(server):
    schema = {"type": "object", "required": ["name", "age", "tags", "kind", "when"],
              "properties": {"name": {"type": "string", "maxLength": 5}, "age": {"type": "integer", "minimum": 18},
                             "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}, "minItems": 2},
                             "kind": {"enum": ["a", "b"]}, "when": {"type": "string", "format": "date"},
                             "optional": {"type": "string"}},
              "$defs": {"tag": {"type": "string", "minLength": 3, "maxLength": 3}}}
    rf = {"type": "json_schema", "json_schema": {"name": "person", "schema": schema, "strict": True}}
    data = json.loads(chat(server.url, "describe", response_format=rf, n=2)[2])
    first, second = (json.loads(c["message"]["content"]) for c in data["choices"])
    assert first == {"name": "Reply", "age": 18, "tags": ["Rep", "Rep"], "kind": "a", "when": "1970-01-01"}
    assert second["name"] == "Reply" and second["age"] == 18


def test_minimal_instance_covers_combinators_and_bounds():
    assert minimal_instance({"anyOf": [{"type": "null"}, {"type": "string"}]}) is None
    assert minimal_instance({"type": ["null", "number"], "exclusiveMinimum": 2}) == 2.5
    assert minimal_instance({"type": "integer", "minimum": 7, "multipleOf": 5}) == 10
    assert minimal_instance({"type": "string", "minLength": 4}, variant="ab") == "abxx"
    assert minimal_instance({"const": {"x": 1}}) == {"x": 1}
    assert minimal_instance({"allOf": [{"properties": {"a": {"type": "boolean"}}, "required": ["a"]},
                                       {"properties": {"b": {"type": "integer"}}, "required": ["b"]}]}) == {
        "a": False, "b": 0}
    assert minimal_instance({"type": "array", "prefixItems": [{"type": "integer"}], "minItems": 1}) == [0]


def test_pooling_and_classify_answer_at_the_root_with_the_last_messages_reward(server):
    root = server.root_url
    messages = [{"role": "user", "content": "Name a fruit."}, {"role": "assistant", "content": "An apple [[reward:1.5]]"}]
    status, _, body = post(root, "/pooling", {"model": "rm", "messages": messages})
    data = json.loads(body)
    assert status == 200 and data["data"] == [{"index": 0, "object": "pooling", "data": [1.5]}]
    assert data["usage"]["prompt_tokens"] == 6 and data["model"] == "rm"
    assert json.loads(post(root, "/pooling", {"input": "one two three four"})[2])["data"][0]["data"] == [0.4]
    item = json.loads(post(root, "/classify", {"messages": messages})[2])["data"][0]
    assert item["label"] == "good" and item["num_classes"] == 2 and item["probs"][1] == pytest.approx(0.8175744761936437)
    assert post(root, "/pooling", {"input": "x [[fault:503]]"})[0] == 503
    assert post(root, "/pooling", {"messages": []})[0] == 400


def test_models_endpoint(server):
    with urllib.request.urlopen(server.url + "/models", timeout=10) as resp:
        data = json.loads(resp.read())
    assert data["data"][0]["id"] == "fake-model"


def test_bad_requests_are_answered_with_openai_errors(server):
    status, _, body = post(server.url, "/chat/completions", {"model": "m"})
    assert status == 400 and "messages" in json.loads(body)["error"]["message"]
    assert post(server.url, "/nope", {})[0] == 404
    req = urllib.request.Request(server.url + "/chat/completions", data=b"{not json",
                                 headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 400


def test_directive_status_fault_fails_first_attempts_then_succeeds(server):
    statuses = [chat(server.url, "flaky [[fault:500:2]]")[0] for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert chat(server.url, "flaky [[fault:500:2]] but different")[0] == 500


def test_directive_without_count_fails_every_attempt(server):
    assert [chat(server.url, "always [[fault:503]]")[0] for _ in range(3)] == [503, 503, 503]


def test_rate_limit_fault_sends_retry_after(server):
    status, headers, body = chat(server.url, "slow down [[fault:429]]")
    assert status == 429
    assert headers["Retry-After"] == "7"
    assert json.loads(body)["error"]["message"] == "injected fault: HTTP 429"


def _raw_exchange(url: str, content: str, timeout: float = 10) -> http.client.HTTPResponse:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    body = json.dumps({"messages": [{"role": "user", "content": content}]})
    conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    return conn.getresponse()


def test_truncate_fault_sends_less_than_content_length(server):
    resp = _raw_exchange(server.url, "cut [[fault:truncate]]")
    assert resp.status == 200
    with pytest.raises(http.client.IncompleteRead):
        resp.read()


def test_malformed_fault_sends_broken_json(server):
    resp = _raw_exchange(server.url, "garble [[fault:malformed]]")
    assert resp.status == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(resp.read())


def test_reset_fault_resets_the_connection(server):
    with pytest.raises(ConnectionResetError):
        _raw_exchange(server.url, "drop [[fault:reset]]")


def test_stall_fault_never_answers(server):
    with pytest.raises(socket.timeout):
        _raw_exchange(server.url, "hang [[fault:stall]]", timeout=0.3)


def test_server_wide_fault_every_kth_request():
    with FakeOpenAIServer(FakeServerConfig(fault="502", fault_every=3)) as srv:
        assert [chat(srv.url, f"q{i}")[0] for i in range(6)] == [200, 200, 502, 200, 200, 502]


def test_server_wide_fault_first_attempts_of_each_body():
    with FakeOpenAIServer(FakeServerConfig(fault="429", fault_first=1, retry_after_s=0.5)) as srv:
        assert [chat(srv.url, "a")[0], chat(srv.url, "a")[0], chat(srv.url, "b")[0]] == [429, 200, 429]
        assert chat(srv.url, "b")[1].get("Retry-After") is None
        stats = srv.stats()
        assert stats["by_status"] == {"429": 2, "200": 2}
        srv.reset_stats()
        assert chat(srv.url, "a")[0] == 429  # reset also forgets the attempts


def test_retry_after_as_http_date():
    with FakeOpenAIServer(FakeServerConfig(fault="429", retry_after_s=30, retry_after_http_date=True)) as srv:
        headers = chat(srv.url, "x")[1]
    assert headers["Retry-After"].endswith(" GMT")


def test_json_schema_can_be_refused_like_older_servers():
    with FakeOpenAIServer(FakeServerConfig(json_schema_supported=False)) as srv:
        rf = {"type": "json_schema", "json_schema": {"name": "o", "schema": {"type": "object"}}}
        status, _, body = chat(srv.url, "x", response_format=rf)
        assert status == 400 and "response_format" in json.loads(body)["error"]["message"]
        assert chat(srv.url, "x")[0] == 200


def test_api_key_and_required_headers_are_checked():
    config = FakeServerConfig(api_key="sk-test", required_headers={"X-Org": "acme"})
    with FakeOpenAIServer(config) as srv:
        assert chat(srv.url, "x")[0] == 401
        req = urllib.request.Request(srv.url + "/models", headers={"Authorization": "Bearer sk-test"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=10)
        assert err.value.code == 403
        req.add_header("X-Org", "acme")
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200
        assert srv.last_request()["headers"]["x-org"] == "acme"


def test_stats_count_requests_statuses_and_concurrency(server):
    server.reset_stats()
    chat(server.url, "one")
    chat(server.url, "two [[fault:500]]")
    stats = server.stats()
    assert stats["requests"] == 2
    assert stats["by_status"] == {"200": 1, "500": 1}
    assert stats["faults"] == {"500": 1}
    assert stats["by_path"] == {"/v1/chat/completions": 2}
    last = server.last_request()
    assert last["request_line"] == "POST /v1/chat/completions HTTP/1.1"
    assert json.loads(last["body"])["messages"][0]["content"] == "two [[fault:500]]"


def test_latency_is_concurrent_not_serial():
    with FakeOpenAIServer(FakeServerConfig(latency_s=1.0)) as srv:
        statuses: list[int] = []
        threads = [threading.Thread(target=lambda i=i: statuses.append(chat(srv.url, f"q{i}")[0])) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        stats = srv.stats()
    assert statuses == [200] * 8
    assert stats["max_in_flight"] == 8
    assert stats["max_connections"] >= 8


def test_command_line_prints_url_and_serves(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "synthloom.testing.fake_server", "--port", "0", "--fault",
                             "500:1"], stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        assert [chat(url, "x")[0], chat(url, "x")[0]] == [500, 200]
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
    assert proc.returncode in (0, -15)


def test_bad_fault_name_is_rejected_with_the_choices():
    with pytest.raises(ValueError, match="truncate"):
        FakeServerConfig(fault="explode")
