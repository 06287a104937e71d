"""Throughput of the model layers: the response cache, the layer overhead, the whole stack.

    .venv/bin/python benchmarks/bench_cache.py cache   # ResponseCache inserts / hits / misses, 100k entries
    .venv/bin/python benchmarks/bench_cache.py layers  # per-request overhead of each layer (instant backend)
    .venv/bin/python benchmarks/bench_cache.py stack   # build_model against the fake OpenAI server
    .venv/bin/python benchmarks/bench_cache.py all

Prints one JSON object per measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from synthloom.llm.budget import Budget, BudgetedBackend
from synthloom.llm.cache import CachedBackend, ResponseCache
from synthloom.llm.client import build_model
from synthloom.llm.limits import RateLimitedBackend
from synthloom.llm.retries import RetryingBackend
from synthloom.llm.spec import parse_model_spec
from synthloom.llm.types import Choice, Request, Response, Usage
from synthloom.llm.usage import UsageRecordingBackend, UsageTracker


def report(name: str, n: int, seconds: float, **extra: object) -> None:
    print(json.dumps({"bench": name, "n": n, "seconds": round(seconds, 3), "per_s": round(n / seconds),
                      "us_each": round(seconds / n * 1e6, 2), **extra}), flush=True)


def make_requests(n: int, tag: str = "") -> list[Request]:
    return [Request.chat([{"role": "system", "content": "You write one question."},
                          {"role": "user", "content": f"Topic {tag}{i}: explain caching in a sentence."}],
                         temperature=0.7, max_tokens=128) for i in range(n)]


RESPONSE = Response([Choice("Caching keeps answers so the same question is not asked twice. " * 4, "stop")], Usage(30, 60), "m")


def bench_cache(n: int, workdir: Path) -> None:
    requests = make_requests(n)
    keys = [ResponseCache.key("openai:m@http://h/v1", r) for r in requests]
    missing = [ResponseCache.key("openai:m@http://h/v1", r) for r in make_requests(n, "missing-")]
    cache = ResponseCache(workdir / "bench.db")
    t = time.perf_counter()
    for key in keys:
        cache.put(key, RESPONSE)
    put_s = time.perf_counter() - t
    cache.flush()
    report("cache.put (buffered)", n, put_s)
    report("cache.put + flush (committed)", n, time.perf_counter() - t, commits=cache.commits)
    t = time.perf_counter()
    for key in keys:
        cache.get(key)
    report("cache.get hit", n, time.perf_counter() - t)
    t = time.perf_counter()
    for key in missing:
        cache.get(key)
    report("cache.get miss", n, time.perf_counter() - t)
    t = time.perf_counter()
    for r in requests:
        ResponseCache.key("openai:m@http://h/v1", r)
    report("cache.key (fingerprint + xxh3)", n, time.perf_counter() - t)
    cache.close()
    size = (workdir / "bench.db").stat().st_size
    print(json.dumps({"bench": "cache.file", "entries": n, "bytes": size}), flush=True)

    async def through_layer() -> None:
        inner = InstantBackend()
        cache2 = ResponseCache(workdir / "bench-layer.db")
        model = CachedBackend(inner, cache2)
        for label in ("CachedBackend miss (instant backend)", "CachedBackend hit"):
            t = time.perf_counter()
            await run_concurrently(model, requests, 64)
            report(label, n, time.perf_counter() - t)
        await cache2.aclose()

    asyncio.run(through_layer())


class InstantBackend:
    """Answers at once: isolates the cost of the layers."""

    identity = "instant:bench"

    async def complete(self, request: Request) -> Response:
        return Response([Choice("ok", "stop")], Usage(10, 2), "instant")

    async def aclose(self) -> None:
        pass


async def run_concurrently(model, requests: list[Request], concurrency: int) -> None:
    it = iter(requests)

    async def worker() -> None:
        for r in it:
            await model.complete(r)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def bench_layers(n: int) -> None:
    requests = make_requests(n)
    builders = {
        "bare backend": lambda b: b,
        "RetryingBackend (timeout)": lambda b: RetryingBackend(b, timeout_s=600),
        "RateLimitedBackend (no rate caps)": lambda b: RateLimitedBackend(b, 64),
        "RateLimitedBackend (rpm+tpm far above load)": lambda b: RateLimitedBackend(b, 64, 1e9, 1e12),
        "BudgetedBackend": lambda b: BudgetedBackend(b, Budget(max_requests=10**9), 1.0, 1.0),
        "UsageRecordingBackend": lambda b: UsageRecordingBackend(b, UsageTracker(), "default"),
    }

    async def run() -> None:
        for label, build in builders.items():
            model = build(InstantBackend())
            await run_concurrently(model, requests[:2000], 64)  # warm up
            t = time.perf_counter()
            await run_concurrently(model, requests, 64)
            report(f"layer: {label}", n, time.perf_counter() - t)
        cfg = parse_model_spec("openai:m@http://127.0.0.1:9/v1")
        model = build_model(cfg, budget=Budget(), usage=UsageTracker(), backend=InstantBackend())
        t = time.perf_counter()
        await run_concurrently(model, requests, 64)
        report("layer: full stack without cache", n, time.perf_counter() - t)

    asyncio.run(run())


def bench_stack(n: int, concurrency: int, workdir: Path) -> None:
    try:
        import synthloom.llm.backends.openai  # noqa: F401
        from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig
    except ImportError as exc:
        print(json.dumps({"bench": "stack", "skipped": f"needs the openai backend and fake server: {exc}"}))
        return
    requests = make_requests(n)
    with FakeOpenAIServer(FakeServerConfig()) as server:
        cfg = parse_model_spec(f"openai:fake-model@{server.url}", max_in_flight=concurrency)

        async def run() -> None:
            cache = ResponseCache(workdir / "stack.db")
            usage = UsageTracker()
            model = build_model(cfg, cache=cache, budget=Budget(), usage=usage)
            await run_concurrently(model, make_requests(500, "warm-"), concurrency)
            for label in ("stack: all misses (fake server)", "stack: all hits (cache)"):
                t, cpu = time.perf_counter(), time.thread_time()
                await run_concurrently(model, requests, concurrency)
                # client_cpu_us_each: this thread's CPU per request, steadier than wall time on a busy box
                report(label, n, time.perf_counter() - t, concurrency=concurrency,
                       client_cpu_us_each=round((time.thread_time() - cpu) / n * 1e6, 1))
            await model.aclose()
            await cache.aclose()
            total = usage.totals()
            print(json.dumps({"bench": "stack.usage", "requests": total.requests, "cached": total.cached,
                              "errors": total.errors}), flush=True)

        try:
            import uvloop
        except ImportError:
            asyncio.run(run())
        else:
            uvloop.run(run())
        print(json.dumps({"bench": "stack.server", **server.stats()}), flush=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("what", choices=["cache", "layers", "stack", "all"], nargs="?", default="all")
    p.add_argument("-n", type=int, default=None, help="entries / requests (default 100k cache, 20k others)")
    p.add_argument("--concurrency", type=int, default=64)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="synthloom-bench-") as tmp:
        workdir = Path(tmp)
        if args.what in ("cache", "all"):
            bench_cache(args.n or 100_000, workdir)
        if args.what in ("layers", "all"):
            bench_layers(args.n or 20_000)
        if args.what in ("stack", "all"):
            bench_stack(args.n or 20_000, args.concurrency, workdir)


if __name__ == "__main__":
    sys.exit(main())
