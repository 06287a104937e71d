"""The causal structure of MALLM-GAN's prompt: PC over a table with a known dependency, and the cases PC cannot take."""

from __future__ import annotations

import pytest

pd = pytest.importorskip("pandas")
np = pytest.importorskip("numpy")
pytest.importorskip("causallearn")

from synthloom.methods.tabular.mallm_gan_causal import encode_for_discovery, learn_structure  # noqa: E402
from synthloom.tabular.schema import infer_schema  # noqa: E402


def chain(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=n)
    y = 2 * x + rng.normal(scale=0.3, size=n)
    z = rng.normal(size=n)
    return pd.DataFrame({"x": x, "y": y, "z": z, "note": [f"free text {i}" for i in range(n)]})


def test_pc_finds_the_dependency_and_leaves_the_independent_column_alone():
    frame = chain()
    structure = learn_structure(frame, infer_schema(frame, max_categories=5))
    pairs = {frozenset((a, b)) for a, b, _ in structure.edges}
    assert pairs == {frozenset(("x", "y"))}
    assert structure.lines() in (["x -- y"], ["x -> y"], ["y -> x"]) and structure.to_dict()["method"] == "pc"


def test_categories_booleans_and_dates_become_numbers_and_text_is_left_out():
    frame = pd.DataFrame({"c": ["a", "b", None, "a"] * 5, "flag": [True, False] * 10, "day": ["2024-01-01", "2024-03-01"] * 10,
                          "n": [1.0, 2.0] * 10, "constant": [7.0] * 20, "text": [f"t{i}" for i in range(20)]})
    names, data = encode_for_discovery(frame, infer_schema(frame, max_categories=5))
    assert names == ["c", "flag", "day", "n"] and data.shape == (20, 4)  # constant and free text left out
    assert not np.isnan(data).any()


def test_too_little_to_learn_from_says_why():
    frame = chain(6)
    assert "only 6 training rows" in learn_structure(frame, infer_schema(frame)).note
    one = pd.DataFrame({"x": [1.0, 2.0, 3.0] * 5})
    assert learn_structure(one, infer_schema(one)).edges == []
