"""Orchestrator-side helpers for bench_throughput.py: the loopback server process, prompt files, run outputs.

Standard library only (pyarrow is used if present to count Parquet rows), so it runs in any interpreter.
"""

from __future__ import annotations

import json
import select
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

TOPICS = ("rivers", "compilers", "bread", "glaciers", "chess", "lighthouses", "bees", "trains", "volcanoes", "tea")


class LoopbackServer:
    """`python -m synthloom.testing.fake_server` in its own process, for as long as the `with` block lasts."""

    def __init__(self, python: Path, latency_s: float, start_timeout_s: float = 60.0) -> None:
        self.command = [str(python), "-m", "synthloom.testing.fake_server", "--port", "0",
                        "--latency", str(latency_s)]
        self.start_timeout_s = start_timeout_s
        self.process: subprocess.Popen | None = None
        self.url = ""

    def __enter__(self) -> LoopbackServer:
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        ready, _, _ = select.select([self.process.stdout], [], [], self.start_timeout_s)
        line = self.process.stdout.readline().strip() if ready else ""
        if not line.startswith("http://"):
            why = f"fake server did not print its URL within {self.start_timeout_s} s: {line!r} {self.stderr_tail()}"
            self.__exit__()
            raise RuntimeError(why)
        self.url = line
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.stderr.close()

    def stderr_tail(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read()[-500:]

    @property
    def root(self) -> str:
        return self.url.rsplit("/v1", 1)[0]

    def _call(self, method: str, path: str) -> dict[str, Any] | None:
        request = urllib.request.Request(self.root + path, method=method, data=b"" if method == "POST" else None)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read() or b"{}")
        except (urllib.error.URLError, ValueError):
            return None

    def reset_stats(self) -> None:
        self._call("POST", "/_stats/reset")

    def api_requests(self) -> int | None:
        """Chat requests the server answered since the last reset (None if it keeps no counters)."""
        stats = self._call("GET", "/_stats")
        return None if stats is None else int(stats.get("by_path", {}).get("/v1/chat/completions", 0))


def write_prompts(path: Path, count: int) -> Path:
    """A JSONL file of `count` distinct short prompts (distinct, so no cache can fold two requests into one)."""
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            topic = TOPICS[i % len(TOPICS)]
            handle.write(json.dumps({"prompt": f"Write one sentence about {topic}, variation {i}."}) + "\n")
    return path


def last_json_line(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


def read_run_elapsed(out_dir: Path) -> float | None:
    """`elapsed_s` from a synthloom run's OUTDIR/run.json, if the run wrote one."""
    try:
        value = json.loads((out_dir / "run.json").read_text()).get("elapsed_s")
    except (OSError, ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, (int, float)) else None


def count_rows(folder: Path) -> int:
    """Rows in the Parquet shards of a folder, or in its JSONL files where there is no Parquet."""
    if not folder.is_dir():
        return 0
    parquet = sorted(folder.rglob("*.parquet"))
    if parquet:
        import pyarrow.parquet as pq

        return sum(pq.read_metadata(path).num_rows for path in parquet)
    total = 0
    for path in sorted(folder.rglob("*.jsonl")):
        with path.open("rb") as handle:
            total += sum(1 for line in handle if line.strip())
    return total


def count_output_rows(out_dir: Path) -> dict[str, int]:
    return {kind: count_rows(out_dir / kind) for kind in ("data", "rejected", "errors")}

