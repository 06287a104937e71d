"""Reward scoring: a vLLM-style reward endpoint on the loopback server (a server error is an error
row, not a crash), the offline expected score over scripted logprobs, best-of-N, and the
reward-difference filter."""

from __future__ import annotations

import asyncio
import json
import math

import orjson
import pytest

from synthloom.llm.cache import ResponseCache
from synthloom.llm.client import ModelRegistry
from synthloom.llm.spec import parse_model_spec
from synthloom.llm.types import Choice, TokenLogprob, TransientError
from synthloom.methods.preference.reward import BestOfN, RewardDifference, RewardScore
from synthloom.pipeline.context import StepContext
from synthloom.pipeline.model_step import RowError
from synthloom.pipeline.step import Rejected
from synthloom.records import ID
from synthloom.testing.recipe_runs import completed_outputs, run_recipe
from synthloom.testing.scripted import ScriptedModel, run_step, user_text


def pool(*texts, scores=None) -> list[dict]:
    return [{"text": t, "model": "m", "index": i, "finish_reason": "stop", "duplicate_of": None,
             **({"reward": scores[i]} if scores else {})} for i, t in enumerate(texts)]


def on_server(step: RewardScore, url: str, records: list[dict], tmp_path) -> list:
    cache = ResponseCache(tmp_path / "cache.sqlite")
    registry = ModelRegistry([parse_model_spec(f"openai:rm@{url}", name="rm", max_retries=0)], cache=cache)
    step.setup(StepContext(step=step.name, models=registry))

    async def go():
        try:
            return [await step.process(r) for r in records]
        finally:
            await registry.aclose_all()
            cache.close()

    return asyncio.run(go())


def test_pooling_rewards_every_completion_and_copies_them_to_duplicates(fake_server, tmp_path):
    completions = pool("A red apple [[reward:1.5]]", "Pear [[reward:-0.5]]", "one two three")
    completions.append({**completions[0], "index": 3, "duplicate_of": 0})
    step = RewardScore("rm", method="pooling", model="rm", prompt="instruction")
    ((row,),) = on_server(step, fake_server.url, [{ID: "r", "instruction": "Name a fruit.",
                                                   "completions": completions}], tmp_path)
    assert [(c["reward"], c["score"]) for c in row["completions"]] == [(1.5, 1.5), (-0.5, -0.5), (0.3, 0.3), (1.5, 1.5)]
    assert [c["text"] for c in row["completions"]] == [c["text"] for c in completions]
    body = orjson.loads(fake_server.last_request()["body"])
    assert body["messages"][0] == {"role": "user", "content": "Name a fruit."}
    assert body["messages"][-1]["role"] == "assistant"
    entries = [e for e in row["_lineage"] if e["step"] == "rm"]
    assert len(entries) == 3 and {e["endpoint"] for e in entries} == {"pooling"}  # the duplicate asked nothing


def test_classify_takes_the_last_class_unless_label_index_says_otherwise(fake_server, tmp_path):
    rec = {ID: "r", "prompt": "Q", "completions": pool("Yes [[reward:2]]")}
    ((row,),) = on_server(RewardScore("c", method="classify", model="rm"), fake_server.url, [rec], tmp_path)
    assert row["completions"][0]["reward"] == pytest.approx(1 / (1 + math.exp(-2)))
    ((row,),) = on_server(RewardScore("c", method="classify", model="rm", label_index=0, set_score=False),
                          fake_server.url, [rec], tmp_path / "b")
    assert row["completions"][0]["reward"] == pytest.approx(1 - 1 / (1 + math.exp(-2)))
    assert "score" not in row["completions"][0]
    with pytest.raises(RowError, match="label_index 5 is out of range"):
        on_server(RewardScore("c", method="classify", model="rm", label_index=5), fake_server.url, [rec], tmp_path / "c")


def test_a_single_response_column_gets_a_reward_column(fake_server, tmp_path):
    ((row,),) = on_server(RewardScore("r", method="pooling", model="rm", response="answer"), fake_server.url,
                          [{ID: "r", "prompt": "Q", "answer": "a b c d e"}], tmp_path)
    assert row["reward"] == 0.5 and row["answer"] == "a b c d e"


def test_a_server_error_is_a_model_error_for_the_row(fake_server, tmp_path):
    with pytest.raises(TransientError, match="HTTP 500"):
        on_server(RewardScore("rm", method="pooling", model="rm"), fake_server.url,
                  [{ID: "r", "prompt": "Q", "completions": pool("fine", "broken [[fault:500]]")}], tmp_path)


def test_a_server_error_becomes_an_error_row_in_a_run_and_the_run_completes(fake_server, tmp_path):
    rows = [{"prompt": "Q1", "completions": pool("good answer [[reward:2]]", "bad [[reward:-1]]")},
            {"prompt": "Q2", "completions": pool("fine", "broken [[fault:500]]")}]
    recipe = tmp_path / "reward.yaml"
    recipe.write_text(json.dumps({
        "name": "reward-endpoint", "models": {"rm": {"spec": f"openai:rm@{fake_server.url}", "max_retries": 0}},
        "steps": [{"name": "rows", "type": "records", "rows": rows},
                  {"name": "reward", "type": "reward_score", "method": "pooling", "model": "rm"},
                  {"name": "pairs", "type": "pairs", "rule": "best_vs_worst"}]}))
    out = tmp_path / "out"
    data, _, errors = completed_outputs(run_recipe(str(recipe), out), out)
    assert [(r["chosen"], r["rejected"], r["margin"]) for r in data] == [
        ("good answer [[reward:2]]", "bad [[reward:-1]]", 3.0)]
    (error,) = errors
    assert error["_step"] == "reward" and "HTTP 500" in error["_error"]


def tok(text: str, p: float, top=()) -> TokenLogprob:
    return TokenLogprob(text, math.log(p), [(t, math.log(q)) for t, q in top])


def judge_reply(req, j):
    """``{"score": k}`` with logprobs: the score token's alternatives depend on the response judged."""
    good = "apple" in user_text(req)
    dist = [("4", 0.5), ("5", 0.3), ("3", 0.2)] if good else [("2", 0.6), ("1", 0.4)]
    digit = dist[0][0]
    logprobs = [tok('{"', 0.9), tok("score", 0.9), tok('":', 0.9), tok(" ", 0.9), tok(digit, dist[0][1], dist),
                tok("}", 0.9)]
    return Choice(text=f'{{"score": {digit}}}', finish_reason="stop", logprobs=logprobs)


def test_expected_score_over_the_score_tokens_logprobs_on_a_scripted_model():
    model = ScriptedModel(judge_reply)
    step = RewardScore("judge", prompt="instruction")
    ((row,),) = run_step(step, model, [{ID: "r", "instruction": "Name a fruit.",
                                        "completions": pool("An apple.", "A rock.")}])
    rewards = [c["reward"] for c in row["completions"]]
    assert rewards == [pytest.approx(4 * 0.5 + 5 * 0.3 + 3 * 0.2), pytest.approx(2 * 0.6 + 1 * 0.4)]
    assert [c["score"] for c in row["completions"]] == rewards
    req = model.requests[0]
    assert req.logprobs and req.top_logprobs == 20 and req.temperature == 0.0
    assert req.json_schema["properties"]["score"]["enum"] == [1, 2, 3, 4, 5]
    assert "Name a fruit." in user_text(req) and "An apple." in user_text(req) and "from 1" in user_text(req)
    assert {e["reward_from"] for e in row["_lineage"]} == {"logprobs"}


def test_without_logprobs_the_sampled_score_counts_and_unreadable_answers_are_marked():
    ((row,),) = run_step(RewardScore("judge", scale=[0, 9]), ScriptedModel(lambda req: '{"score": 7}'),
                         [{ID: "r", "prompt": "Q", "completions": pool("x")}])
    assert row["completions"][0]["reward"] == 7.0 and row["_lineage"][-1]["reward_from"] == "sampled"

    def half_broken(req):
        return '{"score": 3}' if "fine" in user_text(req) else "no idea"
    ((row,),) = run_step(RewardScore("judge"), ScriptedModel(half_broken),
                         [{ID: "r", "prompt": "Q", "completions": pool("fine", "odd")}])
    ok, odd = row["completions"]
    assert ok["reward"] == 3.0 and odd["reward"] is None and "no readable score" in odd["reward_error"]
    with pytest.raises(RowError, match="no completion got a reward"):
        run_step(RewardScore("judge"), ScriptedModel(lambda req: "no idea"),
                 [{ID: "r", "prompt": "Q", "completions": pool("a", "b")}])


def test_best_of_n_keeps_the_top_completion_as_the_response():
    step = BestOfN("best")
    rec = {ID: "r", "prompt": "Q", "completions": pool("a", "b", "c", scores=[1.0, 3.0, 3.0])}
    (row,) = asyncio.run(step.process(rec))
    assert (row["response"], row["response_score"], row["response_index"], row["response_model"]) == ("b", 3.0, 1, "m")
    assert row[ID] == "r"
    none = asyncio.run(step.process({**rec, "completions": pool("a", scores=[None])}))
    assert isinstance(none, Rejected) and "no completion has a 'reward'" in none.reason


def test_reward_difference_keeps_a_wide_spread_and_rejects_a_narrow_one_with_it():
    step = RewardDifference("spread", min_difference=1.0)
    assert step.check({"completions": pool("a", "b", "c", scores=[0.5, 2.0, 1.0])}) is True
    narrow = step.check({"completions": pool("a", "b", scores=[0.5, 1.2])})
    assert isinstance(narrow, Rejected) and narrow.score == pytest.approx(0.7)
    assert narrow.reason == "reward difference 0.7 < 1 (best 1.2, worst 0.5)"
    few = step.check({"completions": pool("a", "b", scores=[0.5, None])})
    assert isinstance(few, Rejected) and "fewer than 2" in few.reason
    with pytest.raises(ValueError, match="min_difference must be"):
        RewardDifference("s", min_difference=-1)


def test_bad_options_fail_when_the_step_is_built():
    for kw, msg in [({"method": "score"}, "method must be one of pooling, classify, expected_score"),
                    ({"label_index": 1}, "method expected_score has none"), ({"scale": [1, 10]}, "scale must be"),
                    ({"method": "pooling", "scale": [1, 5]}, "shape the judge"),
                    ({"template": "Rate it"}, "template must be Jinja2")]:
        with pytest.raises(ValueError, match=msg):
            RewardScore("s", **kw)
