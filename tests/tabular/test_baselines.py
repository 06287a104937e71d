"""The Gaussian copula and CART baselines on iris and wine: shapes, schema-valid rows, determinism by seed."""

from __future__ import annotations

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")
pytest.importorskip("copulas")

from synthloom.tabular.cart import cart_sample  # noqa: E402
from synthloom.tabular.copula import copula_sample  # noqa: E402
from synthloom.tabular.errors import TableError  # noqa: E402
from synthloom.tabular.real_table import load_real_table, split_table  # noqa: E402
from synthloom.tabular.schema import ColumnSchema, TableSchema, infer_schema  # noqa: E402

SAMPLERS = {"copula": copula_sample, "cart": cart_sample}


@pytest.fixture(scope="module")
def tables():
    return {name: load_real_table(f"sklearn:{name}", holdout=0.2, seed=0) for name in ("iris", "wine")}


@pytest.mark.parametrize("method", SAMPLERS)
@pytest.mark.parametrize("dataset", ["iris", "wine"])
def test_rows_valid_and_deterministic(tables, method, dataset):
    table = tables[dataset]
    sample = SAMPLERS[method]
    df = sample(table.train, table.schema, 120, seed=3)
    assert list(df.columns) == table.schema.names and len(df) == 120
    rows = [table.schema.coerce_row(r) for r in df.to_dict(orient="records")]
    assert all(table.schema.validate_row(r) == [] for r in rows)
    assert df.equals(sample(table.train, table.schema, 120, seed=3))
    assert not df.equals(sample(table.train, table.schema, 120, seed=4))
    # every class appears, in roughly the real proportions
    real_shares = table.train["target"].value_counts(normalize=True)
    synth_shares = df["target"].value_counts(normalize=True)
    assert set(synth_shares.index) == set(real_shares.index)
    assert (synth_shares - real_shares).abs().max() < 0.2


def test_cart_keeps_the_dependence_on_earlier_columns(tables):
    table = tables["iris"]
    df = cart_sample(table.train, table.schema, 300, seed=0, visit_sequence=["target", *table.schema.names[:-1]])
    setosa = df[df["target"] == "setosa"]["petal_length_cm"]
    others = df[df["target"] != "setosa"]["petal_length_cm"]
    assert setosa.max() < others.min()  # setosa's petals are short in the real data, always


def test_copula_keeps_the_correlation(tables):
    table = tables["iris"]
    df = copula_sample(table.train, table.schema, 500, seed=0)
    real = table.train["petal_length_cm"].corr(table.train["petal_width_cm"])
    synth = df["petal_length_cm"].corr(df["petal_width_cm"])
    assert real > 0.9 and synth > 0.5  # columns drawn independently would give about 0


def test_mixed_types_with_nulls_and_dates():
    n = 60
    df = pd.DataFrame({
        "age": [20 + (i * 7) % 50 if i % 10 else None for i in range(n)],
        "plan": ["basic" if i % 3 else "pro" for i in range(n)],
        "active": [i % 4 != 0 for i in range(n)],
        "joined": [f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(n)],
        "const": [1.5] * n,
        "seen": pd.date_range("2024-01-01", periods=n, freq="7h"),
        "note": [f"note {i}" for i in range(n)],
    })
    df.loc[3, "seen"] = pd.NaT
    schema = infer_schema(df)
    for sample in SAMPLERS.values():
        out = sample(df, schema, 80, seed=1)
        rows = [schema.coerce_row(r) for r in out.to_dict(orient="records")]
        assert [p for r in rows for p in schema.validate_row(r)] == []
        assert any(r["age"] is None for r in rows) and any(r["age"] is not None for r in rows)
        assert {r["const"] for r in rows} == {1.5}
        assert all(r["seen"] is None or len(r["seen"]) == 19 for r in rows)  # ISO date-times


def test_split_is_seeded_stratified_and_disjoint():
    df = load_real_table("sklearn:iris", holdout=0.0).train
    train, hold = split_table(df, 0.2, 7, stratify="target")
    assert len(train) == 120 and len(hold) == 30
    assert hold["target"].value_counts().to_dict() == {"setosa": 10, "versicolor": 10, "virginica": 10}
    again = split_table(df, 0.2, 7, stratify="target")
    assert train.equals(again[0]) and hold.equals(again[1])
    assert not hold.equals(split_table(df, 0.2, 8, stratify="target")[1])
    with pytest.raises(TableError, match="holdout must be a fraction"):
        split_table(df, 1.0, 0)


def test_reserved_and_mismatched_columns(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"id": [1, 2, 3, 4], "x": [1.0, 2.0, 3.0, 4.0]}).to_csv(path, index=False)
    with pytest.raises(TableError, match=r"reserved for record ids.*drop: \[id\]"):
        load_real_table(str(path))
    assert load_real_table(str(path), drop=["id"], holdout=0.25).schema.names == ["x"]
    schema = tmp_path / "s.yaml"
    TableSchema([ColumnSchema("y", "number")]).to_yaml(schema)
    with pytest.raises(TableError, match="are not the table's"):
        load_real_table(str(path), drop=["id"], schema=str(schema))
