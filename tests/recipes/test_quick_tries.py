"""Quick tries stay quick: with ``-n 3`` the built-in recipes bound their per-record fan-out by ``-n``
and cap the short outputs, while a run without ``-n`` keeps the paper's counts (issue 16, item 4).
The wall-clock side is measured by ``benchmarks/bench_quick_tries.py``."""

from __future__ import annotations

import pytest

from synthloom.recipes.build import load_pipeline

#: recipe -> (step, the per-record counts bounded by -n, their values without -n)
FANOUT = {
    "math-shepherd": ("labels", {"n_rollouts": 8, "k": 2}),
    "codet": ("codet", {"n_solutions": 8, "n_test_samples": 4}),
    "benchagents": ("items", {"n_items": 8}),
    "auggpt": ("rephrase", {"k": 6}),
}


def _step(recipe: str, name: str, *sets: str):
    return next(s for s in load_pipeline(recipe, list(sets)).pipeline.steps if s.name == name)


@pytest.mark.parametrize("recipe", sorted(FANOUT))
def test_fanout_is_bounded_by_n_and_full_without_it(recipe):
    step_name, full = FANOUT[recipe]
    tried, real = _step(recipe, step_name, "n=3"), _step(recipe, step_name)
    assert {k: getattr(real, k) for k in full} == full
    assert {k: getattr(tried, k) for k in full} == {k: min(v, 3) for k, v in full.items()}
    unbounded = _step(recipe, step_name, "n=3", "max_fanout=null")  # the recipe parameter lifts the bound
    assert {k: getattr(unbounded, k) for k in full} == full


def test_short_outputs_have_short_token_caps():
    seed = _step("agent-instruct", "seed_instructions", "n=3")
    refine = _step("agent-instruct", "refine", "n=3")
    assert seed.sampling["max_tokens"] == 256
    assert [b.sampling["max_tokens"] for b in refine.body] == [256, 256]  # suggester, editor
    assert _step("agent-instruct", "transform").sampling["max_tokens"] == 700  # passages stay long
    assert _step("apigen-mt", "blueprint", "n=3").sampling["max_tokens"] == 512
    assert _step("toolace", "synthesize", "n=3").sampling["max_tokens"] == 640


def test_chatdev_spends_at_most_n_calls_per_phase():
    """ChatDev's rounds and cycles are two calls each: -n 3 allows one of each, no -n the paper's 10, 3, 3."""
    tried, real = _step("chatdev", "team", "n=3"), _step("chatdev", "team")
    assert (tried.max_turns, tried.review_rounds, tried.test_rounds) == (1, 1, 1)
    assert (real.max_turns, real.review_rounds, real.test_rounds) == (10, 3, 3)
    assert (tried.talk_max_tokens, tried.sampling["max_tokens"]) == (96, 384)  # talk is short, code is not
