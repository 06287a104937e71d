"""Elo and Bradley–Terry ratings: hand-made battle tables with known answers, strengths recovered from
battles simulated with known ratings, bootstrap intervals that cover the truth, ties and anchors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from synthloom.curate.ratings import (
    Battle,
    bootstrap,
    bradley_terry,
    elo_ratings,
    rating_table,
    record_counts,
    win_probability,
)

TRUE = {"alpha": 1200.0, "beta": 1100.0, "gamma": 1000.0, "delta": 850.0}


def simulated(n: int, seed: int = 7) -> list[Battle]:
    """``n`` battles between random pairs, each won with the Bradley–Terry probability of ``TRUE``."""
    rng = np.random.default_rng(seed)
    names = list(TRUE)
    out = []
    for _ in range(n):
        i, j = rng.choice(len(names), 2, replace=False)
        a, b = names[i], names[j]
        out.append(Battle(a, b, "a" if rng.random() < win_probability(TRUE[a], TRUE[b]) else "b"))
    return out


def test_bradley_terry_on_a_hand_made_table_has_the_closed_form_answer():
    # alpha beats beta 3 times of 4: the MLE has p_alpha / (p_alpha + p_beta) = 3/4, a gap of 400*log10(3)
    table = [("alpha", "beta", "a")] * 2 + [("beta", "alpha", "b"), ("alpha", "beta", "b")]
    r = bradley_terry(table)
    assert r["alpha"] - r["beta"] == pytest.approx(400 * math.log10(3), abs=1e-6)
    assert (r["alpha"] + r["beta"]) / 2 == pytest.approx(1000.0)
    assert win_probability(r["alpha"], r["beta"]) == pytest.approx(0.75, abs=1e-9)


def test_three_models_in_a_cycle_of_equal_records_get_equal_ratings():
    table = [("a", "b", "a"), ("b", "c", "a"), ("c", "a", "a")] * 2 + [("a", "b", "b"), ("b", "c", "b"), ("c", "a", "b")]
    r = bradley_terry(table)
    assert max(r.values()) - min(r.values()) == pytest.approx(0.0, abs=1e-6)


def test_bradley_terry_recovers_known_ratings_and_win_probabilities_from_many_battles():
    battles = simulated(6000)
    r = bradley_terry(battles, anchor="gamma", anchor_rating=1000.0)
    assert r["gamma"] == pytest.approx(1000.0)
    for m, truth in TRUE.items():
        assert r[m] == pytest.approx(truth, abs=25), m
    for a in TRUE:
        for b in TRUE:
            if a != b:
                assert win_probability(r[a], r[b]) == pytest.approx(win_probability(TRUE[a], TRUE[b]), abs=0.03)


def test_bootstrap_intervals_cover_the_true_ratings_and_are_reproducible():
    # a fixed simulated table (about 9 in 10 such intervals cover the truth over random tables; in
    # this one all four do) and ratings centred on 1000, as the truth is here
    battles = simulated(1500, seed=1)
    fit = lambda bs: bradley_terry(bs)  # noqa: E731
    centred = {m: r - np.mean(list(TRUE.values())) + 1000.0 for m, r in TRUE.items()}
    got = bootstrap(battles, fit, rounds=40, seed=1)
    for m, truth in centred.items():
        assert got[m]["ci_low"] <= truth <= got[m]["ci_high"], (m, got[m])
        assert got[m]["rounds"] == 40
    assert got["alpha"]["ci_high"] - got["alpha"]["ci_low"] > 1  # a real interval, not a point
    assert bootstrap(battles, fit, rounds=40, seed=1) == got
    assert bootstrap(battles, fit, rounds=0)["alpha"]["rating"] == pytest.approx(fit(battles)["alpha"])


def test_online_elo_moves_by_k_times_the_surprise_and_orders_the_models():
    # from 1000/1000 the expected score is 0.5, so a win moves each side by k/2
    assert elo_ratings([("x", "y", "a")], k=32) == pytest.approx({"x": 1016.0, "y": 984.0})
    assert elo_ratings([("x", "y", "tie")], k=32) == pytest.approx({"x": 1000.0, "y": 1000.0})
    battles = simulated(4000, seed=5)
    r = elo_ratings(battles, k=4)
    assert sorted(r, key=r.get, reverse=True) == sorted(TRUE, key=TRUE.get, reverse=True)


def test_ties_count_half_or_are_dropped():
    table = [("a", "b", "a"), ("a", "b", "b"), ("a", "b", "tie"), ("a", "b", "a")]
    half = bradley_terry(table, ties="half")  # a: 2.5 of 4 -> odds 2.5 : 1.5
    assert half["a"] - half["b"] == pytest.approx(400 * math.log10(2.5 / 1.5), abs=1e-6)
    drop = bradley_terry(table, ties="drop")  # a: 2 of 3 -> odds 2 : 1
    assert drop["a"] - drop["b"] == pytest.approx(400 * math.log10(2.0), abs=1e-6)
    assert elo_ratings([("a", "b", "tie")], ties="drop", k=10) == {"a": 1000.0, "b": 1000.0}
    with pytest.raises(ValueError, match="ties must be 'half'"):
        bradley_terry(table, ties="split")


def test_an_unbeaten_model_needs_a_prior_which_keeps_the_order():
    table = [("champ", "mid", "a")] * 3 + [("mid", "low", "a"), ("mid", "low", "a"), ("low", "mid", "a")]
    with pytest.raises(ValueError, match="no finite Bradley–Terry rating for champ"):
        bradley_terry(table)
    r = bradley_terry(table, prior=1.0)
    assert r["champ"] > r["mid"] > r["low"] and all(math.isfinite(v) for v in r.values())


def test_anchor_pins_one_model_and_an_unknown_anchor_is_refused():
    table = [("a", "b", "a"), ("a", "b", "b"), ("a", "b", "a")]
    assert bradley_terry(table, anchor="b", anchor_rating=1100)["b"] == pytest.approx(1100)
    assert elo_ratings(table, anchor="a")["a"] == pytest.approx(1000)
    with pytest.raises(ValueError, match="anchor model 'zed' fought no battle"):
        bradley_terry(table, anchor="zed")


def test_battles_are_checked():
    with pytest.raises(ValueError, match="outcome must be one of a, b, tie"):
        Battle("a", "b", "win")
    with pytest.raises(ValueError, match="two different models"):
        Battle("a", "a", "tie")


def test_rating_table_sorts_by_strength_and_counts_each_record():
    table = [("a", "b", "a"), ("a", "b", "a"), ("b", "a", "b"), ("a", "c", "tie"), ("c", "b", "a")]
    counts = record_counts(table)
    assert counts["a"] == {"battles": 4, "wins": 3, "losses": 0, "ties": 1}
    assert counts["b"] == {"battles": 4, "wins": 0, "losses": 4, "ties": 0}
    t = rating_table(table, rounds=20, seed=1)
    assert [row["model"] for row in t["models"]] == ["a", "c", "b"]
    assert t["battles"] == 5 and t["ties"] == 1 and t["settings"]["bootstrap_rounds"] == 20
    top = t["models"][0]
    assert top["bradley_terry"]["ci_low"] <= top["bradley_terry"]["rating"] <= top["bradley_terry"]["ci_high"]
    assert set(top["elo"]) == {"rating", "ci_low", "ci_high", "rounds"}
