"""WRAP rephrasing: the paper's prompts per style, the rejections this step adds, and the recipe
(documents → chunks → rephrasings → 1:1 mix) end to end on a scripted model and on the embedded model."""

from __future__ import annotations

import json

import pytest

from synthloom.io.text_tokenizers import load_tokenizer
from synthloom.methods.corpus.wrap import STYLES, WrapRephrase, strip_preamble
from synthloom.pipeline.step import Rejected
from synthloom.records import ID
from synthloom.testing.documents import write_html, write_pdf
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


def passage(req) -> str:
    return user_text(req).split("\n\n", 1)[1]


def test_recipe_reads_chunks_rephrases_and_mixes_1_to_1_on_a_scripted_model(tmp_path, scripted_model):
    spec = scripted_model(lambda req: "Question: What does the passage say? Answer: " + passage(req)[: 40 + len(passage(req)) // 2])
    out = tmp_path / "wrap"
    run = run_recipe("wrap", out, "style=qa", "chunk_tokens=60", extra_cli_args=("-n", "3", "--model", spec))
    data, rejected, errors = completed_outputs(run, out)
    counts = run["counts"]
    assert counts["documents"]["ok"] == 3 and counts["chunks"]["out"] > 3 and not errors
    assert counts["rephrase"]["in"] == counts["chunks"]["out"] == counts["rephrase"]["ok"]
    manifest = json.loads((out / "mix_manifest.json").read_text())
    tokenizer = load_tokenizer("embedded")
    for kind in ("real", "synthetic"):
        assert sum(tokenizer.count(r["text"]) for r in data if r["kind"] == kind) == manifest["tokens"][kind]
    assert manifest["ratio_error"] <= 0.01 and manifest["target_real_fraction"] == 0.5
    assert {d["doc_id"] for d in manifest["documents"]} <= {"bread.txt", "composting.html", "tides.md"}
    assert all(r["text"].startswith("Question:") for r in data if r["kind"] == "synthetic")
    assert all("not needed for the mix" in r["_reason"] for r in rejected)
    assert "Log in" not in " ".join(r["text"] for r in data)  # the HTML page's navigation never reaches the data


@needs_embedded
def test_recipe_end_to_end_on_the_embedded_model_reads_an_html_page_and_a_pdf(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    write_html(folder)
    write_pdf(folder)
    out = tmp_path / "wrap"
    run = run_recipe("wrap", out, f"input={folder}", "chunk_tokens=64", "steps.rephrase.max_tokens=64",
                     extra_cli_args=("-n", "2"))
    counts = run["counts"]
    assert run["status"] == "completed" and counts["documents"]["ok"] == 2 and counts["chunks"]["out"] >= 2
    assert counts["rephrase"]["in"] == counts["chunks"]["out"]
    for r in side_rows(out, "rejected"):  # a 135M model often misses: the machinery says why
        assert r["_rejected_by"] in ("rephrase", "mix") and r["_reason"]
    if counts["rephrase"]["ok"]:  # the mix runs on what the model rephrased
        manifest = json.loads((out / "mix_manifest.json").read_text())
        assert manifest["rows"]["chunks_in"] == counts["rephrase"]["ok"] and manifest["tokens"]["real"] > 0
