"""Self-Rewarding: the additive 5-point judge prompt and its score (text and JSON), judgements
averaged, the best-vs-worst pair with ties dropped, rounds over models, the judge alone on a pool,
and the recipe on a scripted and on the embedded model."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from synthloom.methods.preference.self_rewarding import (
    SelfRewarding,
    SelfRewardingJudge,
    parse_additive_score,
    self_rewarding_pair,
)
from synthloom.pipeline.context import StepContext
from synthloom.pipeline.model_step import RowError
from synthloom.pipeline.step import Rejected
from synthloom.records import ID
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe, side_rows
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

POINTS = {"A detailed, correct answer.": 5, "A partial answer.": 2, "Off topic.": 1}
_RESPONSE = re.compile(r"<response>(.*)</response>", re.DOTALL)


def judged(req) -> str | None:
    """The response a judge request is about, or None for a generation request."""
    found = _RESPONSE.search(req.messages[-1]["content"])
    return found.group(1) if found else None


def reply(answers: list[str], points=POINTS):
    """Generations: ``answers`` in order; judgements: JSON with the response's points."""
    def answer(req, j):
        response = judged(req)
        if response is None:
            return answers[j]
        return json.dumps({"justification": f"worth {points[response]}", "score": points[response]})
    return answer


class Named:
    """A model lookup with one scripted model per recipe name."""

    def __init__(self, **models: ScriptedModel) -> None:
        self.models = models

    def get(self, name: str) -> ScriptedModel:
        return self.models[name]


def test_additive_scores_are_read_from_the_last_score_line():
    assert parse_additive_score("Relevant and useful.\nScore: 4") == (4.0, "Relevant and useful.", None)
    assert parse_additive_score("score: 2 at first... Final Score: **5**")[0] == 5.0
    assert parse_additive_score("Score: 0") == (0.0, "", None)
    assert parse_additive_score("Score: 7")[0::2] == (None, "score 7 is outside 0-5")
    assert parse_additive_score("I award three points.")[0::2] == (None, "no 'Score: <points>' in the judgement")


def test_the_pair_is_highest_vs_lowest_and_ties_or_unreadable_scores_give_none():
    pool = [{"text": t, "judge_score": s, "index": i} for i, (t, s) in enumerate([("a", 3.0), ("b", 4.5), ("c", 1.0),
                                                                                 ("d", 4.5), ("e", None)])]
    best, worst = self_rewarding_pair(pool)
    assert (best["text"], worst["text"]) == ("b", "c")  # the first of two equal bests
    tie = [{"text": t, "judge_score": 3.0, "index": i} for i, t in enumerate("xyz")]
    assert self_rewarding_pair(tie) == "all 3 scored samples tie at 3 (ties are dropped)"
    one = [{"text": "x", "judge_score": 4.0, "index": 0}, {"text": "y", "judge_score": None, "index": 1}]
    assert "1 of 2 samples" in self_rewarding_pair(one)
    same = [{"text": "x", "judge_score": 5.0, "index": 0}, {"text": "x", "judge_score": 1.0, "index": 1}]
    assert "1 of 2 samples" in self_rewarding_pair(same)  # one text cannot be chosen over itself


def test_the_model_samples_judges_itself_with_the_papers_prompt_and_pairs_best_with_worst():
    model = ScriptedModel(reply(["A partial answer.", "A detailed, correct answer.", "Off topic.", "A partial answer."]))
    ((row,),) = run_step(SelfRewarding("sr"), model, [{ID: "r1", "prompt": "Explain tides."}])
    generate = [r for r in model.requests if judged(r) is None]
    judges = [r for r in model.requests if judged(r) is not None]
    assert len(generate) == 1 and generate[0].n == 4 and (generate[0].temperature, generate[0].top_p) == (0.7, 0.9)
    assert len(judges) == 4 * 3 and len({r.seed for r in judges}) == 12  # 3 sampled judgements per response
    text = user_text(judges[0])
    assert text.startswith("Review the user's question and the corresponding response using the additive 5-point")
    assert "Bestow a fifth point" in text and "User: Explain tides." in text and judges[0].json_schema is not None
    assert judges[0].json_schema["properties"]["score"]["enum"] == [0, 1, 2, 3, 4, 5]
    assert (row["chosen"], row["rejected"], row["chosen_score"], row["rejected_score"], row["margin"]) == \
        ("A detailed, correct answer.", "Off topic.", 5.0, 1.0, 4.0)
    assert (row["chosen_index"], row["rejected_index"], row["round"], row["n_scored"]) == (1, 2, 1, 4)
    assert (row["pair_rule"], row["chosen_model"], row["prompt"], row["system"]) == \
        ("best_vs_worst", "default", "Explain tides.", None)
    assert row[ID] != "r1" and {e.get("round") for e in row["_lineage"]} == {1}


def test_judgements_are_averaged_and_an_all_tied_prompt_is_rejected():
    calls = {"n": 0}

    def noisy(req, j):
        if judged(req) is None:
            return ["Same quality one.", "Same quality two."][j]
        calls["n"] += 1
        return f"Fine.\nScore: {2 + calls['n'] % 2}"  # 3, 2, 3, 2, ... per judgement

    (out,) = run_step(SelfRewarding("sr", samples=2, judgements=2, structured=False), ScriptedModel(noisy),
                      [{ID: "r", "prompt": "Hi"}])
    assert isinstance(out, Rejected) and out.reason == "no preference pair: round 1: all 2 scored samples tie at 2.5 " \
                                                       "(ties are dropped)"


def test_rounds_use_each_rounds_model_and_tag_the_rows():
    first = ScriptedModel(reply(["A partial answer.", "A partial answer."]))  # a tie: no pair in round 3
    second = ScriptedModel(reply(["Off topic.", "A detailed, correct answer."]))
    step = SelfRewarding("sr", samples=2, judgements=1, rounds=2, round_models=["m1", "m2"], first_round=3)
    assert step.models == ["default", "m1", "m2"]
    step.setup(StepContext(step="sr", models=Named(default=ScriptedModel(lambda req: "unused"), m1=first, m2=second)))
    (row,) = asyncio.run(step.process({ID: "r", "prompt": "Hi"}))
    assert (row["round"], row["chosen_model"], row["rejected_model"]) == (4, "m2", "m2")
    assert row["chosen"] == "A detailed, correct answer." and first.requests and second.requests
    with pytest.raises(ValueError, match="round_models names 1 model"):
        SelfRewarding("sr", rounds=2, round_models=["m1"])


def test_emit_completions_keeps_the_scored_pool_for_the_pairs_step():
    model = ScriptedModel(reply(["A partial answer.", "Off topic."]))
    ((row,),) = run_step(SelfRewarding("sr", samples=2, judgements=1, emit="completions"), model, [{ID: "r", "prompt": "Hi"}])
    assert [(c["text"], c["judge_score"], c["score"], c["round"]) for c in row["completions"]] == \
        [("A partial answer.", 2.0, 2.0, 1), ("Off topic.", 1.0, 1.0, 1)]
    assert row["completions"][0]["judge_justification"] == "worth 2"


def test_the_judge_alone_scores_an_existing_pool_and_keeps_unjudgeable_completions():
    pool = [{"text": "A detailed, correct answer.", "model": "a", "index": 0}, {"text": "", "model": "b", "index": 1},
            {"text": "Off topic.", "model": "c", "index": 2}]
    model = ScriptedModel(reply([]))
    ((row,),) = run_step(SelfRewardingJudge("judge", judgements=2), model, [{ID: "r", "prompt": "Q", "completions": pool}])
    scores = [(c["model"], c["judge_score"], c["score"], c["judge_scores"]) for c in row["completions"]]
    assert scores == [("a", 5.0, 5.0, [5.0, 5.0]), ("b", None, None, []), ("c", 1.0, 1.0, [1.0, 1.0])]
    assert row["completions"][1]["judge_problem"] == "empty response: not judged" and len(model.requests) == 4
    with pytest.raises(RowError, match="empty or not text"):
        run_step(SelfRewardingJudge("judge"), model, [{ID: "r", "prompt": " ", "completions": pool}])


def test_unreadable_judgements_count_as_missing():
    def answer(req, j):
        return "A partial answer." if judged(req) is None else "no json here"
    (out,) = run_step(SelfRewarding("sr", samples=2, judgements=1), ScriptedModel(answer), [{ID: "r", "prompt": "Hi"}])
    assert isinstance(out, Rejected) and "0 of 2 samples" in out.reason


def test_recipe_on_a_scripted_model(tmp_path, scripted_model):
    spec = scripted_model(lambda req, j: reply(list(POINTS))(req, j % 3))
    out = tmp_path / "sr"
    run = run_recipe("self-rewarding", out, "samples=3", "judgements=1", "round=2", extra_cli_args=("-n", "2", "--model", spec))
    data, rejected, errors = completed_outputs(run, out)
    assert len(data) == 2 and not rejected and not errors
    assert all((r["chosen_score"], r["rejected_score"], r["round"]) == (5.0, 1.0, 2) for r in data)


@needs_embedded
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "sr"
    run = run_recipe("self-rewarding", out, "samples=2", "judgements=1", "max_tokens=24", "judge_max_tokens=64",
                     "steps.pairs.max_justification_chars=24", extra_cli_args=("-n", "1"))
    assert run["status"] == "completed" and run["counts"]["pairs"]["in"] == 1
    for r in side_rows(out, "rejected"):  # two samples often tie on a 135M judge: the step says so
        assert r["_rejected_by"] == "pairs" and "no preference pair" in r["_reason"]
