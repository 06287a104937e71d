"""Benchmark Self-Evolving: operations per instance (bounded by -n), the instance creator's contract
checks (answer kept, polarity reversed, something rewritten), the verifier's verdict and the math
double-check, and the recipe end to end on a scripted team and on the embedded model."""

from __future__ import annotations

import json
import re

import pytest

from synthloom.methods.agentic.self_evolving import (
    OPERATIONS,
    SelfEvolvingOperations,
    SelfEvolvingReframe,
    SelfEvolvingVerify,
)
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

MATH = {"id": "m1", "item_id": "math-01", "kind": "math", "context": "A farmer has 12 cows. He buys 5 more and sells 3.",
        "question": "How many cows does the farmer have now?", "answer": "14"}
READING = {"id": "r1", "item_id": "reading-01", "kind": "reading", "context": "The library is closed on Sundays.",
           "question": "On which day is the library closed?", "answer": "Sunday"}


def as_row(record: dict, operation: str, sub_ability: str | None = None, **new) -> dict:
    original = {k: record[k] for k in ("context", "question", "answer")}
    return {**record, "operation": operation, "evaluation": OPERATIONS[operation][0], "sub_ability": sub_ability,
            "original": original, **new}


def replying(**fields):
    return ScriptedModel(lambda req: json.dumps(fields))


def test_every_operation_and_sub_ability_makes_a_row_and_max_fanout_draws_a_few():
    rows = SelfEvolvingOperations("ops").expand(MATH)
    assert [r["operation"] for r in rows] == list(OPERATIONS)[:-1] + ["sub_ability_probing"] * 3
    assert [r["sub_ability"] for r in rows[-3:]] == ["task_planning", "implicit_knowledge", "relevant_context"]
    assert rows[0]["original"] == {"context": MATH["context"], "question": MATH["question"], "answer": "14"}
    assert rows[4]["evaluation"] == "robust" and rows[-1]["evaluation"] == "fine_grained"
    few = SelfEvolvingOperations("ops", max_fanout=3).expand(MATH)
    assert len(few) == 3 and few == SelfEvolvingOperations("ops", max_fanout=3).expand(MATH)
    draws = {tuple(r["operation"] for r in SelfEvolvingOperations("ops", max_fanout=3).expand({**MATH, "id": f"m{i}"}))
             for i in range(6)}
    assert len(draws) > 1  # a different draw per instance
    only = SelfEvolvingOperations("ops", operations=["polarity_reversing"]).expand(READING)
    assert [r["operation"] for r in only] == ["polarity_reversing"]
    with pytest.raises(ValueError, match="unknown operation 'shuffle'"):
        SelfEvolvingOperations("ops", operations=["shuffle"])
    with pytest.raises(ValueError, match="needs at least one of sub_abilities"):
        SelfEvolvingOperations("ops", operations=["sub_ability_probing"], sub_abilities=[])
    with pytest.raises(ValueError, match="answer empty"):
        SelfEvolvingOperations("ops").expand({**MATH, "answer": " "})


def test_the_creator_rewrites_one_field_under_the_operations_schema():
    model = replying(context="Twelve cows live on a farm; the farmer buys five and sells three. The barn is red.", answer="14")
    out = run_step(SelfEvolvingReframe("reframe"), model, [as_row(MATH, "context_noising")])[0][0]
    assert out["context"].endswith("The barn is red.") and out["question"] == MATH["question"] and out["answer"] == "14"
    assert out["original"]["context"] == MATH["context"]
    schema = model.requests[0].json_schema
    assert set(schema["required"]) == {"context", "answer"}
    assert "context noising" in user_text(model.requests[0]) and MATH["context"] in user_text(model.requests[0])
    question = replying(question="How many cows remain if he also sells 2 more?", answer="12")
    out = run_step(SelfEvolvingReframe("reframe"), question, [as_row(MATH, "question_complicating")])[0][0]
    assert out["question"].startswith("How many cows remain") and out["answer"] == "12" and out["context"] == MATH["context"]
    assert set(question.requests[0].json_schema["required"]) == {"question", "answer"}
    probe = replying(question="What must you do first?", answer="add 5 to 12")
    run_step(SelfEvolvingReframe("reframe"), probe, [as_row(MATH, "sub_ability_probing", "task_planning")])
    assert "steps needed to solve" in user_text(probe.requests[0])


@pytest.mark.parametrize(("operation", "reply", "reason"), [
    ("context_paraphrasing", {"context": "Twelve cows; five bought, three sold.", "answer": "15"}, "must keep the answer"),
    ("polarity_reversing", {"context": "A farmer has 12 cows. He buys 3 more and sells 1.", "answer": "14"},
     "polarity reversal left the answer unchanged"),
    ("polarity_reversing", {"context": "A farmer has 12 cows. He buys 4 more and sells 2.", "answer": "14.0"},
     "polarity reversal left the answer unchanged ('14.0', math)"),
    ("question_paraphrasing", {"question": "how many cows does the farmer have now", "answer": "14"}, "is the original one"),
    ("question_alternating", {"question": "How many cows did he buy?", "answer": " "}, "no question or no answer"),
])
def test_the_creator_rejects_what_breaks_the_operations_contract(operation, reply, reason):
    verdict = run_step(SelfEvolvingReframe("reframe"), replying(**reply), [as_row(MATH, operation)])[0]
    assert isinstance(verdict, Rejected) and reason in verdict.reason


def test_a_polarity_reversal_that_changes_the_answer_is_kept():
    reply = {"context": "The library is open every day except Mondays.", "answer": "Monday"}
    out = run_step(SelfEvolvingReframe("reframe"), replying(**reply), [as_row(READING, "polarity_reversing")])[0][0]
    assert out["answer"] == "Monday" and out["original"]["answer"] == "Sunday"
    same = {"context": "The library never opens on Sundays.", "answer": "sunday."}
    verdict = run_step(SelfEvolvingReframe("reframe"), replying(**same), [as_row(READING, "polarity_reversing")])[0]
    assert isinstance(verdict, Rejected) and "unchanged ('sunday.', text)" in verdict.reason


def verdict(answerable=True, answer_correct=True, consistent=True, verifier_answer="14", explanation="fine"):
    return replying(answerable=answerable, answer_correct=answer_correct, consistent=consistent,
                    verifier_answer=verifier_answer, explanation=explanation)


def test_the_verifier_keeps_only_instances_it_accepts():
    row = as_row(MATH, "context_noising", context=MATH["context"] + " The barn is red.")
    model = verdict()
    out = run_step(SelfEvolvingVerify("verify"), model, [row])[0][0]
    assert out["verification"]["answerable"] is True and out["verification"]["math_check"] is True
    assert model.requests[0].json_schema["required"][:3] == ["answerable", "answer_correct", "consistent"]
    assert "The barn is red." in user_text(model.requests[0])
    no = run_step(SelfEvolvingVerify("verify"), verdict(answerable=False, explanation="the context lacks the sale"), [row])[0]
    assert isinstance(no, Rejected) and no.reason == "the verifier said not answerable: the context lacks the sale"
    two = run_step(SelfEvolvingVerify("verify"), verdict(answer_correct=False, consistent=False), [row])[0]
    assert isinstance(two, Rejected) and "not answer_correct, not consistent" in two.reason
    wrong = run_step(SelfEvolvingVerify("verify"), verdict(verifier_answer="16"), [row])[0]
    assert isinstance(wrong, Rejected) and "'16' is not the proposed answer '14' (math verifier)" in wrong.reason
    fraction = as_row(MATH, "question_alternating", question="What fraction of the cows were sold?", answer="3/14")
    kept = run_step(SelfEvolvingVerify("verify"), verdict(verifier_answer="The answer is 0.2142857142857"), [fraction])
    assert isinstance(kept[0], list)
    off = run_step(SelfEvolvingVerify("verify", math_check=False), verdict(verifier_answer="16"), [row])[0][0]
    assert "math_check" not in off["verification"]


def test_the_verifier_sees_the_original_for_a_polarity_reversal():
    row = as_row(READING, "polarity_reversing", context="The library is closed on Mondays.", answer="Monday")
    model = verdict(verifier_answer="Monday")
    out = run_step(SelfEvolvingVerify("verify"), model, [row])[0][0]
    prompt = user_text(model.requests[0])
    assert "reversing a key fact" in prompt and "closed on Sundays" in prompt and "whose answer was Sunday" in prompt
    assert "math_check" not in out["verification"]  # a text answer


def team(req):
    """A scripted creator and verifier: each operation done right, except that polarity reversals of the
    math items keep the answer and the verifier refuses question complicating."""
    text = user_text(req)
    if "instance verifier" in text:
        answer = re.search(r"Proposed answer: (.*)", text).group(1).strip()
        complicated = "more than" in text
        return json.dumps({"answerable": not complicated, "answer_correct": True, "consistent": True,
                           "verifier_answer": answer, "explanation": "too vague" if complicated else "ok"})
    original = re.search(r"Answer: (.*)", text).group(1).strip()
    if "polarity reversing" in text:
        reversed_answer = original if original[0].isdigit() else "not " + original
        return json.dumps({"context": "Everything is the other way round.", "answer": reversed_answer})
    if "context" in re.search(r'Reply with JSON: "(\w+)"', text).group(1):
        return json.dumps({"context": "Reworded context.", "answer": original})
    if "question paraphrasing" in text:
        return json.dumps({"question": "Reworded question?", "answer": original})
    return json.dumps({"question": "What is more than the answer?", "answer": original + " or more"})


def test_the_recipe_keeps_verified_instances_and_says_why_the_others_went(tmp_path, scripted_model):
    out = tmp_path / "evolved"
    run = run_recipe("self-evolving", out, "n=2", "max_fanout=null", extra_cli_args=("--model", scripted_model(team)))
    data, rejected, errors = completed_outputs(run, out)
    assert not errors and run["counts"]["operations"]["out"] == 18
    assert {(r["item_id"], r["operation"]) for r in data} >= {("math-01", "context_noising"), ("reading-01", "polarity_reversing")}
    for row in data:
        assert row["verification"]["answerable"] and row["original"]["question"]
        assert row["kind"] in ("math", "reading") and row["evaluation"] in ("scalable", "robust", "fine_grained")
    reasons = {(r["_rejected_by"], r["_reason"].split(":")[0].split(" (")[0]) for r in rejected}
    assert ("reframe", "polarity reversal left the answer unchanged") in reasons
    assert ("verify", "the verifier said not answerable") in reasons
    assert ("math-01", "polarity_reversing") not in {(r["item_id"], r["operation"]) for r in data}


@pytest.mark.slow
@needs_embedded
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "evolved"
    run = run_recipe("self-evolving", out, "max_tokens=48", "verify_max_tokens=48", "concurrency=2", extra_cli_args=("-n", "1"))
    data, rejected, errors = completed_outputs(run, out)
    assert run["counts"]["benchmark"]["out"] == 1 and run["counts"]["operations"]["out"] == 1
    for r in rejected:
        assert r["_rejected_by"] in ("reframe", "verify") and r["_reason"]
    for r in errors:
        assert r["_step"] in ("reframe", "verify") and r["_error"]
    for row in data:
        assert row["verification"]["answerable"] is True
