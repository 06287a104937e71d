"""MetaMath: deterministic number masking, FOBAR/SV questions, and the four augmentations verified."""

from __future__ import annotations

import pytest
from recipe_e2e import run_recipe

from synthloom.methods.reasoning.metamath import (
    MetaMath,
    find_numbers,
    first_paragraph,
    fobar_question,
    mask_number,
    normalize_augmentations,
    sv_question,
)
from synthloom.methods.reasoning.rejection_sampling import KeepVerified
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import needs_embedded
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

PROBLEM = {"id": "p1", "question": "James buys 5 packs of beef that are 4 pounds each. How many pounds of beef does he buy?",
           "answer": "20"}


def test_numbers_found_and_masked_deterministically():
    q = "A shirt costs $18, a coat $1,200 and a hat 3.5 dollars; shirts2 are item7."
    assert [m.group() for m in find_numbers(q)] == ["18", "1,200", "3.5"]
    assert mask_number(q, "first") == ("A shirt costs $x, a coat $1,200 and a hat 3.5 dollars; shirts2 are item7.", "18")
    masked, value = mask_number("Tom has 12 apples and buys 1,200 more.", "last")
    assert (masked, value) == ("Tom has 12 apples and buys x more.", "1200")
    assert mask_number("Tom has 12 apples and buys 1,200 more.", "first") == ("Tom has x apples and buys 1,200 more.", "12")
    # a value that occurs twice is not masked while a unique one exists
    assert mask_number("Ann has 3 cats and 3 dogs and 7 fish.", "first") == ("Ann has 3 cats and 3 dogs and x fish.", "7")
    picks = {mask_number(PROBLEM["question"], "random", seed=f"id{i}") for i in range(20)}
    assert picks == {("James buys x packs of beef that are 4 pounds each. How many pounds of beef does he buy?", "5"),
                     ("James buys 5 packs of beef that are x pounds each. How many pounds of beef does he buy?", "4")}
    assert mask_number(PROBLEM["question"], "random", seed="p1") == mask_number(PROBLEM["question"], "random", seed="p1")
    assert mask_number("How many legs does a spider have?") is None
    assert mask_number("If x = 3 and y is 4, what is x + y?") is None
    with pytest.raises(ValueError, match="mask must be one of"):
        mask_number("1 and 2", "middle")


def test_mask_skips_digits_inside_words_and_numbers():
    q = "Room B12 holds 30 people at 2.5 m2 each."
    assert [m.group() for m in find_numbers(q)] == ["30", "2.5"]


def test_fobar_and_sv_questions():
    assert fobar_question("Weng earns $x an hour. She works 5 hours. How much does she earn?", 60) == (
        "Weng earns $x an hour. She works 5 hours. How much does she earn? If we know the answer to the above "
        "question is 60, what is the value of unknown variable x?")
    assert sv_question("James buys x packs of beef. He paid 110") == (
        "James buys x packs of beef. He paid 110. What is the value of unknown variable x?")
    assert sv_question("James buys five packs. He paid 110.") is None
    assert first_paragraph('Statement: "He paid x dollars."\n\nQuestion: next', ["Statement"]) == "He paid x dollars."
    assert normalize_augmentations("answer, fobar") == ["AnsAug", "FOBAR"]
    with pytest.raises(ValueError, match="unknown MetaMath augmentation"):
        normalize_augmentations(["backtranslate"])


def _reply(req, j):
    text = user_text(req)
    if "Rephrase the above question:" in text.splitlines()[-1]:
        return "How many pounds of beef are in 5 packs of 4 pounds each?" if j == 0 else ""
    if text.rstrip().endswith("Statement:"):
        return "James buys x packs of beef that are 4 pounds each. He buys 20 pounds of beef."
    q = text.rsplit("Q: ", 1)[1]
    if "unknown variable x" in q:
        return "x * 4 = 20, so x = 5. The answer is \\boxed{5}." if j == 0 else "\\boxed{4}"
    return "5 * 4 = 20. \\boxed{20}" if j == 0 else "5 + 4 = 9. \\boxed{9}"


def test_all_four_augmentations_verified_against_their_own_gold():
    model = ScriptedModel(_reply)
    [rows] = run_step(MetaMath("mm", k=2, mask="first"), model, [PROBLEM])
    by = {}
    for r in rows:
        by.setdefault(r["augmentation"], []).append(r)
    assert set(by) == {"AnsAug", "Rephrasing", "SV", "FOBAR"}
    assert [(r["correct"], r["pred_answer"], r["verified_rank"]) for r in by["AnsAug"]] == [(True, "20", 0), (False, "9", None)]
    assert by["AnsAug"][1]["verify_reason"] == "wrong answer: predicted 9, gold 20"
    good, empty = by["Rephrasing"]
    assert good["query"] == "How many pounds of beef are in 5 packs of 4 pounds each?" and good["correct"]
    assert (empty["verify_status"], empty["verify_reason"]) == ("skipped", "the rephrasing is empty")
    fobar = by["FOBAR"]
    assert fobar[0]["query"].startswith("James buys x packs") and fobar[0]["query"].endswith(
        "If we know the answer to the above question is 20, what is the value of unknown variable x?")
    assert [(r["masked_value"], r["gold_answer"], r["correct"]) for r in fobar] == [("5", "5", True), ("5", "5", False)]
    sv = by["SV"]
    assert sv[0]["query"] == ("James buys x packs of beef that are 4 pounds each. He buys 20 pounds of beef. "
                              "What is the value of unknown variable x?")
    assert sv[0]["correct"] and not sv[1]["correct"]
    assert all(r["question"] == PROBLEM["question"] and r["answer"] == "20" for r in rows)
    assert len({r["id"] for r in rows}) == len(rows) and all(r["_lineage"] for r in rows)
    # AnsAug 1 request (n=2), rephrase 1 + 1 solve, SV rewrite 1 + solve 1, FOBAR solve 1
    assert len(model.requests) == 6
    kept = [KeepVerified("keep").check(r) for r in rows]
    assert sum(k is True for k in kept) == 4
    assert all(isinstance(k, Rejected) and k.reason for k in kept if k is not True)


def test_backward_augmentations_without_a_number_are_skipped_with_a_reason():
    model = ScriptedModel(lambda req, j: "\\boxed{8}")
    [rows] = run_step(MetaMath("mm", augmentations=["SV", "FOBAR"], k=1),
                      model, [{"id": "p2", "question": "How many legs does a spider have?", "answer": "8"}])
    assert [(r["augmentation"], r["verify_status"], r["verify_reason"]) for r in rows] == [
        ("SV", "skipped", "SV: no number in the question to mask"),
        ("FOBAR", "skipped", "FOBAR: no number in the question to mask")]
    assert model.requests == []
    assert isinstance(KeepVerified("keep").check(rows[0]), Rejected)


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="mask must be one of"):
        MetaMath("mm", mask="all")
    with pytest.raises(ValueError, match="unknown MetaMath augmentation"):
        MetaMath("mm", augmentations="everything")


@pytest.mark.slow
@needs_embedded
def test_metamath_recipe_on_the_embedded_model(tmp_path):
    run, data, rejected = run_recipe(tmp_path, "metamath", "augment", "steps.augment.k=1")
    c = run["counts"]
    assert c["augment"]["in"] == 1 and c["verified"]["in"] == c["augment"]["out"] == len(data) + len(rejected)
    assert c["augment"]["out"] >= 4  # AnsAug 1, Rephrasing 1, SV 1, FOBAR 1
    assert {r["augmentation"] for r in data + rejected} == {"AnsAug", "Rephrasing", "SV", "FOBAR"}
    assert all(r["correct"] and r["verify_status"] == "correct" for r in data)
    assert all(r["_rejected_by"] == "verified" and r["_reason"] and not r["correct"] for r in rejected)
    for r in data + rejected:
        if r["augmentation"] == "FOBAR":
            assert r["query"].endswith("what is the value of unknown variable x?") and r["masked_value"]
