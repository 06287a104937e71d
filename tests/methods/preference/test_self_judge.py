"""Self-Judge: the abstention threshold on scripted self-scores, the reference-guided score recalibrated by
similarity and the agreement label, a separate judge model, and the recipe end to end."""

from __future__ import annotations

import asyncio
import json

import pytest

from synthloom.methods.preference.self_judge import SelfJudge, abstains, calibrate
from synthloom.pipeline.context import StepContext
from synthloom.pipeline.step import Rejected
from synthloom.records import ID
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

ROW = {ID: "q", "instruction": "What is the capital of Australia?", "reference": "The capital of Australia is Canberra."}


def scripted(answer: str, self_score: int, gold_score: int = 9):
    """A model answering ``answer``, giving itself ``self_score`` and, with the reference in view, ``gold_score``."""
    def reply(req):
        if req.json_schema is None:
            return answer
        return json.dumps({"score": gold_score if "Reference answer:" in user_text(req) else self_score})
    return ScriptedModel(reply)


@pytest.mark.parametrize("self_score, threshold, abstain", [(5, 6, True), (6, 6, False), (9, 6, False), (1, 2, True), (9, 9.5, True)])
def test_the_model_abstains_exactly_below_the_threshold(self_score, threshold, abstain):
    assert abstains(self_score, threshold) is abstain
    ((row,),) = run_step(SelfJudge("sj", threshold=threshold), scripted("Canberra.", self_score), [{**ROW, "reference": None}])
    assert row["self_score"] == self_score and row["abstain"] is abstain
    assert row["final_response"] == (SelfJudge("x").abstain_message if abstain else "Canberra.")
    assert row["gold_score"] is row["calibrated_score"] is row["self_agrees"] is None  # no reference, no judge


def test_abstentions_can_be_rejected_with_the_reason_and_bad_options_are_refused():
    (out,) = run_step(SelfJudge("sj", abstained="reject"), scripted("Sydney.", 3), [ROW])
    assert isinstance(out, Rejected) and out.reason == "the model abstains: self-score 3 < threshold 6" and out.score == 3
    ((kept,),) = run_step(SelfJudge("sj", abstained="reject"), scripted("Canberra.", 8), [ROW])
    assert kept["abstain"] is False
    with pytest.raises(ValueError, match="threshold must be in"):
        SelfJudge("sj", threshold=11)
    with pytest.raises(ValueError, match="abstained must be one of"):
        SelfJudge("sj", abstained="drop")
    with pytest.raises(ValueError, match="similarity_weight"):
        SelfJudge("sj", similarity_weight=2)


def test_the_reference_guided_score_is_recalibrated_by_similarity_and_agreement_is_labelled():
    assert calibrate(9, 1.0, 0.5) == 9.5 and calibrate(9, 0.0, 0.5) == 5.0 and calibrate(4, 0.5, 0.0) == 4.0
    model = scripted("The capital of Australia is Canberra.", 8, gold_score=9)
    ((agree,),) = run_step(SelfJudge("sj"), model, [ROW])
    answer, self_eval, gold = model.requests
    assert answer.json_schema is None and user_text(answer) == ROW["instruction"]
    assert self_eval.json_schema["properties"]["score"]["enum"] == list(range(1, 11)) and self_eval.temperature == 0.0
    assert "Reference answer:" not in user_text(self_eval) and ROW["reference"] in user_text(gold)
    assert agree["similarity"] == 1.0 and agree["gold_score"] == 9 and agree["calibrated_score"] == 9.5
    assert agree["self_agrees"] is True and [e.get("role") for e in agree["_lineage"]] == ["answer", "self_score", "gold_score"]
    # overconfident: it rates a wrong answer 9, the reference-guided score is 2 and the answer shares little with the gold
    ((over,),) = run_step(SelfJudge("sj"), scripted("Sydney, I believe.", 9, gold_score=2), [ROW])
    assert over["abstain"] is False and over["calibrated_score"] < 6 and over["self_agrees"] is False
    # underconfident: it abstains on a right answer the reference-guided score rates 10
    ((under,),) = run_step(SelfJudge("sj"), scripted("The capital of Australia is Canberra.", 2, gold_score=10), [ROW])
    assert under["abstain"] is True and under["self_agrees"] is False


def test_a_judge_model_scores_without_a_reference_and_a_reply_without_score_is_rejected():
    class TwoModels:
        def __init__(self):
            self.policy, self.judge = scripted("Canberra.", 7), ScriptedModel(lambda req: json.dumps({"score": 3}))

        def get(self, name):
            return self.judge if name == "judge" else self.policy

    models = TwoModels()
    step = SelfJudge("sj", judge_model="judge")
    step.setup(StepContext(step="sj", models=models))
    row = asyncio.run(step.process({**ROW, "reference": ""}))[0]
    assert (row["self_score"], row["gold_score"], row["calibrated_score"], row["self_agrees"]) == (7, 3, 3, False)
    assert len(models.judge.requests) == 1 and step.models == ["default", "judge"]
    (out,) = run_step(SelfJudge("sj"), ScriptedModel(lambda req: "no idea" if req.json_schema else "Canberra."), [ROW])
    assert isinstance(out, Rejected) and out.reason == "the self-evaluation gave no score"


def test_recipe_on_a_scripted_model_labels_every_row(tmp_path, scripted_model):
    def reply(req):
        if req.json_schema is None:
            return "Canberra." if "Australia" in user_text(req) else "I think it is twelve."
        prompt = user_text(req)
        return json.dumps({"score": 9 if "Canberra" in prompt else 3})

    out = tmp_path / "self-judge"
    run = run_recipe("self-judge", out, extra_cli_args=("-n", "3", "--model", scripted_model(reply)))
    data, rejected, errors = completed_outputs(run, out)
    assert len(data) == 3 and not rejected and not errors
    by_q = {r["instruction"]: r for r in data}
    assert by_q["What is the capital of Australia?"]["abstain"] is False
    assert all(r["abstain"] is True and r["final_response"] != r["response"] for q, r in by_q.items() if "Australia" not in q)
    assert all(isinstance(r["self_agrees"], bool) and r["calibrated_score"] is not None for r in data)


@needs_embedded
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "self-judge"
    run = run_recipe("self-judge", out, "max_tokens=32", extra_cli_args=("-n", "1"))
    assert run["status"] == "completed" and run["counts"]["self_judge"]["in"] == 1
    data, rejected, errors = completed_outputs(run, out)
    for row in data:
        assert 1 <= row["self_score"] <= 10 and isinstance(row["abstain"], bool)
    assert all(r["_reason"] for r in rejected)
