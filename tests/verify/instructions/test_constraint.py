"""The constraint contract: specs round-trip through JSON and are validated, conflict rules are
symmetric and respected by seeded sampling, verdicts carry strict and loose."""

from __future__ import annotations

import json
import random

import pytest

from synthloom.verify.instructions import (
    REGISTRY,
    ConstraintSpecError,
    check_spec,
    conflict_pairs,
    conflicting,
    sample_constraints,
    verdicts,
)

PROMPT = "Write an essay about volcanic islands and their ecology."


def test_specs_round_trip_through_json_and_rebuild_their_text():
    for seed in range(50):
        for spec in sample_constraints(PROMPT, random.Random(seed), sorted(REGISTRY), 1, 3):
            again = json.loads(json.dumps(spec))
            assert again == spec and REGISTRY[again["id"]].text(again["kwargs"]) == spec["text"]
            assert set(spec["kwargs"]) == set(REGISTRY[spec["id"]].params)
            check_spec("Some response.", again)  # every drawn spec can be checked


def test_bad_specs_are_refused_with_one_clear_sentence():
    with pytest.raises(ConstraintSpecError, match="unknown constraint 'case:camel'"):
        check_spec("x", {"id": "case:camel", "kwargs": {}})
    with pytest.raises(ConstraintSpecError, match="missing \\['num_words'\\]"):
        check_spec("x", {"id": "length_constraints:number_words", "kwargs": {"relation": "at least"}})
    with pytest.raises(ConstraintSpecError, match="unexpected \\['n'\\]"):
        check_spec("x", {"id": "punctuation:no_comma", "kwargs": {"n": 1}})
    with pytest.raises(ConstraintSpecError, match="relation must be one of"):
        check_spec("x", {"id": "length_constraints:number_words", "kwargs": {"relation": "about", "num_words": 3}})
    with pytest.raises(ConstraintSpecError, match="an object with an 'id'"):
        check_spec("x", ["punctuation:no_comma"])


def test_conflicts_are_symmetric_name_known_ids_and_cover_the_obvious_pairs():
    pairs = conflict_pairs()
    assert all(p <= set(REGISTRY) for p in pairs)
    for a, b in (tuple(p) for p in pairs):
        assert conflicting(a, b) and conflicting(b, a)
    for a, b in [("change_case:english_lowercase", "change_case:english_capital"),
                 ("detectable_format:json_format", "detectable_format:title"),
                 ("language:response_language", "keywords:existence"),
                 ("length_constraints:number_paragraphs", "length_constraints:nth_paragraph_first_word"),
                 ("combination:repeat_prompt", "startend:start_phrase"),
                 ("keywords:existence", "keywords:forbidden_words")]:
        assert conflicting(a, b)
    assert conflicting("punctuation:no_comma", "punctuation:no_comma")  # never the same id twice
    assert not conflicting("punctuation:no_comma", "detectable_format:title")


def test_sampling_is_seeded_within_bounds_and_never_draws_a_conflict():
    seen = set()
    for seed in range(400):
        a = sample_constraints(PROMPT, random.Random(seed), sorted(REGISTRY), 1, 3)
        assert a == sample_constraints(PROMPT, random.Random(seed), sorted(REGISTRY), 1, 3)
        ids = [s["id"] for s in a]
        assert 1 <= len(ids) <= 3
        assert not any(conflicting(x, y) for i, x in enumerate(ids) for y in ids[i + 1:])
        seen.update(ids)
    assert seen == set(REGISTRY)
    only = sample_constraints(PROMPT, random.Random(1), ["change_case:english_lowercase", "change_case:english_capital"], 2, 2)
    assert len(only) == 1  # the two conflict: fewer than asked rather than a conflict


def test_verdicts_report_strict_and_loose_per_constraint():
    specs = [REGISTRY["punctuation:no_comma"].spec({}), REGISTRY["startend:end_checker"].spec({"end_phrase": "Bye."})]
    assert verdicts("Hello there. Bye.\nExtra line", specs) == [
        {"id": "punctuation:no_comma", "strict": True, "loose": True},
        {"id": "startend:end_checker", "strict": False, "loose": True}]
