"""Knowledge-infused QA (ClinGen style): the grounded generation prompt, the fact check's kept and rejected
pairs on a scripted model, the recipe end to end on a scripted model and on the embedded model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from synthloom.methods.instructions.knowledge_qa import FactCheck, KnowledgeQA
from synthloom.pipeline.model_step import RowError
from synthloom.pipeline.step import Rejected
from synthloom.records import ID
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

FACTS = str(Path(__file__).parents[3] / "src/synthloom/recipes/builtin/knowledge_facts.jsonl")
ROW = {ID: "r1", "domain": "geography", "subject": "Australia", "relation": "capital", "object": "Canberra",
       "fact": "The capital of Australia is Canberra.", "style": "a quiz question for a trivia night"}


def judged(verdict: str):
    return lambda req: json.dumps({"rationale": "checked against the fact", "verdict": verdict})


def test_generation_is_grounded_in_the_fact_and_the_style_through_a_schema():
    model = ScriptedModel(lambda req: json.dumps({"question": "Which city is the capital of Australia?",
                                                  "answer": "The capital of Australia is Canberra."}))
    ((row,),) = run_step(KnowledgeQA("qa"), model, [dict(ROW)])
    (req,) = model.requests
    prompt = user_text(req)
    assert "Fact: The capital of Australia is Canberra." in prompt and "a quiz question for a trivia night" in prompt
    assert set(req.json_schema["required"]) == {"question", "answer"}
    assert row["question"] == "Which city is the capital of Australia?" and row["answer"].endswith("Canberra.")
    with pytest.raises(ValueError, match="column 'object' .* is empty"):
        run_step(KnowledgeQA("qa"), model, [{**ROW, "object": ""}])


def test_a_reply_cut_by_max_tokens_is_rejected():
    def reply(req, j):
        return json.dumps({"question": "What is the capital of Australia?", "answer": "Canberra"}), None, "length"

    (verdict,) = run_step(KnowledgeQA("qa"), ScriptedModel(reply), [dict(ROW)])
    assert isinstance(verdict, Rejected) and "max_tokens" in verdict.reason


def check(answer: str, question: str = "What is the capital of Australia?", verdict: str = "supported", **kw):
    model = ScriptedModel(judged(verdict))
    (out,) = run_step(FactCheck("check", facts=FACTS, **kw), model, [{**ROW, "question": question, "answer": answer}])
    return (out if isinstance(out, Rejected) else out[0]), model


def test_a_faithful_answer_the_judge_supports_is_kept():
    out, model = check("The capital of Australia is Canberra.")
    assert out["judge_verdict"] == "supported" and out["judge_rationale"] == "checked against the fact"
    (req,) = model.requests
    assert req.json_schema["properties"]["verdict"]["enum"] == ["supported", "contradicted", "unsupported"]
    assert "Answer: The capital of Australia is Canberra." in user_text(req) and req.temperature == 0


@pytest.mark.parametrize(("answer", "question", "reason"), [
    ("The capital of Australia is Sydney.", "What is the capital of Australia?", "unsupported"),
    ("Canberra, though some say Wellington.", "What is the capital of Australia?", "contradicted"),
    ("Canberra.", "Is Canberra the capital of Australia?", "gives the answer away"),
    ("Canberra.", "What is the capital city?", "does not name"),
])
def test_unfaithful_pairs_are_rejected_before_any_judge_call(answer, question, reason):
    out, model = check(answer, question)
    assert isinstance(out, Rejected) and out.reason.startswith("fact check:") and reason in out.reason
    assert model.requests == []


@pytest.mark.parametrize("verdict", ["contradicted", "unsupported"])
def test_the_judge_can_still_reject_an_answer_that_passed_the_programmatic_check(verdict):
    out, _ = check("The capital of Australia is Canberra, founded in 1066.", verdict=verdict)
    assert isinstance(out, Rejected) and f"the judge found the answer {verdict}" in out.reason


def test_without_the_judge_no_model_is_asked_and_an_unreadable_verdict_is_an_error_row():
    out, model = check("Canberra.", judge=False)
    assert out["judge_verdict"] is None and model.requests == []
    model = ScriptedModel(lambda req: "I think it is supported, or maybe unsupported")
    with pytest.raises(RowError, match="no verdict"):
        run_step(FactCheck("check"), model, [{**ROW, "question": "What is the capital of Australia?", "answer": "Canberra"}])
    with pytest.raises(ValueError, match="fact_check 'c': facts: .* does not exist"):
        FactCheck("c", facts="/nonexistent/facts.jsonl")


def test_recipe_on_a_scripted_model_keeps_faithful_pairs_and_rejects_the_rest(tmp_path, scripted_model):
    def reply(req):
        text = user_text(req)
        if "Reply with a JSON object: {\"question\"" in text:
            subject, _, obj = re.search(r"\(subject: (.*?); (.*?): (.*?)\)\n", text).groups()
            wrong = "chemistry" in text  # chemistry answers leave the fact out: unsupported
            return json.dumps({"question": f"What do you know about {subject}?",
                               "answer": "I am not sure." if wrong else f"It is {obj}."})
        return json.dumps({"rationale": "matches the fact", "verdict": "supported"})

    out = tmp_path / "kq"
    run = run_recipe("knowledge-qa", out, extra_cli_args=("-n", "12", "--model", scripted_model(reply)))
    data, rejected, errors = completed_outputs(run, out)
    assert not errors and len(data) + len(rejected) == 12 and data and rejected
    assert all(r["domain"] != "chemistry" and r["object"] in r["answer"] and r["judge_verdict"] == "supported" for r in data)
    assert all(r["domain"] == "chemistry" and "unsupported" in r["_reason"] for r in rejected)
    assert len({r["style"] for r in data + rejected}) == 6  # balanced sampling: every style in a block of six


@needs_embedded
@pytest.mark.slow
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "kq"
    run = run_recipe("knowledge-qa", out, "steps.qa.max_tokens=96", "steps.check.max_tokens=48",
                     extra_cli_args=("-n", "1"))
    data, rejected, errors = completed_outputs(run, out)
    assert len(data) + len(rejected) + len(errors) == 1
    assert all(r.get("_reason") for r in rejected)  # every rejected pair says which check failed
