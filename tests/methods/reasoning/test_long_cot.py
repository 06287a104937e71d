"""Long-CoT distillation: reasoning kept apart from the answer; only the answer is verified."""

from __future__ import annotations

import pytest

from synthloom.methods.reasoning.long_cot import LongCoTDistill
from synthloom.methods.reasoning.long_cot_filters import language_mixing, main_script, readability_problem
from synthloom.methods.reasoning.verified_sampling import split_reasoning
from synthloom.pipeline.step import Rejected
from synthloom.testing.scripted import ScriptedModel, run_step

PROBLEM = {"id": "p1", "question": "What is 9 * 9?", "answer": "81"}


def test_split_reasoning_forms():
    assert split_reasoning("<think>9*9=81</think>\nSo \\boxed{81}") == ("9*9=81", "So \\boxed{81}", True)
    assert split_reasoning("So \\boxed{81}", "server trace") == ("server trace", "So \\boxed{81}", True)
    assert split_reasoning("9*9=81</think> \\boxed{81}") == ("9*9=81", "\\boxed{81}", True)
    assert split_reasoning("<think>9*9 is") == ("9*9 is", "", False)
    assert split_reasoning("plain \\boxed{81}") == (None, "plain \\boxed{81}", True)


def test_think_blocks_and_reasoning_content_are_kept_apart():
    replies = [("<think>nine nines: \\boxed{80}? no, 81</think>The product is \\boxed{81}.", None, "stop"),
               ("The product is \\boxed{81}.", "I multiply 9 by 9.", "stop")]
    [rows] = run_step(LongCoTDistill("cot", k=2, max_per_problem=2), ScriptedModel(lambda req, j: replies[j]), [PROBLEM])
    assert [r["reasoning"] for r in rows] == ["nine nines: \\boxed{80}? no, 81", "I multiply 9 by 9."]
    assert [r["response"] for r in rows] == ["The product is \\boxed{81}."] * 2
    assert all("<think>" not in r["response"] and r["correct"] for r in rows)


def test_answer_only_in_the_thinking_truncation_and_missing_trace_are_rejected():
    def run(reply, **kw):
        [out] = run_step(LongCoTDistill("cot", **kw), ScriptedModel(lambda req, j: reply), [PROBLEM])
        return out

    out = run(("<think>it is \\boxed{81}</think>I am not sure.", None, "stop"))
    assert isinstance(out, Rejected) and "no final answer" in out.reason
    out = run(("<think>let me think about 9 * 9 for a long", None, "length"))
    assert isinstance(out, Rejected) and "truncated" in out.reason
    out = run(("\\boxed{81}", None, "stop"))
    assert isinstance(out, Rejected) and "no reasoning trace" in out.reason
    [row] = run(("\\boxed{81}", None, "stop"), require_reasoning=False)
    assert row["reasoning"] is None and row["pred_answer"] == "81"
    out = run(("<think>hmm</think>\\boxed{72}", None, "stop"))
    assert isinstance(out, Rejected) and out.reason.endswith("wrong answer: predicted 72, gold 81")


def test_language_mixing_code_blocks_and_walls_of_text_are_rejected():
    def run(reasoning, **kw):
        reply = (f"<think>{reasoning}</think>The product is \\boxed{{81}}.", None, "stop")
        [out] = run_step(LongCoTDistill("cot", **kw), ScriptedModel(lambda req, j: reply), [PROBLEM])
        return out

    out = run("Nine times nine. 九乘九等于八十一. So 81.")
    assert isinstance(out, Rejected) and out.reason == (
        "no verified sample of 1: language mixing: 35% of the reasoning's letters are CJK, not Latin (max 0.01)")
    assert isinstance(run("Nine times nine is 81; with θ and π in it, α stays fine."), list)  # Greek is mathematics
    [row] = run("Nine times nine. 九乘九等于八十一.", max_language_mixing=None)
    assert row["reasoning"].startswith("Nine")
    out = run("Let me compute.\n```python\nprint(9 * 9)\n```\n81.")
    assert isinstance(out, Rejected) and out.reason.endswith("hard to read: the reasoning has a code block")
    assert isinstance(run("Let me compute.\n```python\nprint(9 * 9)\n```\n81.", allow_code_blocks=True), list)
    out = run("word " * 40 + "\n\nshort paragraph", max_paragraph_words=30)
    assert isinstance(out, Rejected) and out.reason.endswith(
        "hard to read: the reasoning has a paragraph of 40 words (over 30)")
    with pytest.raises(ValueError, match="max_language_mixing must be in"):
        LongCoTDistill("cot", max_language_mixing=1.5)


def test_the_problems_own_script_is_the_reference():
    problem = {"id": "p2", "question": "九乘九是多少？", "answer": "81"}
    reply = ("<think>九乘九等于八十一。</think>答案是 \\boxed{81}", None, "stop")
    [rows] = run_step(LongCoTDistill("cot"), ScriptedModel(lambda req, j: reply), [problem])
    assert rows[0]["reasoning"] == "九乘九等于八十一。"
    assert main_script("Nine times nine?") == "Latin" and main_script("") == "Latin"
    assert language_mixing("abc 日本 x \\frac{a}{b} $y+z$", "Latin") == (0.4, "CJK")
    assert readability_problem("a b c\n\nd e", max_paragraph_words=3, allow_code_blocks=False) is None
