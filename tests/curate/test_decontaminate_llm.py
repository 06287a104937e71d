"""LLM Decontaminator: retrieval, the paper's prompt, verdict parsing, rejection naming the item."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from synthloom import Pipeline, RecordsSource, RunOptions, run_pipeline
from synthloom.curate.decontaminate_llm import DecontaminateLLM, parse_verdict
from synthloom.io.shards import read_shards
from synthloom.llm.types import Choice, Response, Usage
from synthloom.pipeline.context import StepContext
from synthloom.pipeline.step import Rejected
from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig

BENCH = [
    "James writes a 3-page letter to 2 different friends twice a week. How many pages does he write a year?",
    "What is the capital of France?",
]
PARA = "Twice every week, James writes a letter of 3 pages to each of his 2 friends. How many pages does he write in a year?"


@pytest.fixture
def bench_file(tmp_path) -> Path:
    path = tmp_path / "bench.jsonl"
    path.write_text("".join(json.dumps({"question": q, "id": f"q{i}"}) + "\n" for i, q in enumerate(BENCH)))
    return path


class JudgeStub:
    """A model that answers True when the pair's two parts are in ``same`` (records its requests)."""

    identity = "stub"

    def __init__(self, same: set[tuple[str, str]], reply_true: str = "True") -> None:
        self.same, self.reply_true, self.requests = same, reply_true, []

    async def complete(self, req):
        self.requests.append(req)
        user = req.messages[-1]["content"]
        part1 = user.split("Part 1: {\n", 1)[1].split("\n}\nPart 2", 1)[0]
        part2 = user.split("Part 2: {\n", 1)[1].rsplit("\n}", 1)[0]
        text = self.reply_true if (part1, part2) in self.same else "False"
        return Response(choices=[Choice(text=text, finish_reason="stop")], usage=Usage(10, 1))


class Lookup:
    def __init__(self, model):
        self.model = model

    def get(self, name):
        return self.model


def make_step(bench_file, model, **kw) -> DecontaminateLLM:
    step = DecontaminateLLM("llm_decon", against=str(bench_file), columns="text", id_column="id", **kw)
    step.setup(StepContext("llm_decon", Lookup(model)))
    return step


def test_parse_verdict():
    assert parse_verdict("True") is True and parse_verdict("false.") is False
    assert parse_verdict("Answer: yes, they are the same") is True
    assert parse_verdict("I cannot tell") is None and parse_verdict("") is None
    assert parse_verdict("Untrue statements") is None  # a word boundary is needed


def test_rephrase_is_rejected_naming_the_benchmark_item(bench_file):
    model = JudgeStub({(BENCH[0], PARA)})
    step = make_step(bench_file, model)
    record = {"id": "r1", "text": PARA}
    out = asyncio.run(step.process(record))
    assert isinstance(out, Rejected) and "LLM rephrase check" in out.reason and "bench.jsonl row 0 (id q0)" in out.reason
    assert record["contamination"]["method"] == "llm" and record["contamination"]["benchmark_id"] == "q0"
    (req,) = model.requests
    system = req.messages[0]["content"]
    assert system.startswith("I will now give you two questions.") and "answer 'True'" in system
    assert req.temperature == 0.0 and req.max_tokens == 8


def test_not_a_rephrase_keeps_the_row_and_unrelated_rows_make_no_call(bench_file):
    model = JudgeStub(set())
    step = make_step(bench_file, model)
    kept = asyncio.run(step.process({"id": "r1", "text": PARA}))
    assert isinstance(kept, list) and kept[0]["text"] == PARA and "contamination" not in kept[0]
    assert len(model.requests) == 1 and kept[0]["_lineage"][0]["step"] == "llm_decon"
    assert kept[0]["_lineage"][0]["finish_reason"] == "stop" and kept[0]["_lineage"][0]["model"] == "stub"
    unrelated = asyncio.run(step.process({"id": "r2", "text": "Describe the smell of rain on hot asphalt."}))
    assert isinstance(unrelated, list) and len(model.requests) == 1


def test_top_k_asks_about_each_candidate_and_code_prompt(bench_file):
    model = JudgeStub(set())
    step = make_step(bench_file, model, top_k=2, min_similarity=-1.0, prompt_kind="code")
    asyncio.run(step.process({"id": "r", "text": PARA}))
    assert len(model.requests) == 2
    assert model.requests[0].messages[0]["content"].startswith("I will now give you two programs.")
    firsts = [r.messages[1]["content"].split("\n")[1] for r in model.requests]
    assert firsts == [BENCH[0], BENCH[1]]  # most similar first


def test_sampled_checks_are_seeded_per_record_and_the_prompts_are_fingerprinted(bench_file):
    model = JudgeStub(set())
    step = make_step(bench_file, model, temperature=0.7)
    for record_id in ("r1", "r1", "r2"):
        asyncio.run(step.process({"id": record_id, "text": PARA}))
    seeds = [r.seed for r in model.requests]
    assert seeds[0] is not None and seeds[0] == seeds[1] != seeds[2]  # reproducible, distinct per record
    assert make_step(bench_file, JudgeStub(set())).describe()["templates"].keys() == {
        "decontaminate_llm_system.jinja", "decontaminate_llm_user.jinja"}


def test_bad_options(bench_file):
    with pytest.raises(ValueError, match="top_k"):
        DecontaminateLLM("s", against=str(bench_file), top_k=0)
    with pytest.raises(ValueError, match="prompt_kind"):
        DecontaminateLLM("s", against=str(bench_file), prompt_kind="poetry")


def test_pipeline_on_fake_server_unparseable_replies_become_error_rows(tmp_path, bench_file):
    # a server without JSON schemas answers free text; the fake one echoes the user message, which says
    # neither True nor False
    rows = [{"text": PARA}, {"text": "Describe the smell of rain on hot asphalt."}]
    step = DecontaminateLLM("llm_decon", against=str(bench_file), columns="text")
    with FakeOpenAIServer(FakeServerConfig(json_schema_supported=False)) as server:
        res = run_pipeline(Pipeline([RecordsSource("seeds", rows=rows), step],
                                    models={"default": f"openai:fake@{server.url}"}),
                           tmp_path / "o", RunOptions(progress="quiet", log=lambda m: None))
    c = res.counts["llm_decon"]
    assert c.rows_in == 2 and c.errors == 1 and c.ok == 1 and c.balanced
    assert [r["text"] for r in read_shards(tmp_path / "o" / "data")] == [rows[1]["text"]]


def test_a_server_with_json_schemas_answers_the_verdict(tmp_path, bench_file, fake_model):
    # the fake server answers the schema {"verdict": "True"|"False"} with its first value: a rephrase
    rows = [{"text": PARA}]
    step = DecontaminateLLM("llm_decon", against=str(bench_file), columns="text")
    res = run_pipeline(Pipeline([RecordsSource("seeds", rows=rows), step], models={"default": fake_model}),
                       tmp_path / "o", RunOptions(progress="quiet", log=lambda m: None))
    assert res.counts["llm_decon"].rejected == 1


@pytest.mark.slow
def test_pipeline_on_the_embedded_model(tmp_path, bench_file):
    rows = [{"text": PARA}, {"text": "Describe the smell of rain on hot asphalt."}]
    step = DecontaminateLLM("llm_decon", against=str(bench_file), columns="text", max_tokens=4)
    res = run_pipeline(Pipeline([RecordsSource("seeds", rows=rows), step], models={"default": "embedded"}),
                       tmp_path / "o", RunOptions(progress="quiet", log=lambda m: None))
    c = res.counts["llm_decon"]
    assert c.rows_in == 2 and c.balanced and c.ok + c.rejected + c.errors == 2
    data = list(read_shards(tmp_path / "o" / "data"))
    assert rows[1]["text"] in [r["text"] for r in data]  # no candidate: passes without a model call
