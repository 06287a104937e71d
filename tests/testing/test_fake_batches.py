"""The fake server's batch API on the wire: uploads, validation, slow completion, counters."""

from __future__ import annotations

import urllib.error
import urllib.request

import orjson
import pytest

from synthloom.llm.batch.openai import _multipart
from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig


def _raw(server: FakeOpenAIServer, method: str, path: str, body: bytes | None = None,
         content_type: str = "application/json") -> bytes:
    req = urllib.request.Request(server.url + path, method=method, data=body, headers={"Content-Type": content_type})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read()


def _call(server: FakeOpenAIServer, method: str, path: str, body: bytes | None = None,
          content_type: str = "application/json") -> dict:
    return orjson.loads(_raw(server, method, path, body, content_type))


def _upload(server: FakeOpenAIServer, lines: list[dict]) -> str:
    body, content_type = _multipart(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    return _call(server, "POST", "/files", body, content_type)["id"]


def _line(custom_id: str, text: str) -> dict:
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "fake", "messages": [{"role": "user", "content": text}]}}


def _create(server: FakeOpenAIServer, file_id: str) -> dict:
    return _call(server, "POST", "/batches", orjson.dumps({"input_file_id": file_id, "endpoint": "/v1/chat/completions",
                                                          "completion_window": "24h"}))


def test_a_slow_batch_stays_in_progress_and_counts_its_submissions():
    with FakeOpenAIServer(FakeServerConfig(batch_delay_s=600)) as server:
        batch = _create(server, _upload(server, [_line("a", "one"), _line("b", "two")]))
        again = _call(server, "GET", f"/batches/{batch['id']}")
        assert again["status"] == "in_progress" and again["output_file_id"] is None
        stats = server.stats()["batches"]
        assert stats == {"files": 1, "created": 1, "items": 2, "cancelled": 0, "max_item_submissions": 1, "held": False}
        _create(server, _upload(server, [_line("a", "one")]))
        assert server.stats()["batches"]["max_item_submissions"] == 2
        server.reset_stats()
        assert server.stats()["batches"]["items"] == 0


def test_invalid_input_files_fail_the_batch_as_openai_does():
    with FakeOpenAIServer() as server:
        twice = _create(server, _upload(server, [_line("a", "one"), _line("a", "two")]))
        assert twice["status"] == "failed" and "used twice" in twice["errors"]["data"][0]["message"]
        wrong_url = _create(server, _upload(server, [{**_line("a", "one"), "url": "/v1/completions"}]))
        assert wrong_url["status"] == "failed"
        with pytest.raises(urllib.error.HTTPError) as info:
            _call(server, "POST", "/files", b"not a form", "multipart/form-data; boundary=x")
        assert info.value.code == 400
        with pytest.raises(urllib.error.HTTPError) as info:
            _call(server, "GET", "/batches/batch_999999")
        assert info.value.code == 404


def test_finished_batch_files_hold_answers_and_unprocessed_items():
    with FakeOpenAIServer() as server:
        batch = _create(server, _upload(server, [_line("a", "one"), _line("b", "[[batch:expire]] two")]))
        done = _call(server, "GET", f"/batches/{batch['id']}")
        assert done["status"] == "expired" and done["request_counts"] == {"total": 2, "completed": 1, "failed": 1}
        output = [orjson.loads(x) for x in _raw(server, "GET", f"/files/{done['output_file_id']}/content").splitlines()]
        errors = [orjson.loads(x) for x in _raw(server, "GET", f"/files/{done['error_file_id']}/content").splitlines()]
        assert output[0]["custom_id"] == "a" and output[0]["response"]["body"]["choices"][0]["message"]["content"] == "Reply to: one"
        assert errors == [{"id": "req_b", "custom_id": "b", "response": None,
                           "error": {"code": "batch_expired", "message": "This request could not be executed (batch_expired)."}}]
