"""AgentInstruct-style flows: flow assignment, content transformation, seed instructions per skill,
suggester/editor refinement rounds with per-round lineage, and the built-in recipe end to end on a
scripted model and on the embedded model."""

from __future__ import annotations

import asyncio
import json

import pytest

from synthloom.io.shards import read_shards
from synthloom.methods.instructions.agent_instruct import (
    FLOWS,
    SKILLS,
    AgentInstructFlows,
    AgentInstructRefine,
    AgentInstructSeed,
    AgentInstructTransform,
    join_instruction,
    parse_typed_instructions,
    strip_preamble,
)
from synthloom.pipeline.llm_step import RowError
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import run_recipe, side_rows
from synthloom.testing.scripted import scripted_context


def test_flows_are_assigned_deterministically_and_validated():
    step = AgentInstructFlows("flows", flows=["debate", "poem", "meeting_transcript"], per_document=2)
    kids = step.expand({"id": "doc1", "text": "t"})
    assert len(kids) == 2 and len({k["flow"] for k in kids}) == 2 and kids == step.expand({"id": "doc1", "text": "t"})
    seen = {k["flow"] for i in range(30) for k in step.expand({"id": f"d{i}"})}
    assert seen == {"debate", "poem", "meeting_transcript"}
    assert "identity" not in AgentInstructFlows("f").flows
    with pytest.raises(ValueError, match="unknown transformation flow"):
        AgentInstructFlows("f", flows=["sonnet"])
    with pytest.raises(ValueError, match="per_document"):
        AgentInstructFlows("f", flows=["poem"], per_document=2)


def test_transform_prompts_by_flow_copies_identity_and_rejects_refusals():
    step = AgentInstructTransform("transform")
    prompt = step.prompt({"flow": "meeting_transcript", "text": "Bees dance."})[-1]["content"]
    assert FLOWS["meeting_transcript"]["instructions"] in prompt and prompt.endswith("Text:\nBees dance.")
    step.setup(scripted_context(lambda req: "Sure! Here is the debate:\nAlice: Bees dance.\nBob: They do not."))
    out = asyncio.run(step.process({"id": "x", "flow": "debate", "text": "Bees dance."}))
    assert out[0]["passage"] == "Alice: Bees dance.\nBob: They do not."
    step.setup(scripted_context(lambda req: pytest.fail("identity must not call the model")))
    assert asyncio.run(step.process({"id": "x", "flow": "identity", "text": "Bees dance."}))[0]["passage"] == "Bees dance."
    step.setup(scripted_context(lambda req: "I'm sorry, but I cannot do that."))
    assert isinstance(asyncio.run(step.process({"id": "x", "flow": "poem", "text": "t"})), Rejected)
    with pytest.raises(ValueError, match="known flows"):
        step.prompt({"flow": "haiku", "text": "t"})


def test_typed_instructions_parse_types_positions_and_junk():
    types = ["inference", "main_idea"]
    text = ("Here are the instructions:\n1. [Inference] What can be concluded about bees?\n"
            "2. Summarize the passage's main point.\n3. I'm sorry, I can't.")
    assert parse_typed_instructions(text, types) == [("inference", "What can be concluded about bees?"),
                                                     ("main_idea", "Summarize the passage's main point.")]
    assert parse_typed_instructions("1. [made_up] Q?", types) == [("inference", "Q?")]
    assert parse_typed_instructions("1. [main idea] Instruction: Q?\n2. [inferen", types, truncated=True) == [("main_idea", "Q?")]
    assert strip_preamble("Okay, here's the poem:\nRoses") == "Roses" and strip_preamble("Roses") == "Roses"
    assert join_instruction("P.", "Q?") == "P.\n\nQ?" and join_instruction("", "Q?") == "Q?"


def test_seed_step_samples_question_types_per_passage_and_builds_instructions():
    step = AgentInstructSeed("seed", skill="reading_comprehension", types_per_passage=3)
    rec = {"id": "p1", "passage": "Bees dance to share where flowers are."}
    types = step.chosen_types(rec)
    assert len(types) == 3 and set(types) <= set(SKILLS["reading_comprehension"]["question_types"])
    assert types == step.chosen_types(rec) and len({tuple(step.chosen_types({"id": f"p{i}"})) for i in range(20)}) > 5
    prompt = step.prompt(rec)[-1]["content"]
    assert all(f"- {t}:" in prompt for t in types) and rec["passage"] in prompt
    step.setup(scripted_context(lambda req: "\n".join(f"{i + 1}. [{t}] Question {i}?" for i, t in enumerate(types))))
    rows = asyncio.run(step.process(dict(rec)))
    assert [r["question_type"] for r in rows] == types and rows[0]["instruction"] == f"{rec['passage']}\n\nQuestion 0?"
    assert all(r["skill"] == "reading_comprehension" for r in rows)
    with pytest.raises(ValueError, match="unknown skill"):
        AgentInstructSeed("s", skill="juggling")
    with pytest.raises(ValueError, match="types_per_passage"):
        AgentInstructSeed("s", skill="text_extraction", types_per_passage=9)


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


def agent_script(req) -> str:
    text = req.messages[-1]["content"]
    if text.startswith("You are a content transformation agent"):
        if "chess" in text:
            return "I'm sorry, I can't write that."
        return "Here is the result:\nSpeaker A: " + text.rsplit("Text:\n", 1)[1][:40]
    if text.startswith("You are an instruction-writing agent"):
        types = [ln[2:].split(":", 1)[0] for ln in text.splitlines() if ln.startswith("- ")]
        return "\n".join(f"{i + 1}. [{t}] Question about {t}?" for i, t in enumerate(types))
    if "suggester" in text.split("\n", 1)[0]:
        return "1. Ask for two reasons."
    if "editor" in text.split("\n", 1)[0]:
        return text.split("Instruction: ", 1)[1].split("\n", 1)[0] + " Give two reasons."
    return "The answer."


def test_recipe_end_to_end_on_a_scripted_model(tmp_path, scripted_model):
    out = tmp_path / "agent"
    run = run_recipe("agent-instruct", out, "steps.refine.rounds=2", extra_cli_args=("--model", scripted_model(agent_script)))
    c = run["counts"]
    assert c["documents"]["out"] == 8 and c["flows"]["out"] == 16 and c["transform"]["rejected"] == 2
    assert c["seed_instructions"]["out"] == 2 * c["seed_instructions"]["ok"]
    data = list(read_shards(out / "data"))
    assert len(data) == c["answer"]["out"] and data
    for row in data:
        assert set(row) == {"id", "_lineage", "flow", "skill", "question_type", "passage", "question", "instruction",
                            "response", "refinements"}
        assert row["question"].endswith("Give two reasons. Give two reasons.") and len(row["refinements"]) == 2
        assert row["instruction"] == f"{row['passage']}\n\n{row['question']}" and row["response"] == "The answer."
        assert [(e["step"], e.get("round")) for e in row["_lineage"]] == [
            ("flows", None), ("transform", None), ("seed_instructions", None), ("refine.suggester", 1), ("refine.editor", 1),
            ("refine.suggester", 2), ("refine.editor", 2), ("answer", None)]
    rejected = side_rows(out, "rejected")
    assert len(rejected) == c["transform"]["rejected"]
    assert all(r["_rejected_by"] == "transform" and "the model refused" in r["_reason"] for r in rejected)


@pytest.mark.slow
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "agent"
    run = run_recipe("agent-instruct", out, "flows_per_document=1", "steps.seed_instructions.types_per_passage=1",
                     "steps.refine.rounds=1", "max_tokens=80", "answer_max_tokens=32", "concurrency=4",
                     extra_cli_args=("-n", "1"))
    assert run["status"] == "completed" and run["counts"]["flows"]["out"] == 1
    for row in read_shards(out / "data"):
        assert len(row["refinements"]) == 1 and row["response"] is not None
        assert [e["step"] for e in row["_lineage"]][-3:] == ["refine.suggester", "refine.editor", "answer"]
    for r in side_rows(out, "rejected"):
        assert r["_rejected_by"] in ("transform", "seed_instructions", "refine") and r["_reason"]
    for r in side_rows(out, "errors"):
        assert r["_step"] in ("transform", "seed_instructions", "refine", "answer") and r["_error"]
