"""AugGPT: k rephrasings per labelled sample with the label kept, the similarity filter after it, and the
recipe on a scripted model and on the embedded model."""

from __future__ import annotations

import re

import pytest

from synthloom.methods.augmentation.auggpt import AugGPT, clean_rephrasing
from synthloom.pipeline.step import Rejected
from synthloom.records import ID
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe, side_rows
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

TEXT = "Fry the onions slowly until they turn soft and golden."


def sample_of(req) -> str:
    return re.search(r"^Sentence: (.*)$", user_text(req), re.MULTILINE).group(1)


def variants(req, j):
    """Choice 0 copies the sample, 1 reorders its words (a rephrasing), 2 drifts, 3 repeats choice 1."""
    text = sample_of(req)
    return [text, "Rephrased sentence: " + " ".join(reversed(text.split())), "Bananas are yellow and grow on trees.",
            " ".join(reversed(text.split()))][j % 4]


def test_k_rephrasings_keep_the_label_and_leave_out_copies():
    model = ScriptedModel(variants)
    (rows,) = run_step(AugGPT("rephrase", k=4), model, [{ID: "r", "text": TEXT, "label": "cooking"}])
    (req,) = model.requests
    assert req.n == 4 and req.temperature == 1.0 and TEXT in user_text(req) and '"cooking" example' in user_text(req)
    assert [r["variant"] for r in rows] == [1, 2] and all(r["label"] == "cooking" and r["text"] == TEXT for r in rows)
    assert rows[0]["augmented"] == " ".join(reversed(TEXT.split()))
    assert len({r[ID] for r in rows}) == 2 and all(r["_lineage"][-1]["parent"] == "r" for r in rows)
    (out,) = run_step(AugGPT("rephrase", k=2), ScriptedModel(lambda req: TEXT), [{ID: "r", "text": TEXT, "label": "x"}])
    assert isinstance(out, Rejected) and "no usable rephrasing" in out.reason and "a copy" in out.reason
    (out,) = run_step(AugGPT("rephrase"), ScriptedModel(variants), [{ID: "r", "text": TEXT}])
    assert isinstance(out, Rejected) and "has no label" in out.reason


def test_max_fanout_bounds_k_and_replies_are_cleaned():
    assert AugGPT("a", k=6, max_fanout=3).k == 3 and AugGPT("a", k=6).k == 6
    assert clean_rephrasing('Rephrased sentence: "Cook the onions."\n\nI hope this helps!') == "Cook the onions."
    with pytest.raises(ValueError, match="k \\(rephrasings per sample\\) must be >= 1"):
        AugGPT("a", k=0)


def test_recipe_on_a_scripted_model_keeps_labels_and_filters_copies_and_drift(tmp_path, scripted_model):
    out = tmp_path / "aug"
    run = run_recipe("auggpt", out, extra_cli_args=("-n", "4", "--model", scripted_model(variants)))
    data, rejected, errors = completed_outputs(run, out)
    assert run["counts"]["rephrase"]["out"] == 8 and not errors  # variants 1 and 2 of each of 4 samples
    assert len(data) == 4 and {r["label"] for r in data} == {"sports", "cooking", "weather", "technology"}
    assert all(r["augmented"] == " ".join(reversed(r["text"].split())) and 0.2 <= r["similarity"] <= 0.9 for r in data)
    assert len(rejected) == 4 and all(r["_rejected_by"] == "similar" and r["_reason"].startswith("drifted") for r in rejected)


@needs_embedded
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "aug"
    run = run_recipe("auggpt", out, "max_tokens=32", extra_cli_args=("-n", "2"))
    assert run["status"] == "completed" and run["counts"]["rephrase"]["in"] == 2
    for row in side_rows(out, "rejected"):
        assert row["_rejected_by"] in ("rephrase", "similar") and row["_reason"]
