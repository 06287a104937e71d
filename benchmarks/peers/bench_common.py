"""Shared command line and result line for the peer harnesses.

Every harness in this folder runs inside its own peer's virtual environment (benchmarks/.venvs/<peer>), so this
module uses the standard library only and never imports synthloom.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.metadata
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def parse_harness_args(description: str) -> argparse.Namespace:
    """The arguments every harness takes: where the prompts are, which server, how hard to push it."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--prompts", type=Path, required=True, help="JSONL file with a 'prompt' column")
    parser.add_argument("--base-url", required=True, help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight at once")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--model", default="bench", help="model name sent in each request")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N prompts")
    parser.add_argument("--work-dir", type=Path, default=None, help="scratch folder for frameworks that write files")
    args = parser.parse_args()
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if not args.prompts.is_file():
        parser.error(f"--prompts {args.prompts} is not a file")
    return args


@contextlib.contextmanager
def scratch_dir(work_dir: Path | None, peer: str) -> Iterator[Path]:
    """--work-dir if given (left in place), else a temporary folder removed afterwards."""
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
        yield work_dir
        return
    temporary = Path(tempfile.mkdtemp(prefix=f"{peer}-bench-"))
    try:
        yield temporary
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def read_prompts(path: Path, limit: int | None = None) -> list[str]:
    """The 'prompt' column of a JSONL file, in file order."""
    prompts: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            if "prompt" not in row:
                sys.exit(f"{path}:{line_number}: row has no 'prompt' column")
            prompts.append(str(row["prompt"]))
            if limit is not None and len(prompts) >= limit:
                break
    if not prompts:
        sys.exit(f"{path}: no prompts")
    return prompts


def is_ok_text(value: Any) -> bool:
    """A generated cell counts as a returned row only if it is a non-empty string."""
    return isinstance(value, str) and value.strip() != ""


def preimport(*modules: str) -> None:
    """Import modules a framework would otherwise import lazily inside the run, so that the timed part measures
    the run and not the interpreter loading code (which is start-up cost, left out for every peer alike)."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def package_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def emit_result(peer: str, requests: int, seconds: float, ok_rows: int, **extra: Any) -> None:
    """Print the one JSON line bench_throughput.py reads (always the last line of stdout)."""
    result = {
        "peer": peer,
        "requests": requests,
        "seconds": round(seconds, 4),
        "req_per_s": round(requests / seconds, 2) if seconds > 0 else None,
        "ok_rows": ok_rows,
        "failed_rows": requests - ok_rows,
        **extra,
    }
    sys.stdout.flush()
    print(json.dumps(result), flush=True)
