"""DISCO: spans × target labels, the constrained fill spliced into the premise, the teacher keeping only
counterfactuals labelled with their target, and the recipe on a scripted model and the embedded model."""

from __future__ import annotations

import json
import re

import pytest

from synthloom.methods.augmentation.disco import BLANK, DiscoGenerate, DiscoSpans, DiscoTeacher, candidate_spans, first_phrase
from synthloom.pipeline.step import Rejected
from synthloom.records import ID
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe, side_rows
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

PAIR = {ID: "p", "premise": "A man in a red jacket is playing the guitar on a busy street.",
        "hypothesis": "A musician is performing outdoors on the street.", "label": "entailment"}


def test_spans_are_content_words_hypothesis_overlap_first_and_each_gets_every_other_label():
    spans = [PAIR["premise"][a:b] for a, b in candidate_spans(PAIR["premise"], PAIR["hypothesis"])]
    assert spans == ["busy street", "man", "red jacket", "playing", "guitar"]
    (rows,) = run_step(DiscoSpans("spans", max_spans=2), None, [PAIR])
    assert [(r["span"], r["target_label"]) for r in rows] == [("busy street", "neutral"), ("busy street", "contradiction"),
                                                              ("man", "neutral"), ("man", "contradiction")]
    assert rows[0]["masked_premise"] == f"A man in a red jacket is playing the guitar on a {BLANK}."
    assert len({r[ID] for r in rows}) == 4 and DiscoSpans("s", max_spans=5, max_fanout=3).max_spans == 3
    (out,) = run_step(DiscoSpans("spans"), None, [{**PAIR, "label": "maybe"}])
    assert isinstance(out, Rejected) and "not one of" in out.reason


def fill_reply(fills):
    def reply(req):
        masked = re.search(r"^Sentence: (.*)$", user_text(req), re.MULTILINE).group(1)
        return json.dumps({"fill": fills(masked, user_text(req))})
    return reply


def test_the_fill_is_asked_under_a_schema_and_spliced_into_the_counterfactual_pair():
    (spans,) = run_step(DiscoSpans("spans", max_spans=1), None, [PAIR])
    model = ScriptedModel(fill_reply(lambda masked, prompt: "quiet library" if "definitely false" in prompt else "lane"))
    out = run_step(DiscoGenerate("counterfactual"), model, spans)
    assert all(req.json_schema["properties"]["fill"]["type"] == "string" for req in model.requests)
    assert "might be true or might be false" in user_text(model.requests[0])
    neutral, contradiction = out[0][0], out[1][0]
    assert contradiction["premise"] == "A man in a red jacket is playing the guitar on a quiet library."
    assert (contradiction["label"], contradiction["original_label"]) == ("contradiction", "entailment")
    assert contradiction["original_premise"] == PAIR["premise"] and neutral["label"] == "neutral"
    (same,) = run_step(DiscoGenerate("c"), ScriptedModel(fill_reply(lambda m, p: "busy street")), spans[:1])
    assert isinstance(same, Rejected) and "original premise" in same.reason
    (long,) = run_step(DiscoGenerate("c", max_fill_words=2), ScriptedModel(fill_reply(lambda m, p: "a b c")), spans[:1])
    assert isinstance(long, Rejected) and "max_fill_words 2" in long.reason
    assert first_phrase('{"fill": "quiet library') == "quiet library" and first_phrase('Phrase: "a lane"\nok') == "a lane"
    (cut,) = run_step(DiscoGenerate("c"), ScriptedModel(lambda req, j: ('{"fill": "a very', None, "length")), spans[:1])
    assert isinstance(cut, Rejected) and "max_tokens" in cut.reason


def test_the_teacher_keeps_only_pairs_it_labels_with_the_target():
    model = ScriptedModel(lambda req: json.dumps({"label": "contradiction"}))
    rows = [{**PAIR, ID: "a", "label": "contradiction"}, {**PAIR, ID: "b", "label": "neutral"}]
    kept, dropped = run_step(DiscoTeacher("teacher"), model, rows)
    assert kept[0]["teacher_label"] == "contradiction" and kept[0]["label"] == "contradiction"
    assert isinstance(dropped, Rejected) and dropped.reason == "the teacher labels the pair 'contradiction', not the target 'neutral'"
    schema = model.requests[0].json_schema
    assert schema["properties"]["label"]["enum"] == ["entailment", "neutral", "contradiction"]
    assert model.requests[0].temperature == 0.0 and f"Premise: {PAIR['premise']}" in user_text(model.requests[0])
    assert DiscoTeacher("t").read_label("I think it is Neutral, not entailment.") == "neutral"
    with pytest.raises(ValueError, match="labels must be"):
        DiscoTeacher("t", labels=["yes", "no"])


def test_recipe_on_a_scripted_model_keeps_teacher_agreed_counterfactuals(tmp_path, scripted_model):
    def reply(req):
        if req.json_schema and "label" in req.json_schema["properties"]:
            return json.dumps({"label": "contradiction"})
        return json.dumps({"fill": "sleeping"})

    out = tmp_path / "disco"
    run = run_recipe("disco", out, extra_cli_args=("-n", "3", "--model", scripted_model(reply)))
    data, rejected, errors = completed_outputs(run, out)
    assert run["counts"]["spans"]["out"] == 12 and not errors  # 3 pairs x 2 spans x 2 other labels
    assert data and all(r["label"] == r["teacher_label"] == "contradiction" != r["original_label"] for r in data)
    assert all(r["premise"] != r["original_premise"] and "sleeping" in r["premise"] for r in data)
    assert {r["_rejected_by"] for r in rejected} <= {"teacher", "counterfactual"}
    assert all("not the target" in r["_reason"] for r in rejected if r["_rejected_by"] == "teacher")


@needs_embedded
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "disco"
    run = run_recipe("disco", out, "max_spans=1", extra_cli_args=("-n", "1"))
    assert run["status"] == "completed" and run["counts"]["teacher"]["in"] >= 1
    for row in side_rows(out, "rejected"):
        assert row["_rejected_by"] in ("spans", "counterfactual", "teacher") and row["_reason"]
