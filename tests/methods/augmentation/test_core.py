"""CORE: BM25 retrieval of target-label excerpts, the few-shot edit toward the counterfactual label, the
filter keeping only edits it labels with the target, and the recipe on a scripted and the embedded model."""

from __future__ import annotations

import json
import re

import pytest

from synthloom.methods.augmentation.core import CoreEdit, CoreFilter, CoreRetrieve, LabelledCorpus, load_corpus
from synthloom.pipeline.step import Rejected
from synthloom.records import ID
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe, side_rows
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

CORPUS = [
    {"id": "pasta-bad", "text": "The pasta was soggy and the waiter ignored our table all evening.", "label": "negative"},
    {"id": "pasta-good", "text": "The pasta was superb and the waiter was attentive all evening.", "label": "positive"},
    {"id": "film-bad", "text": "A dull film with a confusing ending.", "label": "negative"},
    {"id": "train-bad", "text": "The train was late and the seats were dirty.", "label": "negative"},
    {"id": "note", "text": "The waiter brought the pasta to the wrong table.", "label": None},
]
EXAMPLE = {ID: "e", "text": "The pasta was fresh and the waiter kept our glasses full all evening.", "label": "positive"}


def test_retrieval_ranks_the_related_target_label_excerpt_first_and_skips_the_other_label():
    corpus = LabelledCorpus(CORPUS)
    hits = corpus.retrieve(EXAMPLE["text"], "negative", 3)
    assert [h["id"] for h in hits] == ["pasta-bad", "note"]  # unlabelled excerpts are eligible; no shared word: not retrieved
    assert hits[0]["score"] > hits[1]["score"] > 0
    assert "pasta-good" in [h["id"] for h in corpus.retrieve(EXAMPLE["text"], None, 5)]
    assert [h["id"] for h in corpus.retrieve(EXAMPLE["text"], "positive", 1)] == ["pasta-good"]
    assert corpus.retrieve(CORPUS[0]["text"], "negative", 5)[0]["id"] != "pasta-bad"  # never the text itself
    assert corpus.retrieve("quantum chromodynamics", "negative", 3) == []


def test_the_bundled_corpus_retrieves_each_bundled_review_its_own_domain(tmp_path):
    corpus = load_corpus()
    assert corpus.retrieve("The hotel room was cramped and the air conditioning rattled all night.", "positive", 1)[0]["id"] == "c04"
    assert corpus.retrieve("The film dragged on for three hours and the ending made no sense.", "positive", 1)[0]["id"] == "c10"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"label": "x"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: a corpus line must be"):
        load_corpus(str(bad))


def test_retrieve_emits_one_row_per_other_label_and_rejects_what_it_cannot_use(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in CORPUS))
    step = CoreRetrieve("retrieve", corpus=str(path), k=2, labels=["positive", "negative", "neutral"])
    (rows,) = run_step(step, None, [EXAMPLE])
    assert [r["target_label"] for r in rows] == ["negative", "neutral"]
    assert [e["id"] for e in rows[0]["excerpts"]] == ["pasta-bad", "note"] and len({r[ID] for r in rows}) == 2
    assert [e["id"] for e in rows[1]["excerpts"]] == ["note"]  # no excerpt is labelled neutral: only the unlabelled one
    (unknown,) = run_step(CoreRetrieve("r", corpus=str(path)), None, [{**EXAMPLE, "label": "meh"}])
    assert isinstance(unknown, Rejected) and "not one of positive, negative" in unknown.reason
    (nothing,) = run_step(CoreRetrieve("r", corpus=str(path)), None, [{**EXAMPLE, "text": "Quantum chromodynamics."}])
    assert isinstance(nothing, Rejected) and "no corpus excerpt" in nothing.reason
    assert CoreRetrieve("r", labels=["a", "b", "c"], max_fanout=1).max_targets == 1
    with pytest.raises(ValueError, match="labels must be two or more"):
        CoreRetrieve("r", labels=["positive"])


def edit_reply(edited):
    def reply(req):
        return json.dumps({"edited": edited(user_text(req))})
    return reply


def test_the_edit_prompt_shows_demonstrations_and_the_excerpts_and_the_row_becomes_the_counterfactual():
    (rows,) = run_step(CoreRetrieve("retrieve", k=2), None, [EXAMPLE])
    model = ScriptedModel(edit_reply(lambda prompt: "The pasta was soggy and the waiter ignored us all evening."))
    ((row,),) = run_step(CoreEdit("edit"), model, rows)
    prompt = user_text(model.requests[0])
    assert prompt.count("Edited text (") == 3 and "The soup was cold and bland" in prompt  # two demonstrations + the task
    assert "- The pasta was soggy and the waiter ignored us for most of the evening." in prompt
    assert prompt.rstrip().endswith("Edited text (negative):") and f"Text (positive): {EXAMPLE['text']}" in prompt
    assert model.requests[0].json_schema["required"] == ["edited"]
    assert (row["text"], row["label"]) == ("The pasta was soggy and the waiter ignored us all evening.", "negative")
    assert (row["original_text"], row["original_label"]) == (EXAMPLE["text"], "positive") and row[ID] == rows[0][ID]
    (same,) = run_step(CoreEdit("e"), ScriptedModel(edit_reply(lambda p: EXAMPLE["text"].upper())), rows)
    assert isinstance(same, Rejected) and "gives back the original" in same.reason
    (long,) = run_step(CoreEdit("e", max_length_ratio=1.5), ScriptedModel(edit_reply(lambda p: "word " * 40)), rows)
    assert isinstance(long, Rejected) and "max_length_ratio 1.5" in long.reason
    (cut,) = run_step(CoreEdit("e"), ScriptedModel(lambda req, j: ('{"edited": "The pasta', None, "length")), rows)
    assert isinstance(cut, Rejected) and "max_tokens" in cut.reason
    (none,) = run_step(CoreEdit("e", demonstrations=[]), model, rows)
    assert "soup" not in user_text(model.requests[-1]) and none[0]["label"] == "negative"
    with pytest.raises(ValueError, match="demonstration 0 needs"):
        CoreEdit("e", demonstrations=[{"text": "x"}])


def test_the_filter_keeps_a_counterfactual_only_when_it_predicts_the_target_label():
    def reply(req):
        text = re.search(r"^Text: (.*)$", user_text(req), re.MULTILINE).group(1)
        return json.dumps({"label": "negative" if "soggy" in text else "positive"})

    model = ScriptedModel(reply)
    flipped = {ID: "a", "text": "The pasta was soggy.", "label": "negative"}
    unflipped = {ID: "b", "text": "The pasta was fine.", "label": "negative"}
    kept, dropped = run_step(CoreFilter("filter"), model, [flipped, unflipped])
    assert kept[0]["filter_label"] == "negative" and kept[0]["label"] == "negative"
    assert isinstance(dropped, Rejected) and dropped.reason == "the filter labels the text 'positive', not the target 'negative'"
    assert model.requests[0].json_schema["properties"]["label"]["enum"] == ["positive", "negative"]
    assert model.requests[0].temperature == 0.0
    assert CoreFilter("f").read_label("I'd say Negative rather than positive") == "negative"
    (unsure,) = run_step(CoreFilter("f"), ScriptedModel(lambda req: "no idea"), [flipped])
    assert isinstance(unsure, Rejected) and "no label" in unsure.reason


def test_recipe_on_a_scripted_model_keeps_only_filter_agreed_counterfactuals(tmp_path, scripted_model):
    def reply(req):
        if req.json_schema and "label" in req.json_schema["properties"]:
            text = re.search(r"^Text: (.*)$", user_text(req), re.MULTILINE).group(1)
            return json.dumps({"label": "negative" if "awful" in text else "positive"})
        return json.dumps({"edited": "It was awful, honestly."})

    out = tmp_path / "core"
    run = run_recipe("core", out, extra_cli_args=("-n", "4", "--model", scripted_model(reply)))
    data, rejected, errors = completed_outputs(run, out)
    assert run["counts"]["retrieve"]["out"] == 4 and not errors
    assert data and all(r["label"] == r["filter_label"] == "negative" != r["original_label"] for r in data)
    assert all(r["excerpts"] and r["excerpts"][0]["label"] == "negative" for r in data)
    assert {r["_rejected_by"] for r in rejected} == {"filter"}
    assert all("not the target 'positive'" in r["_reason"] for r in rejected)


@needs_embedded
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "core"
    run = run_recipe("core", out, "k=1", "steps.edit.max_tokens=48", extra_cli_args=("-n", "1"))
    assert run["status"] == "completed" and run["counts"]["edit"]["in"] == 1
    for row in side_rows(out, "rejected"):
        assert row["_rejected_by"] in ("retrieve", "edit", "filter") and row["_reason"]
