"""Baize self-chat: the transcript template, each stop rule (turn cap, the human ending the chat, an empty
or repeated human statement, a cut or empty AI statement), min_turns, and the recipe on a scripted model
and on the embedded model."""

from __future__ import annotations

import pytest

from synthloom.methods.agentic.baize import AI, HUMAN, BaizeSelfChat, ends_chat, repeats, statement
from synthloom.pipeline.step import Rejected
from synthloom.records import ID
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

SEED = {ID: "s1", "question": "How do I keep basil alive on a windowsill?"}


def test_statements_lose_their_label_and_stop_at_the_next_marker():
    assert statement("[|AI|] Water it every other day. [|Human|] And light?") == "Water it every other day."
    assert statement("  Human: What about light?") == "What about light?"
    assert statement("[|Human|]") == ""


def test_the_human_ends_the_chat_with_thanks_only_when_not_asking():
    assert ends_chat("Thank you, that helps a lot!") and ends_chat("Great. Bye!")
    assert not ends_chat("Thanks! And how often should I water it?")
    assert not ends_chat("What is the best soil?") and not ends_chat("Thankfully it grew.")
    assert repeats("How often should I water it?", ["how often should  I water it?"], 90)
    assert not repeats("What about light?", ["How often should I water it?"], 90)


def chat_model(humans: list[str], ai: str = "Keep it in a sunny spot and water it when the soil is dry.", cut_ai: int = 0):
    """A scripted model: the human's statements in order, the AI's fixed; AI statement ``cut_ai`` hits max_tokens."""
    state = {"human": 0, "ai": 0}

    def reply(req, j):
        if user_text(req).rstrip().endswith(HUMAN):
            state["human"] += 1
            return humans[state["human"] - 1], None, "stop"
        state["ai"] += 1
        return ai, None, "length" if state["ai"] == cut_ai else "stop"
    return ScriptedModel(reply)


def run_chat(model, **options):
    (out,) = run_step(BaizeSelfChat("chat", **options), model, [dict(SEED)])
    return out if isinstance(out, Rejected) else out[0]


def test_the_chat_runs_to_max_turns_in_the_papers_template():
    model = chat_model(["How much light does it need?", "Should I pinch the flowers off?", "unused"])
    row = run_chat(model, max_turns=3)
    assert row["stop_reason"] == "max_turns" and row["turns"] == 3
    assert [m["role"] for m in row["messages"]] == ["user", "assistant"] * 3
    assert row["messages"][0]["content"] == SEED["question"]  # the seed opens the chat
    assert row["transcript"].startswith(f"{HUMAN} How do I keep basil") and f"\n{AI} Keep it" in row["transcript"]
    first, *_, last = model.requests
    prompt = user_text(first)
    assert "an AI assistant named Baize" in prompt and "chatting about the topic: 'How do I keep basil" in prompt
    assert "[|Human|] Hello!\n[|AI|] Hi! How can I help you?" in prompt and prompt.rstrip().endswith(AI)
    assert tuple(first.stop) == (HUMAN, AI) and len(model.requests) == 5  # 3 AI statements, 2 human ones
    assert user_text(last).count(HUMAN) == 2 + 3  # the template's two mentions, Hello! and three human turns


@pytest.mark.parametrize(("humans", "reason"), [
    (["Thank you so much, that is all I needed."], "human_ended"),
    ([""], "empty"),
    (["[|Human|]"], "empty"),
    (["How do I keep basil alive on a windowsill?"], "repeat"),
])
def test_a_human_statement_that_fires_a_stop_rule_ends_the_chat_and_is_not_kept(humans, reason):
    row = run_chat(chat_model(humans), max_turns=4)
    assert row["stop_reason"] == reason and row["turns"] == 1 and len(row["messages"]) == 2


def test_a_cut_or_empty_ai_statement_drops_the_unfinished_exchange():
    row = run_chat(chat_model(["How much light?", "x"], cut_ai=2), max_turns=4)
    assert row["stop_reason"] == "cut" and row["turns"] == 1
    row = run_chat(chat_model(["x"], ai="[|AI|]"), max_turns=2)  # the AI says nothing: no exchange at all
    assert isinstance(row, Rejected) and row.reason == "too_short: 0 exchange(s) < min_turns 1 (stopped: ai_empty)"


def test_min_turns_rejects_short_chats_and_the_model_can_write_the_first_question():
    out = run_chat(chat_model(["Bye!"]), max_turns=3, min_turns=2)
    assert isinstance(out, Rejected) and "1 exchange(s) < min_turns 2 (stopped: human_ended)" in out.reason
    model = chat_model(["What soil should basil grow in?", "Thanks, bye!"])
    row = run_chat(model, max_turns=3, seed_opens=False)
    assert row["messages"][0]["content"] == "What soil should basil grow in?" and row["stop_reason"] == "human_ended"
    assert model.requests[0].max_tokens == 128  # human statements get human_max_tokens


def test_options_are_checked():
    with pytest.raises(ValueError, match="min_turns must be from 1 to max_turns"):
        BaizeSelfChat("c", max_turns=2, min_turns=3)
    with pytest.raises(ValueError, match="end_phrases must be a list"):
        BaizeSelfChat("c", end_phrases=[""])


def test_recipe_on_a_scripted_model(tmp_path, scripted_model):
    def reply(req):
        text = user_text(req).rstrip()
        if text.endswith(HUMAN):
            return "Thanks, that is all." if text.count(AI) >= 3 else "Could you give an example?"
        return "Sure: start small and practise every day."

    out = tmp_path / "baize"
    run = run_recipe("baize", out, extra_cli_args=("-n", "3", "--model", scripted_model(reply)))
    data, rejected, errors = completed_outputs(run, out)
    assert not errors and not rejected and len(data) == 3
    # the template names [|AI|] twice; after the first exchange there are three: the human thanks and stops
    assert all(r["turns"] == 1 and r["stop_reason"] == "human_ended" for r in data)


@needs_embedded
@pytest.mark.slow
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "baize"
    run = run_recipe("baize", out, "max_turns=2", "max_tokens=48", "steps.self_chat.human_max_tokens=32",
                     extra_cli_args=("-n", "1"))
    data, rejected, errors = completed_outputs(run, out)
    assert not errors and len(data) + len(rejected) == 1
    for row in data:
        assert 1 <= row["turns"] <= 2 and row["messages"][0]["content"] == row["question"]
    assert all(r["_reason"].startswith("too_short") for r in rejected)
