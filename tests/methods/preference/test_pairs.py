"""Pair rules and KTO labels on hand-made scores: margins, ties, reproducible random draws, the pair
and KTO row contracts, and rejected rows with reasons."""

from __future__ import annotations

import asyncio
import random

import pytest

from synthloom.methods.preference.pairs import (
    KtoLabels,
    Pairs,
    Scored,
    all_above_margin,
    best_vs_random,
    best_vs_worst,
    kto_desirable,
    scored,
)
from synthloom.pipeline.step import Rejected
from synthloom.records import ID


def pool(*scores, models=None) -> list[dict]:
    return [{"text": f"answer {i}", "model": (models or ["m"] * len(scores))[i], "index": i, "score": s,
             "duplicate_of": None} for i, s in enumerate(scores)]


def items(*scores) -> list[Scored]:
    return scored(pool(*scores))


def process(step, record):
    return asyncio.run(step.process(record))


def test_best_vs_worst_takes_the_extremes_and_needs_a_margin():
    ((a, b),) = best_vs_worst(items(3, 5, 1, 4))
    assert (a.index, b.index, a.score - b.score) == (1, 2, 4)
    assert best_vs_worst(items(3, 5, 1, 4), margin=4) and not best_vs_worst(items(3, 5, 1, 4), margin=4.5)
    assert best_vs_worst(items(2, 2, 2)) == [] and best_vs_worst(items(2)) == []
    ((a, b),) = best_vs_worst(items(5, 1, 5, 1))
    assert (a.index, b.index) == (0, 1)  # the first in pool order among equals


def test_best_vs_random_draws_only_strictly_lower_and_is_reproducible():
    xs = items(5, 5, 4, 3, 1)
    draws = {best_vs_random(xs, random.Random(s))[0][1].index for s in range(50)}
    assert draws == {2, 3, 4}  # never the other 5: a tie is not a pair
    assert all(best_vs_random(xs, random.Random(s))[0][0].index == 0 for s in range(5))
    assert best_vs_random(xs, random.Random(7)) == best_vs_random(xs, random.Random(7))
    assert {best_vs_random(xs, random.Random(s), margin=2)[0][1].index for s in range(30)} == {3, 4}
    assert best_vs_random(items(3, 3), random.Random(0)) == []


def test_all_above_margin_lists_every_pair_largest_first_and_drops_ties():
    pairs = all_above_margin(items(4, 2, 4, 1))
    assert [(a.index, b.index) for a, b in pairs] == [(0, 3), (2, 3), (0, 1), (2, 1), (1, 3)]
    assert [(a.index, b.index) for a, b in all_above_margin(items(4, 2, 4, 1), margin=2)] == [(0, 3), (2, 3), (0, 1),
                                                                                              (2, 1)]
    assert len(all_above_margin(items(4, 2, 4, 1), max_pairs=2)) == 2
    assert all_above_margin(items(1, 1, 1)) == []


def test_scored_leaves_out_unscored_and_duplicate_completions():
    p = pool(3, None, 2, 5)
    p[1]["score"] = None
    p[2]["duplicate_of"] = 0
    p.append({"text": "answer 0", "index": 4, "score": 1.0, "model": "m"})  # same text, not marked
    p.append({"text": "nan", "index": 5, "score": float("nan"), "model": "m"})
    assert [s.index for s in scored(p)] == [0, 3]


def test_kto_desirable_by_threshold_and_top_k_with_ties_sharing_a_label():
    xs = items(5, 3, 4, 4, 1)
    assert kto_desirable(xs, threshold=4) == [True, False, True, True, False]
    assert kto_desirable(xs, top_k=1) == [True, False, False, False, False]
    assert kto_desirable(xs, top_k=2) == [True, False, True, True, False]  # 4 and 4 tie for second place
    assert kto_desirable(xs, top_k=9) == [True] * 5
    with pytest.raises(ValueError, match="exactly one"):
        kto_desirable(xs)


def test_pairs_step_emits_the_row_contract_and_rejects_with_reasons():
    record = {ID: "r1", "instruction": "Say hi", "completions": pool(2, 4.5, 1, models=["a", "b", "c"]), "topic": "x"}
    step = Pairs("pairs", rule="best_vs_worst", prompt="instruction")
    (row,) = process(step, record)
    assert {k: row[k] for k in ("prompt", "chosen", "rejected", "chosen_score", "rejected_score", "chosen_model",
                                "rejected_model", "margin", "pair_rule", "system", "chosen_index", "rejected_index")} == {
        "prompt": "Say hi", "chosen": "answer 1", "rejected": "answer 2", "chosen_score": 4.5, "rejected_score": 1.0,
        "chosen_model": "b", "rejected_model": "c", "margin": 3.5, "pair_rule": "best_vs_worst", "system": None,
        "chosen_index": 1, "rejected_index": 2}
    assert "completions" not in row and row["topic"] == "x" and row[ID] != "r1"
    assert step.output_columns({"instruction", "completions", "topic"}) >= {"chosen", "topic"}
    assert "completions" not in step.output_columns({"instruction", "completions"})

    tie = process(step, {**record, "completions": pool(3, 3, 3)})
    assert isinstance(tie, Rejected) and tie.reason.startswith("tie: all 3 scored completions have score 3")
    few = process(step, {**record, "completions": pool(3, None)})
    assert isinstance(few, Rejected) and "fewer than 2 scored completions: 1 of 2" in few.reason
    close = process(Pairs("p", rule="best_vs_worst", margin=2, prompt="instruction"), {**record, "completions": pool(3, 2)})
    assert isinstance(close, Rejected) and "no pair with a score difference >= margin 2 (best 3, worst 2)" in close.reason
    missing = process(step, {ID: "r", "instruction": "x"})
    assert isinstance(missing, Rejected) and "holds no completion list" in missing.reason


def test_completions_cut_off_at_max_tokens_are_left_out_unless_asked_for():
    p = pool(5, 1, 3)
    p[0]["finish_reason"] = "length"
    assert [s.index for s in scored(p, skip_truncated=True)] == [1, 2] and len(scored(p)) == 3
    (row,) = process(Pairs("p", rule="best_vs_worst"), {ID: "r", "prompt": "q", "completions": p})
    assert (row["chosen_index"], row["rejected_index"]) == (2, 1)
    (row,) = process(Pairs("p", rule="best_vs_worst", skip_truncated=False), {ID: "r", "prompt": "q", "completions": p})
    assert (row["chosen_index"], row["rejected_index"]) == (0, 1)
    p[2]["finish_reason"] = "length"
    few = process(Pairs("p"), {ID: "r", "prompt": "q", "completions": p})
    assert isinstance(few, Rejected) and "(2 cut off at max_tokens, left out: skip_truncated)" in few.reason
    assert [r["completion_index"] for r in process(KtoLabels("k", threshold=2), {ID: "r", "prompt": "q",
                                                                               "completions": p})] == [1]


def test_best_vs_random_step_is_reproducible_per_row_and_seed():
    record = {ID: "row-1", "prompt": "p", "completions": pool(9, 1, 2, 3, 4, 5, 6, 7)}
    step = Pairs("pairs")
    draws = [process(step, record)[0]["rejected_index"] for _ in range(3)]
    assert len(set(draws)) == 1
    others = {process(Pairs("pairs", seed=s), record)[0]["rejected_index"] for s in range(12)}
    assert len(others) > 1 and 0 not in others
    rows = process(Pairs("pairs", rule="all_above_margin", margin=6, max_pairs=3), record)
    assert [(r["chosen_index"], r["rejected_index"], r["margin"]) for r in rows] == [(0, 1, 8.0), (0, 2, 7.0), (0, 3, 6.0)]
    assert len({r[ID] for r in rows}) == 3


def test_pairs_of_a_multi_turn_prompt_carry_its_messages_and_system():
    conv = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Help me"}]
    (row,) = process(Pairs("p", rule="best_vs_worst", prompt_messages="conv"), {ID: "r", "conv": conv,
                                                                               "completions": pool(1, 2)})
    assert row["prompt"] == "Help me" and row["system"] == "Be kind." and row["prompt_messages"] == conv[1:]


def test_kto_labels_step_emits_one_row_per_scored_completion():
    record = {ID: "r", "prompt": "p", "completions": pool(5, 2, None, 4, models=["a", "b", "c", "d"])}
    record["completions"][2]["score"] = None
    rows = process(KtoLabels("kto", threshold=4), record)
    assert [(r["completion"], r["label"], r["score"], r["model"]) for r in rows] == [
        ("answer 0", True, 5.0, "a"), ("answer 1", False, 2.0, "b"), ("answer 3", True, 4.0, "d")]
    assert all(r["prompt"] == "p" and "completions" not in r for r in rows)
    assert [r["label"] for r in process(KtoLabels("kto", top_k=1), record)] == [True, False, False]
    empty = process(KtoLabels("kto", threshold=1), {**record, "completions": pool(None)})
    assert isinstance(empty, Rejected) and "no scored completion" in empty.reason


def test_bad_options_fail_when_the_step_is_built():
    for cls, kw, msg in [(Pairs, {"rule": "best"}, "rule must be one of"), (Pairs, {"margin": -1}, "margin must be"),
                         (Pairs, {"max_pairs": 2}, "max_pairs caps rule all_above_margin"),
                         (KtoLabels, {}, "exactly one of"), (KtoLabels, {"threshold": 1, "top_k": 1}, "exactly one of"),
                         (KtoLabels, {"top_k": 0}, "top_k must be")]:
        with pytest.raises(ValueError, match=msg):
            cls("s", **kw)
