"""TinyStories-Instruct: the summary step and the four instruction kinds in random subsets and orders."""

from __future__ import annotations

from collections import Counter

import pytest

from synthloom.methods.corpus.tinystories_instruct import KINDS, TinyStoriesInstruct, TinyStoriesSummary, story_sentences
from synthloom.pipeline.step import Rejected
from synthloom.records import ID
from synthloom.testing.scripted import ScriptedModel, run_step, user_text


def test_summary_and_instruction_kinds_in_random_subsets_and_orders():
    story = ('Lily had a shiny red ball. "Can I play?" asked Tom. They played all day in the park.\n\n'
             "At night, the ball was lost. Lily was sad, but Tom found it under the bed.")
    assert story_sentences(story)[0] == "Lily had a shiny red ball."
    model = ScriptedModel(lambda req: "Summary: Lily and Tom play with a ball and find it again.")
    ((row,),) = run_step(TinyStoriesSummary("summary"), model, [{ID: "r", "story": story}])
    assert row["summary"] == "Lily and Tom play with a ball and find it again." and story in user_text(model.requests[0])
    cut = ScriptedModel(lambda req, j: ("Lily plays with a ball. Then she loses it and", None, "length"))
    ((row_cut,),) = run_step(TinyStoriesSummary("summary"), cut, [{ID: "r", "story": story}])
    assert row_cut["summary"] == "Lily plays with a ball."
    (none,) = run_step(TinyStoriesSummary("summary"), ScriptedModel(lambda req, j: ("Lily plays with", None, "length")),
                       [{ID: "r", "story": story}])
    assert isinstance(none, Rejected) and "before its first sentence ended" in none.reason
    base = {"story": story, "verb": "play", "noun": "ball", "adjective": "shiny", "features": ["Dialogue", "Twist"],
            "summary": row["summary"]}
    rows = [{**base, ID: f"r{i}"} for i in range(80)]
    out = [r[0] for r in run_step(TinyStoriesInstruct("instruct"), None, rows)]
    kinds = [tuple(r["instruction_kinds"]) for r in out]
    assert {len(k) for k in kinds} == {1, 2, 3, 4} and len(set(kinds)) > 20  # subsets and orders vary
    assert Counter(k for ks in kinds for k in ks).keys() == KINDS.keys()
    for r in out:
        lines = r["instruction"].splitlines()
        assert [ln.split(":", 1)[0] for ln in lines] == [KINDS[k] for k in r["instruction_kinds"]]
        assert r["text"] == f"{r['instruction']}\nStory:\n{story}"
        for ln in lines:
            label, value = ln.split(": ", 1)
            expected = {"Features": "Dialogue, Twist", "Words": "play, ball, shiny", "Summary": row["summary"]}.get(label)
            assert value == expected if expected else value in story_sentences(story)
    again = [r[0] for r in run_step(TinyStoriesInstruct("instruct"), None, [dict(r) for r in rows[:5]])]
    assert [r["instruction"] for r in again] == [r["instruction"] for r in out[:5]]
    ((only,),) = run_step(TinyStoriesInstruct("i", kinds=["summary"]), None, [{**base, ID: "x"}])
    assert only["instruction"] == f"Summary: {row['summary']}"
    with pytest.raises(ValueError, match="kinds must be"):
        TinyStoriesInstruct("i", kinds=["moral"])
