"""AgentInstruct's refinement flow: suggester/editor rounds with their history and per-round lineage,
the instruction rebuilt in the shape it had (passage + question, or the question alone), and the
keep/reject decisions on an editor refusal or a suggester that suggests nothing."""

from __future__ import annotations

import asyncio
import json

import pytest

from synthloom.methods.instructions.agent_instruct import AgentInstructSeed
from synthloom.methods.instructions.agent_instruct_refine import AgentInstructRefine
from synthloom.pipeline.llm_step import RowError
from synthloom.pipeline.step import Rejected
from synthloom.testing.scripted import scripted_context


def test_refinement_runs_n_rounds_with_history_and_round_lineage():
    step = AgentInstructRefine("refine", rounds=2, n_suggestions=2)
    assert step.max_rounds == 2 and [s.name for s in step.body] == ["refine.suggester", "refine.editor"]
    assert {"question", "passage"} <= step.reads and {"refinements", "instruction", "suggestions"} <= step.writes

    def reply(req):
        text = req.messages[-1]["content"]
        current = text.split("Instruction: ", 1)[1].split("\n", 1)[0]
        if "suggester" in text:
            return "1. Require two reasons.\n2. Add a word limit.\n3. Extra."
        return f"New instruction: {current} (harder)"

    step.setup(scripted_context(reply))
    rec = {"id": "q", "passage": "Bees dance.", "question": "Why do bees dance?", "_lineage": [{"step": "seed"}]}
    out = asyncio.run(step.process(rec))[0]
    assert out["question"] == "Why do bees dance? (harder) (harder)" and out["refine_rounds"] == 2
    assert out["instruction"] == "Bees dance.\n\nWhy do bees dance? (harder) (harder)"
    assert [h["round"] for h in out["refinements"]] == [1, 2]
    assert out["refinements"][0] == {"round": 1, "before": "Why do bees dance?",
                                     "suggestions": ["Require two reasons.", "Add a word limit."],
                                     "after": "Why do bees dance? (harder)"}
    assert [(e["step"], e.get("round")) for e in out["_lineage"]] == [
        ("seed", None), ("refine.suggester", 1), ("refine.editor", 1), ("refine.suggester", 2), ("refine.editor", 2)]


def test_the_refinement_agents_templates_and_a_skills_file_are_part_of_the_fingerprint(tmp_path):
    body = AgentInstructRefine("refine").describe()["body"]
    assert [set(b["templates"]) for b in body] == [{"agent_instruct_suggester.jinja"}, {"agent_instruct_editor.jinja"}]
    assert body[0]["options"]["temperature"] == 0.7 and body[1]["options"]["include_passage"] is True
    skills = tmp_path / "skills.json"
    skills.write_text(json.dumps({"trivia": {"description": "Trivia.", "question_types": {"fact": "A fact."}}}))
    before = AgentInstructSeed("seed", skill="trivia", types_per_passage=1, skills_file=str(skills)).describe()
    skills.write_text(json.dumps({"trivia": {"description": "Trivia.", "question_types": {"fact": "A date."}}}))
    after = AgentInstructSeed("seed", skill="trivia", types_per_passage=1, skills_file=str(skills)).describe()
    assert before["options"] == after["options"] and before != after


def test_refinement_rejects_an_editor_refusal_and_errors_without_suggestions():
    step = AgentInstructRefine("refine", rounds=1)
    step.setup(scripted_context(lambda req: "1. Harder." if "suggester" in req.messages[-1]["content"] else "I'm sorry, I cannot."))
    verdict = asyncio.run(step.process({"id": "q", "passage": "", "question": "Q?"}))
    assert isinstance(verdict, Rejected) and verdict.reason.startswith("refine.editor: the model refused") and "(round 1)" in verdict.reason
    step.setup(scripted_context(lambda req: ""))
    with pytest.raises(RowError, match="no suggestions"):
        asyncio.run(step.process({"id": "q", "passage": "", "question": "Q?"}))


def test_a_standalone_question_stays_standalone_and_the_agents_are_told_so():
    seen = []

    def reply(req):
        text = req.messages[-1]["content"]
        seen.append(text)
        if "suggester" in text.split("\n", 1)[0]:
            return "1. Ask for the year as well."
        return "When and where was movable metal type first used?"

    step = AgentInstructRefine("refine", rounds=1)
    step.setup(scripted_context(reply))
    rec = {"id": "q", "passage": "Notes: Jikji, Korea, 1377.", "question": "Where was metal type first used?",
           "instruction": "Where was metal type first used?"}
    out = asyncio.run(step.process(dict(rec)))[0]
    assert out["instruction"] == out["question"] == "When and where was movable metal type first used?"
    assert all("will not see the passage" in t for t in seen)
    shown = {**rec, "instruction": "Notes: Jikji, Korea, 1377.\n\nWhere was metal type first used?"}
    seen.clear()
    out = asyncio.run(step.process(shown))[0]
    assert out["instruction"] == "Notes: Jikji, Korea, 1377.\n\nWhen and where was movable metal type first used?"
    assert not any("will not see the passage" in t for t in seen)
