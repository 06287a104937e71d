"""Reading model-written Coq: statements parsed from replies, proofs cut to their tactics, and the
commands and escape hatches a proof may not contain refused before any compilation."""

from __future__ import annotations

import pytest

from synthloom.verify.coq_source import Statement, forbidden_in_proof, forbidden_in_statement, parse_statement, proof_body, strip_comments


def test_a_statement_is_read_from_a_fenced_reply_with_binders_folded_into_forall():
    reply = "Here it is:\n```coq\nTheorem add_comm' (n m : nat) :\n  n + m = m + n.\n```\nDone."
    assert parse_statement(reply) == Statement("add_comm'", "forall (n m : nat), n + m = m + n")
    assert parse_statement("Lemma l : forall l : list nat, rev (rev l) = l.") == Statement(
        "l", "forall l : list nat, rev (rev l) = l")
    assert parse_statement("Theorem t : forall n, (fun x : nat => x) n = n.").statement == "forall n, (fun x : nat => x) n = n"


@pytest.mark.parametrize("reply, reason", [
    ("The statement is that n + 0 = n.", "no `Theorem"),
    ("Theorem t : forall n, n + 0 = n", "does not end with a period"),
    ("Theorem t forall n, n = n.", "no `:`"),
    ("Theorem t : .", "empty"),
])
def test_replies_without_a_usable_statement_say_why(reply, reason):
    out = parse_statement(reply)
    assert isinstance(out, str) and reason in out


def test_proof_bodies_drop_the_restated_theorem_proof_and_qed():
    st = Statement("t", "forall n, n + 0 = n")
    assert proof_body("```coq\nTheorem t : forall n, n + 0 = n.\nProof.\n  intros n. lia.\nQed.\n```", st) == "intros n. lia."
    assert proof_body("Proof. intros. lia. Qed.") == "intros. lia."
    assert proof_body("intros n. (* easy *) lia. Defined.") == "intros n.  lia."
    assert strip_comments("a (* b (* nested *) c *) d") == "a  d"


@pytest.mark.parametrize("body, word", [
    ("admit.", "admit"),
    ("intros. Admitted", "Admitted"),
    ("give_up.", "give_up"),
    ("lia. Qed. Axiom cheat : False. Theorem t2 : False. exact cheat", "Qed"),
    ("exact (Axiom).", "Axiom"),
])
def test_escape_hatches_are_refused(body, word):
    reason = forbidden_in_proof(body)
    assert reason is not None and f"`{word}`" in reason


def test_commands_are_refused_and_tactics_with_bullets_pass():
    assert "command" in forbidden_in_proof("intros. Print Nat.add.")
    assert "command" in forbidden_in_proof("Local Obligation Tactic := idtac. lia.")
    assert "command" in forbidden_in_proof("lia. #[local] Definition x := 1.")
    assert forbidden_in_proof("(* only a comment *)") == "the proof is empty"
    ok = "intros l. induction l as [| x l IH].\n- reflexivity.\n- simpl. rewrite IH. { reflexivity. }"
    assert forbidden_in_proof(ok) is None
    assert forbidden_in_proof("intros; rewrite Nat.add_comm; reflexivity.") is None


def test_statements_must_be_one_proposition():
    assert forbidden_in_statement("forall n, n = n") is None
    assert "more than one sentence" in forbidden_in_statement("True. Axiom x : False")
    assert "tactic" in forbidden_in_statement("ltac:(exact I) = ltac:(exact I)")
    assert "string" in forbidden_in_statement('"Closed under the global context" = ""')
