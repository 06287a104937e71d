"""CLAIR: the paper's revision prompt, reading the revision out of the reviser's reply, the pair
(revision chosen, original rejected) with its edit distance, rejections for identical, empty or
cut-off revisions, and the recipe on a scripted and on the embedded model."""

from __future__ import annotations

import json

import pytest

from synthloom.methods.preference.clair import ClairRevise, split_revision
from synthloom.pipeline.model_step import RowError
from synthloom.pipeline.step import Rejected
from synthloom.records import ID
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe, side_rows
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

ROW = {ID: "r1", "prompt": "What is the capital of Australia?", "response": "The capital of Australia is Sydney.",
       "who": "student-7b"}


def revise(reply, row=ROW, **kw):
    model = ScriptedModel(reply if callable(reply) else lambda req: reply)
    (out,) = run_step(ClairRevise("clair", **kw), model, [dict(row)])
    return out, model.requests


def test_the_revision_prompt_is_the_papers_and_the_pair_is_revision_over_original():
    reply = ("{teacher_reasoning}: The student named the wrong city; Canberra is the capital.\n\n"
             "{corrected_student_solution}: The capital of Australia is Canberra.")
    (row,), (req,) = revise(reply, response_model_column="who")
    text = user_text(req)
    assert text.startswith("You are a teacher and your task is to minimally improve a student's answer.")
    assert "{task}: What is the capital of Australia?" in text and "{student_solution}: The capital of Australia is Sydney." in text
    assert "Mention the {teacher_reasoning} and {corrected_student_solution} identifiers" in text
    assert (req.temperature, req.max_tokens, req.json_schema) == (0.7, 4096, None) and len(req.messages) == 1
    assert (row["chosen"], row["rejected"]) == ("The capital of Australia is Canberra.", "The capital of Australia is Sydney.")
    assert row["revision_rationale"] == "The student named the wrong city; Canberra is the capital."
    assert (row["edit_distance"], row["pair_rule"], row["chosen_model"], row["rejected_model"]) == \
        (7, "clair_revision", "default", "student-7b")
    assert row["edit_ratio"] == pytest.approx(7 / 37, abs=1e-6)  # normalised by the longer text
    assert (row["chosen_score"], row["margin"], row["prompt"], row[ID]) == (None, None, ROW["prompt"], "r1")


def test_the_revision_is_read_from_the_notebook_formats():
    bold = "**Teacher Reasoning:** add the unit.\n\n**Corrected Student Solution:**\n\n42 metres\n"
    assert split_revision(bold) == ("add the unit.", "42 metres")
    braced = ("{teacher_reasoning} Mention the {corrected_student_solution} last.\n"
              "{corrected_student_solution}\nThe answer is 4.\n-----")
    assert split_revision(braced) == ("Mention the", "The answer is 4.")
    assert split_revision("Here is a better answer: 4.") is None


def test_identical_empty_unmarked_and_cut_off_revisions():
    same = "{teacher_reasoning}: nothing to fix.\n{corrected_student_solution}:\nThe capital of  Australia is Sydney."
    out, _ = revise(same)
    assert isinstance(out, Rejected) and out.reason == "the revision is identical to the original answer (no contrast)"
    out, _ = revise("{teacher_reasoning}: hm.\n{corrected_student_solution}:")
    assert isinstance(out, Rejected) and out.reason == "the revision is empty"
    out, _ = revise(lambda req, j: ("{corrected_student_solution}: The capital of", None, "length"))
    assert isinstance(out, Rejected) and "max_tokens" in out.reason
    with pytest.raises(RowError, match="no {corrected_student_solution} part"):
        revise("The capital is Canberra.")
    out, requests = revise("unused", row={ID: "r", "prompt": "Q?", "response": "  "})
    assert isinstance(out, Rejected) and "no answer to revise" in out.reason and not requests


def test_structured_revisions_use_a_schema():
    value = {"teacher_reasoning": "Wrong city.", "corrected_student_solution": "The capital of Australia is Canberra."}
    (row,), (req,) = revise(json.dumps(value), structured=True)
    assert set(req.json_schema["required"]) == {"teacher_reasoning", "corrected_student_solution"}
    assert "Answer with one JSON object" in user_text(req)
    assert (row["chosen"], row["revision_rationale"]) == ("The capital of Australia is Canberra.", "Wrong city.")


def test_recipe_on_a_scripted_model(tmp_path, scripted_model):
    def reply(req):
        if req.json_schema:  # the reviser
            return json.dumps({"teacher_reasoning": "Be precise.", "corrected_student_solution": "A precise answer."})
        return "A vague answer."
    spec = scripted_model(reply)
    out = tmp_path / "clair"
    run = run_recipe("clair", out, f"models.reviser.spec={spec}", "reviser=reviser", extra_cli_args=("-n", "2", "--model", spec))
    data, rejected, errors = completed_outputs(run, out)
    assert len(data) == 2 and not rejected and not errors
    assert all((r["chosen"], r["rejected"], r["chosen_model"], r["rejected_model"]) ==
               ("A precise answer.", "A vague answer.", "reviser", "default") for r in data)
    assert all(r["edit_distance"] > 0 and 0 < r["edit_ratio"] <= 1 for r in data)


@needs_embedded
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "clair"
    run = run_recipe("clair", out, "answer_max_tokens=24", "revision_max_tokens=96", "steps.revise.max_rationale_chars=32",
                     extra_cli_args=("-n", "1"))
    assert run["status"] == "completed" and run["counts"]["revise"]["in"] == 1
    for r in side_rows(out, "rejected"):
        assert r["_rejected_by"] == "revise" and r["_reason"]
