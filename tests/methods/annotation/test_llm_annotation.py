"""LLM annotation against human labels: the per-row mark, the report after a run (with a known kappa, from
a scripted annotator whose mistakes are chosen), the card section, and the recipe on the embedded model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthloom.methods.annotation.llm_annotation import LabelAgreement
from synthloom.records import ID
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import user_text

BUNDLED = Path(__file__).parents[3] / "src/synthloom/recipes/builtin/annotation_sentiment.jsonl"
LABELS = ["positive", "negative", "neutral"]


def test_rows_are_marked_and_a_missing_human_label_is_an_error():
    step = LabelAgreement("agree")
    assert step.map({ID: "r", "label": "positive", "human_label": "positive"})["agrees"] is True
    assert step.map({ID: "r", "label": "neutral", "human_label": "positive"})["agrees"] is False
    with pytest.raises(ValueError, match="column 'human_label' is empty"):
        step.map({ID: "r", "label": "neutral", "human_label": ""})
    with pytest.raises(ValueError, match="name the same column"):
        LabelAgreement("agree", label="x", human_label="x")


def test_the_bundled_set_is_balanced_over_three_labels():
    rows = [json.loads(line) for line in BUNDLED.read_text().splitlines()]
    assert len(rows) == 60 and {lab: sum(r["human_label"] == lab for r in rows) for lab in LABELS} == dict.fromkeys(LABELS, 20)


def test_recipe_reports_the_kappa_of_a_scripted_annotator_with_known_mistakes(tmp_path, scripted_model):
    human = {r["text"]: r["human_label"] for r in map(json.loads, BUNDLED.read_text().splitlines())}

    def reply(req):  # right on positive and negative, calls every neutral sentence positive
        text = user_text(req)
        gold = next(label for sentence, label in human.items() if sentence in text)
        return json.dumps({"label": "positive" if gold == "neutral" else gold})

    out = tmp_path / "ann"
    run = run_recipe("llm-annotation", out, extra_cli_args=("--model", scripted_model(reply)))
    data, rejected, errors = completed_outputs(run, out)
    assert len(data) == 60 and not rejected and not errors
    assert sum(r["agrees"] for r in data) == 40
    report = json.loads((out / "agreement" / "agreement.json").read_text())
    # p_o = 40/60; gold 20/20/20, predicted 40/20/0: p_e = (20*40 + 20*20 + 0) / 60^2 = 1/3 -> kappa = (2/3-1/3)/(2/3) = 0.5
    assert report["n"] == 60 and report["accuracy"] == pytest.approx(2 / 3) and report["kappa"] == pytest.approx(0.5)
    assert report["confusion"] == {"labels": LABELS, "matrix": [[20, 0, 0], [0, 20, 0], [20, 0, 0]]}
    assert report["per_class"]["positive"]["precision"] == pytest.approx(0.5) and report["per_class"]["neutral"]["recall"] == 0
    card = (out / "card.md").read_text()
    assert "## Agreement with the human labels" in card and "Cohen's kappa: 0.500" in card and "Zhu et al. 2023" in card


@needs_embedded
@pytest.mark.slow
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "ann"
    run = run_recipe("llm-annotation", out, extra_cli_args=("-n", "2"))
    data, _, errors = completed_outputs(run, out)
    assert not errors and len(data) == 2 and all(r["label"] in LABELS for r in data)  # the grammar keeps it in the set
    report = json.loads((out / "agreement" / "agreement.json").read_text())
    assert report["n"] == 2 and report["accuracy"] == sum(r["agrees"] for r in data) / 2
