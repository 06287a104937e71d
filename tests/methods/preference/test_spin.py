"""SPIN: gold answer chosen, the model's own answer rejected, tagged with the iteration; the
reference's sampling and raw prompt; identical and empty generations rejected; the recipe on a
scripted and on the embedded model."""

from __future__ import annotations

import pytest

from synthloom.methods.preference.spin import SpinPairs
from synthloom.pipeline.model_step import RowError
from synthloom.pipeline.step import Rejected
from synthloom.records import ID
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

ROW = {ID: "r1", "prompt": "Solve for x: 3x + 7 = 22.", "response": "Subtract 7: 3x = 15. Divide by 3: x = 5."}


def spin(reply, row=ROW, **kw):
    model = ScriptedModel(reply)
    (out,) = run_step(SpinPairs("spin", **kw), model, [dict(row)])
    return out, model.requests


def test_gold_is_chosen_the_models_own_answer_rejected_with_the_iteration():
    (row,), (req,) = spin(lambda req: "  x = 4, I think.</s>", iteration=2)
    assert user_text(req) == ROW["prompt"] and req.prompt is None
    assert (req.temperature, req.top_p, req.max_tokens, req.n) == (1.0, 1.0, 256, 1)
    assert (row["chosen"], row["rejected"], row["iteration"], row["pair_rule"]) == \
        (ROW["response"], "x = 4, I think.", 2, "spin")
    assert (row["chosen_model"], row["rejected_model"], row["rejected_finish_reason"]) == (None, "default", "stop")
    assert (row["chosen_score"], row["margin"], row["prompt"], row[ID]) == (None, None, ROW["prompt"], "r1")
    assert row["_lineage"][-1]["iteration"] == 2


def test_iterations_sample_differently_and_the_raw_prompt_format_is_the_references():
    _, (zero,) = spin(lambda req: "x = 4")
    _, (one,) = spin(lambda req: "x = 4", iteration=1)
    assert zero.seed != one.seed
    _, (raw,) = spin(lambda req: "x = 4", prompt_format="instruction_response")
    assert raw.prompt == f"### Instruction: {ROW['prompt']}\n\n### Response: " and raw.messages is None


def test_identical_and_empty_generations_are_rejected_and_a_missing_gold_too():
    out, _ = spin(lambda req: "Subtract 7: 3x = 15.\nDivide by 3:  x = 5.")
    assert isinstance(out, Rejected) and out.reason == "the model's own answer is identical to the gold answer " \
                                                       "(nothing to learn)"
    out, _ = spin(lambda req: "   ")
    assert isinstance(out, Rejected) and out.reason == "the model's own answer is empty"
    out, requests = spin(lambda req: "x", row={ID: "r", "prompt": "Q?", "response": None})
    assert isinstance(out, Rejected) and "no gold answer" in out.reason and not requests
    with pytest.raises(RowError, match="empty or not text"):
        spin(lambda req: "x", row={ID: "r", "prompt": "", "response": "A"})
    with pytest.raises(ValueError, match="prompt_format must be 'chat' or 'instruction_response'"):
        SpinPairs("s", prompt_format="alpaca")


def test_recipe_on_a_scripted_model(tmp_path, scripted_model):
    spec = scripted_model(lambda req: "I am not sure." if "Australia" not in user_text(req) else
                          "The capital of Australia is Canberra. It was chosen as a compromise between Sydney and "
                          "Melbourne, and Parliament has met there since 1927.")
    out = tmp_path / "spin"
    run = run_recipe("spin", out, "iteration=1", extra_cli_args=("-n", "3", "--model", spec))
    data, rejected, errors = completed_outputs(run, out)
    assert len(data) == 2 and not errors  # the first seed row's gold answer is what the model said
    assert [r["_reason"] for r in rejected] == ["the model's own answer is identical to the gold answer (nothing to learn)"]
    assert all(r["rejected"] == "I am not sure." and r["iteration"] == 1 for r in data)


@needs_embedded
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "spin"
    run = run_recipe("spin", out, "steps.pairs.max_tokens=24", extra_cli_args=("-n", "1"))
    data, rejected, errors = completed_outputs(run, out)
    assert len(data) + len(rejected) + len(errors) == 1
    for r in data:
        assert r["chosen"].startswith("The capital of Australia") and r["rejected"] and r["iteration"] == 0
