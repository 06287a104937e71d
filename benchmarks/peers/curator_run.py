"""bespokelabs-curator harness: one chat request per prompt through `curator.LLM` against a loopback server.

Runs in benchmarks/.venvs/curator. Curator loads tiktoken's cl100k_base file at run time (a download, which fails
offline), so `tiktoken.get_encoding` is replaced by a local counter of about four characters a token before curator
is imported; curator only uses the encoding to budget tokens per minute, which the generous limits below make moot.
Curator's own response cache is disabled so every run sends every request.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from bench_common import (
    emit_result,
    is_ok_text,
    package_version,
    parse_harness_args,
    preimport,
    read_prompts,
    scratch_dir,
)


class ApproximateEncoding:
    """Stand-in for a tiktoken Encoding: one token per four characters, no vocabulary file needed."""

    name = "approx-4-chars"

    def encode(self, text: str, **_: object) -> list[int]:
        return [0] * max(1, len(text) // 4)


def install_offline_tokenizer() -> None:
    import tiktoken

    tiktoken.get_encoding = lambda name: ApproximateEncoding()
    tiktoken.encoding_for_model = lambda name: ApproximateEncoding()


def main() -> None:
    args = parse_harness_args(__doc__.splitlines()[0])
    prompts = read_prompts(args.prompts, args.limit)
    with scratch_dir(args.work_dir, "curator") as work_dir:
        run(args, prompts, work_dir)


def run(args: argparse.Namespace, prompts: list[str], work_dir: Path) -> None:
    os.environ["CURATOR_DISABLE_CACHE"] = "1"
    os.environ["CURATOR_CACHE_DIR"] = str(work_dir)
    os.environ.setdefault("CURATOR_DISABLE_RICH_DISPLAY", "1")
    os.environ.setdefault("TELEMETRY_ENABLED", "0")
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench-loopback")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    install_offline_tokenizer()

    from bespokelabs import curator

    preimport("litellm", "openai", "aiohttp", "datasets", "pyarrow")

    class Generate(curator.LLM):
        """One chat turn per row, the response kept as the row's `response`."""

        def prompt(self, row: dict) -> str:
            return row["prompt"]

        def parse(self, row: dict, response: str) -> dict:
            return {"prompt": row["prompt"], "response": response}

    started = time.perf_counter()
    llm = Generate(
        model_name=args.model,
        backend="openai",
        generation_params={"max_tokens": args.max_tokens},
        backend_params={
            "base_url": args.base_url,
            "max_concurrent_requests": args.concurrency,
            "max_requests_per_minute": 100_000_000,
            "max_tokens_per_minute": 100_000_000_000,
            "max_retries": 1,
            "require_all_responses": False,
        },
    )
    result = llm([{"prompt": prompt} for prompt in prompts], working_dir=str(work_dir))
    dataset = result.dataset
    ok_rows = sum(1 for text in dataset["response"] if is_ok_text(text))
    emit_result(
        "curator", len(prompts), time.perf_counter() - started, ok_rows,
        version=package_version("bespokelabs-curator"),
    )


if __name__ == "__main__":
    main()
