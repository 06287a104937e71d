"""Evol-Instruct: operator prompts, output cleaning, the elimination rules, the round loop with
lineage (on a scripted model), the eliminate filter, and an end-to-end run."""

from __future__ import annotations

import asyncio

import pytest

from synthloom.io.shards import read_shards
from synthloom.llm.types import Choice, Request, Response, Usage
from synthloom.methods.instructions.evol_instruct import (
    CODE_OPERATORS,
    OPERATORS,
    EvolEliminate,
    EvolInstruct,
    clean_evolved,
    is_only_punctuation_and_stop_words,
    is_sorry_short,
    leaked_prompt_words,
    parse_equality,
)
from synthloom.pipeline.context import StepContext
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import needs_embedded, run_recipe, side_rows


def test_every_operator_has_a_prompt_with_the_instruction():
    step = EvolInstruct("e", operators=OPERATORS + CODE_OPERATORS)
    for op in OPERATORS + CODE_OPERATORS:
        p = step.evolution_prompt(op, "Sort a list of numbers.")
        assert "Sort a list of numbers." in p
    depth = step.evolution_prompt("add_constraints", "X")
    assert "10 to 20 words" in depth and "must be reasonable" in depth and depth.endswith("#Rewritten Prompt#:")
    breadth = step.evolution_prompt("breadth", "X")
    assert "#Created Prompt#" in breadth and "more rare" in breadth
    assert "erroneous code" in step.evolution_prompt("code_debugging", "X")
    assert "time or space complexity" in step.evolution_prompt("code_complexity", "X")
    with pytest.raises(ValueError, match="unknown Evol-Instruct operator"):
        step.evolution_prompt("shout", "X")
    with pytest.raises(ValueError, match="unknown Evol-Instruct operator 'breadth'"):  # not one of this step's
        EvolInstruct("e", variant="code").evolution_prompt("breadth", "X")


def test_the_fingerprint_covers_the_templates_the_step_uses():
    general = EvolInstruct("e").describe()["templates"]
    assert set(general) == {"evol_instruct_depth.jinja", "evol_instruct_breadth.jinja", "evol_instruct_equal.jinja"}
    code = EvolInstruct("e", variant="code", equality_check=False).describe()["templates"]
    assert set(code) == {"evol_instruct_code.jinja"}


@pytest.mark.parametrize("raw, clean", [
    ("#Rewritten Prompt#:\nList three rivers in Peru longer than 500 km.", "List three rivers in Peru longer than 500 km."),
    ("**Rewritten Prompt:** Explain X in detail.", "Explain X in detail."),
    ("Created Prompt: \"Name a rare orchid.\"", "Name a rare orchid."),
    ("  Explain the rewritten prompt idea.  ", "Explain the rewritten prompt idea."),
])
def test_clean_evolved(raw, clean):
    assert clean_evolved(raw) == clean


@pytest.mark.parametrize("text, leak", [
    ("Rewrite the given prompt to be harder", "given prompt"),
    ("Answer #Rewritten Prompt# now", "rewritten prompt"),
    ("Describe a volcano in 50 words", None),
])
def test_leaked_prompt_words(text, leak):
    assert leaked_prompt_words(text) == leak


@pytest.mark.parametrize("text, verdict", [("Equal", True), ("Not Equal", False), (" not equal.", False),
                                           ("They are equal.", True), ("The second is different", False),
                                           ("I cannot tell", None)])
def test_parse_equality(text, verdict):
    assert parse_equality(text) is verdict


def test_sorry_rule_needs_both_sorry_and_fewer_than_80_words():
    assert is_sorry_short("I'm sorry, but I can't help with that.")
    assert not is_sorry_short("Sorry for the wait! " + "word " * 80)
    assert not is_sorry_short("Here is the answer: 42.")


@pytest.mark.parametrize("text, only", [("", True), ("...", True), ("It is what it is.", True),
                                        ("The, and; of -- to!", True), ("Paris is the capital.", False)])
def test_punctuation_and_stop_words_rule(text, only):
    assert is_only_punctuation_and_stop_words(text) is only


# -- the loop on a scripted model ----------------------------------------------------------------------

class RoutedModel:
    """Answers by the kind of prompt: evolution, equality judgement, or a response."""

    identity = "routed"

    def __init__(self, evolutions, judgements=("Not Equal",), responses=("A fine, detailed answer about rivers.",)):
        self.evolutions, self.judgements, self.responses = list(evolutions), list(judgements), list(responses)
        self.requests: list[Request] = []

    async def complete(self, request: Request) -> Response:
        self.requests.append(request)
        text = request.messages[-1]["content"]
        if "Your Judgement" in text:
            out = self.judgements.pop(0) if len(self.judgements) > 1 else self.judgements[0]
        elif "#Given Prompt#" in text or "#The Given Prompt#" in text or "programming test question" in text:
            out = self.evolutions.pop(0)
        else:
            out = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        return Response([Choice(out, "stop")], Usage(7, 3))


class _Models:
    def __init__(self, model):
        self.model = model

    def get(self, name):
        return self.model


def _step(model, **kw):
    step = EvolInstruct("evolve", **kw)
    step.setup(StepContext(step="evolve", models=_Models(model)))
    return step


def test_rounds_chain_and_failed_evolutions_return_to_the_parent():
    model = RoutedModel(
        evolutions=["#Rewritten Prompt#: List three rivers in Peru.",     # round 1 ok
                    "List three rivers in Peru.",                           # round 2: copy of its parent
                    "Rewrite the given prompt about rivers in Peru.",       # round 3: copied prompt words
                    "List three rivers in Peru and rank them by length."],  # round 4 ok, parent = round 1
        judgements=["Not Equal", "Not Equal"])
    step = _step(model, rounds=4)
    rows = asyncio.run(step.process({"id": "seed1", "instruction": "List rivers."}))
    assert [r["evol_round"] for r in rows] == [1, 2, 3, 4]
    assert [r["evol_status"].split(":")[0] for r in rows] == ["ok", "no_information_gain", "copied_prompt_words", "ok"]
    assert rows[0]["instruction"] == "List three rivers in Peru."
    assert rows[0]["parent_instruction"] == "List rivers." and rows[0]["parent_id"] == "seed1"
    assert rows[3]["parent_instruction"] == "List three rivers in Peru." and rows[3]["parent_id"] == rows[0]["id"]
    assert rows[3]["evol_path"] == [rows[0]["evol_operator"], rows[3]["evol_operator"]]
    assert all(r["root_instruction"] == "List rivers." for r in rows)
    assert len({r["id"] for r in rows}) == 4
    calls = [[e["call"] for e in r["_lineage"]] for r in rows]
    assert calls == [["evolve", "equality_check", "respond"], ["evolve"], ["evolve"],
                     ["evolve", "equality_check", "respond"]]
    assert rows[3]["_lineage"][0]["parent"] == rows[0]["id"] and rows[3]["_lineage"][0]["round"] == 4
    assert rows[0]["response"] and rows[1]["response"] is None


def test_judge_equal_and_response_rules_fail_an_evolution():
    model = RoutedModel(evolutions=["Name one river.", "Name two long rivers in Asia.", "Name two rivers."],
                        judgements=["Equal", "Not Equal", "Not Equal"],
                        responses=["I'm sorry, I cannot answer that.", "it is, and the..."])
    rows = asyncio.run(_step(model, rounds=3).process({"id": "s", "instruction": "Name a river."}))
    assert [r["evol_status"].split(":")[0] for r in rows] == ["no_information_gain", "sorry_short_response",
                                                              "stopwords_only_response"]


def test_operator_choice_is_deterministic_and_code_variant_uses_code_operators():
    step = EvolInstruct("e", variant="code")
    picks = [step.pick_operator("rec", r) for r in range(1, 30)]
    assert set(picks) <= set(CODE_OPERATORS) and len(set(picks)) > 1
    assert picks == [step.pick_operator("rec", r) for r in range(1, 30)]
    assert any("WizardCoder" in c for c in step.citations)
    with pytest.raises(ValueError, match="unknown operator"):
        EvolInstruct("e", operators=["deepen", "explode"])


def test_equality_check_off_skips_the_judge():
    model = RoutedModel(evolutions=["Name two long rivers in Asia."])
    rows = asyncio.run(_step(model, rounds=1, equality_check=False).process({"id": "s", "instruction": "Name a river."}))
    assert rows[0]["evol_status"] == "ok"
    assert not any("Your Judgement" in r.messages[-1]["content"] for r in model.requests)


def test_eliminate_rejects_with_the_rule():
    f = EvolEliminate("eliminate")
    assert f.check({"evol_status": "ok"}) is True
    rec = {"evol_status": "sorry_short_response: says sorry in 7 words (< 80)"}
    verdict = f.check(rec)
    assert isinstance(verdict, Rejected) and verdict.reason.startswith("sorry_short_response")
    assert rec["evol_rejected_filter"] == "sorry_short_response"


# -- end to end ----------------------------------------------------------------------------------------


@pytest.mark.slow
@needs_embedded
def test_evol_instruct_recipe_end_to_end(tmp_path):

    out = tmp_path / "evol"
    run = run_recipe("evol-instruct", out, "steps.evolve.rounds=2", "steps.evolve.max_tokens=48",
                     "steps.evolve.response_max_tokens=48", extra_cli_args=("-n", "2"))
    assert run["status"] == "completed"
    assert run["counts"]["evolve"]["in"] == 2 and run["counts"]["evolve"]["out"] == 4
    assert run["counts"]["eliminate"]["in"] == 4
    data = list(read_shards(out / "data"))
    rejected = side_rows(out, "rejected")
    assert len(data) + len(rejected) == 4
    for row in data:
        assert set(row) == {"id", "_lineage", "instruction", "response", "root_instruction", "parent_instruction",
                            "evol_operator", "evol_round", "evol_path"}
        assert row["_lineage"][0]["step"] == "evolve" and row["_lineage"][0]["operator"] == row["evol_operator"]
    for r in rejected:
        assert r["_rejected_by"] == "eliminate" and r["_reason"].startswith(r["evol_rejected_filter"])
