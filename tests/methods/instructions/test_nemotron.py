"""Nemotron-style prompt generation and two-turn dialogues with a simulated user: the steps on
scripted replies and the built-in recipe end to end on a scripted model and on the embedded model."""

from __future__ import annotations

import asyncio
import re
import zlib

import pytest

from synthloom.io.shards import read_shards
from synthloom.methods.instructions.nemotron import (
    USER_STYLES,
    NemotronAssistantTurn,
    NemotronGenerate,
    NemotronRevise,
    NemotronUserTurn,
    format_conversation,
    parse_user_turn,
)
from synthloom.pipeline.llm_step import RowError
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import run_recipe, side_rows
from synthloom.testing.scripted import scripted_context


def test_generate_checks_its_options_and_declares_template_columns():
    with pytest.raises(ValueError, match="unknown Nemotron task"):
        NemotronGenerate("g", task="poetry")
    with pytest.raises(ValueError, match="unknown Nemotron task"):
        NemotronGenerate("g", tasks=["open_qa", "poetry"])
    step = NemotronGenerate("g")
    assert {"topic", "material_type", "text", "math_topic", "coding_topic", "level", "language", "task"} <= step.reads
    assert step.writes == {"prompt", "prompt_type", "question"}
    assert NemotronGenerate("g", task_column="kind", tasks=["math"]).reads == {"math_topic", "level", "kind"}
    fixed = NemotronGenerate("g", task="subtopics")
    assert fixed.writes == {"topic"} and "task" not in fixed.reads


def test_topic_chain_expands_one_row_per_item():
    macro = NemotronGenerate("macro", task="macro_topics", n_items=3)
    macro.setup(scripted_context(lambda req: "Here are topics:\n1. Food and drinks\n2. Technology\n3. Sports\n4. Music"))
    rows = asyncio.run(macro.process({"id": "s"}))
    assert [r["macro_topic"] for r in rows] == ["Food and drinks", "Technology", "Sports"]
    sub = NemotronGenerate("sub", task="subtopics", n_items=2)
    assert '"Technology"' in sub.prompt(rows[1])
    sub.setup(scripted_context(lambda req: "- Smartphones\n- Robotics"))
    assert [r["topic"] for r in asyncio.run(sub.process(rows[1]))] == ["Smartphones", "Robotics"]


def test_per_row_tasks_and_closed_qa_prompts_carry_the_document():
    step = NemotronGenerate("g", task_column="task", n_items=2)
    base = {"topic": "tea", "material_type": "poem", "text": "Tea is a drink.", "math_topic": "fractions",
            "coding_topic": "lists", "level": "high school", "language": "Python"}
    assert "fractions" in step.prompt({**base, "task": "math"}) and "Python coding problems" in step.prompt({**base, "task": "coding"})
    assert '"poem"' in step.prompt({**base, "task": "writing"})
    step.setup(scripted_context(lambda req: "1. Summarize the text.\n2. Question: What is tea?"))
    rows = asyncio.run(step.process({"id": "r", **base, "task": "closed_qa"}))
    assert [r["question"] for r in rows] == ["Summarize the text.", "What is tea?"]
    assert rows[1]["prompt"] == "Tea is a drink.\n\nWhat is tea?" and rows[1]["prompt_type"] == "closed_qa"
    with pytest.raises(ValueError, match="not one of this step's tasks"):
        step.prompt({**base, "task": "macro_topics"})
    step.setup(scripted_context(lambda req: "I'm sorry, I can't help with that."))
    with pytest.raises(RowError):
        asyncio.run(step.process({"id": "r", **base, "task": "open_qa"}))


def test_revise_expands_open_qa_and_writing_and_passes_others_through():
    step = NemotronRevise("revise", n_items=2)
    step.setup(scripted_context(
        lambda req: "1. Given rising prices, how can I save on tea? Answer in 3 bullet points.\n2. Why is tea cheap?"))
    rows = asyncio.run(step.process({"id": "r", "prompt": "How to save on tea?", "prompt_type": "open_qa"}))
    assert len(rows) == 2 and all(r["original_prompt"] == "How to save on tea?" for r in rows)
    math = {"id": "m", "prompt": "Add 1/2 and 1/3.", "prompt_type": "math"}
    assert asyncio.run(step.process(dict(math))) == [{**math, "original_prompt": "Add 1/2 and 1/3."}]
    assert "TASK: Write a poem" in step.prompt({"prompt": "Write a poem", "prompt_type": "writing"})


def test_two_turn_dialogue_with_a_simulated_user():
    first = NemotronAssistantTurn("a1")
    first.setup(scripted_context(lambda req: f"Answer to: {req.messages[-1]['content']}"))
    rec = asyncio.run(first.process({"id": "d", "prompt": "What is tea?"}))[0]
    assert rec["messages"] == [{"role": "user", "content": "What is tea?"}, {"role": "assistant", "content": "Answer to: What is tea?"}]
    user = NemotronUserTurn("user", style="concise")
    prompt = user.prompt(rec)[-1]["content"]
    assert "User: What is tea?\n\nAssistant: Answer to: What is tea?" in prompt and USER_STYLES["concise"] in prompt
    user.setup(scripted_context(lambda req: 'User: "And green tea?"'))
    rec = asyncio.run(user.process(rec))[0]
    assert rec["messages"][-1] == {"role": "user", "content": "And green tea?"} and rec["user_style"] == "concise"
    second = NemotronAssistantTurn("a2", system="Be brief.")
    assert second.prompt(rec)[0] == {"role": "system", "content": "Be brief."} and len(second.prompt(rec)) == 4
    second.setup(scripted_context(lambda req: "Green tea is unoxidised."))
    rec = asyncio.run(second.process(rec))[0]
    assert [m["role"] for m in rec["messages"]] == ["user", "assistant", "user", "assistant"]
    user.setup(scripted_context(lambda req: "I'm sorry, but as an AI I cannot continue."))
    assert isinstance(asyncio.run(user.process({"id": "x", "messages": rec["messages"][:2]})), Rejected)
    with pytest.raises(ValueError, match="unknown user style"):
        NemotronUserTurn("u", style="rude")


def test_user_styles_are_drawn_per_record_and_cover_all_styles():
    step = NemotronUserTurn("u")
    styles = {step.style_of({"id": f"r{i}"}) for i in range(60)}
    assert styles == set(USER_STYLES) and step.style_of({"id": "r1"}) == step.style_of({"id": "r1"})
    assert parse_user_turn("Follow-up: Why?\n\nThanks!") == "Why?"
    assert format_conversation([{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]) == "User: u"


def nemotron_script(req) -> str:
    text = req.messages[-1]["content"] if req.messages else req.prompt
    if "Here is a conversation between a user and an assistant" in text:
        return "User: Can you give an example?"
    if req.messages[-1]["role"] == "user" and len(req.messages) > 1:
        return "Here is an example."
    if "broad topics" in text:
        return "1. Food\n2. Travel\n3. Science\n4. Sports\n5. Music"
    if "topics that together cover different aspects of" in text:
        macro = re.search(r'aspects of "([^"]+)"', text).group(1)
        return f"1. {macro} history\n2. {macro} today"
    if "Revise the" in text:
        return "1. Revised with more context: " + text.split("\n", 1)[0]
    if "Write 3" in text or "questions or tasks about the text" in text:
        tag = zlib.crc32(text.encode())
        return f"Here you go:\n1. First prompt {tag}?\n2. Second prompt {tag}?\n3. First prompt {tag}?"
    return "A helpful answer."


def test_recipe_end_to_end_on_a_scripted_model(tmp_path, scripted_model):
    out = tmp_path / "nemotron"
    run = run_recipe("nemotron-prompts", out, "items_per_request=3",
                     extra_cli_args=("--model", scripted_model(nemotron_script), "-n", "5"))
    c = run["counts"]
    assert c["macro_topics"]["out"] == 5 and c["topics"]["out"] == 10 and c["prompts"]["out"] == 20
    data = list(read_shards(out / "data"))
    assert data and len(data) == c["output"]["out"]
    types = {r["prompt_type"] for r in data}
    assert types <= {"open_qa", "writing", "closed_qa", "math", "coding"} and len(types) >= 3
    for row in data:
        assert set(row) == {"id", "_lineage", "prompt_type", "macro_topic", "topic", "language", "original_prompt",
                            "base_prompt", "prompt", "constraints", "constraints_followed", "user_style", "messages"}
        assert [m["role"] for m in row["messages"]] == ["user", "assistant", "user", "assistant"]
        assert row["messages"][0]["content"] == row["prompt"] and row["messages"][2]["content"] == "Can you give an example?"
        steps = [e["step"] for e in row["_lineage"]]
        assert steps[:3] == ["macro_topics", "topics", "prompts"] and steps[-3:] == ["assistant_1", "simulated_user", "assistant_2"]
        assert ("revise" in steps) == (row["prompt_type"] in ("open_qa", "writing"))
    assert all(r["_rejected_by"] == "unique" for r in side_rows(out, "rejected"))


@pytest.mark.slow
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "nemotron"
    run = run_recipe("nemotron-prompts", out, "items_per_request=2", "max_tokens=64", "answer_max_tokens=32",
                     "concurrency=4", extra_cli_args=("-n", "1"))
    assert run["status"] == "completed" and run["counts"]["start"]["out"] == 1
    for row in read_shards(out / "data"):
        assert [m["role"] for m in row["messages"]] == ["user", "assistant", "user", "assistant"]
    for r in side_rows(out, "rejected"):
        assert r["_rejected_by"] in ("unique", "simulated_user") and r["_reason"]
    for r in side_rows(out, "errors"):
        assert r["_step"] in ("macro_topics", "topics", "prompts", "revise", "assistant_1", "simulated_user",
                              "assistant_2") and r["_error"]
