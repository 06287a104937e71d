"""Throughput of OpenAIBackend.complete against the fake OpenAI server (another process, zero latency).

    .venv/bin/python benchmarks/bench_http_client.py [--requests 20000] [--concurrency 64] [--repeats 3]

Prints one JSON line: requests per second (median of the repeats) for OpenAIBackend and, when aiohttp
is importable, for an aiohttp client doing the same POST + JSON parse, plus CPU microseconds per
request of the client and of the server process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from synthloom.llm.backends.openai import OpenAIBackend
from synthloom.llm.spec import parse_model_spec
from synthloom.llm.types import Request
from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig

try:
    import uvloop
except ImportError:  # the benchmark still runs, on the default loop
    uvloop = None

try:
    import psutil
except ImportError:
    psutil = None

MESSAGES = [{"role": "user", "content": "Write one short sentence about the sea."}]


async def drive(call: Callable[[], Awaitable[Any]], requests: int, concurrency: int) -> float:
    """Run ``requests`` calls with ``concurrency`` workers; return the wall time in seconds."""
    left = requests

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await call()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start


async def run_backend(url: str, requests: int, concurrency: int) -> float:
    backend = OpenAIBackend(parse_model_spec(f"openai:fake@{url}", max_in_flight=concurrency))
    request = Request.chat(MESSAGES, max_tokens=32, temperature=0.7)
    try:
        assert (await backend.complete(request)).text.startswith("Reply to:")
        return await drive(lambda: backend.complete(request), requests, concurrency)
    finally:
        await backend.aclose()


async def run_aiohttp(url: str, requests: int, concurrency: int) -> float:
    import aiohttp

    body = orjson.dumps({"model": "fake", "messages": MESSAGES, "max_tokens": 32, "temperature": 0.7})
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def call() -> Any:
            async with session.post(url + "/chat/completions", data=body, headers=headers) as resp:
                data = orjson.loads(await resp.read())
                if resp.status != 200:
                    raise RuntimeError(f"HTTP {resp.status}: {data}")
                return data["choices"][0]["message"]["content"]

        await call()
        return await drive(call, requests, concurrency)


def measure(name: str, runner: Callable[[str, int, int], Awaitable[float]], server: FakeOpenAIServer,
            args: argparse.Namespace) -> dict[str, Any]:
    server_proc = psutil.Process(server._proc.pid) if psutil and server._proc else None
    me = psutil.Process() if psutil else None
    rates, client_us, server_us = [], [], []
    for _ in range(args.repeats):
        c0 = sum(me.cpu_times()[:2]) if me else 0.0
        s0 = sum(server_proc.cpu_times()[:2]) if server_proc else 0.0
        run = uvloop.run if uvloop else asyncio.run
        seconds = run(runner(server.url, args.requests, args.concurrency))
        rates.append(args.requests / seconds)
        if me and server_proc:
            client_us.append(1e6 * (sum(me.cpu_times()[:2]) - c0) / args.requests)
            server_us.append(1e6 * (sum(server_proc.cpu_times()[:2]) - s0) / args.requests)
    result: dict[str, Any] = {f"{name}_rps": round(statistics.median(rates)), f"{name}_runs": [round(r) for r in rates]}
    if client_us:
        result[f"{name}_client_cpu_us_per_req"] = round(statistics.median(client_us), 1)
        result[f"{name}_server_cpu_us_per_req"] = round(statistics.median(server_us), 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    out: dict[str, Any] = {"benchmark": "http_client", "requests": args.requests, "concurrency": args.concurrency,
                           "repeats": args.repeats, "loop": "uvloop" if uvloop else "asyncio",
                           "cpus": os.cpu_count(), "python": platform.python_version()}
    if hasattr(os, "getloadavg"):
        out["load_before"] = round(os.getloadavg()[0], 2)
    with FakeOpenAIServer(FakeServerConfig(latency_s=0.0)) as server:
        out.update(measure("openai_backend", run_backend, server, args))
        try:
            import aiohttp
        except ImportError:
            out["aiohttp"] = "not installed"
        else:
            out["aiohttp"] = aiohttp.__version__
            out.update(measure("aiohttp", run_aiohttp, server, args))
        stats = server.stats()
    out["server_max_connections"] = stats["max_connections"]
    out["server_non_200"] = {k: v for k, v in stats["by_status"].items() if k != "200"}
    print(orjson.dumps(out).decode())
    sys.stdout.flush()


if __name__ == "__main__":
    main()
