"""HelpSteer / SteerLM: attribute-conditioned SFT rows from scripted judge scores (the helpsteer judge preset
on a scripted model), the condition's placement, bad scores as error rows, and the recipe end to end."""

from __future__ import annotations

import json

import pytest

from synthloom.curate.judges.pointwise import Judge
from synthloom.methods.preference.helpsteer import ATTRIBUTES, SteerLMRows, attribute_string, attribute_values
from synthloom.records import ID
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import ScriptedModel, run_step

SCORES = {"helpfulness": 4, "correctness": 3, "coherence": 4, "complexity": 2, "verbosity": 1}


def test_the_attribute_string_is_steerlms_condition_in_helpsteers_order():
    assert ATTRIBUTES == ["helpfulness", "correctness", "coherence", "complexity", "verbosity"]
    assert attribute_string(SCORES, ATTRIBUTES) == "helpfulness:4,correctness:3,coherence:4,complexity:2,verbosity:1"
    assert attribute_values({**SCORES, "verbosity": 1.5, "complexity": 2.4}, ATTRIBUTES, 0, 4)["verbosity"] == 2
    with pytest.raises(ValueError, match="no rating for attribute 'verbosity'"):
        attribute_values({k: v for k, v in SCORES.items() if k != "verbosity"}, ATTRIBUTES, 0, 4)
    with pytest.raises(ValueError, match="rated 5, off the scale 0-4"):
        attribute_values({**SCORES, "coherence": 5}, ATTRIBUTES, 0, 4)


def test_rows_from_scripted_judge_scores():
    reply = json.dumps({a: {"rationale": f"{a} is fine", "rating": v} for a, v in SCORES.items()})
    model = ScriptedModel(lambda req: reply)
    judge = Judge("rate", rubric="helpsteer", instruction="prompt", response="response")
    ((rated,),) = run_step(judge, model, [{ID: "r1", "prompt": "Name a prime.", "response": "7 is prime."}])
    (req,) = model.requests
    assert set(req.json_schema["properties"]) == set(ATTRIBUTES)  # one constrained reply rates all five
    assert rated["scores"] == {a: float(v) for a, v in SCORES.items()}
    row = SteerLMRows("steer").map(rated)
    assert row["attributes"] == SCORES
    assert row["attribute_string"] == "helpfulness:4,correctness:3,coherence:4,complexity:2,verbosity:1"
    assert row["messages"] == [{"role": "system", "content": row["attribute_string"]},
                               {"role": "user", "content": "Name a prime."},
                               {"role": "assistant", "content": "7 is prime."}]
    prompt_row = SteerLMRows("steer", placement="prompt", attributes=["correctness", "helpfulness"]).map(rated)
    assert prompt_row["messages"][0] == {"role": "user", "content": "correctness:3,helpfulness:4\nName a prime."}


def test_unusable_scores_and_options_are_clear_errors():
    with pytest.raises(ValueError, match="steerlm_rows 'steer': the scores column must map"):
        SteerLMRows("steer").map({ID: "r", "prompt": "p", "response": "r", "scores": None})
    with pytest.raises(ValueError, match="placement must be 'system'"):
        SteerLMRows("steer", placement="label")
    with pytest.raises(ValueError, match="scale must be"):
        SteerLMRows("steer", scale=[4, 0])


def test_recipe_on_a_scripted_model(tmp_path, scripted_model):
    def reply(req):
        if req.json_schema is not None:
            return json.dumps({a: {"rationale": "ok", "rating": 2 if a == "verbosity" else 3} for a in ATTRIBUTES})
        return "A short, correct answer."

    out = tmp_path / "hs"
    run = run_recipe("helpsteer", out, extra_cli_args=("-n", "3", "--model", scripted_model(reply)))
    data, rejected, errors = completed_outputs(run, out)
    assert not errors and not rejected and len(data) == 3
    for row in data:
        assert row["attribute_string"] == "helpfulness:3,correctness:3,coherence:3,complexity:3,verbosity:2"
        assert row["messages"][0] == {"role": "system", "content": row["attribute_string"]}
        assert row["messages"][-1] == {"role": "assistant", "content": "A short, correct answer."}


@needs_embedded
@pytest.mark.slow
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "hs"
    run = run_recipe("helpsteer", out, "max_tokens=8", "steps.respond.reject_truncated=false", "steps.rate.max_tokens=64",
                     extra_cli_args=("-n", "1"))
    data, rejected, errors = completed_outputs(run, out)
    assert not errors and len(data) + len(rejected) == 1
    for row in data:  # the grammar gives every attribute a rating on 0-4
        assert set(row["attributes"]) == set(ATTRIBUTES) and all(0 <= v <= 4 for v in row["attributes"].values())
        assert row["messages"][0]["content"] == row["attribute_string"]
