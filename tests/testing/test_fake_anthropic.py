"""The fake Anthropic server, driven by the standard library's HTTP client: the checks a real
Messages API makes, its error shape, stop sequences and the batch endpoints' refusals."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from synthloom.testing.fake_anthropic import FakeAnthropicConfig, FakeAnthropicServer

HEADERS = {"Content-Type": "application/json", "anthropic-version": "2023-06-01"}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer(FakeAnthropicConfig(retry_after_s=3)) as srv:
        yield srv


def call(srv: FakeAnthropicServer, path: str, payload: Any = None, headers: dict[str, str] | None = None,
         method: str = "POST") -> tuple[int, dict[str, str], Any]:
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(srv.root_url + path, data=data, headers=HEADERS if headers is None else headers,
                                 method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())


def message(text: str, **params: Any) -> dict[str, Any]:
    return {"model": "claude-x", "max_tokens": 100, "messages": [{"role": "user", "content": text}], **params}


def test_stop_sequence_reply_names_the_sequence(server):
    status, _, reply = call(server, "/v1/messages", message("red green blue", stop_sequences=["blue", "green"]))
    assert status == 200 and reply["content"] == [{"type": "text", "text": "Reply to: red "}]
    assert (reply["stop_reason"], reply["stop_sequence"]) == ("stop_sequence", "green")
    assert reply["usage"] == {"input_tokens": 3, "output_tokens": 3, "cache_creation_input_tokens": 0,
                              "cache_read_input_tokens": 0}


@pytest.mark.parametrize("payload, headers, status, problem", [
    (message("x"), {"Content-Type": "application/json"}, 400, "anthropic-version: header is required"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}]}, None, 400, "max_tokens: Field required"),
    (message("x", n=2), None, 400, "n: Extra inputs are not permitted"),
    (message("x", temperature=1.5), None, 400, "temperature: range: 0..1"),
    ({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]},
     None, 400, "roles must alternate"),
    (message("x [[fault:529]]"), None, 529, "injected fault"),
])
def test_refusals_use_the_api_error_shape(server, payload, headers, status, problem):
    got, _, reply = call(server, "/v1/messages", payload, headers)
    assert got == status and reply["type"] == "error" and problem in reply["error"]["message"]
    assert reply["error"]["type"] == ("overloaded_error" if status == 529 else "invalid_request_error")


def test_rate_limit_carries_retry_after(server):
    status, headers, reply = call(server, "/v1/messages", message("slow down [[fault:429]]"))
    assert status == 429 and headers["Retry-After"] == "3" and reply["error"]["type"] == "rate_limit_error"


def test_batch_refusals_and_unknown_batches(server):
    item = {"custom_id": "a", "params": message("x")}
    for payload, problem in (({"requests": []}, "give 1 to"), ({"requests": [item, item]}, "must be unique"),
                             ({"requests": [{**item, "custom_id": "bad id!"}]}, "letters, digits")):
        status, _, reply = call(server, "/v1/messages/batches", payload)
        assert status == 400 and problem in reply["error"]["message"]
    assert call(server, "/v1/messages/batches/msgbatch_none", method="GET")[0] == 404
    status, _, created = call(server, "/v1/messages/batches", {"requests": [item]})
    assert status == 200 and created["processing_status"] == "in_progress" and created["results_url"] is None
    status, _, early = call(server, f"/v1/messages/batches/{created['id']}/results", method="GET")
    assert status == 400 and "still in progress" in early["error"]["message"]
