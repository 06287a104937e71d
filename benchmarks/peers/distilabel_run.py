"""distilabel harness: one chat request per prompt through a `TextGeneration` task on `OpenAILLM`.

Runs in benchmarks/.venvs/distilabel (distilabel 1.5.3). distilabel sends the rows of one input batch to the model
concurrently, so `--concurrency` becomes the task's `input_batch_size`. The pipeline cache is disabled so every run
sends every request; its cache folder (which it writes even then) goes under --work-dir.
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


def main() -> None:
    args = parse_harness_args(__doc__.splitlines()[0])
    prompts = read_prompts(args.prompts, args.limit)
    with scratch_dir(args.work_dir, "distilabel") as work_dir:
        run(args, prompts, work_dir)


def run(args: argparse.Namespace, prompts: list[str], work_dir: Path) -> None:
    os.environ["DISTILABEL_CACHE_DIR"] = str(work_dir)
    os.environ.setdefault("DISTILABEL_LOG_LEVEL", "WARNING")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from distilabel.models.llms import OpenAILLM
    from distilabel.pipeline import Pipeline
    from distilabel.steps import LoadDataFromDicts
    from distilabel.steps.tasks import TextGeneration

    preimport("openai", "datasets", "pyarrow")

    started = time.perf_counter()
    with Pipeline(name="synthloom-bench", cache_dir=work_dir) as pipeline:
        load = LoadDataFromDicts(
            data=[{"instruction": prompt} for prompt in prompts],
            batch_size=max(args.concurrency, 50),
        )
        generate = TextGeneration(
            llm=OpenAILLM(
                model=args.model,
                base_url=args.base_url,
                api_key="sk-bench-loopback",
                max_retries=0,
                generation_kwargs={"max_new_tokens": args.max_tokens},
            ),
            input_batch_size=args.concurrency,
        )
        load >> generate
    distiset = pipeline.run(use_cache=False)
    rows = distiset["default"]["train"]
    ok_rows = sum(1 for text in rows["generation"] if is_ok_text(text))
    emit_result(
        "distilabel", len(prompts), time.perf_counter() - started, ok_rows,
        version=package_version("distilabel"), returned_rows=len(rows),
    )


if __name__ == "__main__":
    main()
