"""AutoIF on a scripted model: reading verifier replies, the cross-validation on hand-made
matrices, and the steps on the real sandbox — a verifier that passes its tests is kept; one that
fails its own tests, loops forever, tries to escape or does not compile is rejected (and the
escape attempt leaves no trace on the host); responses filtered by the surviving verifiers."""

from __future__ import annotations

import json

import pytest

from synthloom.methods.instructions.autoif import AutoIfAugment, AutoIfBackTranslate, AutoIfQueries
from synthloom.methods.instructions.autoif_checks import (
    compile_problem,
    cross_validate,
    merge_cases,
    parse_verifier_reply,
)
from synthloom.methods.instructions.autoif_verifiers import AutoIfResponses, AutoIfVerifiers
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe, side_rows
from synthloom.testing.scripted import ScriptedModel, run_step

NO_COMMA = "def evaluate(response):\n    return ',' not in response\n"
FAILS_OWN = "def evaluate(response):\n    return ',' in response\n"
LOOPS = "def evaluate(response):\n    while True:\n        pass\n"
CASES = [{"response": "No commas here.", "expected": True}, {"response": "Yes, one.", "expected": False},
         {"response": "Plain text", "expected": True}, {"response": "a, b, c", "expected": False}]


def escape(marker: str) -> str:
    return (f"import os, socket, subprocess\n"
            f"def evaluate(response):\n"
            f"    for attempt in (lambda: open({marker!r}, 'w').write('escaped'),\n"
            f"                    lambda: subprocess.run(['touch', {marker!r}]),\n"
            f"                    lambda: socket.create_connection(('1.1.1.1', 80), timeout=0.5),\n"
            f"                    lambda: os.kill(1, 9)):\n"
            f"        try:\n            attempt()\n        except Exception:\n            pass\n"
            f"    return True\n")


def reply_of(code: str, cases=CASES) -> str:
    return json.dumps({"function": code, "cases": cases})


def test_replies_are_read_from_json_or_fenced_blocks():
    assert parse_verifier_reply(reply_of(NO_COMMA)) == (NO_COMMA, CASES)
    fenced = f"Here:\n```python\n{NO_COMMA}```\n```json\n" + json.dumps([{"response": "x", "label": False}]) + "\n```"
    assert parse_verifier_reply(fenced) == (NO_COMMA.strip(), [{"response": "x", "expected": False}])
    assert parse_verifier_reply("no code at all") == (None, [])
    assert compile_problem(NO_COMMA) is None
    assert "does not compile" in compile_problem("def evaluate(:\n")
    assert "defines no top-level" in compile_problem("def check(response):\n    return True\n")
    merged = merge_cases([*CASES, {"response": "Yes, one.", "expected": False}, {"response": "Plain text", "expected": False}])
    assert [c["response"] for c in merged] == ["No commas here.", "Yes, one.", "a, b, c"]  # the contradictory one goes


def test_cross_validation_drops_cases_nobody_gets_right_and_verifiers_below_the_threshold():
    cases = [{"response": str(j), "expected": True} for j in range(5)]
    agree = [[True, True, True, True, False],     # 4/4 on the kept cases
             [True, False, False, True, False],   # 2/4
             [True, True, True, False, False]]    # 3/4 = 0.75
    statuses = [["passed" if a else "failed" for a in row] for row in agree]
    statuses[2][4] = "timeout"
    cv = cross_validate(["a", "b", "c"], [[0, 1], [2, 3], [3, 4]], cases, agree, statuses, 0.75)
    assert [c["response"] for c in cv.cases] == ["0", "1", "2", "3"]  # case 4: no verifier agrees with its label
    assert [k["code"] for k in cv.kept] == ["a"]  # c reaches 0.75 overall but fails its own cases
    assert {r["index"] for r in cv.rejected} == {1, 2} and "timeout" in cv.rejected[1]["reason"]


@pytest.fixture(scope="module")
def verifier_outputs(tmp_path_factory):
    marker = tmp_path_factory.mktemp("host") / "escaped.txt"
    codes = [NO_COMMA, FAILS_OWN, LOOPS, escape(str(marker)), "def evaluate(response:\n  return"]
    model = ScriptedModel(lambda req, j: reply_of(codes[j]))
    step = AutoIfVerifiers("verifiers", n_samples=len(codes), timeout=1.0, workers=4)
    alone = ScriptedModel(lambda req, j: reply_of(FAILS_OWN))
    lonely = AutoIfVerifiers("verifiers", n_samples=1, timeout=1.0, workers=2)
    return (run_step(step, model, [{"id": "i1", "instruction": "Do not use any commas."}]), model,
            run_step(lonely, alone, [{"id": "i2", "instruction": "Do not use any commas."}]), marker)


def test_only_the_verifier_that_passes_its_tests_survives_the_sandbox(verifier_outputs):
    (out,), model, _, marker = verifier_outputs
    (row,) = out
    assert [v["code"] for v in row["verifiers"]] == [NO_COMMA] and row["verifiers"][0]["accuracy"] == 1.0
    assert [c["response"] for c in row["test_cases"]] == [c["response"] for c in CASES]
    reasons = {r["index"]: r["reason"] for r in row["verification"]["rejected"]}
    assert set(reasons) == {1, 2, 3, 4}
    assert "accuracy 0.00" in reasons[1]                        # fails its own tests
    assert "timeout" in reasons[2]                              # loops forever: killed at the limit
    assert "accuracy 0.50" in reasons[3]                        # the escape attempt says True to everything
    assert "does not compile" in reasons[4]
    assert not marker.exists()                                  # the sandbox kept the host untouched
    (req,) = model.requests
    assert req.n == 5 and req.json_schema is not None and "Do not use any commas." in req.messages[-1]["content"]
    assert row["_lineage"][-1]["step"] == "verifiers"


def test_an_instruction_whose_only_verifier_fails_its_own_tests_is_rejected(verifier_outputs):
    _, _, (verdict,), _ = verifier_outputs
    assert isinstance(verdict, Rejected) and "0 verifiers survive" in verdict.reason


def test_responses_are_kept_only_when_the_verifiers_pass_them():
    row = {"id": "q1", "prompt": "Tell me about tides.\n\nDo not use any commas.", "verifiers": [{"code": NO_COMMA}]}
    step = AutoIfResponses("responses", n_samples=3, workers=2)
    (out,) = run_step(step, ScriptedModel(lambda req, j: ["Tides, waves.", "Tides rise and fall.", "Moon, sun."][j]), [dict(row)])
    (kept,) = out
    assert kept["response"] == "Tides rise and fall." and kept["response_pass_rate"] == 1.0
    assert kept["failed_responses"] == ["Tides, waves.", "Moon, sun."] and kept["response_pass_rates"] == [0.0, 1.0, 0.0]
    (none,) = run_step(AutoIfResponses("responses", n_samples=2, workers=2), ScriptedModel(lambda req: "a, b"), [dict(row)])
    assert isinstance(none, Rejected) and "none of 2 responses" in none.reason
    (empty,) = run_step(AutoIfResponses("responses"), ScriptedModel(lambda req: "x"), [{**row, "verifiers": []}])
    assert isinstance(empty, Rejected)


def test_augmentation_keeps_the_seed_and_adds_new_distinct_instructions():
    reply = json.dumps({"instructions": ["Use no commas.", "Answer in exactly three lines of text.", "Short",
                                         "Answer in exactly three lines of text!", "End every line with a period."]})
    model = ScriptedModel(lambda req: reply)
    (rows,) = run_step(AutoIfAugment("augment", n_new=2), model, [{"id": "s", "instruction": "Use no commas."}])
    assert [(r["instruction"], r["origin"]) for r in rows] == [
        ("Use no commas.", "seed"), ("Answer in exactly three lines of text.", "self-instruct"),
        ("End every line with a period.", "self-instruct")]
    assert len({r["id"] for r in rows}) == 3 and "Use no commas." in model.requests[0].messages[-1]["content"]
    numbered = ScriptedModel(lambda req: "1. Start with the word Hello.\n2. Use exactly four sentences.")
    step = AutoIfAugment("augment", n_new=2, keep_seed=False)
    step.json_schema_support = lambda model=None: False
    (rows,) = run_step(step, numbered, [{"id": "s", "instruction": "x y z"}])
    assert [r["instruction"] for r in rows] == ["Start with the word Hello.", "Use exactly four sentences."]


def test_back_translation_drops_verifiers_that_contradict_their_instruction():
    def reply(req) -> str:
        text = req.messages[-1]["content"]
        if "Premise:" in text:
            return json.dumps({"relation": "contradiction" if "must contain commas" in text else "entailment"})
        return "The response must contain commas." if "',' in response" in text else "Do not use commas."

    row = {"id": "b", "instruction": "Do not use any commas.", "verifiers": [{"code": NO_COMMA}, {"code": FAILS_OWN}]}
    (out,) = run_step(AutoIfBackTranslate("bt"), ScriptedModel(reply), [dict(row)])
    assert [(v["code"], v["relation"], v["back_translation"]) for v in out[0]["verifiers"]] == [
        (NO_COMMA, "entailment", "Do not use commas.")]
    (gone,) = run_step(AutoIfBackTranslate("bt"), ScriptedModel(reply), [{**row, "verifiers": [{"code": FAILS_OWN}]}])
    assert isinstance(gone, Rejected) and "contradiction" in gone.reason
    with pytest.raises(ValueError, match="reject_relations"):
        AutoIfBackTranslate("bt", reject_relations=["maybe"])


def test_queries_are_paired_reproducibly(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"Query {i}"}) + "\n" for i in range(5)))
    step = AutoIfQueries("q", path=str(path), per_instruction=2)
    out = step.expand({"id": "x", "instruction": "Use no commas."})
    assert out == step.expand({"id": "x", "instruction": "Use no commas."}) and len(out) == 2
    assert all(r["prompt"] == f"{r['query']}\n\nUse no commas." for r in out)
    empty = tmp_path / "e.jsonl"
    empty.write_text(json.dumps({"text": "x"}) + "\n")
    with pytest.raises(ValueError, match="no `prompt` values"):
        AutoIfQueries("q", path=str(empty))


def script(req, j) -> str:
    text = req.messages[-1]["content"]
    if "Write 2 new instructions" in text or "new instructions of this kind" in text:
        return json.dumps({"instructions": ["Do not use any commas in the answer.", "Start with the word Hello."]})
    if "evaluate(response)" in text:
        if "commas" in text:
            return reply_of(NO_COMMA)
        return reply_of(FAILS_OWN)
    if "Premise:" in text:
        return json.dumps({"relation": "entailment"})
    if "In one sentence" in text:
        return "Do not use commas."
    return "A reply without any pause" if j % 2 else "A reply, with a pause"


def test_recipe_chains_the_stages_on_a_scripted_model(tmp_path, scripted_model):
    out = tmp_path / "autoif"
    run = run_recipe("autoif", out, "response_samples=2", extra_cli_args=("-n", "2", "--model", scripted_model(script)))
    data, rejected, errors = completed_outputs(run, out)
    assert not errors and data
    assert run["counts"]["augment"]["out"] > run["counts"]["augment"]["in"]
    for row in data:
        assert "comma" in row["instruction"].lower() and "," not in row["response"]
        assert row["verifiers"][0]["code"] == NO_COMMA and row["failed_responses"] == ["A reply, with a pause"]
        assert row["prompt"].endswith(row["instruction"])
    assert any(r["_rejected_by"] == "verifiers" and "survive cross-validation" in r["_reason"] for r in rejected)


@needs_embedded
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "autoif"
    run = run_recipe("autoif", out, "new_per_seed=1", "verifier_samples=1", "steps.verifiers.max_tokens=96",
                     "steps.augment.max_tokens=48", extra_cli_args=("-n", "1"))
    assert run["status"] == "completed" and run["counts"]["verifiers"]["in"] >= 1
    for r in side_rows(out, "rejected"):
        assert r["_reason"]
