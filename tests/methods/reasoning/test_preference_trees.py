"""Preference trees (UltraInteract): a pair only where one action verifies and the other does not,
the wrong action expanded with feedback and a critique, nothing kept when every branch fails,
code actions run in the sandbox, and the recipe end to end."""

from __future__ import annotations

import pytest
from recipe_e2e import run_recipe

from synthloom.methods.reasoning.preference_trees import PreferenceTree, python_code
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import needs_embedded
from synthloom.testing.scripted import ScriptedModel, run_step

PROBLEM = {"id": "p1", "question": "What is 6 * 7?", "answer": "42"}


def actor(turns: list[list[str]], critique: str = "Check the multiplication table."):
    """Turn t (counted by the feedback turns in the history) answers ``turns[t - 1][j]``; the
    critique request (it names the reference answer) gets ``critique``."""
    def reply(req, j):
        if "reference answer" in req.messages[-1]["content"]:
            return critique
        turn = 1 + sum("Your answer is wrong." in m["content"] for m in req.messages if m["role"] == "user")
        return turns[turn - 1][j]
    return reply


def test_a_pair_at_each_turn_with_a_right_and_a_wrong_action_and_the_wrong_one_expanded():
    model = ScriptedModel(actor([["6 * 7 = 48. \\boxed{48}", "\\boxed{42}"], ["\\boxed{41}", "So \\boxed{42}"],
                                 ["\\boxed{42}", "\\boxed{42}"]]))
    [rows] = run_step(PreferenceTree("tree", max_turns=4, execute_code=False), model, [PROBLEM])
    first, second = rows
    assert (first["turn"], first["chosen"], first["rejected"]) == (1, "\\boxed{42}", "6 * 7 = 48. \\boxed{48}")
    assert first["prompt_messages"] == [{"role": "user", "content": first["prompt_messages"][0]["content"]}]
    assert (second["turn"], second["chosen"], second["rejected"]) == (2, "So \\boxed{42}", "\\boxed{41}")
    history = second["prompt_messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "user"] and history[1]["content"] == first["rejected"]
    assert "Your answer is wrong." in history[2]["content"] and "Check the multiplication table." in history[2]["content"]
    assert (second["chosen_answer"], second["rejected_answer"], second["gold_answer"]) == ("42", "41", "42")
    assert (second["pair_rule"], second["margin"], second["prompt"]) == ("preference_tree", 1.0, "What is 6 * 7?")
    tree = second["tree"]
    assert [len(n["actions"]) for n in tree] == [2, 2, 2] and [n["expanded"] for n in tree] == [0, 0, None]
    critiques = [r for r in model.requests if "reference answer" in r.messages[-1]["content"]]
    assert len(critiques) == 2 and "42" in critiques[0].messages[-1]["content"]
    assert len(model.requests) == 3 + 2  # three turns of actions (n=2 each), two critiques


def test_nothing_is_kept_when_every_branch_fails_and_max_fanout_bounds_the_turns():
    model = ScriptedModel(actor([["\\boxed{40}", "\\boxed{41}"]] * 5))
    [out] = run_step(PreferenceTree("tree", max_turns=5, max_fanout=2, execute_code=False), model, [PROBLEM])
    assert isinstance(out, Rejected) and out.reason.startswith("no correct action in 2 turn(s) of 2 actions")
    assert len(model.requests) == 2 + 1  # the last turn's wrong action is not critiqued: nothing follows it


def test_a_tree_solved_at_once_makes_no_pair_and_critique_can_be_off():
    [out] = run_step(PreferenceTree("tree", execute_code=False), ScriptedModel(actor([["\\boxed{42}", "\\boxed{42}"]])),
                     [PROBLEM])
    assert out == Rejected("no turn had both a correct and an incorrect action (correct per turn: [2])", 1.0)
    model = ScriptedModel(actor([["\\boxed{1}", "\\boxed{2}"], ["\\boxed{42}", "\\boxed{3}"]]))
    [rows] = run_step(PreferenceTree("tree", critique=False, max_turns=2, execute_code=False), model, [PROBLEM])
    [pair] = rows
    assert pair["turn"] == 2 and "Expert feedback" not in pair["prompt_messages"][-1]["content"]
    with pytest.raises(ValueError, match="k \\(actions sampled per turn\\) must be a whole number >= 2"):
        PreferenceTree("tree", k=1)


def test_a_code_action_runs_in_the_sandbox_and_its_output_is_the_answer_and_the_observation():
    assert python_code("```python\nprint(1)\n```") == "print(1)" and python_code("```python\nprint(1)") is None
    model = ScriptedModel(actor([["```python\nprint(6 * 7)\n```", "```python\nprint(6 * 8)\n```"]]))
    [rows] = run_step(PreferenceTree("tree", max_turns=1), model, [PROBLEM])
    [pair] = rows
    assert (pair["chosen_answer"], pair["rejected_answer"]) == ("42", "48")
    assert pair["chosen"] == "```python\nprint(6 * 7)\n```"
    assert [a["observation"] for a in pair["tree"][0]["actions"]] == ["42", "48"]


@pytest.mark.slow
@needs_embedded
def test_preference_trees_recipe_on_the_embedded_model(tmp_path):
    run, data, rejected = run_recipe(tmp_path, "preference-trees", "tree", "steps.tree.critique_max_tokens=16",
                                     "steps.tree.execute_code=false", max_tokens=32)
    assert run["counts"]["tree"]["in"] == 1
    for r in data:
        assert r["chosen_answer"] == r["gold_answer"] != r["rejected_answer"] and r["turn"] == 1
    for r in rejected:
        assert r["_rejected_by"] == "tree" and r["_reason"].startswith(("no correct action in 1 turn", "no turn had both"))
