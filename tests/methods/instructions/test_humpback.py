"""Humpback: the backward (document → instruction) step, the 5-point self-curation prompt and its
score parsing, and the built-in recipe end to end on a scripted model and on the embedded model."""

from __future__ import annotations

import asyncio
import json

import pytest

from synthloom.io.shards import read_shards
from synthloom.methods.instructions.humpback import (
    WEB_TAG,
    HumpbackBackward,
    HumpbackCurate,
    load_examples,
    parse_instruction,
)
from synthloom.pipeline.llm_step import RowError
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import run_recipe, side_rows
from synthloom.testing.scripted import ScriptedModel, scripted_context, user_text


@pytest.mark.parametrize("reply, expected", [
    ("Instruction: Explain how composting works.", "Explain how composting works."),
    ('"How do bicycle gears work?"\n\nResponse: Bicycle gears change...', "How do bicycle gears work?"),
    ("Here is the instruction:\nDescribe the water cycle.", "Describe the water cycle."),
    ("**Instruction:** Summarize the history of printing.\nOutput: In 1440...", "Summarize the history of printing."),
    ("Write a guide to budgeting.\n\nThis instruction asks for...", "Write a guide to budgeting."),
    ("", ""),
])
def test_parse_instruction(reply, expected):
    assert parse_instruction(reply) == expected


def test_the_demonstrations_a_file_names_are_part_of_the_fingerprint(tmp_path):
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(json.dumps({"instruction": "Say hi.", "output": "Hi!"}) + "\n")
    before = HumpbackBackward("backward", examples=str(seeds)).describe()
    seeds.write_text(json.dumps({"instruction": "Say bye.", "output": "Bye!"}) + "\n")
    after = HumpbackBackward("backward", examples=str(seeds)).describe()
    assert before["options"] == after["options"] and before != after


def test_backward_prompt_shows_seed_pairs_and_the_document(tmp_path):
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(json.dumps({"instruction": "Say hi.", "output": "Hi!"}) + "\n")
    step = HumpbackBackward("backward", examples=str(seeds))
    text = step.prompt({"text": "Castling moves two pieces."})[-1]["content"]
    assert "Example 1\nResponse:\nHi!\nInstruction: Say hi." in text and text.endswith("Castling moves two pieces.\nInstruction:")
    with pytest.raises(ValueError, match="does not exist"):
        load_examples(str(tmp_path / "nope.jsonl"))
    with pytest.raises(ValueError, match="seed example 0"):
        load_examples([{"instruction": "x"}])


def test_backward_step_rejects_refusals_and_overlong_instructions():
    step = HumpbackBackward("backward", max_words=5)
    rec = {"id": "d", "text": "Some document."}
    step.setup(scripted_context(lambda req: "Instruction: Explain the document briefly."))
    out = asyncio.run(step.process(dict(rec)))
    assert out[0]["instruction"] == "Explain the document briefly." and out[0]["output"] == "Some document."
    step.setup(scripted_context(lambda req: "I'm sorry, I cannot help with that."))
    assert isinstance(asyncio.run(step.process(dict(rec))), Rejected)
    step.setup(scripted_context(lambda req: "Please explain every single detail of this very long document."))
    verdict = asyncio.run(step.process(dict(rec)))
    assert isinstance(verdict, Rejected) and verdict.score == 10.0
    step.setup(scripted_context(lambda req: "   "))
    with pytest.raises(RowError):
        asyncio.run(step.process(dict(rec)))


def test_curation_prompt_is_the_papers_five_point_scale():
    step = HumpbackCurate("curate")
    text = step.prompt({"instruction": "Explain tides.", "output": "The moon pulls the sea."})[-1]["content"]
    assert text.startswith("Below is an instruction from an user and a candidate answer.")
    for grade in range(1, 6):
        assert f"\n{grade}: It means" in text
    assert 'write "Score: <rating>" in the last line' in text and text.endswith("Explain tides.\n\nThe moon pulls the sea.")


@pytest.mark.parametrize("reply, outcome", [
    ("It is a perfect AI answer.\nScore: 5", 5),
    ("Reads like a blog post.\nScore: 3", "rejected"),
    ("Score: 4/5", "rejected"),
    ("1. It is perfect.\n2. It is clear.", "error"),
    ('I will write "Score: <rating>"', "error"),
])
def test_curation_keeps_five_rejects_lower_with_the_score_and_errors_without_one(reply, outcome):
    step = HumpbackCurate("curate")
    step.setup(scripted_context(lambda req: reply))
    rec = {"id": "x", "instruction": "i", "output": "o"}
    if outcome == "error":
        with pytest.raises(RowError, match="Score"):
            asyncio.run(step.process(rec))
        return
    out = asyncio.run(step.process(rec))
    if outcome == "rejected":
        assert isinstance(out, Rejected) and out.score in (3.0, 4.0) and "< 5" in out.reason
    else:
        assert out[0]["score"] == 5 and out[0]["system"] == WEB_TAG and out[0]["curation_reasoning"] == "It is a perfect AI answer."


def test_curation_with_several_samples_uses_the_mean_and_a_lower_threshold():
    step = HumpbackCurate("curate", min_score=4.5, n=3, source_tag=False)
    step.setup(scripted_context(lambda req: ["Score: 5", "Score: 4", "no score"]))
    out = asyncio.run(step.process({"id": "x", "instruction": "i", "output": "o"}))
    assert out[0]["score"] == 4.5 and out[0]["scores"] == [5, 4, None] and "system" not in out[0]
    with pytest.raises(ValueError, match="between 1 and 5"):
        HumpbackCurate("c", min_score=6)


def test_curation_asks_for_a_constrained_score_and_reads_every_sample():
    model = ScriptedModel(lambda req: ['{"reasoning": "a perfect answer", "score": 5}',
                                       '{"reasoning": "fine", "score": 4}', "Score: 5"])
    model.supports_json_schema = True
    step = HumpbackCurate("curate", min_score=4.5, n=3, max_tokens=200)
    step.setup(scripted_context(model))
    out = asyncio.run(step.process({"id": "x", "instruction": "i", "output": "o"}))
    assert list(model.requests[0].json_schema["properties"]) == ["reasoning", "score"]
    assert model.requests[0].json_schema["properties"]["score"]["enum"] == [1, 2, 3, 4, 5]
    assert out[0]["scores"] == [5, 4, 5] and out[0]["curation_reasoning"] == "a perfect answer"
    model.supports_json_schema = False  # a backend that cannot constrain: the paper's free text
    asyncio.run(step.process({"id": "y", "instruction": "i", "output": "o"}))
    assert model.requests[1].json_schema is None


def humpback_script(req) -> str:
    text = user_text(req)
    if text.endswith("Instruction:"):
        doc = text.rsplit("Response:\n", 1)[1]
        return "I'm sorry, I can't." if "chess" in doc else f"Instruction: Write about: {doc[:30]}"
    return "Perfect.\nScore: 5" if "composting" in text.lower() or "bicycle" in text.lower() else "Forum-like.\nScore: 2"


def test_recipe_end_to_end_on_a_scripted_model(tmp_path, scripted_model):
    out = tmp_path / "humpback"
    run = run_recipe("humpback", out, extra_cli_args=("--model", scripted_model(humpback_script)))
    c = run["counts"]
    assert c["documents"]["out"] == 8 and c["backward"]["rejected"] == 1 and c["curate"]["ok"] == 2
    data = list(read_shards(out / "data"))
    assert len(data) == 2
    for row in data:
        assert set(row) == {"id", "_lineage", "instruction", "output", "score", "round_scores", "system"}
        assert row["score"] == 5 and row["system"] == WEB_TAG and row["instruction"].startswith("Write about: ")
        assert [e["step"] for e in row["_lineage"]] == ["backward", "curate", "curate"]  # two rounds of curation
    rejected = side_rows(out, "rejected")
    assert len(rejected) == 6 and {r["_rejected_by"] for r in rejected} == {"backward", "curate"}
    assert all(r["_score"] == 2.0 for r in rejected if r["_rejected_by"] == "curate")


@pytest.mark.slow
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "humpback"
    run = run_recipe("humpback", out, "max_tokens=48", "curation_max_tokens=64", "concurrency=2",
                     extra_cli_args=("-n", "1"))
    assert run["status"] == "completed"
    assert run["rows"]["data"] + run["rows"]["rejected"] + run["rows"]["errors"] == 1
    for row in read_shards(out / "data"):
        assert row["score"] == 5 and row["instruction"]
    for r in side_rows(out, "rejected"):
        assert r["_rejected_by"] in ("backward", "curate") and r["_reason"]
    for r in side_rows(out, "errors"):
        assert r["_step"] in ("backward", "curate") and r["_raw_text"] is not None
