"""The live progress display: per-step rows, rate, ETA, tokens, and cost when models are priced."""

from __future__ import annotations

from rich.console import Console

from synthloom import LLMStep, Pipeline, RecordsSource
from synthloom.engine.progress import Progress
from synthloom.llm.types import Choice, Response, Usage
from synthloom.llm.usage import UsageTracker


def make(priced: bool):
    src = RecordsSource("seeds", rows=[{"q": str(i)} for i in range(10)])
    step = LLMStep("ask", prompt=lambda r: r["q"], reads=["q"])
    pipe = Pipeline([src, step], models={"default": "openai:m@http://127.0.0.1:1/v1"})
    usage = UsageTracker()
    usage.register_model("default", 2.0 if priced else 0.0, 8.0 if priced else 0.0)
    usage.record_response("default", Response([Choice("x")], Usage(1000, 500)), step="ask")
    progress = Progress(pipe, usage, registry=None, mode="plain", totals={"seeds": 10})
    for _ in range(4):
        progress.bump("seeds", "out", 1)
    progress.bump("ask", "out", 3)
    progress.bump("ask", "errors", 1)
    return progress


def render(progress: Progress) -> str:
    console = Console(width=200, record=True)
    console.print(progress.table())
    return console.export_text()


def test_rows_have_counts_rate_eta_and_tokens():
    rows = {r["step"]: r for r in make(priced=False).rows()}
    assert rows["seeds"]["done"] == 4 and rows["seeds"]["total"] == 10 and rows["seeds"]["eta"] is not None
    assert rows["ask"]["done"] == 4 and rows["ask"]["errors"] == 1 and rows["ask"]["tokens"] == 1500
    assert rows["ask"]["rate"] > 0


def test_cost_column_only_when_priced():
    assert "cost" not in render(make(priced=False))
    text = render(make(priced=True))
    assert "cost" in text and "$0.0060" in text  # 1000 * 2/1M + 500 * 8/1M


def test_plain_line(capsys):
    make(priced=True)._print_plain()
    line = capsys.readouterr().err
    assert "seeds 4/10" in line and "ask 4" in line and "1500 tok" in line and "$0.0060" in line and "1 errors" in line
