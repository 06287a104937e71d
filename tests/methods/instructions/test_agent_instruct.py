"""AgentInstruct flows: skill and flow assignment, content transformation (with the search agent's
forced tool call), seed instructions per skill (fixed or per record, with or without the passage),
and the built-in recipe end to end: every one of the 17 skills makes a row on a scripted model, the
rejections are accounted for, and the embedded model runs the machinery. The refinement rounds are
tested in test_agent_instruct_refine.py, the answering agents in test_agent_instruct_answer.py."""

from __future__ import annotations

import asyncio
import json

import pytest

from synthloom.methods.instructions.agent_instruct import (
    ALL_SKILLS,
    FLOWS,
    SKILLS,
    AgentInstructFlows,
    AgentInstructSeed,
    AgentInstructSkills,
    AgentInstructTransform,
    join_instruction,
    parse_typed_instructions,
    strip_preamble,
)
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import ScriptedModel, scripted_context, tool_calls


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


def test_the_taxonomy_has_the_papers_17_skills_each_with_flows_and_question_types():
    assert ALL_SKILLS == ("reading_comprehension", "open_domain_qa", "text_modification", "web_agent", "brain_teaser",
                          "analytical_reasoning", "multiple_choice", "data_to_text", "fermi", "coding", "text_extraction",
                          "text_classification", "retrieval_augmented_generation", "tool_use",
                          "creative_content_generation", "few_shot_reasoning", "conversation")
    for skill, tax in SKILLS.items():
        assert tax["description"] and len(tax["question_types"]) >= 4, skill
        assert tax["flows"] and set(tax["flows"]) <= set(FLOWS), skill
    assert {s for s, t in SKILLS.items() if any(FLOWS[f].get("tool") == "search" for f in t["flows"])} == {
        "open_domain_qa", "retrieval_augmented_generation"}
    assert {s for s, t in SKILLS.items() if t.get("answer_tool") == "run_python"} == {"coding", "analytical_reasoning", "fermi"}


def test_skills_are_assigned_per_document_with_one_of_their_flows():
    step = AgentInstructSkills("skills", per_document=3)
    kids = step.expand({"id": "doc1", "text": "t"})
    assert len(kids) == 3 == len({k["skill"] for k in kids}) and kids == step.expand({"id": "doc1", "text": "t"})
    assert all(k["flow"] in SKILLS[k["skill"]]["flows"] for k in kids)
    seen = {(k["skill"], k["flow"]) for i in range(60) for k in step.expand({"id": f"d{i}"})}
    assert {s for s, _ in seen} == set(ALL_SKILLS) and len({f for _, f in seen}) > 12
    every = AgentInstructSkills("skills", skills=["coding", "fermi"], per_document=2).expand({"id": "x"})
    assert sorted(k["skill"] for k in every) == ["coding", "fermi"]
    assert [k["flow"] for k in every if k["skill"] == "coding"] == ["code_snippet"]
    with pytest.raises(ValueError, match="unknown skill"):
        AgentInstructSkills("s", skills=["juggling"])
    with pytest.raises(ValueError, match="per_document"):
        AgentInstructSkills("s", skills=["coding"], per_document=2)


def search_reply(query: str | None, notes: str = "Hot heaps reach 60 C. [Hot and cold composting]"):
    def reply(req):
        if req.tool_choice == "required":
            assert [t["function"]["name"] for t in req.tools] == ["search_corpus"]
            return tool_calls(("search_corpus", {"query": query})) if query is not None else "I will not search."
        assert req.tool_choice == "none" and req.messages[-1]["role"] == "tool"
        return f"Here are the notes:\n{notes}"
    return reply


def test_the_search_agent_must_call_the_tool_and_its_results_feed_the_write_up():
    step = AgentInstructTransform("transform")
    model = ScriptedModel(search_reply("compost heap temperature"))
    step.setup(scripted_context(model))
    rec = {"id": "d", "flow": "search_notes", "title": "Composting at home", "text": "Composting turns scraps into soil."}
    out = asyncio.run(step.process(dict(rec)))[0]
    assert out["passage"] == "Hot heaps reach 60 C. [Hot and cold composting]"
    assert out["search"]["query"] == "compost heap temperature"
    assert out["search"]["results"][0]["id"] == "compost-temperature" and len(out["search"]["results"]) <= 3
    write_up = model.requests[1].messages
    assert write_up[1]["tool_calls"][0]["function"]["name"] == "search_corpus"
    assert "Hot and cold composting" in write_up[2]["content"] and "55-65" in write_up[2]["content"]
    assert [(e["step"], e.get("tool")) for e in out["_lineage"]] == [("transform", "search_corpus"), ("transform", None)]


def test_the_retrieval_flow_makes_numbered_documents_without_a_second_call():
    step = AgentInstructTransform("transform", search_k=2)
    model = ScriptedModel(search_reply("bicycle gear ratio"))
    step.setup(scripted_context(model))
    rec = {"id": "d", "flow": "retrieved_documents", "title": "How bicycle gears work", "text": "Gears change effort."}
    out = asyncio.run(step.process(dict(rec)))[0]
    assert len(model.requests) == 1 and out["search"]["query"] == "bicycle gear ratio"
    assert out["passage"].startswith("Document [1] How bicycle gears work\nGears change effort.\n\nDocument [2] Gear ratios\n")
    assert "Document [3] Derailleur gears" in out["passage"] and "Document [4]" not in out["passage"]


def test_the_search_agent_is_rejected_without_a_query_or_results():
    step = AgentInstructTransform("transform")
    rec = {"id": "d", "flow": "search_notes", "text": "t"}
    for query, reason in ((None, "made no search_corpus call"), ("   ", "made no search_corpus call"),
                          ("zzzz qqqq", "found nothing in the corpus")):
        step.setup(scripted_context(search_reply(query)))
        verdict = asyncio.run(step.process(dict(rec)))
        assert isinstance(verdict, Rejected) and reason in verdict.reason, (query, verdict)
    step.setup(scripted_context(lambda req: tool_calls(("search_corpus", {"query": "compost"})) if req.tool_choice == "required"
                                else "I'm sorry, I can't help with that."))
    assert isinstance(asyncio.run(step.process(dict(rec))), Rejected)
    with pytest.raises(ValueError, match="search_k"):
        AgentInstructTransform("t", search_k=0)


def test_a_custom_corpus_is_searched_and_part_of_the_fingerprint(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps({"id": "k", "title": "Kites", "text": "Kites fly in wind."}) + "\n")
    step = AgentInstructTransform("transform", corpus=str(corpus))
    step.setup(scripted_context(search_reply("kites")))
    out = asyncio.run(step.process({"id": "d", "flow": "retrieved_documents", "text": "Wind."}))[0]
    assert out["search"]["results"] == [{"id": "k", "title": "Kites", "score": out["search"]["results"][0]["score"]}]
    before = step.describe()
    corpus.write_text(json.dumps({"id": "k", "title": "Kites", "text": "Kites fly in strong wind."}) + "\n")
    other = tmp_path / "other.jsonl"
    other.write_text(corpus.read_text())
    assert AgentInstructTransform("transform", corpus=str(other)).describe()["corpus_digest"] != before["corpus_digest"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": 3}\n')
    with pytest.raises(ValueError, match="bad.jsonl:1: a corpus line must be a JSON object"):
        AgentInstructTransform("t", corpus=str(bad))


def test_generative_flows_are_not_told_to_use_only_the_text():
    step = AgentInstructTransform("transform")
    grounded = step.prompt({"flow": "debate", "text": "t"})[-1]["content"]
    generative = step.prompt({"flow": "code_snippet", "text": "t"})[-1]["content"]
    assert "Use only the information in the text below" in grounded
    assert "Use only the information" not in generative and "Python function" in generative


def test_seed_step_takes_the_skill_of_each_record_and_keeps_standalone_questions_standalone():
    step = AgentInstructSeed("seed", skill=None, types_per_passage=2)
    assert "skill" in step.reads
    odqa = {"id": "p", "skill": "open_domain_qa", "passage": "Notes: Jikji was printed in Korea in 1377."}
    prompt = step.prompt(odqa)[-1]["content"]
    assert "the user will not see the passage" in prompt and "open-domain question answering" in prompt
    step.setup(scripted_context(lambda req: "1. [factoid] Where was the Jikji printed?\n2. When was it printed?"))
    rows = asyncio.run(step.process(dict(odqa)))
    assert [r["instruction"] for r in rows] == ["Where was the Jikji printed?", "When was it printed?"]
    assert all(r["skill"] == "open_domain_qa" for r in rows)
    coding = {"id": "p", "skill": "coding", "passage": "def f(x):\n    return x"}
    assert "will not see" not in step.prompt(coding)[-1]["content"]
    rows = asyncio.run(step.process(dict(coding)))
    assert rows[0]["instruction"].startswith("def f(x):\n    return x\n\n") and rows[0]["skill"] == "coding"
    few = AgentInstructSeed("seed", skill=None, types_per_passage=12)  # more than most skills have: all of theirs
    assert len(few.chosen_types({"id": "p", "skill": "fermi"})) == len(SKILLS["fermi"]["question_types"])
    with pytest.raises(ValueError, match="record has skill 'juggling'"):
        step.prompt({"id": "p", "skill": "juggling", "passage": "x"})


def agent_script(req):
    """Every agent of the recipe on a scripted model: the search and code agents call their tools."""
    tools = [t["function"]["name"] for t in req.tools or ()]
    system = req.messages[0]["content"] if req.messages[0]["role"] == "system" else ""
    text = [m for m in req.messages if m["role"] == "user"][-1]["content"]
    if tools == ["search_corpus"]:
        if req.tool_choice == "required":
            return tool_calls(("search_corpus", {"query": "compost heap temperature microbes"}))
        return "Hot heaps reach 55-65 C. [Hot and cold composting]"
    if tools == ["run_python"]:
        failing = "broken" in text
        if req.tool_choice == "required":
            if "assert statements" in system:
                code = "def add(a, b):\n    return a + b\n\nassert add(1, 1) == " + ("3" if failing else "2")
            else:
                code = "print(6 * 7)"
            return tool_calls(("run_python", {"code": code}))
        return "The result is 42." if "printed result" in system else "```python\ndef add(a, b):\n    return a + b\n```"
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


def test_every_skill_makes_a_row_on_a_scripted_model(tmp_path, scripted_model):
    out = tmp_path / "agent"
    run = run_recipe("agent-instruct", out, "skills_per_document=17", "steps.seed_instructions.types_per_passage=1",
                     "steps.refine.rounds=2", "max_fanout=null", extra_cli_args=("-n", "1", "--model", scripted_model(agent_script)))
    data, rejected, errors = completed_outputs(run, out)
    assert not rejected and not errors and run["counts"]["skills"]["out"] == 17
    assert sorted(r["skill"] for r in data) == sorted(ALL_SKILLS)
    for row in data:
        assert set(row) == {"id", "_lineage", "skill", "flow", "question_type", "passage", "question", "instruction",
                            "response", "refinements", "search", "code_run"}
        assert row["flow"] in SKILLS[row["skill"]]["flows"] and row["question_type"] in SKILLS[row["skill"]]["question_types"]
        assert row["question"].endswith("Give two reasons. Give two reasons.") and len(row["refinements"]) == 2
        standalone = SKILLS[row["skill"]].get("include_passage", True) is False
        assert row["instruction"] == (row["question"] if standalone else f"{row['passage']}\n\n{row['question']}")
        steps = [e["step"] for e in row["_lineage"]]
        answers = 2 if row["code_run"] is not None else 1
        assert steps[-4 - answers:-answers] == ["refine.suggester", "refine.editor"] * 2
        if FLOWS[row["flow"]].get("tool") == "search":
            assert row["search"]["results"][0]["id"] == "compost-temperature"
        else:
            assert row["search"] is None
        if row["skill"] in ("coding", "analytical_reasoning", "fermi"):
            assert row["code_run"]["status"] == "passed" and steps[-2:] == ["answer", "answer"]
            assert row["response"] == ("The result is 42." if row["skill"] != "coding" else
                                       "```python\ndef add(a, b):\n    return a + b\n```")
        else:
            assert row["code_run"] is None and row["response"] == "The answer." and steps[-1] == "answer"


def test_the_recipe_accounts_for_refused_transformations_and_failed_code_checks(tmp_path, scripted_model):
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps(d) + "\n" for d in (
        {"title": "Castling", "text": "Castling in chess moves the king two squares."},
        {"title": "Adding", "text": "A broken adder returns the wrong sum."})))
    out = tmp_path / "agent"
    run = run_recipe("agent-instruct", out, f"documents={docs}", "skills=[reading_comprehension, coding]",
                     "skills_per_document=2", "steps.refine.rounds=1",
                     extra_cli_args=("--model", scripted_model(agent_script)))
    data, rejected, _ = completed_outputs(run, out)
    c = run["counts"]
    assert c["skills"]["out"] == 4 and c["transform"]["rejected"] == 2 and c["answer"]["rejected"] == 2
    assert {r["_rejected_by"] for r in rejected} == {"transform", "answer"}
    assert all("the model refused" in r["_reason"] for r in rejected if r["_rejected_by"] == "transform")
    failed = [r for r in rejected if r["_rejected_by"] == "answer"]
    assert all(r["skill"] == "coding" and "did not run cleanly in the sandbox (failed: AssertionError" in r["_reason"]
               for r in failed)
    assert sorted(r["skill"] for r in data) == ["reading_comprehension"] * 2


@pytest.mark.slow
@needs_embedded
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    """One document, one skill whose first agent must call the search tool (grammar-forced on the embedded model)."""
    out = tmp_path / "agent"
    run = run_recipe("agent-instruct", out, "skills=[retrieval_augmented_generation]", "skills_per_document=1",
                     "steps.seed_instructions.types_per_passage=1", "steps.refine.rounds=1", "max_tokens=48",
                     "answer_max_tokens=32", "concurrency=2", extra_cli_args=("-n", "1"))
    data, rejected, errors = completed_outputs(run, out)
    assert run["counts"]["skills"]["out"] == 1 and run["counts"]["transform"]["in"] == 1
    for row in data:
        assert row["search"]["query"] and row["passage"].startswith("Document [1]") and len(row["refinements"]) == 1
    for r in rejected:
        assert r["_rejected_by"] in ("transform", "seed_instructions", "refine", "answer") and r["_reason"]
    for r in errors:
        assert r["_step"] in ("transform", "seed_instructions", "refine", "answer") and r["_error"]


def test_max_fanout_bounds_the_instructions_made_from_one_document():
    from synthloom.methods.instructions.agent_instruct import AgentInstructSeed, AgentInstructSkills

    doc = {"id": "d1", "text": "A passage."}
    for fanout, per_document, types, expected in ((3, 2, 2, 3), (1, 2, 2, 1), (None, 2, 2, 4), (8, 3, 2, 6), (2, 3, 2, 2)):
        skills = AgentInstructSkills("skills", per_document=per_document, max_fanout=fanout).expand(doc)
        assert len(skills) == min(per_document, fanout or per_document)
        assert all(row["document_skills"] == [r["skill"] for r in skills] for row in skills)
        seed = AgentInstructSeed("seed", skill=None, types_per_passage=types, max_fanout=fanout)
        made = [seed.chosen_types({**row, "id": f"d1-{i}"}) for i, row in enumerate(skills)]
        assert sum(len(m) for m in made) == expected, (fanout, per_document, made)
        assert all(made)  # every skill of the document gets at least one instruction


def test_a_reply_with_more_items_than_asked_types_makes_one_row_per_type():
    from synthloom.llm.types import Choice, Response
    from synthloom.methods.instructions.agent_instruct import AgentInstructSeed

    seed = AgentInstructSeed("seed", skill="reading_comprehension", types_per_passage=2)
    record = {"id": "r1", "passage": "Bees make honey."}
    types = seed.chosen_types(record)
    reply = "\n".join([f"1. [{types[0]}] First?", f"2. [{types[0]}] Again the first type?", f"3. [{types[1]}] Second?",
                       "4. A fourth question?", "5. A fifth question?"])
    rows = seed.parse(record, Response([Choice(reply, "stop")]))
    assert [(r["question_type"], r["question"]) for r in rows] == [(types[0], "First?"), (types[1], "Second?")]
