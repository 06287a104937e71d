"""SemDeDup: planted near-duplicate and paraphrase clusters, survivor rules, the step in a pipeline."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from synthloom import Pipeline, RecordsSource, RunOptions, run_pipeline
from synthloom.curate.embeddings import TOKENIZER_PATH, get_encoder
from synthloom.curate.semantic_dedup import (
    SemanticDedup,
    kmeans,
    semantic_dedup,
    semantic_dedup_texts,
)
from synthloom.io.shards import read_shards


def _vocab() -> list[str]:
    words = [w for w in json.loads(TOKENIZER_PATH.read_text())["model"]["vocab"] if w.isalpha() and w.isascii() and len(w) > 3]
    return words[2000:12000]


@pytest.fixture(scope="module")
def planted():
    """120 unrelated 40-word texts; 40 of them get 2 variants with one word changed each."""
    rng = random.Random(7)
    vocab = _vocab()
    bases = [" ".join(rng.sample(vocab, 40)) for _ in range(120)]
    texts, group = list(bases), {b: b for b in range(40)}
    for b in range(40):
        for _ in range(2):
            words = bases[b].split()
            words[rng.randrange(40)] = rng.choice(vocab)
            group[len(texts)] = b
            texts.append(" ".join(words))
    order = list(range(len(texts)))
    rng.shuffle(order)
    texts = [texts[i] for i in order]
    group = {new: group[old] for new, old in enumerate(order) if old in group}
    return texts, group, get_encoder().encode(texts)


def _precision_recall(res, group, expected_removals):
    removed = np.flatnonzero(~res.keep)
    correct = sum(1 for i in removed if i in group and group.get(int(res.duplicate_of[i])) == group[i])
    return correct / max(len(removed), 1), correct / expected_removals


@pytest.mark.parametrize("keep", ["least_central", "first"])
@pytest.mark.parametrize("n_clusters", [1, 6])
def test_planted_clusters_precision_recall(planted, keep, n_clusters):
    texts, group, emb = planted
    res = semantic_dedup(emb, keep=keep, n_clusters=n_clusters)
    precision, recall = _precision_recall(res, group, expected_removals=80)
    assert precision >= 0.95 and recall >= 0.90, (precision, recall)
    # every removed row names a kept row and its cosine is above the threshold
    for i in np.flatnonzero(~res.keep):
        assert res.keep[res.duplicate_of[i]] and res.similarity[i] > 0.9
    assert np.isnan(res.similarity[res.keep]).all() and (res.duplicate_of[res.keep] == -1).all()
    # unrelated bases are never touched
    assert all(res.keep[i] for i in range(len(texts)) if i not in group)


def test_keep_first_keeps_the_earliest_row():
    v = np.array([[1, 0, 0], [0.99, 0.1, 0], [0, 1, 0], [0.995, 0.05, 0.0]], dtype=np.float32)
    res = semantic_dedup(v, keep="first", n_clusters=1)
    assert res.keep.tolist() == [True, False, True, False]
    assert res.duplicate_of.tolist() == [-1, 0, -1, 0]


def test_keep_least_central_keeps_the_row_farthest_from_the_centroid():
    # three near-identical rows; the centroid of their cluster lies near rows 1 and 2, so row 0
    # (the outlier of the group) is least similar to it and survives
    v = np.array([[1, 0.30, 0], [1, 0.02, 0], [1, 0.0, 0.02]], dtype=np.float32)
    res = semantic_dedup(v, keep="least_central", n_clusters=1, eps=0.1)
    assert res.keep.tolist() == [True, False, False]
    assert res.duplicate_of.tolist() == [-1, 0, 0]


def test_chain_compares_against_kept_rows_only():
    a = np.array([1.0, 0.0])
    b = np.array([np.cos(0.4), np.sin(0.4)])
    c = np.array([np.cos(0.8), np.sin(0.8)])  # a~b (0.92), b~c (0.92), a vs c 0.70
    res = semantic_dedup(np.stack([a, b, c]).astype(np.float32), keep="first", n_clusters=1, eps=0.1)
    assert res.keep.tolist() == [True, False, True]


def test_paraphrases_removed_and_same_topic_questions_kept():
    texts = [
        "What is the capital of France?",
        "What is the capital of Germany?",
        "Which city is France's capital?",
        "Write a Python function that returns the factorial of a number.",
        "Write a Python function that reverses a string.",
        "James writes a 3-page letter to 2 different friends twice a week. How many pages does he write a year?",
        "Twice every week, James writes a letter of 3 pages to each of his 2 friends. How many pages does he write in a year?",
    ]
    res = semantic_dedup_texts(texts, keep="first")
    assert res.keep.tolist() == [True, True, False, True, True, True, False]
    assert res.duplicate_of[2] == 0 and res.duplicate_of[6] == 5


def test_empty_and_single_and_bad_options():
    res = semantic_dedup(np.zeros((0, 384), np.float32))
    assert res.keep.shape == (0,) and res.removed == 0
    assert semantic_dedup(np.ones((1, 4), np.float32)).keep.tolist() == [True]
    with pytest.raises(ValueError, match="eps"):
        semantic_dedup(np.ones((2, 4), np.float32), eps=-1)
    with pytest.raises(ValueError, match="keep must be one of"):
        semantic_dedup(np.ones((2, 4), np.float32), keep="random")
    with pytest.raises(ValueError, match="n_clusters"):
        SemanticDedup("d", n_clusters=0)


def test_kmeans_separates_clear_groups_and_is_seeded():
    rng = np.random.default_rng(0)
    centres = np.eye(8, dtype=np.float32)[:4]
    x = np.concatenate([c + 0.05 * rng.standard_normal((50, 8)).astype(np.float32) for c in centres])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    labels, _cents = kmeans(x, 4, seed=3)
    for g in range(4):
        assert len(set(labels[g * 50 : (g + 1) * 50].tolist())) == 1
    assert len(set(labels.tolist())) == 4
    labels2, _ = kmeans(x, 4, seed=3)
    assert labels.tolist() == labels2.tolist()


def test_step_rejects_naming_the_survivor(tmp_path):
    texts = [
        "What is the capital of France?",
        "Which city is France's capital?",
        "Explain how photosynthesis works in plants.",
        "what is the capital of france",
        "Name three rivers in Africa.",
    ]
    src = RecordsSource("seeds", rows=[{"q": t, "n": i} for i, t in enumerate(texts)])
    pipe = Pipeline([src, SemanticDedup("semdedup", columns="q", keep="first")])
    res = run_pipeline(pipe, tmp_path / "o", RunOptions(progress="quiet", log=lambda m: None, partition_size=2))
    data = list(read_shards(tmp_path / "o" / "data"))
    rej = [r for sub in sorted((tmp_path / "o" / "rejected").iterdir()) for r in read_shards(sub)]
    assert [r["n"] for r in data] == [0, 2, 4]
    assert sorted(r["n"] for r in rej) == [1, 3]
    for r in rej:
        assert r["_rejected_by"] == "semdedup"
        assert r["_duplicate_of"] == data[0]["id"]
        assert r["_score"] > 0.9 and "semantic duplicate of" in r["_reason"]
    assert res.counts["semdedup"].balanced and res.counts["semdedup"].rejected == 2


def test_step_uses_a_precomputed_embedding_column(tmp_path):
    rows = [{"t": "a", "vec": [1.0, 0.0]}, {"t": "b", "vec": [0.999, 0.01]}, {"t": "c", "vec": [0.0, 1.0]}]
    pipe = Pipeline([RecordsSource("seeds", rows=rows), SemanticDedup("sd", embedding_column="vec", keep="first")])
    res = run_pipeline(pipe, tmp_path / "o", RunOptions(progress="quiet", log=lambda m: None))
    assert [r["t"] for r in read_shards(tmp_path / "o" / "data")] == ["a", "c"]
    assert res.counts["sd"].rejected == 1
