"""The Coq checker in the sandbox: proofs that must pass and must fail (a wrong proof, admitted goals,
an added axiom, a redefined statement — the last three also with the lexical filter switched off, so
coqc's own checks are what refuses them), and statements that are ill formed, trivial or vacuous."""

from __future__ import annotations

import shutil

import pytest

from synthloom.verify import coq
from synthloom.verify.coq import CoqChecker
from synthloom.verify.coq_source import Statement

needs_coq = pytest.mark.skipif(shutil.which("coqc") is None,
                                reason="coqc is not installed (`make system-deps` installs Debian's coq package)")

ADD_COMM = Statement("add_comm2", "forall n m : nat, n + m = m + n")


@pytest.fixture(scope="module")
def checker():
    with CoqChecker(timeout=120) as c:  # generous: a loaded CI machine must not turn verdicts into timeouts
        yield c


@needs_coq
def test_a_right_proof_is_accepted_closed_under_the_global_context(checker):
    verdict = checker.check_proof(ADD_COMM, "intros n m. lia.")
    assert verdict.ok, verdict
    assert coq.CLOSED in verdict.output


@needs_coq
def test_a_wrong_proof_and_escape_hatches_are_rejected(checker):
    wrong = checker.check_proof(ADD_COMM, "intros n m. reflexivity.")
    assert wrong.status == "rejected" and wrong.reason.startswith("coqc rejects the proof: Error")
    for body, word in (("Admitted.", "Admitted"), ("admit.", "admit"), ("lia. Qed. Axiom x : False.", "Qed")):
        verdict = checker.check_proof(ADD_COMM, body)
        assert verdict.status == "rejected" and f"`{word}`" in verdict.reason


@needs_coq
def test_coqc_itself_refuses_forgeries_the_lexical_filter_would_catch(checker, monkeypatch):
    monkeypatch.setattr(coq, "forbidden_in_proof", lambda body: None)
    axiom = checker.check_proof(ADD_COMM, "Abort. Axiom cheat : forall P : Prop, P.\n"
                                          "Theorem add_comm2 : forall n m : nat, n + m = m + n.\nProof. apply cheat.")
    assert axiom.status == "rejected" and "depends on axioms" in axiom.reason and "cheat" in axiom.reason
    admitted = checker.check_proof(ADD_COMM, "Admitted.\nLemma filler : True.\nProof. exact I.")
    assert admitted.status == "rejected" and "depends on axioms" in admitted.reason and "add_comm2" in admitted.reason
    redefined = checker.check_proof(ADD_COMM, "Abort.\nTheorem add_comm2 : True.\nProof. exact I.")
    assert redefined.status == "rejected" and redefined.reason.startswith("the proved theorem is not the given statement")
    admit = checker.check_proof(ADD_COMM, "intros n m. admit.")
    assert admit.status == "rejected" and admit.reason.startswith("coqc rejects the proof")


@needs_coq
def test_statements_kept_and_filtered(checker):
    assert checker.check_statement(ADD_COMM).ok
    trivial = checker.check_statement(Statement("z", "forall n : nat, n + 0 = n"))
    assert trivial.status == "trivial" and "`auto` alone proves" in trivial.reason
    assert checker.check_statement(Statement("t", "True")).status == "trivial"
    vacuous = checker.check_statement(Statement("v", "forall n : nat, n < 0 -> n = 5"))
    assert vacuous.status == "vacuous"
    bad = checker.check_statement(Statement("b", "forall n : nat, n + undefined_thing = n"))
    assert bad.status == "ill_formed" and "undefined_thing" in bad.reason
    assert checker.check_statement(Statement("b", "True. Axiom x : False")).status == "ill_formed"


def test_a_missing_coqc_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(coq.shutil, "which", lambda name: None)
    with pytest.raises(coq.CoqUnavailable, match="apt-get install coq"):
        coq.find_coqc()
