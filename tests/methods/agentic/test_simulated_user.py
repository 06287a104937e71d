"""Simulated-user conversations on a scripted model: the goal, the user simulator's prompt (persona, goal,
style, the conversation so far), the assistant's view, the per-turn judge through a JSON schema, and the
keep/reject decisions (every turn or the mean at the threshold, a role break, an empty or cut message);
then the recipe end to end (scripted: the accounting; embedded: one conversation of two turns)."""

from __future__ import annotations

import json

import pytest

from synthloom.methods.agentic.simulated_user import SimulatedUser, speaks_as_assistant, user_message
from synthloom.methods.instructions.nemotron import USER_STYLES
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import ScriptedModel, run_step

PERSONA = "A beekeeper who sells honey at a weekly farmers' market and worries about varroa mites"
ROW = {"id": "p1", "persona": PERSONA}
GOAL = "They want a treatment plan against varroa mites that is safe for honey sold at market."
ASKS = ["How do I treat my hives for varroa without tainting the honey?", "Can I use oxalic acid in late autumn?",
        "How often should I count mites?"]
ANSWERS = ["Use oxalic acid when the colony is broodless, after the honey harvest.",
           "Yes: late autumn, when there is no brood, is the best time for oxalic acid.",
           "Count mites monthly from spring to autumn with a sugar roll."]


def kind(req) -> str:
    if req.json_schema is not None:
        return "judge"
    first = req.messages[0]["content"]
    if first.startswith("Here is a person:"):
        return "goal"
    return "user" if first.startswith("You are role-playing a human user") else "assistant"


def conversation_model(scores, asks=ASKS, answers=ANSWERS, goal=f"Goal: {GOAL}"):
    """The user model asks ``asks[k]`` at turn k+1, the assistant answers ``answers[k]``, the judge gives
    ``scores[k]`` (an item may be a (text, finish_reason) pair)."""
    def reply(req, j):
        k = kind(req)
        if k == "goal":
            return goal
        if k == "judge":
            turn = req.messages[0]["content"].count("User: ")  # the user lines of the history before the turn
            return json.dumps({"rationale": f"turn {turn + 1} is fine", "score": scores[turn]})
        if k == "user":
            item = asks[req.messages[0]["content"].count("Assistant: ")]
        else:
            item = answers[sum(1 for m in req.messages if m["role"] == "assistant")]
        return (item[0], None, item[1]) if isinstance(item, tuple) else item
    return ScriptedModel(reply)


def run(scores, record=ROW, **opts):
    model = conversation_model(scores, **{k: opts.pop(k) for k in ("asks", "answers", "goal") if k in opts})
    return run_step(SimulatedUser("conversation", **opts), model, [dict(record)])[0], model


def test_a_conversation_whose_every_turn_reaches_the_threshold_is_kept():
    (row,), model = run([5, 4], turns=2)
    assert row["goal"] == GOAL and row["user_style"] in USER_STYLES and row["turns"] == 2
    assert row["messages"] == [{"role": "user", "content": ASKS[0]}, {"role": "assistant", "content": ANSWERS[0]},
                               {"role": "user", "content": ASKS[1]}, {"role": "assistant", "content": ANSWERS[1]}]
    assert row["turn_scores"] == [5.0, 4.0] and row["score"] == 4.0
    assert row["turn_rationales"] == ["turn 1 is fine", "turn 2 is fine"]
    assert [e["role"] for e in row["_lineage"]] == ["user_goal"] + ["simulated_user", "assistant", "judge"] * 2
    assert row["id"] == "p1" and row["persona"] == PERSONA


def test_the_prompts_of_the_user_the_assistant_and_the_judge():
    (row,), model = run([5, 5], turns=2)
    goal, user1, assistant1, judge1, user2, assistant2, judge2 = model.requests
    assert PERSONA in goal.messages[0]["content"]
    first = user1.messages[0]["content"]
    assert f"Who you are: {PERSONA}" in first and f"What you want from this conversation: {GOAL}" in first
    assert "Never act as the assistant" in first and "Write your first message" in first
    assert "The conversation so far" not in first and USER_STYLES[row["user_style"]] in first
    second = user2.messages[0]["content"]
    assert f"User: {ASKS[0]}\n\nAssistant: {ANSWERS[0]}" in second and "Write your next message" in second
    assert "Follow up on the assistant's last reply" in second
    assert list(assistant2.messages) == row["messages"][:3] and assistant1.max_tokens == 1024
    assert user1.max_tokens == 256
    schema = judge1.json_schema
    assert schema["properties"]["score"] == {"type": "integer", "minimum": 1, "maximum": 5}
    assert judge1.temperature == 0.0 and judge1.max_tokens == 384
    j1, j2 = judge1.messages[0]["content"], judge2.messages[0]["content"]
    assert "[The conversation before this turn]" not in j1 and f"[User]\n{ASKS[0]}\n\n[Assistant]\n{ANSWERS[0]}" in j1
    assert f"[The conversation before this turn]\nUser: {ASKS[0]}\n\nAssistant: {ANSWERS[0]}" in j2
    assert "Criteria: the overall quality of the response" in j1 and "a number from 1 to 5" in j1
    assert len({r.seed for r in (goal, user1, assistant1, user2, assistant2)}) == 5


def test_a_turn_below_the_threshold_rejects_the_conversation_and_stops_it():
    out, model = run([5, 2, 5], turns=3)
    assert isinstance(out, Rejected) and out.score == 2
    assert out.reason.startswith("low_turn_score: turn 2 scored 2 < threshold 4 ('turn 2 is fine')")
    assert [kind(r) for r in model.requests].count("judge") == 2  # the third turn is never played
    out, _ = run([3], turns=1, threshold=3)
    assert out[0]["score"] == 3.0


def test_the_mean_of_the_turn_scores_can_decide_instead():
    (row,), _ = run([5, 3], turns=2, aggregate="mean")
    assert row["score"] == 4.0 and row["turn_scores"] == [5.0, 3.0]
    out, _ = run([4, 3], turns=2, aggregate="mean")
    assert isinstance(out, Rejected) and out.score == 3.5
    assert out.reason == "low_turn_score: the mean turn score 3.50 < threshold 4 (turn scores [4, 3])"


def test_a_goal_from_the_row_and_a_system_prompt():
    (row,), model = run([5], record={**ROW, "need": "They want to sell more honey."}, turns=1, goal_column="need",
                        system="You are a helpful farming assistant.")
    assert row["goal"] == "They want to sell more honey." and "goal" not in [kind(r) for r in model.requests]
    assert row["messages"][0] == {"role": "system", "content": "You are a helpful farming assistant."}
    assert "System:" not in model.requests[-1].messages[0]["content"]  # the judge sees no system prompt
    with pytest.raises(ValueError, match="column 'need' is empty; give every row a goal"):
        run([5], record={**ROW, "need": " "}, turns=1, goal_column="need")


def test_a_user_who_breaks_role_or_an_empty_or_cut_message_is_rejected():
    out, _ = run([5], turns=1, asks=["Assistant: Sure! Here is a plan for your hives."])
    assert out.reason.startswith("role_break: the simulated user spoke as the assistant at turn 1")
    out, _ = run([5], turns=1, asks=["As an AI, I can help you with bees."])
    assert out.reason.startswith("role_break")
    out, _ = run([5], turns=1, asks=['User: "' + ASKS[0] + '"'])
    assert out[0]["messages"][0]["content"] == ASKS[0]  # the label and the quotes go
    assert run([5], turns=1, answers=["  "])[0].reason == "empty_message: the assistant's reply at turn 1 is empty"
    assert run([5], turns=1, asks=[""])[0].reason == "empty_message: the simulated user's message at turn 1 is empty"
    assert run([5], turns=1, answers=[("Use oxalic", "length")])[0].reason == \
        "cut: the assistant's reply at turn 1 hit max_tokens"
    assert run([5], turns=1, asks=[("How do I", "length")])[0].reason.startswith("cut: the simulated user's message")


def test_a_rubric_preset_sets_the_scale_and_the_criteria():
    (row,), model = run([3], turns=1, rubric="lab_answer", threshold=2)
    judge = model.requests[-1]
    assert judge.json_schema["properties"]["score"] == {"type": "integer", "minimum": 1, "maximum": 3}
    assert "Criteria: answer quality" in judge.messages[0]["content"] and row["score"] == 3.0
    (row,), model = run([5], turns=1, rubric="prometheus", criteria="Is the advice safe for bees?")
    text = model.requests[-1].messages[0]["content"]
    assert "Criteria: Is the advice safe for bees?" in text and "Score 1: The response does not meet" in text


def test_helpers_and_options():
    assert user_message('User: "Hi there"') == "Hi there" and user_message("**User:** Hello") == "Hello"
    assert speaks_as_assistant("AI assistant: hello") and not speaks_as_assistant("I can't get my hive to calm down")
    with pytest.raises(ValueError, match="aggregate must be 'min' \\(every turn\\) or 'mean', not 'max'"):
        SimulatedUser("s", aggregate="max")
    with pytest.raises(ValueError, match="styles must be a non-empty list of normal, complex, concise"):
        SimulatedUser("s", styles=["angry"])
    with pytest.raises(ValueError, match="rubric 'pairwise' does not give one score to a chat prompt"):
        SimulatedUser("s", rubric="pairwise")
    with pytest.raises(ValueError, match="threshold 7.0 is outside the scale of rubric 'default' \\(1-5\\)"):
        SimulatedUser("s", threshold=7.0)
    step = SimulatedUser("s", user_model="user", judge_model="judge", goal_column="goal", styles=["concise"])
    assert step.models == ["default", "user", "judge"] and step.reads == {"persona", "goal"}
    assert step.style_of({"id": "x"}) == "concise"


def recipe_reply(req, j):
    """Each persona's conversation goes well except the beekeeper's, whose second turn the judge scores 2."""
    k = kind(req)
    text = req.messages[0]["content"]
    if k == "goal":
        return f"They want help with {text.split(chr(10))[1][:40]}."
    if k == "judge":
        return json.dumps({"rationale": "ok", "score": 2 if "beekeep" in text and "[The conversation before" in text else 5})
    if k == "user":
        return f"Question {text.count('Assistant: ') + 1} about {text.split('What you want from this conversation: ')[1][:30]}?"
    return f"Answer {sum(1 for m in req.messages if m['role'] == 'assistant') + 1}: {req.messages[-1]['content'][:40]}"


def test_the_recipe_on_a_scripted_model(scripted_model, tmp_path):
    out = tmp_path / "run"
    run_ = run_recipe("simulated-user", out, "turns=2", extra_cli_args=("-n", "6", "--model", scripted_model(recipe_reply)))
    data, rejected_rows, errors = completed_outputs(run_, out)
    c = run_["counts"]["conversation"]
    assert not errors and c["in"] == 6 and c["ok"] == len(data) == 5 and c["rejected"] == len(rejected_rows) == 1
    assert rejected_rows[0]["_reason"].startswith("low_turn_score: turn 2 scored 2 < threshold 4")
    for row in data:
        assert row["turns"] == 2 and row["turn_scores"] == [5.0, 5.0] and row["goal"].startswith("They want help with")
        assert [m["role"] for m in row["messages"]] == ["user", "assistant", "user", "assistant"]


@needs_embedded
@pytest.mark.slow
def test_the_recipe_on_the_embedded_model(tmp_path):
    """One persona, two turns, small max_tokens: the 135M model's messages are often cut, so the test checks
    the machinery — the conversation is kept with its turn scores or rejected with the reason."""
    out = tmp_path / "run"
    run_ = run_recipe("simulated-user", out, "turns=2", "steps.conversation.max_tokens=48",
                      "steps.conversation.user_max_tokens=48", "steps.conversation.judge_max_tokens=128",
                      extra_cli_args=("-n", "1"))
    data, rejected_rows, errors = completed_outputs(run_, out)
    assert not errors and len(data) + len(rejected_rows) == 1
    for row in data:
        assert row["turns"] == 2 and len(row["turn_scores"]) == 2 and all(4 <= s <= 5 for s in row["turn_scores"])
    for row in rejected_rows:
        assert row["_rejected_by"] == "conversation"
        assert row["_reason"].startswith(("low_turn_score:", "cut:", "empty_message:", "role_break:", "the model refused"))
