"""``ModelStep.call``: the one model call every step makes (request, seed, lineage), the reply
helpers, expansion lineage and async sources."""

from __future__ import annotations

import asyncio

import pytest

from synthloom import ExpandStep, Pipeline, RecordsSource, RunOptions, SourceStep, run_pipeline
from synthloom.io.shards import read_shards
from synthloom.llm.types import Request
from synthloom.pipeline.model_step import ModelStep, RowError, chat, reply_text
from synthloom.pipeline.step import Rejected
from synthloom.records import ID, derive_id
from synthloom.testing.scripted import ScriptedModel, scripted_context


class Echo(ModelStep):
    """Asks once per record and stores the reply (a minimal model step)."""

    default_sampling = {"temperature": 0.7, "max_tokens": 64}

    async def process(self, record):
        response, lineage = await self.call(record, chat(record["q"], system="Be brief."), salt="#1")
        return [{**record, "reply": response.text, "lineage": lineage}]


def run(step, model, record):
    step.setup(scripted_context(model, step=step.name))
    return asyncio.run(step.process(record))


def test_call_builds_one_seeded_request_and_its_lineage_entry():
    model = ScriptedModel(lambda req: "pong")
    step = Echo("echo", max_tokens=32)
    (out,) = run(step, model, {ID: "r1", "q": "ping"})
    (req,) = model.requests
    assert req.messages == ({"role": "system", "content": "Be brief."}, {"role": "user", "content": "ping"})
    assert (req.temperature, req.max_tokens) == (0.7, 32)  # class default, then the step's option
    assert req.seed == step.seed_for({ID: "r1"}, "#1")
    entry = out["lineage"]
    assert entry["step"] == "echo" and entry["model"] == "scripted" and entry["finish_reason"] == "stop"
    assert entry["prompt_hash"] == req.fingerprint()[:16] and entry["params"]["seed"] == req.seed


def test_seeds_differ_by_record_salt_and_step_and_are_stable():
    a, b = Echo("a"), Echo("b")
    r1, r2 = {ID: "1"}, {ID: "2"}
    seeds = {a.seed_for(r1), a.seed_for(r2), a.seed_for(r1, "x"), b.seed_for(r1)}
    assert len(seeds) == 4 and a.seed_for(r1) == Echo("a").seed_for(r1)


def test_request_overrides_and_greedy_calls_have_no_seed():
    step = Echo("s", temperature=0.0)
    req = step.request({ID: "1"}, "hi", max_tokens=None, stop=["\n"])
    assert req.seed is None and req.max_tokens == 64 and req.stop == ("\n",)  # None leaves the option as it is
    raw = step.request({ID: "1"}, "Once upon a time", raw=True, temperature=1.0)
    assert raw.prompt == "Once upon a time" and raw.seed is not None
    given = step.request({ID: "1"}, Request.chat(chat("x"), temperature=0.2, seed=7), n=3)
    assert (given.temperature, given.seed, given.n, given.max_tokens) == (0.2, 7, 3, 64)


def test_call_with_a_schema_validates_and_sets_parsed():
    class Structured(ModelStep):
        async def process(self, record):
            response, _ = await self.call(record, "give json", json_schema=schema)
            return [{**record, **response.parsed}]

    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    replies = iter(["not json", '{"n": 4}'])
    (out,) = run(Structured("s"), ScriptedModel(lambda req: next(replies)), {ID: "1"})
    assert out["n"] == 4


def test_reply_text_rejects_refusals_and_errors_on_empty_replies():
    assert reply_text("  An answer. ") == "An answer."
    verdict = reply_text("I'm sorry, but I cannot help with that.")
    assert isinstance(verdict, Rejected) and "refused" in verdict.reason
    with pytest.raises(RowError, match="empty"):
        reply_text("   ", "question")


def test_templates_beside_the_module_are_read_rendered_and_fingerprinted():
    step = Echo("s")
    before = step.describe()
    source = step.load_template("echo.jinja")  # beside this test module, where Echo is defined
    step.read_columns(source, not_columns=["who"])
    assert step.reads == {"q"}
    assert step.render(source, {"q": "hi", "who": "you"}) == "Say hi to you."
    assert "echo.jinja" in step.describe()["templates"] and "templates" not in before


def test_expansion_children_get_ids_and_a_lineage_entry(tmp_path):
    class Split(ExpandStep):
        def expand(self, record):
            return [{**record, "part": p} for p in record["text"].split()]

    pipe = Pipeline([RecordsSource("seeds", rows=[{"text": "a b"}]), Split("split")])
    run_pipeline(pipe, tmp_path / "o", RunOptions(progress="quiet", log=lambda m: None))
    rows = list(read_shards(tmp_path / "o" / "data"))
    parent = derive_id("", "seeds", 0)
    assert [r["id"] for r in rows] == [derive_id(parent, "split", 0), derive_id(parent, "split", 1)]
    assert all(r["_lineage"] == [{"step": "split", "parent": parent}] for r in rows)


def test_an_async_source_runs_on_the_event_loop(tmp_path):
    class Countdown(SourceStep):
        columns = ("n",)

        async def aread(self, limit=None):
            for n in range(limit or 5):
                await asyncio.sleep(0)  # a source that awaits (e.g. a model) without a thread
                yield {"n": n}

    res = run_pipeline(Pipeline([Countdown("count")]), tmp_path / "o",
                       RunOptions(progress="quiet", log=lambda m: None, limit=3))
    assert res.ok and [r["n"] for r in read_shards(tmp_path / "o" / "data")] == [0, 1, 2]
