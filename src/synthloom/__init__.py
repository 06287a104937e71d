"""synthloom: scalable, verifiable and agentic synthetic data generation with LLMs.

The Python API mirrors the YAML recipes one to one::

    from synthloom import Pipeline, LLMStep, RecordsSource, run_pipeline

    pipe = Pipeline(
        steps=[
            RecordsSource("topics", rows=[{"topic": "tides"}, {"topic": "volcanoes"}]),
            LLMStep("question", prompt=lambda r: f"Ask one question about {r['topic']}.",
                    parse=lambda r, resp: {**r, "question": resp.text}, reads=["topic"], writes=["question"]),
        ],
        models={"default": "embedded"},
    )
    result = run_pipeline(pipe, "runs/questions")
"""

from .engine.run import RunOptions, RunResult, run_pipeline
from .llm.spec import ModelConfig, parse_model_spec
from .llm.types import Request, Response
from .pipeline.llm_step import LLMStep, RowError, TemplateLLMStep
from .pipeline.pipeline import Pipeline, PipelineError
from .pipeline.step import (
    ExpandStep,
    FilterStep,
    GlobalStep,
    JoinStep,
    LoopStep,
    MapStep,
    Rejected,
    RejectedRow,
    SourceStep,
    Step,
)
from .steps.load import LoadStep
from .steps.records_source import RecordsSource

__version__ = "0.1.0"

__all__ = [
    "ExpandStep", "FilterStep", "GlobalStep", "JoinStep", "LLMStep", "LoadStep", "LoopStep", "MapStep",
    "ModelConfig", "Pipeline", "PipelineError", "RecordsSource", "Rejected", "RejectedRow", "Request", "Response",
    "RowError", "RunOptions", "RunResult", "SourceStep", "Step", "TemplateLLMStep", "parse_model_spec", "run_pipeline",
]
