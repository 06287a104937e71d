"""Orca / Orca 2: the system messages and their sampling, multiple-choice detection, strategies,
prompt erasure, and the built-in recipe end to end on a scripted model and on the embedded model."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from synthloom.io.shards import read_shards
from synthloom.methods.instructions.orca import (
    COLLECTIONS,
    GENERIC_SYSTEM,
    STRATEGIES,
    SYSTEM_MESSAGES,
    OrcaSystemMessage,
    OrcaTeacher,
    PromptErasure,
    is_multiple_choice,
    orca_message_ids,
)
from synthloom.pipeline.llm_step import RowError
from synthloom.testing.recipe_runs import run_recipe
from synthloom.testing.scripted import scripted_context


def test_the_sixteen_system_messages_and_their_collections():
    assert sorted(SYSTEM_MESSAGES) == list(range(1, 17)) and SYSTEM_MESSAGES[1] == ""
    assert SYSTEM_MESSAGES[16] == "You are an AI assistant that helps people find information."
    assert "five year old" in SYSTEM_MESSAGES[4] and "Part  # :" in SYSTEM_MESSAGES[15]
    assert COLLECTIONS["cot"] == [6, 11, 16] and COLLECTIONS["flan2021_multiple_choice"] == [8, 10]
    assert orca_message_ids("NIV2", "x") == [1, 2, 5, 7, 9, 12, 13, 14, 15]
    assert orca_message_ids("flan2021", "Which of the following is red?\nA) sky\nB) blood") == [8, 10]
    assert orca_message_ids("flan", "What is red?") == [3, 4, 7]
    with pytest.raises(ValueError, match="unknown FLAN-v2 collection"):
        orca_message_ids("alpaca", "x")


@pytest.mark.parametrize("text, expected", [
    ("Which of the following is a mammal?\nA) Shark\nB) Dolphin", True),
    ("Does it follow? Options: - yes - it is not possible to tell - no", True),
    ("Pick one.\nOPTIONS:\n- positive\n- negative", True),
    ("Question: ...\n(A) 3 (B) 4 (C) 5 (D) 6", True),
    ("What is the capital of France?", False),
    ("Write a poem about A and B.", False),
    ("Choose a name for a cat.", False),
])
def test_multiple_choice_detection(text, expected):
    assert is_multiple_choice(text) is expected


def test_orca_mode_draws_allowed_messages_deterministically_and_uses_them_all():
    step = OrcaSystemMessage("sys", mode="orca", collection_column="collection")
    rows = [step.map({"id": f"r{i}", "instruction": "Translate: hi", "collection": "niv2"}) for i in range(200)]
    assert rows[0] == step.map({"id": "r0", "instruction": "Translate: hi", "collection": "niv2"})
    ids = Counter(r["system_message_id"] for r in rows)
    assert set(ids) == set(COLLECTIONS["niv2"])
    assert all(r["system_message"] == SYSTEM_MESSAGES[r["system_message_id"]] for r in rows)
    mc = step.map({"id": "x", "instruction": "Which of the following?\nA) a\nB) b", "collection": "flan2021"})
    assert mc["system_message_id"] in (8, 10)
    assert OrcaSystemMessage("sys", mode="orca").reads == {"instruction", "collection"}
    fixed = OrcaSystemMessage("sys", mode="orca", collection="cot")
    assert fixed.reads == {"instruction"} and fixed.map({"id": "x", "instruction": "2+2?"})["system_message_id"] in (6, 11, 16)
    with pytest.raises(ValueError, match="unknown FLAN-v2 collection"):
        OrcaSystemMessage("sys", mode="orca", collection="flan3000")


def test_orca2_strategies_fixed_per_task_and_per_column():
    step = OrcaSystemMessage("sys", task_column="task", strategy_column="strategy_override",
                             strategies={"math": "step_by_step", "trivia": "recall_then_generate"},
                             custom_strategies={"haiku_first": "Answer with a haiku, then explain."}, strategy="direct_answer")
    assert step.map({"id": "a", "instruction": "2+2?", "task": "math"})["strategy"] == "step_by_step"
    trivia = step.map({"id": "a", "instruction": "Capital of Peru?", "task": "trivia"})
    assert trivia["system_message"] == STRATEGIES["recall_then_generate"]
    assert step.map({"id": "a", "instruction": "x", "task": "other"})["strategy"] == "direct_answer"
    assert step.map({"id": "a", "instruction": "x", "task": "math", "strategy_override": "haiku_first"})["system_message"] == \
        "Answer with a haiku, then explain."
    with pytest.raises(ValueError, match="unknown strategy 'guess'"):
        OrcaSystemMessage("sys", strategy="guess")
    assert OrcaSystemMessage("sys").reads == {"instruction"}  # the task column only matters with `strategies`


def test_teacher_sends_the_system_message_only_when_there_is_one():
    step = OrcaTeacher("teacher")
    assert step.prompt({"instruction": "Hi", "system_message": ""}) == [{"role": "user", "content": "Hi"}]
    assert step.prompt({"instruction": "Hi", "system_message": "Explain."})[0] == {"role": "system", "content": "Explain."}
    step.setup(scripted_context(lambda req: "  "))
    with pytest.raises(RowError, match="empty"):
        asyncio.run(step.process({"id": "x", "instruction": "Hi", "system_message": ""}))


def test_prompt_erasure_replaces_the_strategy_instruction():
    rec = {"id": "x", "instruction": "2+2?", "response": "4", "system_message": STRATEGIES["step_by_step"], "strategy": "step_by_step"}
    erased = PromptErasure("erase").map(dict(rec))
    assert erased["messages"] == [{"role": "system", "content": GENERIC_SYSTEM}, {"role": "user", "content": "2+2?"},
                                  {"role": "assistant", "content": "4"}]
    assert "system_message" not in erased and erased["system"] == GENERIC_SYSTEM
    assert PromptErasure("e", keep_teacher_system=True).map(dict(rec))["system_message"] == rec["system_message"]
    assert PromptErasure("e", generic_system="").map(dict(rec))["messages"][0]["role"] == "user"
    kept = PromptErasure("e", erase=False).map(dict(rec))
    assert kept["messages"][0]["content"] == STRATEGIES["step_by_step"] and kept["system"] == STRATEGIES["step_by_step"]


def orca_script(req) -> str:
    system = req.messages[0]["content"] if req.messages[0]["role"] == "system" else ""
    return f"[{system[:20]}] Step 1: think. Answer: done."


def test_recipe_end_to_end_on_a_scripted_model(tmp_path, scripted_model):
    out = tmp_path / "orca"
    run = run_recipe("orca", out, extra_cli_args=("--model", scripted_model(orca_script)))
    assert run["counts"]["teacher"]["out"] == 8 and run["rows"]["data"] == 8
    for row in read_shards(out / "data"):
        assert set(row) == {"id", "_lineage", "instruction", "system", "response", "messages"}
        assert row["system"] == GENERIC_SYSTEM and row["messages"][0]["content"] == GENERIC_SYSTEM
        assert row["messages"][1]["content"] == row["instruction"] and row["messages"][2]["content"] == row["response"]
        assert not row["response"].startswith("[] ")  # the teacher saw a strategy instruction
        assert [e["step"] for e in row["_lineage"]] == ["teacher"]
    out1 = tmp_path / "orca1"
    run_recipe("orca", out1, "steps.system_message.mode=orca", "steps.train_record.erase=false",
               extra_cli_args=("--model", scripted_model(orca_script)))
    systems = {r["system"] for r in read_shards(out1 / "data")}
    assert systems <= set(SYSTEM_MESSAGES.values()) and len(systems) >= 2


@pytest.mark.slow
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "orca"
    run = run_recipe("orca", out, "max_tokens=48", "concurrency=2", extra_cli_args=("-n", "1"))
    assert run["status"] == "completed"
    assert run["rows"]["data"] + run["rows"]["errors"] == 1
    for row in read_shards(out / "data"):
        assert row["messages"][0] == {"role": "system", "content": GENERIC_SYSTEM}
        assert row["_lineage"][0]["model"].startswith("llamacpp:") and row["_lineage"][0]["usage"]["completion_tokens"] > 0
