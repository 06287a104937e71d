"""The web viewer on a 1,000,000-row run: time to the first page, search and filter latency.

    .venv/bin/python benchmarks/bench_viewer.py                       # 1M rows in /tmp/synthloom-bench-viewer
    .venv/bin/python benchmarks/bench_viewer.py --rows 200000 --repeats 3 --dir /tmp/v200k

The run is written once by ``viewer_data.py`` (Parquet shards of 1,000 rows, as the engine commits them;
text drawn from the words of the project's docs, ~0.9 KB a row) and reused. Each figure is the median
of ``--repeats`` requests to a viewer started with ``synthloom view RUN --web`` in its own process, over
HTTP, the JSON included:

- first page: a fresh viewer process each time (its shard footers not read yet), first request for 50 rows;
- searches and filters: every repetition asks a different word or threshold, so no answer comes from the
  viewer's per-chunk count cache; "page" is what the rows table waits for (``exact=0``: the first 50
  matches), "count" the exact number of matches it asks for next (every chunk scanned);
- in a browser: Playwright with Debian's chromium, from navigation to the first rows drawn (warm viewer);
- what keeping each request in the response cache (the lineage links) costs: CPU per uncached request
  through ``CachedBackend`` on an instant backend, with and without the request kept.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from viewer_data import CATEGORIES, RARE_WORD, vocabulary, write_run  # noqa: E402

RESULTS = HERE / "results" / "bench_viewer.json"


@contextmanager
def viewer(run: Path):
    """A ``synthloom view RUN --web`` process; yields its URL."""
    proc = subprocess.Popen([sys.executable, "-m", "synthloom.cli.main", "view", str(run), "--web", "--no-browser", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+/", line)
        if not found:
            raise SystemExit(f"the viewer did not start: {line}{proc.stderr.read()}")
        yield found.group(0)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


def get(url: str, route: str, **params) -> tuple[float, dict]:
    started = time.perf_counter()
    with urllib.request.urlopen(f"{url}api/{route}?{urllib.parse.urlencode(params)}", timeout=600) as response:
        body = json.loads(response.read())
    return time.perf_counter() - started, body


def median_of(samples: list[float]) -> float:
    return round(statistics.median(samples), 3)


def first_page(run: Path, repeats: int) -> dict:
    cold = []
    for _ in range(repeats):
        with viewer(run) as url:
            took, page = get(url, "rows", table="data", limit=50)
            assert len(page["rows"]) == 50
            cold.append(took)
    return {"first page, fresh viewer (s)": median_of(cold), "samples": [round(x, 3) for x in cold]}


def queries(url: str, repeats: int, rows: int) -> dict:
    words = vocabulary()
    common = words[150:150 + repeats]
    cases: dict[str, list] = {
        "search, common word: first page": [dict(q=w) for w in common],
        "search, common word: exact count": [dict(q=w, exact=1) for w in words[200:200 + repeats]],
        "search, phrase in 1 row": [dict(q=f'"Item {123457 + 7919 * i}?"', exact=1) for i in range(repeats)],
        "search, rare word (100 rows)": [dict(q=RARE_WORD[: len(RARE_WORD) - i] if i else RARE_WORD, exact=1) for i in range(repeats)],
        "search, no match": [dict(q=f"qqzx{i}vv", exact=1) for i in range(repeats)],
        "filter category =, exact count": [dict(f=json.dumps([["category", "=", CATEGORIES[i % len(CATEGORIES)]]]), exact=1)
                                           for i in range(repeats)],
        "filter score >, exact count": [dict(f=json.dumps([["score", ">", 0.95 + i / 1000]]), exact=1) for i in range(repeats)],
        "search + filter, exact count": [dict(q=w, f=json.dumps([["score", ">=", 0.5]]), exact=1) for w in words[300:300 + repeats]],
        "sort by score (first page)": [dict(sort="-score", f=json.dumps([["completion_tokens", ">", 20 + i]])) for i in range(repeats)],
    }
    out: dict = {}
    for label, variants in cases.items():
        times, totals = [], []
        for params in variants:
            took, body = get(url, "rows", table="data", limit=50, cols="id,instruction,response,category,score", **params)
            times.append(took)
            totals.append(body["total"] if body["total"] is not None else f">= {body['at_least']}")
        out[label] = {"median_s": median_of(times), "samples": [round(x, 3) for x in times], "matches": totals}
    took = [get(url, "rows", table="data", limit=50, offset=50 * (i + 1), sort="-score",
                f=json.dumps([["completion_tokens", ">", 20]]))[0] for i in range(repeats)]
    out["sorted query, next pages"] = {"median_s": median_of(took)}
    _, page = get(url, "rows", table="data", offset=rows * 2 // 3, limit=1)
    took = [get(url, "row", table="data", ref=page["rows"][0]["_ref"])[0] for _ in range(repeats)]
    out["one row (row page)"] = {"median_s": median_of(took)}
    took = [get(url, "values", table="data", column=c)[0] for c in ("category", "model", "score")[:repeats]]
    out["column values (filter picker)"] = {"median_s": median_of(took)}
    return out


def in_browser(url: str, repeats: int) -> dict | None:
    chromium = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if chromium is None:
        return None
    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for i in range(repeats):
            page = browser.new_page()
            started = time.perf_counter()
            page.goto(f"{url}#/rows/data?offset={i * 50}")
            page.wait_for_selector(".rows-table tbody tr", timeout=120_000)
            times.append(time.perf_counter() - started)
            page.close()
        browser.close()
    return {"first page drawn in chromium (s)": median_of(times), "samples": [round(x, 3) for x in times]}


def request_log_cost(repeats: int, n: int = 20_000) -> dict:
    """CPU per cache miss through ``CachedBackend`` (writer thread included), requests kept or not."""
    from synthloom.llm.cache import CachedBackend, ResponseCache
    from synthloom.llm.types import Choice, Request, Response, Usage

    class Instant:
        identity = "instant"

        async def complete(self, request):
            return Response([Choice("an answer " * 20, "stop")], Usage(1, 1))

        async def aclose(self):
            pass

    async def one(folder: Path, keep: bool) -> float:
        cache = ResponseCache(folder / f"cache-{keep}-{time.time_ns()}.sqlite")
        if not keep:
            put = cache.put
            cache.put = lambda key, response, **_: put(key, response)
        model = CachedBackend(Instant(), cache)
        requests = [Request.chat([{"role": "system", "content": "You are a helpful assistant. " * 5},
                                  {"role": "user", "content": f"question {i}: " + "tell me more " * 25}], temperature=0.7, seed=i)
                    for i in range(n)]
        started = time.process_time()
        for request in requests:
            await model.complete(request)
        cache.flush()
        cpu = time.process_time() - started
        cache.close()
        return cpu / n * 1e6

    samples: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            for keep in (False, True):
                samples[keep].append(asyncio.run(one(Path(tmp), keep)))
    return {"cache miss CPU, response only (us)": median_of(samples[False]),
            "cache miss CPU, request kept too (us)": median_of(samples[True]), "requests": n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/synthloom-bench-viewer"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    started = time.perf_counter()
    write_run(args.dir, args.rows)
    print(f"run: {args.rows:,} rows in {args.dir} ({time.perf_counter() - started:.0f} s to write or find)", flush=True)
    result: dict = {"rows": args.rows, "load_before": os.getloadavg(), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "when": time.strftime("%Y-%m-%d %H:%M")}
    result["first_page"] = first_page(args.dir, args.repeats)
    print(json.dumps(result["first_page"]), flush=True)
    with viewer(args.dir) as url:
        get(url, "rows", table="data", limit=1)  # footers read; the queries below measure the queries
        result["queries"] = queries(url, args.repeats, args.rows)
        for label, value in result["queries"].items():
            print(f"{label:40} {value['median_s']:7.3f} s  {value.get('matches', '')}", flush=True)
        result["browser"] = in_browser(url, args.repeats)
        print(json.dumps(result["browser"]), flush=True)
    result["request_log"] = request_log_cost(args.repeats)
    print(json.dumps(result["request_log"]), flush=True)
    result["load_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"load average before {result['load_before']}, after {result['load_after']}; written {args.out}")


if __name__ == "__main__":
    main()
