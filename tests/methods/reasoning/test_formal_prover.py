"""DeepSeek-Prover's loop in Coq on a scripted model: problems autoformalized (a trivial statement
filtered out), proofs checked by coqc in the sandbox, a theorem proved in round 1 shown as a few-shot
example in round 2 where it unlocks a second proof, an unprovable one rejected with the checker's reason;
then the recipe end to end on the embedded model."""

from __future__ import annotations

import asyncio
import shutil

import pytest
from recipe_e2e import run_recipe

from synthloom.methods.reasoning.formal_proofs import Autoformalize
from synthloom.methods.reasoning.formal_prover import CoqProver
from synthloom.pipeline.step import Rejected, RejectedRow
from synthloom.testing.recipe_runs import needs_embedded
from synthloom.testing.scripted import ScriptedModel, run_step, scripted_context, user_text

needs_coq = pytest.mark.skipif(shutil.which("coqc") is None,
                               reason="coqc is not installed (`make system-deps` installs Debian's coq package)")

PROBLEMS = [
    {"id": "a", "problem": "Addition of natural numbers is commutative."},
    {"id": "b", "problem": "Multiplying a natural number by one leaves it unchanged."},
    {"id": "c", "problem": "Reversing a list twice gives back the list."},
    {"id": "d", "problem": "Adding zero to a natural number leaves it unchanged."},
]
FORMAL = {
    "commutative": "```coq\nTheorem add_comm2 (n m : nat) : n + m = m + n.\n```",
    "by one": "Theorem mul_one2 : forall n : nat, n * 1 = n.",
    "twice": "```coq\nTheorem rev_rev2 : forall l : list nat, rev (rev l) = l.\n```",
    "Adding zero": "```coq\nTheorem add_zero2 : forall n : nat, n + 0 = n.\n```",  # auto proves it: trivial
}


def formalize(req) -> str:
    asked = user_text(req).rsplit("Problem:", 1)[-1]
    return next(v for k, v in FORMAL.items() if k in asked)


def prove(req) -> str:
    text = user_text(req)
    asked = text.rsplit("Theorem ", 1)[-1]
    if asked.startswith("add_comm2"):
        return "```coq\nProof.\n  intros n m. lia.\nQed.\n```"
    if asked.startswith("mul_one2"):  # right only once add_comm2's proof is among the examples
        return "intros n. lia." if "Theorem add_comm2" in text else "intros n. reflexivity."
    return "intros l. admit."


def run_prover(step: CoqProver, model, rows) -> list:
    step.setup(scripted_context(model, step=step.name))

    async def go():
        try:
            return [item async for item in step.run(iter([dict(r) for r in rows]))]
        finally:
            await step.aclose()

    return asyncio.run(go())


@needs_coq
def test_formalize_filter_prove_and_iterate_with_proved_theorems_as_examples():
    formalized = run_step(Autoformalize("formalize", k=1, timeout=120), ScriptedModel(formalize), PROBLEMS)
    kept = [r for r in formalized if not isinstance(r, Rejected)]
    assert [r[0]["theorem_name"] for r in kept] == ["add_comm2", "mul_one2", "rev_rev2"]
    assert kept[0][0]["formal_statement"] == "forall (n m : nat), n + m = m + n"
    assert kept[0][0]["formal_theorem"] == "Theorem add_comm2 : forall (n m : nat), n + m = m + n."
    trivial = formalized[3]
    assert isinstance(trivial, Rejected) and trivial.reason == "trivial statement: `auto` alone proves the statement"

    model = ScriptedModel(prove)
    out = run_prover(CoqProver("prove", rounds=2, k=1, timeout=120), model, [r[0] for r in kept])
    rows = {r["theorem_name"]: r for r in out if isinstance(r, dict)}
    rejected = [r for r in out if isinstance(r, RejectedRow)]
    assert set(rows) == {"add_comm2", "mul_one2"}
    assert (rows["add_comm2"]["proved_round"], rows["mul_one2"]["proved_round"]) == (1, 2)
    assert rows["add_comm2"]["proof"] == "intros n m. lia."
    assert rows["add_comm2"]["full_proof"] == ("Theorem add_comm2 : forall (n m : nat), n + m = m + n.\n"
                                               "Proof.\nintros n m. lia.\nQed.")
    assert rows["mul_one2"]["few_shot_examples"][0] == "add_comm2" and rows["mul_one2"]["proof_attempts"] == 2
    assert [e["round"] for e in rows["mul_one2"]["_lineage"] if e.get("step") == "prove"] == [1, 2]

    [unproved] = rejected
    assert unproved.record["theorem_name"] == "rev_rev2" and unproved.record["proof_attempts"] == 2
    assert unproved.verdict.reason == "not proved in 2 round(s) of 1 samples: the proof uses `admit` " \
                                       "(a proof must be closed by tactics, with no axiom or admit)"
    # 3 statements asked in round 1, the 2 unproved in round 2 with add_comm2's proof among the examples
    assert len(model.requests) == 5
    assert ["intros n m. lia." in user_text(r) for r in model.requests] == [False, False, False, True, True]


def test_options_are_checked():
    with pytest.raises(ValueError, match="rounds and k"):
        CoqProver("p", rounds=0)
    with pytest.raises(ValueError, match="trivial_tactics"):
        Autoformalize("f", trivial_tactics=["auto. Qed"])
    assert CoqProver("p", k=8, max_fanout=2).k == 2 and Autoformalize("f", k=3, max_fanout=1).k == 1


@pytest.mark.slow
@needs_coq
@needs_embedded
def test_formal_proofs_recipe(tmp_path):
    run, data, rejected = run_recipe(tmp_path, "formal-proofs", "formalize", "steps.prove.max_tokens=48", n=1, max_tokens=48)
    counts = run["counts"]
    assert counts["formalize"]["in"] == 1
    assert len(data) + len(rejected) == 1
    for r in rejected:
        assert r["_rejected_by"] in ("formalize", "prove") and r["_reason"]
    for r in data:  # a proof the embedded model found must have passed coqc
        assert r["full_proof"].startswith("Theorem ") and r["proved_round"] >= 1
