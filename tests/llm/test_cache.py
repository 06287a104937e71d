"""ResponseCache and CachedBackend: storage, hits, in-flight sharing, bypass, multi-process reads."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time

import pytest

from synthloom.llm.cache import CachedBackend, ResponseCache
from synthloom.llm.types import Choice, Request, Response, TokenLogprob, TransientError, Usage


class EchoBackend:
    """Answers with the last message, after an optional pause; counts and can fail calls."""

    def __init__(self, identity: str = "echo:test", delay: float = 0.0, fail_first: int = 0) -> None:
        self.identity = identity
        self.delay = delay
        self.fail_first = fail_first
        self.calls: list[Request] = []
        self.closed = False

    async def complete(self, request: Request) -> Response:
        self.calls.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        if len(self.calls) <= self.fail_first:
            raise TransientError("scripted failure")
        text = request.messages[-1]["content"] if request.messages else request.prompt
        return Response([Choice(f"echo {text}", "stop")], Usage(len(text or ""), 2), model="echo")

    async def aclose(self) -> None:
        self.closed = True


def chat(text: str, **params) -> Request:
    return Request.chat([{"role": "user", "content": text}], **params)


def test_roundtrip_keeps_every_field_and_compresses_large_values(tmp_path):
    rich = Response(
        [
            Choice("a" * 10_000, "length", [TokenLogprob("a", -0.25, [("a", -0.25), ("b", -2.0)])], "thought"),
            Choice("second", "stop"),
        ],
        Usage(12, 34),
        model="m1",
    )
    with ResponseCache(tmp_path / "c.db") as cache:
        key = cache.key("id", chat("x", n=2))
        cache.put(key, rich)
        cache.flush()
        raw = sqlite3.connect(tmp_path / "c.db").execute("SELECT codec, length(value) FROM responses").fetchone()
        assert raw[0] == 1 and raw[1] < 5_000  # zlib for a value over 4 KiB
    with ResponseCache(tmp_path / "c.db") as reopened:
        got = reopened.get(key)
    assert got is not None and got.cached
    assert got.to_dict() == rich.to_dict()


def test_key_depends_on_identity_and_every_request_field(tmp_path):
    base = chat("hello", temperature=0.7)
    keys = {
        ResponseCache.key("a", base),
        ResponseCache.key("b", base),
        ResponseCache.key("a", chat("hello", temperature=0.8)),
        ResponseCache.key("a", chat("hello", temperature=0.7, seed=1)),
        ResponseCache.key("a", chat("hello", temperature=0.7, json_schema={"type": "object"})),
        ResponseCache.key("a", Request.completion("hello", temperature=0.7)),
    }
    assert len(keys) == 6
    assert ResponseCache.key("a", base) == ResponseCache.key("a", chat("hello", temperature=0.7))


def test_close_flushes_buffered_rows_and_batches_commits(tmp_path):
    cache = ResponseCache(tmp_path / "c.db")
    for i in range(1000):
        cache.put(cache.key("id", chat(str(i))), Response([Choice(str(i))]))
    assert cache.get(cache.key("id", chat("999"))).text == "999"  # readable before commit
    cache.close()
    assert cache.commits <= 100  # batched, not one transaction per row
    rows = sqlite3.connect(tmp_path / "c.db").execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    assert rows == 1000


def test_hit_skips_the_backend_and_miss_stores(tmp_path):
    async def run():
        inner = EchoBackend()
        with ResponseCache(tmp_path / "c.db") as cache:
            model = CachedBackend(inner, cache)
            first = await model.complete(chat("hi"))
            second = await model.complete(chat("hi"))
            other = await model.complete(chat("hi", temperature=1.0))
        return inner, first, second, other

    inner, first, second, other = asyncio.run(run())
    assert len(inner.calls) == 2
    assert not first.cached and second.cached and not other.cached
    assert second.text == first.text == "echo hi"
    assert second.usage.prompt_tokens == first.usage.prompt_tokens


def test_identical_concurrent_requests_are_sent_once(tmp_path):
    async def run():
        inner = EchoBackend(delay=0.05)
        with ResponseCache(tmp_path / "c.db") as cache:
            model = CachedBackend(inner, cache)
            answers = await asyncio.gather(*(model.complete(chat("same")) for _ in range(20)))
        return inner, answers

    inner, answers = asyncio.run(run())
    assert len(inner.calls) == 1
    assert {a.text for a in answers} == {"echo same"}
    assert sum(not a.cached for a in answers) == 1


def test_shared_failure_reaches_every_waiter_and_is_not_stored(tmp_path):
    async def run():
        inner = EchoBackend(delay=0.05, fail_first=1)
        with ResponseCache(tmp_path / "c.db") as cache:
            model = CachedBackend(inner, cache)
            results = await asyncio.gather(*(model.complete(chat("x")) for _ in range(5)), return_exceptions=True)
            cache.flush()
            assert len(cache) == 0
            again = await model.complete(chat("x"))
        return inner, results, again

    inner, results, again = asyncio.run(run())
    assert all(isinstance(r, TransientError) for r in results)
    assert len(inner.calls) == 2 and again.text == "echo x" and not again.cached


def test_cancelled_first_caller_does_not_fail_the_others(tmp_path):
    async def run():
        inner = EchoBackend()
        first_call_started = asyncio.Event()

        class HangsOnce(EchoBackend):
            async def complete(self, request):
                if not inner.calls:
                    inner.calls.append(request)
                    first_call_started.set()
                    await asyncio.Event().wait()  # never answers: the caller gets cancelled
                return await inner.complete(request)

        with ResponseCache(tmp_path / "c.db") as cache:
            model = CachedBackend(HangsOnce(), cache)
            leader = asyncio.create_task(model.complete(chat("x")))
            await first_call_started.wait()
            waiter = asyncio.create_task(model.complete(chat("x")))
            await asyncio.sleep(0)  # the waiter now waits for the leader's answer
            leader.cancel()
            answer = await asyncio.wait_for(waiter, 10)
            assert leader.cancelled()
        return inner, answer

    inner, answer = asyncio.run(run())
    assert answer.text == "echo x"
    assert len(inner.calls) == 2  # the waiter asked again after the first caller gave up


def test_disabled_cache_neither_reads_nor_writes(tmp_path):
    async def run():
        inner = EchoBackend()
        with ResponseCache(tmp_path / "c.db") as cache:
            await CachedBackend(inner, cache).complete(chat("stored"))
            off = CachedBackend(inner, cache, enabled=False)
            a = await off.complete(chat("stored"))
            await off.complete(chat("new"))
            cache.flush()
            return inner, a, len(cache)

    inner, a, rows = asyncio.run(run())
    assert len(inner.calls) == 3 and not a.cached
    assert rows == 1


def test_aclose_flushes_and_closes_inner(tmp_path):
    async def run():
        inner = EchoBackend()
        cache = ResponseCache(tmp_path / "c.db", batch_interval_s=10.0)
        model = CachedBackend(inner, cache)
        await model.complete(chat("x"))
        await model.aclose()
        rows = sqlite3.connect(tmp_path / "c.db").execute("SELECT COUNT(*) FROM responses").fetchone()[0]
        cache.close()
        return inner, rows

    inner, rows = asyncio.run(run())
    assert inner.closed and rows == 1


READER = """
import sys
from synthloom.llm.cache import ResponseCache
from synthloom.llm.types import Request
cache = ResponseCache(sys.argv[1])
found = sum(cache.get(cache.key("id", Request.chat([{"role": "user", "content": str(i)}]))) is not None
            for i in range(int(sys.argv[2])))
print(found)
cache.close()
"""


def test_another_process_reads_while_this_one_writes(tmp_path):
    path = tmp_path / "shared.db"
    cache = ResponseCache(path)
    for i in range(500):
        cache.put(cache.key("id", chat(str(i))), Response([Choice(str(i))]))
    cache.flush()
    for i in range(500, 5000):  # keep writing while the other process reads
        cache.put(cache.key("id", chat(str(i))), Response([Choice(str(i))]))
    out = subprocess.run([sys.executable, "-c", READER, str(path), "500"], capture_output=True, text=True, timeout=60)
    cache.close()
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == 500


def test_put_after_close_is_an_error(tmp_path):
    cache = ResponseCache(tmp_path / "c.db")
    cache.close()
    with pytest.raises(RuntimeError, match="closed"):
        cache.put(b"k" * 16, Response([Choice("x")]))


WRITER = """
import sys, time
from synthloom.llm.cache import ResponseCache
from synthloom.llm.types import Choice, Request, Response
cache = ResponseCache(sys.argv[1])
def put(i):
    cache.put(cache.key("id", Request.chat([{"role": "user", "content": str(i)}])), Response([Choice(str(i))]))
for i in range(2000):
    put(i)
cache.flush()
print("flushed", flush=True)
i = 2000
while True:  # keep writing until killed
    put(i)
    i += 1
    if i % 500 == 0:
        time.sleep(0.001)
"""


def test_kill_9_keeps_every_committed_response_and_a_sound_database(tmp_path):
    path = tmp_path / "killed.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "flushed"
        time.sleep(0.3)  # let it commit more batches, then kill it mid-stream
    finally:
        proc.kill()
        proc.wait(10)
        proc.stdout.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    conn.close()
    assert rows > 2000  # the flushed 2000 plus the batches committed before the kill
    with ResponseCache(path) as cache:
        assert all(cache.get(cache.key("id", chat(str(i)))).text == str(i) for i in range(0, 2000, 97))


def test_cache_opened_empty_answers_misses_without_sql_and_still_finds_its_own_entries(tmp_path):
    from synthloom.llm.cache import ResponseCache, _bloom_has
    from synthloom.llm.types import Choice, Response

    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path)
    assert cache._bloom is not None  # empty at open
    keys = [bytes([i]) * 16 for i in range(1, 200)]
    for k in keys[:100]:
        cache.put(k, Response([Choice(f"r{k[0]}")]))
    cache.flush()
    assert all(_bloom_has(cache._bloom, k) for k in keys[:100])
    assert cache.get(keys[5]).text == "r6"  # committed: found through SQL, not the pending map
    assert not cache._pending
    assert all(cache.get(k) is None for k in keys[100:])
    cache.close()
    reopened = ResponseCache(path)
    assert reopened._bloom is None  # not empty: every lookup asks SQLite
    assert reopened.get(keys[0]).text == "r1" and reopened.get(keys[150]) is None
    reopened.close()


def test_a_small_cache_is_read_whole_on_the_first_lookup_and_stays_exact(tmp_path, monkeypatch):
    from synthloom.llm import cache as cache_module
    from synthloom.llm.types import Choice, Response

    path = tmp_path / "c.sqlite"
    keys = [bytes([i]) * 16 for i in range(1, 60)]
    with ResponseCache(path) as cache:
        for k in keys[:40]:
            cache.put(k, Response([Choice(f"r{k[0]}")], usage=Usage(3, 4)))
    reopened = ResponseCache(path)
    hit = reopened.get(keys[7])
    assert reopened._preloaded is not None and len(reopened._preloaded) == 40
    assert hit.text == "r8" and hit.cached and hit.usage.completion_tokens == 4
    with ResponseCache(path) as other:  # another process's answer, written after the preload
        other.put(keys[50], Response([Choice("late")]))
    reopened.put(keys[45], Response([Choice("own")]))
    reopened.flush()
    assert reopened.get(keys[50]).text == "late" and reopened.get(keys[45]).text == "own"
    assert reopened.get(keys[55]) is None
    reopened.close()
    monkeypatch.setattr(cache_module, "PRELOAD_MAX_BYTES", 1024)
    big = ResponseCache(path)
    assert big.get(keys[0]).text == "r1" and big._preloaded is None  # over the size: one query per lookup
    big.close()
