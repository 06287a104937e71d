"""Nemotron's instruction-following prompts with verifiable (IFEval-style) constraints: drawing,
joining and recording the spec, checking replies against it, and the recipe's macro-topic →
subtopic chain with several programming languages, on a scripted model."""

from __future__ import annotations

import json
import re
import zlib

import pytest

from synthloom.io.shards import read_shards
from synthloom.methods.instructions.nemotron_constraints import (
    CATALOGUE,
    CONFLICTS,
    NemotronCheckConstraints,
    NemotronConstraints,
    check_constraints,
    draw_constraints,
)
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import run_recipe


def test_draws_are_reproducible_of_distinct_groups_and_never_conflict():
    seen = set()
    for key in range(300):
        drawn = draw_constraints("Write an essay about volcanic islands and their ecology.", key, list(CATALOGUE), 1, 3)
        assert drawn == draw_constraints("Write an essay about volcanic islands and their ecology.", key, list(CATALOGUE), 1, 3)
        ids = [c["id"] for c in drawn]
        assert 1 <= len(ids) <= 3 and len(set(ids)) == len(ids)
        assert not any(frozenset((a, b)) in CONFLICTS for a in ids for b in ids if a != b)
        assert all(c["text"] == CATALOGUE[c["id"]].text(c["kwargs"]) for c in drawn)
        seen.update(ids)
        if "keywords:existence" in ids:
            words = next(c for c in drawn if c["id"] == "keywords:existence")["kwargs"]["keywords"]
            assert set(words) <= {"essay", "volcanic", "islands", "ecology"}  # content words of the prompt
    assert seen == set(CATALOGUE)


@pytest.mark.parametrize("cid, kwargs, good, bad", [
    ("length_constraints:number_words", {"relation": "less than", "num_words": 5}, "Four words are here.",
     "one two three four five six"),
    ("length_constraints:number_sentences", {"relation": "at least", "num_sentences": 2}, "One. Two!", "Only one sentence here."),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "first\n***\nsecond", "first\n\nsecond"),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* a\n* b", "* a\n* b\n* c"),
    ("detectable_format:title", {}, "<<My Title>>\nbody", "My Title\nbody"),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*one* and *two*", "*one* only"),
    ("detectable_format:json_format", {}, '```json\n{"a": 1}\n```', "a: 1"),
    ("startend:quotation", {}, '"all quoted"', 'not "quoted"'),
    ("startend:end_checker", {"end_phrase": "Is there anything else I can help with?"},
     "Done. Is there anything else I can help with?", "Is there anything else I can help with? Bye."),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Body.\nP.S. more", "Body. No postscript."),
    ("change_case:english_lowercase", {}, "all lower here", "Not lower"),
    ("change_case:english_capital", {}, "ALL CAPS", "Some lower"),
    ("punctuation:no_comma", {}, "No commas here.", "Yes, one."),
    ("keywords:existence", {"keywords": ["tide", "moon"]}, "The Moon pulls the tide.", "The moon pulls the sea."),
    ("keywords:forbidden_words", {"forbidden_words": ["moon"]}, "The sun shines.", "The Moon shines."),
])
def test_every_instruction_is_checkable(cid, kwargs, good, bad):
    assert cid in CATALOGUE
    spec = [{"id": cid, "text": CATALOGUE[cid].text(kwargs), "kwargs": kwargs}]
    assert check_constraints(good, spec) == [True] and check_constraints(bad, spec) == [False]


def test_prompts_get_their_constraints_and_the_spec_is_kept():
    rows = [{"id": f"r{i}", "prompt": "Explain how tides work.", "prompt_type": "open_qa"} for i in range(40)]
    step = NemotronConstraints("if", fraction=0.5, max_constraints=2)
    out = [step.map(dict(r)) for r in rows]
    constrained = [r for r in out if r["constraints"]]
    assert 8 <= len(constrained) <= 32 and all(r["base_prompt"] == "Explain how tides work." for r in out)
    for r in out:
        if r["constraints"]:
            assert r["prompt"] != r["base_prompt"] and "Explain how tides work." in r["prompt"]
            assert all(c["text"] in r["prompt"] for c in r["constraints"])
        else:
            assert r["prompt"] == r["base_prompt"]
    assert all(not r["constraints"] for r in map(NemotronConstraints("if", fraction=0).map, rows))
    only_writing = NemotronConstraints("if", fraction=1, prompt_types=["writing"])
    assert not only_writing.map(dict(rows[0]))["constraints"] and "prompt_type" in only_writing.reads
    with pytest.raises(ValueError, match="unknown kind"):
        NemotronConstraints("if", kinds=["case:camel"])
    with pytest.raises(ValueError, match="fraction"):
        NemotronConstraints("if", fraction=2)


def test_the_check_step_reads_the_first_answer_and_can_require_it():
    spec = [{"id": "change_case:english_lowercase", "text": "t", "kwargs": {}},
            {"id": "punctuation:no_comma", "text": "t", "kwargs": {}}]
    row = {"id": "x", "constraints": spec, "messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "yes, fine"},
                                                        {"role": "user", "content": "More"}, {"role": "assistant", "content": "OK"}]}
    out = NemotronCheckConstraints("check").map(dict(row))
    assert out["constraint_results"] == [True, False] and out["constraints_followed"] is False
    verdict = NemotronCheckConstraints("check", require=True).map(dict(row))
    assert isinstance(verdict, Rejected) and "punctuation:no_comma" in verdict.reason and verdict.score == 0.5
    assert NemotronCheckConstraints("check").map({"id": "y", "constraints": [], "messages": []})["constraints_followed"] is None


def script(req) -> str:
    text = req.messages[-1]["content"]
    if "Here is a conversation between a user and an assistant" in text:
        return "Can you give an example?"
    if req.messages[-1]["role"] == "user" and len(req.messages) > 1:
        return "Here is an example."
    if "broad topics" in text:
        return "1. Food and drinks\n2. Technology\n3. Oceans"
    if "topics that together cover different aspects of" in text:
        macro = re.search(r'aspects of "([^"]+)"', text).group(1)
        return f"1. {macro} at home\n2. {macro} at work"
    if "Revise the" in text:
        return "1. Revised: " + text.split("\n", 1)[0]
    if text.startswith("Write") or "questions or tasks about the text" in text:
        return f"1. Prompt {zlib.crc32(text.encode())}?"
    return "a helpful answer without capitals or commas"


def test_recipe_chains_macro_topics_subtopics_and_prompts_on_a_scripted_model(tmp_path, scripted_model):
    out = tmp_path / "nemotron"
    run = run_recipe("nemotron-prompts", out, "subtopics=2", "constrained_fraction=1",
                     extra_cli_args=("--model", scripted_model(script), "-n", "3"))
    c = run["counts"]
    assert c["macro_topics"]["out"] == 3 and c["topics"]["out"] == 6 and c["prompts"]["in"] == 6
    data = list(read_shards(out / "data"))
    assert data and {r["macro_topic"] for r in data} <= {"Food and drinks", "Technology", "Oceans"}
    for row in data:
        assert row["topic"].startswith(row["macro_topic"])  # subtopics are the model's, of their macro topic
        assert row["constraints"] and row["prompt"] != row["base_prompt"] and row["constraints_followed"] in (True, False)
        assert row["messages"][0]["content"] == row["prompt"]
        json.dumps(row["constraints"])
        steps = [e["step"] for e in row["_lineage"]]
        assert steps[:3] == ["macro_topics", "topics", "prompts"]


def test_coding_prompts_cover_several_languages(tmp_path, scripted_model):
    out = tmp_path / "nemotron"
    seen = []

    def reply(req) -> str:
        text = req.messages[-1]["content"]
        if "coding problems" in text:
            seen.append(re.search(r"Write \d+ (.+?) coding problems", text).group(1))
        return script(req)

    run_recipe("nemotron-prompts", out, "answer_max_tokens=8",
               extra_cli_args=("--model", scripted_model(reply), "-n", "3"))
    assert len(set(seen)) >= 2
