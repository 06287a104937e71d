"""CoAnnotating: entropy of the label votes, the prompt variants, routing by threshold and by budget
fraction, the Argilla and Label Studio review files, and the recipe end to end on a scripted model
and on the embedded model."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

import pytest

from synthloom.methods.preference.coannotating import CoAnnotate, CoAnnotateRoute, label_entropy, majority
from synthloom.methods.preference.review_export import argilla_record, label_studio_config, label_studio_task
from synthloom.pipeline.model_step import RowError
from synthloom.pipeline.step import RejectedRow
from synthloom.records import ID
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import ScriptedModel, run_step, scripted_context, user_text

LABELS = ["positive", "negative", "neutral"]


def test_entropy_of_the_votes_and_the_majority_label():
    assert label_entropy(["a"] * 5) == 0.0
    assert label_entropy(["a"] * 4 + ["b"]) == pytest.approx(-(0.8 * math.log(0.8) + 0.2 * math.log(0.2)))
    assert label_entropy(["a", "b", "c"]) == pytest.approx(math.log(3))  # the most uncertain 3 samples can be
    assert majority(["b", "a", "b", "a"], ["a", "b"]) == "a"  # a tie goes to the label listed first
    assert majority(["b", "a", "b"], ["a", "b"]) == "b"


def test_k_constrained_samples_under_varied_prompts_give_votes_and_entropy():
    seen = []

    def reply(req):  # the answer depends on the prompt variant: uncertain on purpose
        text = user_text(req)
        seen.append(text)
        return json.dumps({"label": "negative" if text.startswith(("Question:", "You are annotating")) else "positive"})

    model = ScriptedModel(reply)
    step = CoAnnotate("co", labels=LABELS, instruction="What is the sentiment?", k=5)
    ((row,),) = run_step(step, model, [{ID: "r1", "text": "Fine, I guess."}])
    assert len(model.requests) == 5 and all(r.json_schema["properties"]["label"]["enum"] == LABELS for r in model.requests)
    assert len({r.seed for r in model.requests}) == 5  # self-consistency: each sample its own seed
    assert [t.startswith(("Question:", "You are annotating")) for t in seen] == [False, True, False, True, False]
    assert row["label"] == "positive" and row["label_votes"] == {"positive": 3, "negative": 2, "neutral": 0}
    assert row["label_entropy"] == pytest.approx(label_entropy(["positive"] * 3 + ["negative"] * 2), abs=1e-6)
    assert row["label_agreement"] == 0.6 and row["label_model"] == "default"
    assert row["label_samples"] == ["positive", "negative", "positive", "negative", "positive"]
    assert all("Fine, I guess." in t and "What is the sentiment?" in t for t in seen)
    plain = ScriptedModel(reply)
    run_step(CoAnnotate("co", labels=LABELS, k=3, prompt_variants=False), plain, [{ID: "r1", "text": "Fine."}])
    assert len({user_text(r) for r in plain.requests}) == 1 and "positive, negative, neutral" in user_text(plain.requests[0])


def test_options_and_empty_fields_are_checked():
    with pytest.raises(ValueError, match="labels must list at least two label names"):
        CoAnnotate("co", labels=["yes"])
    with pytest.raises(ValueError, match="n must be 1; set k"):
        CoAnnotate("co", labels=LABELS, n=3)
    with pytest.raises(ValueError, match="fraction .* must be between 0 and 1"):
        CoAnnotateRoute("r", fraction=1.5)
    with pytest.raises(RowError, match="column 'text' is empty"):
        run_step(CoAnnotate("co", labels=LABELS), ScriptedModel(lambda r: "{}"), [{ID: "r1", "text": " "}])


def route(rows, **kw):
    step = CoAnnotateRoute("route", **kw)
    step.setup(scripted_context(lambda req: "", step="route"))
    out = list(step.run(iter(rows)))
    kept = [o[ID] for o in out if not isinstance(o, RejectedRow)]
    review = {o.record[ID]: o.verdict.reason for o in out if isinstance(o, RejectedRow)}
    return kept, review


ROWS = [{ID: f"r{i}", "text": f"t{i}", "label": "positive", "label_entropy": e} for i, e in
        enumerate([0.0, 0.5004, 0.673, 1.05, 0.0, None])]


def test_uncertain_rows_go_to_review_by_threshold_or_by_budget_fraction():
    kept, review = route(ROWS)  # threshold 0.6: 4-1 votes stay, 3-2 votes go
    assert kept == ["r0", "r1", "r4"] and set(review) == {"r2", "r3", "r5"}
    assert "entropy 0.673 >= threshold 0.6; sent to human review" in review["r2"] and "no entropy" in review["r5"]
    kept, review = route(ROWS, fraction=0.4)  # ceil(0.4 * 5 valid rows) = 2 most uncertain
    assert set(review) == {"r3", "r2", "r5"} and "among the 0.4 most uncertain" in review["r3"]
    kept, review = route(ROWS, threshold=0.0)
    assert kept == [] and len(review) == 6


def review_row():
    return {ID: "r7", "text": "Not sure about this lamp.", "label": "neutral", "label_entropy": 0.673,
            "label_agreement": 0.6, "label_votes": {"positive": 2, "negative": 0, "neutral": 3}, "label_model": "annotator",
            "_reason": "uncertain AI label"}


def test_argilla_records_carry_fields_metadata_and_a_scored_suggestion():
    rec = argilla_record(review_row(), label="label", fields=["text"])
    assert rec == {"id": "r7", "fields": {"text": "Not sure about this lamp."},
                   "metadata": {"label_entropy": 0.673, "label_agreement": 0.6},
                   "suggestions": {"label": {"value": "neutral", "score": 0.6, "agent": "annotator"}},
                   "responses": {}, "vectors": {}, "status": "pending"}  # the shape of argilla's Record.to_dict()


def test_label_studio_tasks_carry_data_and_a_choices_prediction_that_fits_the_config():
    task = label_studio_task(review_row(), label="label", fields=["text"])
    assert task["data"]["text"] == "Not sure about this lamp." and task["data"]["synthloom_id"] == "r7"
    (pred,) = task["predictions"]
    assert pred["model_version"] == "annotator" and pred["score"] == 0.6
    (result,) = pred["result"]
    assert result == {"id": "ai-label", "from_name": "label", "to_name": "text", "type": "choices",
                      "value": {"choices": ["neutral"]}}
    view = ET.fromstring(label_studio_config(["text"], LABELS))
    choices = view.find("Choices")
    assert view.find("Text").attrib == {"name": "text", "value": "$text"}
    assert choices.attrib["name"] == result["from_name"] and choices.attrib["toName"] == result["to_name"]
    assert [c.attrib["value"] for c in choices] == LABELS


def test_recipe_on_a_scripted_model_routes_rows_and_writes_the_review_files(tmp_path, scripted_model):
    def reply(req):  # unanimous on clear reviews, split on mixed ones
        text = user_text(req)
        if "but" in text or "though" in text:  # prompt variants 1 and 3 say negative: a 3-3 vote
            return json.dumps({"label": "negative" if text.startswith(("Question:", "You are annotating")) else "positive"})
        return json.dumps({"label": "positive"})

    out = tmp_path / "co"
    run = run_recipe("coannotating", out, "k=6", extra_cli_args=("-n", "8", "--model", scripted_model(reply)))
    data, rejected, errors = completed_outputs(run, out)
    assert not errors and len(data) + len(rejected) == 8 and data and rejected
    assert all(r["label_entropy"] == 0.0 for r in data) and all(r["label_entropy"] >= 0.6 for r in rejected)
    review = out / "review"
    records = json.loads((review / "argilla_records.json").read_text())
    tasks = json.loads((review / "label_studio_tasks.json").read_text())
    assert sorted(r["id"] for r in records) == sorted(r[ID] for r in rejected) and len(tasks) == len(rejected)
    assert all(set(r["suggestions"]["label"]) == {"value", "score", "agent"} for r in records)
    assert all(t["predictions"][0]["result"][0]["value"]["choices"][0] in LABELS for t in tasks)
    readme = (review / "README.md").read_text()
    assert "rg.Record.from_dict" in readme and "label_studio_config.xml" in readme and '"neutral"' in readme
    ET.fromstring((review / "label_studio_config.xml").read_text())


@needs_embedded
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "co"
    run = run_recipe("coannotating", out, "k=3", extra_cli_args=("-n", "2"))
    data, rejected, errors = completed_outputs(run, out)
    assert not errors and len(data) + len(rejected) == 2  # the grammar keeps every sample inside the label space
    for row in data + rejected:
        assert row["label"] in LABELS and sum(row["label_votes"].values()) == 3
    assert len(json.loads((out / "review" / "argilla_records.json").read_text())) == len(rejected)
