"""Completion pools: every completion tagged with its model, n per model and sampling setting,
duplicates marked, system prompts and principles drawn per completion reproducibly."""

from __future__ import annotations

import asyncio
import json

import pytest

from synthloom.methods.preference.completion_pool import CompletionPool, mark_duplicates
from synthloom.pipeline.context import StepContext
from synthloom.pipeline.model_step import RowError
from synthloom.records import ID
from synthloom.testing.scripted import ScriptedModel, user_text


class Named:
    """A model lookup with one scripted model per recipe name."""

    def __init__(self, **models: ScriptedModel) -> None:
        self.models = models

    def get(self, name: str) -> ScriptedModel:
        return self.models[name]


def run(step: CompletionPool, models: Named, records: list[dict]) -> list:
    step.setup(StepContext(step=step.name, models=models))

    async def go():
        return [await step.process(r) for r in records]

    return asyncio.run(go())


def test_two_named_models_each_give_n_completions_tagged_with_their_name():
    alpha = ScriptedModel(lambda req, j: f"alpha says {j} to {user_text(req)}")
    beta = ScriptedModel(lambda req, j: f"beta says {j}")
    step = CompletionPool("pool", models=["alpha", "beta"], n=2, prompt="instruction")
    ((row,),) = run(step, Named(alpha=alpha, beta=beta), [{ID: "r1", "instruction": "Name a colour."}])
    pool = row["completions"]
    assert [(c["model"], c["index"], c["text"]) for c in pool] == [
        ("alpha", 0, "alpha says 0 to Name a colour."), ("alpha", 1, "alpha says 1 to Name a colour."),
        ("beta", 2, "beta says 0"), ("beta", 3, "beta says 1")]
    assert all(c["finish_reason"] == "stop" and c["duplicate_of"] is None for c in pool)
    assert "system" not in pool[0] and "sampling" not in pool[0]
    assert row[ID] == "r1" and row["instruction"] == "Name a colour."
    assert [req.n for req in alpha.requests + beta.requests] == [2, 2]  # one call per model
    assert alpha.requests[0].seed != beta.requests[0].seed and alpha.requests[0].temperature == 0.8
    assert [e["step"] for e in row["_lineage"]] == ["pool", "pool"]
    assert step.models == ["alpha", "beta"]


def test_sampling_settings_fan_out_and_are_recorded_and_duplicates_are_marked_not_dropped():
    model = ScriptedModel(lambda req, j: "same answer" if req.temperature == 0 else f"hot {j}")
    step = CompletionPool("pool", n=2, sampling_settings=[{"temperature": 0.0}, {"temperature": 1.2, "top_p": 0.9}])
    ((row,),) = run(step, Named(default=model), [{ID: "r", "prompt": "Hi"}])
    pool = row["completions"]
    assert [c["text"] for c in pool] == ["same answer", "same answer", "hot 0", "hot 1"]
    assert [c["duplicate_of"] for c in pool] == [None, 0, None, None]
    assert pool[0]["sampling"]["temperature"] == 0.0 and pool[2]["sampling"] == {
        "temperature": 1.2, "max_tokens": 512, "top_p": 0.9}
    assert [(r.temperature, r.top_p) for r in model.requests] == [(0.0, None), (1.2, 0.9)]
    assert mark_duplicates(["a", "b", "a", "a", "b"]) == [None, None, 0, 0, 1]


def test_principles_are_drawn_per_completion_reproducibly_and_by_weight(tmp_path):
    principles = {"honesty": ["Be honest."], "helpfulness": ["Be helpful.", "Help as much as you can."]}
    file = tmp_path / "principles.json"
    file.write_text(json.dumps(principles))

    def pool(**kw):
        model = ScriptedModel(lambda req: f"[{req.messages[0]['content']}]")
        ((row,),) = run(CompletionPool("pool", n=6, **kw), Named(default=model),
                        [{ID: "r7", "prompt": "Why is the sky blue?", "sys": "You are terse."}])
        return row["completions"], model.requests

    first, requests = pool(system_prompts=str(file), system_column="sys")
    again, _ = pool(system_prompts=principles, system_column="sys")
    assert [(c["principle"], c["system"]) for c in first] == [(c["principle"], c["system"]) for c in again]
    assert len(requests) == 6 and all(r.n == 1 for r in requests)
    for c, req in zip(first, requests):
        assert c["system"] in principles[c["principle"]]
        assert req.messages[0] == {"role": "system", "content": f"You are terse.\n\n{c['system']}"}
        assert c["text"] == f"[{req.messages[0]['content']}]"
    assert len({r.seed for r in requests}) == 6
    only_honesty, _ = pool(system_prompts=principles, principle_weights={"honesty": 1, "helpfulness": 0})
    assert {c["principle"] for c in only_honesty} == {"honesty"}
    plain, _ = pool(system_prompts=["A.", "B."])
    assert {c["principle"] for c in plain} == {None} and {c["system"] for c in plain} <= {"A.", "B."}


def test_a_multi_turn_prompt_is_sent_as_its_messages():
    model = ScriptedModel(lambda req: "ok")
    turns = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
             {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "And you?"}]
    ((row,),) = run(CompletionPool("pool", n=1, prompt_messages="conv"), Named(default=model), [{ID: "r", "conv": turns}])
    assert list(model.requests[0].messages) == turns and row["completions"][0]["text"] == "ok"


def test_bad_prompts_are_error_rows_and_bad_options_fail_when_the_step_is_built():
    model = ScriptedModel(lambda req: "x")
    with pytest.raises(RowError, match="prompt in column 'prompt' is empty"):
        run(CompletionPool("pool"), Named(default=model), [{ID: "r", "prompt": "  "}])
    with pytest.raises(RowError, match="must end with a user message"):
        run(CompletionPool("pool", prompt_messages="c"), Named(default=model),
            [{ID: "r", "c": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}])
    assert not model.requests
    for kw, msg in [({"models": []}, "models must list"), ({"models": ["a", "a"]}, "lists a model twice"),
                    ({"n": 0}, "n .* must be a whole number"), ({"sampling_settings": [{"n": 2}]}, "unknown option"),
                    ({"sampling_settings": [{"temperature": -1}]}, "temperature must be"),
                    ({"system_prompts": "/no/such.json"}, "does not exist"), ({"system_prompts": [""]}, "non-empty"),
                    ({"principle_weights": {"a": 1}}, "needs system_prompts as a mapping"),
                    ({"system_prompts": {"a": ["x"]}, "principle_weights": {"b": 1}}, "principle_weights must map")]:
        with pytest.raises(ValueError, match=msg):
            CompletionPool("pool", **kw)
