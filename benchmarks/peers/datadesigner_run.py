"""NVIDIA data-designer harness: one chat request per seed row through an `LLMTextColumnConfig`.

Runs in benchmarks/.venvs/datadesigner. The prompts are the seed dataset (a DataFrame, ordered sampling), the LLM
column's prompt template is just `{{ prompt }}`, and the model provider points at the loopback server; concurrency
is the model's `max_parallel_requests`. Data Designer writes its dataset as Parquet under --work-dir and profiles
it afterwards, both part of a normal `create` and so part of the timing. Its column profiler tries to download a
tokenizer file and only warns when that fails offline. The OpenTelemetry metrics port is switched off so runs do
not collide with anything else on the machine.
"""

from __future__ import annotations

import argparse
import logging
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
    with scratch_dir(args.work_dir, "datadesigner") as work_dir:
        run(args, prompts, work_dir)


def run(args: argparse.Namespace, prompts: list[str], work_dir: Path) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench-loopback")

    import pandas as pd
    from data_designer.config import (
        ChatCompletionInferenceParams,
        DataDesignerConfigBuilder,
        LLMTextColumnConfig,
        ModelConfig,
        ModelProvider,
    )
    from data_designer.config.run_config import RunConfig
    from data_designer.config.seed_source_dataframe import DataFrameSeedSource
    from data_designer.interface.data_designer import DataDesigner

    preimport("numpy", "pyarrow", "pyarrow.parquet", "httpx", "httpx_retries", "jsonschema", "duckdb", "networkx",
              "scipy", "tiktoken", "jinja2")

    started = time.perf_counter()
    provider = ModelProvider(name="loopback", endpoint=args.base_url, api_key="sk-bench-loopback")
    model = ModelConfig(
        alias="bench",
        model=args.model,
        provider="loopback",
        skip_health_check=True,
        inference_parameters=ChatCompletionInferenceParams(
            max_tokens=args.max_tokens, max_parallel_requests=args.concurrency
        ),
    )
    builder = DataDesignerConfigBuilder(model_configs=[model])
    builder.with_seed_dataset(DataFrameSeedSource(df=pd.DataFrame({"prompt": prompts})))
    builder.add_column(LLMTextColumnConfig(name="response", prompt="{{ prompt }}", model_alias="bench"))
    designer = DataDesigner(artifact_path=work_dir, model_providers=[provider])
    designer.set_run_config(RunConfig(otel_metrics_port=None))
    logging.getLogger().setLevel(logging.WARNING)
    result = designer.create(builder, num_records=len(prompts), dataset_name="bench")
    dataset = result.load_dataset()
    ok_rows = sum(1 for text in dataset["response"] if is_ok_text(text))
    emit_result(
        "datadesigner", len(prompts), time.perf_counter() - started, ok_rows,
        version=package_version("data-designer"), returned_rows=len(dataset),
    )


if __name__ == "__main__":
    main()
