"""MALLM-GAN's discriminator: accuracy near chance for real-looking rows, 1 for far-off rows, copies not rewarded."""

from __future__ import annotations

import pytest

pytest.importorskip("pandas")
pytest.importorskip("sklearn")

from synthloom.methods.tabular.mallm_gan_discriminator import copies, discriminate  # noqa: E402
from synthloom.tabular.real_table import load_real_table  # noqa: E402


@pytest.fixture(scope="module")
def iris():
    table = load_real_table("sklearn:iris", seed=0)
    return table.train.to_dict(orient="records"), table.holdout.to_dict(orient="records"), table.schema


def test_far_off_rows_are_caught(iris):
    train, _, schema = iris
    far = [{**row, "petal_length_cm": 6.9, "petal_width_cm": 0.1, "target": "setosa"} for row in train[:20]]
    verdict = discriminate(train[20:], far, schema, seed=1)
    assert verdict.accuracy > 0.9 and verdict.auc > 0.9 and verdict.rows == 20
    assert len(verdict.caught) == 3 and verdict.passed_as_real == []
    assert all(e["p_synthetic"] >= 0.5 for e in verdict.caught)


def test_real_rows_from_the_holdout_pass_as_real(iris):
    train, holdout, schema = iris
    verdict = discriminate(train, holdout[:20], schema, seed=1)
    assert verdict.accuracy < 0.75 and verdict.passed_as_real  # some fooled it: they are real rows
    assert verdict.passed_as_real == sorted(verdict.passed_as_real, key=lambda e: e["p_synthetic"])


def test_copies_of_real_rows_score_chance_not_better(iris):
    train, _, schema = iris
    verdict = discriminate(train, train[:20], schema, seed=1)
    assert verdict.accuracy == pytest.approx(0.5)
    assert copies(train, train[:20], schema) == 20 and copies(train, [], schema) == 0


def test_too_few_rows_are_not_scored(iris):
    train, _, schema = iris
    verdict = discriminate(train, train[:1], schema)
    assert verdict.accuracy is None and "needs 2 at least" in verdict.note
