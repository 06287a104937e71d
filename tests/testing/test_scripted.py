"""The scripted model, its step context and the scripted backend of engine runs."""

from __future__ import annotations

import asyncio

import pytest

from synthloom import LLMStep, Pipeline, RecordsSource, RunOptions, run_pipeline
from synthloom.io.shards import read_shards
from synthloom.llm import client
from synthloom.llm.types import Request
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import run_recipe, side_rows
from synthloom.testing.scripted import (
    Models,
    ScriptedModel,
    install_scripted_backend,
    run_step,
    scripted_context,
    user_text,
)


def request(n=1, text="hi") -> Request:
    return Request(messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": text}], n=n)


def test_whole_request_replies_repeat_a_str_or_give_one_text_per_choice():
    same = ScriptedModel(lambda req: f"echo {user_text(req)}")
    resp = asyncio.run(same.complete(request(n=3)))
    assert [c.text for c in resp.choices] == ["echo hi"] * 3 and all(c.finish_reason == "stop" for c in resp.choices)
    each = ScriptedModel(lambda req: ["a", "b"])
    assert [c.text for c in asyncio.run(each.complete(request(n=2))).choices] == ["a", "b"]


def test_per_choice_replies_take_the_index_and_may_give_reasoning_and_finish():
    def reply(req, j):
        return f"c{j}" if j == 0 else (f"c{j}", "thinking", "length")

    model = ScriptedModel(reply)
    choices = asyncio.run(model.complete(request(n=2))).choices
    assert [(c.text, c.reasoning, c.finish_reason) for c in choices] == [("c0", None, "stop"),
                                                                         ("c1", "thinking", "length")]


def test_requests_are_recorded_and_the_context_hands_out_the_model():
    model = ScriptedModel(lambda req: "ok")
    asyncio.run(model.complete(request(text="one")))
    asyncio.run(model.complete(request(text="two")))
    assert [user_text(r) for r in model.requests] == ["one", "two"]
    ctx = scripted_context(model, step="s")
    assert ctx.step == "s" and ctx.models.get("any") is model and Models(model).get("default") is model
    wrapped = scripted_context(lambda req: "x").models.get("default")
    assert isinstance(wrapped, ScriptedModel) and asyncio.run(wrapped.complete(request())).choices[0].text == "x"
    asyncio.run(wrapped.aclose())


def test_run_step_processes_each_record_on_the_model():
    step = LLMStep("answer", prompt=lambda r: f"Q: {r['q']}",
                   parse=lambda r, resp: Rejected("empty") if not resp.text else {**r, "answer": resp.text},
                   reads=["q"], writes=["answer"])
    model = ScriptedModel(lambda req, j: "" if "skip" in user_text(req) else user_text(req).upper())
    out = run_step(step, model, [{"id": "a", "q": "two"}, {"id": "b", "q": "skip"}])
    assert out[0][0]["answer"] == "Q: TWO" and out[0][0]["_lineage"][0]["model"] == "scripted"
    assert isinstance(out[1], Rejected) and out[1].reason == "empty"
    assert [user_text(r) for r in model.requests] == ["Q: two", "Q: skip"]


def test_the_backend_swap_answers_an_engine_run(tmp_path, monkeypatch, fake_server):
    seen = []

    def reply(req):
        seen.append(user_text(req))
        return f"scripted: {user_text(req)}"

    original = client.BACKEND_CLASSES["openai"]
    with monkeypatch.context() as mp:
        spec = install_scripted_backend(mp, reply, fake_server.url)
        assert spec == f"openai:scripted@{fake_server.url}"
        src = RecordsSource("seeds", rows=[{"q": f"question {i}"} for i in range(3)])
        step = LLMStep("answer", prompt=lambda r: f"Answer: {r['q']}", parse=lambda r, resp: {**r, "answer": resp.text},
                       reads=["q"], writes=["answer"])
        res = run_pipeline(Pipeline([src, step], models={"default": spec}), tmp_path / "out",
                           RunOptions(progress="quiet", log=lambda m: None))
        assert res.ok
    assert client.BACKEND_CLASSES["openai"] == original  # undone with the monkeypatch
    data = list(read_shards(tmp_path / "out" / "data"))
    assert sorted(r["answer"] for r in data) == [f"scripted: Answer: question {i}" for i in range(3)]
    assert sorted(seen) == [f"Answer: question {i}" for i in range(3)]


def test_run_recipe_checks_the_exit_code_and_reads_side_rows(tmp_path, monkeypatch, fake_server):
    spec = install_scripted_backend(monkeypatch, lambda req: "Once upon a time.", fake_server.url)
    out = tmp_path / "stories"
    run = run_recipe("tinystories", out, "concurrency=2", extra_cli_args=("-n", "3", "--model", spec))
    assert run["status"] == "completed" and run["counts"]["seeds"]["out"] == 3
    assert len(side_rows(out, "rejected")) == 3 and side_rows(out, "no-such-kind") == []  # the words are missing
    with pytest.raises(AssertionError, match="no-such-recipe"):
        run_recipe("no-such-recipe", tmp_path / "x")
