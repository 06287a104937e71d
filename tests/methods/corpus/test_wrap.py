"""WRAP rephrasing: the paper's prompts per style, the rejections this step adds, and the recipe end
to end on a scripted model and on the embedded model."""

from __future__ import annotations

import pytest

from synthloom.methods.corpus.wrap import STYLES, WrapRephrase, strip_preamble
from synthloom.pipeline.step import Rejected
from synthloom.records import ID
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe, side_rows
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

PASSAGE = ("Composting turns kitchen scraps and garden waste into a dark, crumbly soil improver that gardeners "
           "spread on their beds every spring.")


def rephrase(style: str, reply, **kw):
    model = ScriptedModel(reply)
    (out,) = run_step(WrapRephrase("wrap", style=style, **kw), model, [{ID: "r1", "text": PASSAGE}])
    return out, model.requests


@pytest.mark.parametrize("style,words", [("easy", "toddler"), ("medium", "Wikipedia"), ("hard", "erudite scholar"),
                                         ("qa", '"Question:" followed by "Answer:"')])
def test_each_style_asks_with_the_papers_prompt_under_its_system_prompt(style, words):
    out, (req,) = rephrase(style, lambda req: "Question: What is compost? Answer: Soil made from scraps and leaves.")
    assert words in user_text(req) and user_text(req).endswith(PASSAGE)
    assert req.messages[0]["role"] == "system" and "curious user" in req.messages[0]["content"]
    assert (req.temperature, req.max_tokens) == (0.7, 1024) and req.seed is not None
    (row,) = out
    assert row[ID] == "r1" and row["rephrased"].startswith("Question:")
    assert row["_lineage"][0]["step"] == "wrap" and row["_lineage"][0]["finish_reason"] == "stop"


def test_preamble_is_cut_and_short_empty_refused_truncated_and_pairless_replies_are_rejected():
    assert strip_preamble("Here's a paraphrase of the paragraph:\n\nCompost is soil.") == "Compost is soil."
    assert strip_preamble("Compost: a soil improver.") == "Compost: a soil improver."
    long = "Kitchen scraps and garden waste become dark crumbly soil that gardeners spread each spring."
    (row,), _ = rephrase("medium", lambda req: f"Sure, here it is:\n{long}")
    assert row["rephrased"] == long
    out, _ = rephrase("medium", lambda req: "Compost.")
    assert isinstance(out, Rejected) and "of the passage's words" in out.reason
    out, _ = rephrase("medium", lambda req: "I'm sorry, but I can't rephrase that text for you today, friend.")
    assert isinstance(out, Rejected) and "refused" in out.reason
    out, _ = rephrase("medium", lambda req, j: (long, None, "length"))
    assert isinstance(out, Rejected) and "max_tokens" in out.reason
    out, _ = rephrase("qa", lambda req: long)
    assert isinstance(out, Rejected) and "Question:/Answer:" in out.reason


def test_an_unknown_style_is_refused_when_the_step_is_built():
    with pytest.raises(ValueError, match="style must be one of easy, medium, hard, qa"):
        WrapRephrase("w", style="toddler")
    assert STYLES == ("easy", "medium", "hard", "qa")


def test_recipe_on_a_scripted_model(tmp_path, scripted_model):
    spec = scripted_model(lambda req: "Question: What does the passage say? Answer: " + user_text(req)[-200:])
    out = tmp_path / "wrap"
    run = run_recipe("wrap", out, "style=qa", extra_cli_args=("-n", "3", "--model", spec))
    data, rejected, errors = completed_outputs(run, out)
    assert len(data) == 3 and not rejected and not errors
    assert all(set(r) >= {"text", "rephrased"} and r["rephrased"].startswith("Question:") for r in data)


@needs_embedded
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "wrap"
    run = run_recipe("wrap", out, "steps.rephrase.max_tokens=48", extra_cli_args=("-n", "2"))
    assert run["status"] == "completed" and run["counts"]["rephrase"]["in"] == 2
    for r in side_rows(out, "rejected"):  # 48 tokens rarely finish a rephrasing: the machinery says why
        assert r["_rejected_by"] == "rephrase" and r["_reason"]
