"""The cache keeps each response's request, so a lineage entry (model identity + prompt hash) leads
back to the exact requests and raw responses (``find_calls``), read through a read-only connection —
including every attempt of a structured-output call."""

from __future__ import annotations

import asyncio
import sqlite3

from synthloom.llm.cache import CachedBackend, ResponseCache
from synthloom.llm.cached_calls import find_calls
from synthloom.llm.structured import complete_structured
from synthloom.llm.types import Choice, Request, Response, Usage
from synthloom.pipeline.model_step import lineage_entry


class Answerer:
    identity = "answerer:v1"

    async def complete(self, request: Request) -> Response:
        return Response([Choice("the answer " + request.messages[-1]["content"], "stop")], Usage(7, 3), model="m")

    async def aclose(self) -> None:
        pass


def _read_only(path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def test_a_lineage_entry_finds_its_request_and_response(tmp_path):
    path = tmp_path / "cache.sqlite"
    request = Request.chat([{"role": "system", "content": "be brief"}, {"role": "user", "content": "x" * 6000}],
                           temperature=0.5, seed=3)
    other = Request.chat([{"role": "user", "content": "another"}])

    async def go():
        with ResponseCache(path) as cache:
            backend = CachedBackend(Answerer(), cache)
            first = await backend.complete(request)
            await backend.complete(other)
            await backend.complete(request)  # a hit stores nothing new
            return first

    response = asyncio.run(go())
    entry = lineage_entry("answer", Answerer(), "default", request, response)
    calls = find_calls(_read_only(path), entry["prompt_hash"], entry["model"])
    assert len(calls) == 1
    call = calls[0]
    assert call["request"] == request.to_dict()  # compressed (over 4 KiB) and back
    assert call["response"]["choices"][0]["text"] == "the answer " + "x" * 6000
    assert call["response"]["usage"] == {"prompt_tokens": 7, "completion_tokens": 3}
    assert call["identity"] == "answerer:v1" and call["fingerprint"] == request.fingerprint()
    assert call["elapsed_s"] >= 0 and call["created"] > 1.6e9
    assert find_calls(_read_only(path), entry["prompt_hash"], "someone-else") == []
    assert find_calls(_read_only(path), "not hex") == [] and find_calls(_read_only(path), entry["prompt_hash"][:8]) == []


def test_a_cache_without_the_requests_table_finds_nothing(tmp_path):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE responses (key BLOB PRIMARY KEY, codec INTEGER NOT NULL, value BLOB NOT NULL)")
    conn.commit()
    conn.close()
    assert find_calls(_read_only(path), "abcdef0123456789") == []


def test_put_without_a_request_stores_only_the_response(tmp_path):
    path = tmp_path / "c.sqlite"
    with ResponseCache(path) as cache:
        cache.put(b"k" * 16, Response([Choice("x")]))
    conn = _read_only(path)
    assert conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 1
    assert conn.execute("SELECT COUNT(*) FROM sent_requests").fetchone()[0] == 0


class JsonOnSecondTry:
    identity = "json:v1"

    def __init__(self):
        self.seen = []

    async def complete(self, request: Request) -> Response:
        self.seen.append(request)
        text = "no JSON here" if len(self.seen) == 1 else '{"score": 4}'
        return Response([Choice(text, "stop")], Usage(5, 5))

    async def aclose(self) -> None:
        pass


def test_every_attempt_of_a_structured_call_is_found_by_the_steps_request(tmp_path):
    path = tmp_path / "cache.sqlite"
    request = Request.chat([{"role": "user", "content": "rate it"}], temperature=0.0)
    schema = {"type": "object", "properties": {"score": {"type": "integer"}}, "required": ["score"]}
    backend = JsonOnSecondTry()

    async def go():
        with ResponseCache(path) as cache:
            return await complete_structured(CachedBackend(backend, cache), request, schema, max_attempts=2)

    value, response = asyncio.run(go())
    assert value == {"score": 4}
    entry = lineage_entry("judge", backend, "default", request, response)  # what ModelStep.call records
    calls = find_calls(_read_only(path), entry["prompt_hash"], entry["model"])
    assert [c["request"] for c in calls] == [r.to_dict() for r in backend.seen]  # oldest first
    assert calls[0]["request"]["json_schema"] == schema and len(calls[1]["request"]["messages"]) == 3
    assert [c["response"]["choices"][0]["text"] for c in calls] == ["no JSON here", '{"score": 4}']
    assert {c["fingerprint"] for c in calls} == {r.fingerprint() for r in backend.seen}
