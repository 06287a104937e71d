"""Cosmopedia prompts and generation: every (audience, format) pair with its wording, the topic as
context, the generation's rejections, and the recipe end to end (clusters -> labels -> prompts ->
generation -> MinHash dedup -> decontamination) on a scripted model and on the embedded model."""

from __future__ import annotations

import json

import pytest

from synthloom.methods.corpus.cosmopedia import AUDIENCES, FORMATS, CosmopediaGenerate, CosmopediaPrompts, draw_pairs
from synthloom.pipeline.step import Rejected
from synthloom.records import ID
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe, side_rows
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

SEED = ("Photosynthesis takes place in the chloroplasts of plant cells. Using energy from sunlight, the plant "
        "splits water and turns carbon dioxide from the air into sugars, releasing oxygen.")
WORDING = {"textbook": "unit of a textbook", "blog post": "blog post", "wikihow": "style of WikiHow",
           "story": "educational story", "young children": "five to ten years old",
           "high school students": "high school students with no prior knowledge", "college students": "academic",
           "researchers": "Do not invent references"}


def prompts(step: CosmopediaPrompts, record: dict | None = None) -> list[dict] | Rejected:
    (out,) = run_step(step, ScriptedModel(lambda req: ""), [record or {ID: "r1", "text": SEED, "topic": "Plant Biology"}])
    return out


def test_every_audience_and_format_pair_gets_its_own_wording_and_the_topic_as_context():
    rows = prompts(CosmopediaPrompts("prompts", per_seed=16))
    assert sorted((r["audience"], r["format"]) for r in rows) == sorted((a, f) for a in AUDIENCES for f in FORMATS)
    assert len({r[ID] for r in rows}) == 16 and all(r[ID] != "r1" for r in rows)
    for r in rows:
        p = r["prompt"]
        assert p.startswith(f'Here is an extract from a web page: "{SEED}".')
        assert WORDING[r["format"]] in p and WORDING[r["audience"]] in p and f"for {r['audience']}" in p
        assert 'within the context of "Plant Biology"' in p and p.endswith("Do not use images.")
        assert "text" not in r and r["seed_text"] == SEED and r["topic"] == "Plant Biology"
        assert r["_lineage"] == [{"step": "prompts", "parent": "r1"}]
    (one,) = prompts(CosmopediaPrompts("prompts", extract_chars=60, topic_probability=0.0))
    assert '"Photosynthesis takes place in the chloroplasts of plant"' in one["prompt"]
    assert "within the context" not in one["prompt"]


def test_pairs_are_drawn_from_the_id_and_limited_to_the_chosen_lists():
    assert draw_pairs("a", AUDIENCES, FORMATS, 3) == draw_pairs("a", AUDIENCES, FORMATS, 3)
    assert draw_pairs("a", AUDIENCES, FORMATS, 16) != draw_pairs("b", AUDIENCES, FORMATS, 16)
    rows = prompts(CosmopediaPrompts("prompts", audiences=["young children"], formats=["story", "wikihow"], per_seed=5))
    assert sorted(r["format"] for r in rows) == ["story", "wikihow"] and {r["audience"] for r in rows} == {"young children"}
    out = prompts(CosmopediaPrompts("prompts"), {ID: "r2", "text": "  ", "topic": "x"})
    assert isinstance(out, Rejected) and "no seed text" in out.reason
    with pytest.raises(ValueError, match="audiences must be a non-empty list of .*unknown: 'toddlers'"):
        CosmopediaPrompts("p", audiences=["toddlers"])
    with pytest.raises(ValueError, match="formats must be a non-empty list"):
        CosmopediaPrompts("p", formats=[])


LONG = " ".join(f"word{i}" for i in range(120))


def generate(reply, **kw):
    model = ScriptedModel(reply)
    (out,) = run_step(CosmopediaGenerate("generate", **kw), model, [{ID: "p1", "prompt": "Write a story.", "format": "story"}])
    return out, model.requests


def test_generation_uses_the_papers_sampling_and_rejects_what_cannot_be_training_text():
    (row,), (req,) = generate(lambda req: f"Sure! Here is the story:\n\n{LONG}")
    assert row["text"] == LONG and row[ID] == "p1" and user_text(req) == "Write a story."
    assert (req.temperature, req.top_p, req.max_tokens) == (0.6, 0.95, 2500)
    out, _ = generate(lambda req: "A short tale.")
    assert isinstance(out, Rejected) and out.reason == "the generation has 3 words (min_words 100)"
    (row,), _ = generate(lambda req: "A short tale.", min_words=2)
    assert row["text"] == "A short tale."
    out, _ = generate(lambda req, j: (LONG, None, "length"))
    assert isinstance(out, Rejected) and "max_tokens" in out.reason
    (row,), _ = generate(lambda req, j: (LONG, None, "length"), reject_truncated=False)
    assert row["text"] == LONG
    out, _ = generate(lambda req: "I'm sorry, but I cannot write that story for you.")
    assert isinstance(out, Rejected) and "refused" in out.reason


BENCH_QUESTION = ("Maya buys 3 packs of pencils with 12 pencils in each pack and gives 7 pencils to her brother. "
                  "How many pencils does she have left?")


def recipe_reply(req) -> str:
    text = user_text(req)
    if req.json_schema is not None:  # the cluster labeller
        return json.dumps({"topic": "Everyday Science", "educational_value": 7})
    extract = text.split('"', 2)[1]
    if "Jupiter" in extract:  # a generation that copies a benchmark item
        return f"{extract} {BENCH_QUESTION} {extract}"
    if "Tomato" in extract or "raised-bed" in extract:  # two seeds, one text: a near-duplicate pair
        return f"Gardens need planning. {LONG}"
    return " ".join([extract] * 3)


def test_recipe_on_a_scripted_model_clusters_labels_generates_dedups_and_decontaminates(tmp_path, scripted_model):
    spec = scripted_model(recipe_reply)
    out = tmp_path / "cosmopedia"
    run = run_recipe("cosmopedia", out, extra_cli_args=("-n", "8", "--model", spec))
    data, rejected, errors = completed_outputs(run, out)
    counts = run["counts"]
    assert counts["topics"]["ok"] == 8 and counts["generate"]["ok"] == 8 and not errors
    assert counts["unique"]["rejected"] == 1 and counts["decontaminate"]["rejected"] == 1 and len(data) == 6
    assert {r["_rejected_by"] for r in rejected} == {"unique", "decontaminate"}
    (contaminated,) = [r for r in rejected if r["_rejected_by"] == "decontaminate"]
    assert "bench_sample.jsonl row 0" in contaminated["_reason"]
    for row in data:
        assert set(row) >= {"topic", "educational_value", "audience", "format", "seed_text", "prompt", "text"}
        assert row["topic"] == "Everyday Science" and row["audience"] in AUDIENCES and row["format"] in FORMATS
        assert row["seed_text"][:40] in row["prompt"]
        assert row["seed_text"] in row["text"] or row["text"].startswith("Gardens need planning.")
    assert sum(r["text"].startswith("Gardens need planning.") for r in data) == 1  # the near-duplicate's survivor


@needs_embedded
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "cosmopedia"
    run = run_recipe("cosmopedia", out, "max_tokens=32", "steps.topics.min_educational_value=1",
                     "steps.generate.min_words=5", extra_cli_args=("-n", "2"))
    assert run["status"] == "completed" and run["counts"]["seeds"]["out"] == 2
    for step, c in run["counts"].items():
        assert c["in"] == c["ok"] + c["rejected"] + c["errors"], step
    assert run["counts"]["topics"]["ok"] + run["counts"]["topics"]["rejected"] == 2
    assert run["usage"]["by_step"] and {u["step"] for u in run["usage"]["by_step"]} >= {"topics"}
    assert run["counts"]["prompts"]["in"] == run["counts"]["topics"]["ok"]
    for r in side_rows(out, "rejected"):  # 32 tokens rarely finish a text: the machinery says why
        assert r["_rejected_by"] and r["_reason"]
