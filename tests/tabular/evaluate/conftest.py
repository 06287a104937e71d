"""Constructed tables with known answers: iris and diabetes split into training and holdout rows, the
training rows copied, their columns shuffled independently."""

from __future__ import annotations

import pytest

pd = pytest.importorskip("pandas")
np = pytest.importorskip("numpy")
pytest.importorskip("sklearn")


def split(name: str, seed: int = 0) -> tuple:
    from synthloom.tabular.table_io import read_table

    df = read_table(f"sklearn:{name}")
    order = np.random.default_rng(seed).permutation(len(df))
    cut = int(len(df) * 0.7)
    train, holdout = df.iloc[order[:cut]].reset_index(drop=True), df.iloc[order[cut:]].reset_index(drop=True)
    train.attrs, holdout.attrs = dict(df.attrs), dict(df.attrs)
    return train, holdout


def shuffled_columns(frame, seed: int = 1):
    """Every column permuted on its own: the same marginals, the joint structure broken."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    for col in out.columns:
        out[col] = out[col].to_numpy()[rng.permutation(len(out))]
    return out


@pytest.fixture(scope="session")
def iris():
    return split("iris")


@pytest.fixture(scope="session")
def diabetes():
    return split("diabetes")


@pytest.fixture(scope="session")
def shuffle():
    return shuffled_columns
