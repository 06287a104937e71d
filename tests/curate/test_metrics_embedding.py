"""Dispersion, Vendi score, k-means, cluster entropy and PCA against brute force and known cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from synthloom.curate.metrics.embedding import cluster_entropy, dispersion, entropy_of_sizes, kmeans, pca_2d, unit_rows, vendi_score


def _random_unit(n, d, seed=0):
    return unit_rows(np.random.default_rng(seed).normal(size=(n, d)))


def test_dispersion_known_cases_and_brute_force():
    assert dispersion(np.tile([[1.0, 0, 0]], (5, 1))) == pytest.approx(0.0, abs=1e-12)
    assert dispersion(np.eye(6)) == pytest.approx(1.0)
    assert dispersion(np.array([[1.0, 0], [-1.0, 0]])) == pytest.approx(2.0)
    x = _random_unit(30, 8)
    k = x @ x.T
    brute = 1 - (k.sum() - np.trace(k)) / (30 * 29)
    assert dispersion(x) == pytest.approx(brute, abs=1e-10)
    # rows are normalised first: scaling a row changes nothing
    assert dispersion(x * np.arange(1, 31)[:, None]) == pytest.approx(brute, abs=1e-10)
    assert dispersion(x[:1]) is None


def _brute_vendi(x):
    x = unit_rows(x)
    eig = np.linalg.eigvalsh(x @ x.T / len(x))
    eig = eig[eig > 1e-12]
    return math.exp(-(eig * np.log(eig)).sum())


def test_vendi_score_is_the_effective_number_of_distinct_items():
    assert vendi_score(np.tile([[0.0, 1.0, 0.0]], (7, 1))) == pytest.approx(1.0)
    assert vendi_score(np.eye(5)) == pytest.approx(5.0)
    # n > dim: four directions, five copies each -> 4 (decomposed through the dim x dim matrix)
    groups = np.repeat(np.eye(4), 5, axis=0)
    assert vendi_score(groups) == pytest.approx(4.0)
    for n, d in ((10, 32), (50, 6)):
        x = _random_unit(n, d, seed=n)
        assert vendi_score(x) == pytest.approx(_brute_vendi(x), rel=1e-9)
    assert vendi_score(np.zeros((0, 3))) is None


def _blobs(seed=0, per=20):
    rng = np.random.default_rng(seed)
    centres = np.array([[10.0, 0, 0], [0, 10.0, 0], [0, 0, 10.0]])
    x = np.concatenate([c + rng.normal(scale=0.3, size=(per, 3)) for c in centres])
    truth = np.repeat(np.arange(3), per)
    return x, truth


def test_kmeans_recovers_separated_blobs_deterministically():
    x, truth = _blobs()
    labels, centroids = kmeans(x, 3, seed=1)
    assert centroids.shape == (3, 3)
    for c in range(3):  # each found cluster is exactly one true blob
        assert len(set(truth[labels == c])) == 1 and (labels == c).sum() == 20
    again, _ = kmeans(x, 3, seed=1)
    assert np.array_equal(labels, again)
    with pytest.raises(ValueError):
        kmeans(x, 0)
    with pytest.raises(ValueError):
        kmeans(x[:2], 3)


def test_cluster_entropy_even_versus_collapsed():
    x, _ = _blobs()
    even = cluster_entropy(x, k=3)
    assert even["k"] == 3 and even["sizes"] == [20, 20, 20]
    assert even["normalized"] == pytest.approx(1.0) and even["entropy"] == pytest.approx(math.log(3))
    collapsed = cluster_entropy(x, k=4, labels=np.zeros(len(x), dtype=int))
    assert collapsed["entropy"] == 0.0 and collapsed["k"] == 4 and collapsed["sizes"] == [60, 0, 0, 0]
    skewed = cluster_entropy(x, labels=np.array([0] * 50 + [1] * 10), k=2)
    assert skewed["entropy"] == pytest.approx(entropy_of_sizes([50, 10]))
    assert 0 < skewed["normalized"] < 1
    assert cluster_entropy(np.zeros((0, 3))) is None
    assert cluster_entropy(x[:2], k=10)["k"] == 2  # k is capped at n


def test_pca_2d_finds_the_main_axis():
    t = np.linspace(-1, 1, 50)
    direction = unit_rows(np.arange(1, 11, dtype=float)[None, :])[0]
    x = t[:, None] * direction[None, :] * 5 + 3.0
    proj = pca_2d(x)
    assert proj.shape == (50, 2)
    assert np.std(proj[:, 0]) == pytest.approx(np.std(t * 5), rel=1e-9)
    assert np.allclose(proj[:, 1], 0, atol=1e-9)
    assert pca_2d(np.ones((3, 1))).shape == (3, 2)
