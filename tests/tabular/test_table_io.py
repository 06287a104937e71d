"""read_table / write_table on every format and on scikit-learn's bundled datasets."""

from __future__ import annotations

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

from synthloom.tabular.errors import TableError  # noqa: E402
from synthloom.tabular.table_io import identifier, read_table, write_table  # noqa: E402


def small_frame() -> pd.DataFrame:
    return pd.DataFrame({"age": [31, 45, 27], "height": [1.72, 1.8, 1.65], "city": ["Lyon", "Oslo", "Lyon"],
                         "member": [True, False, True]})


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".jsonl", ".json"])
def test_round_trip_every_format(tmp_path, suffix):
    df = small_frame()
    path = write_table(df, tmp_path / f"t{suffix}")
    back = read_table(path)
    assert list(back.columns) == list(df.columns)
    assert back["age"].tolist() == [31, 45, 27]
    assert back["height"].tolist() == pytest.approx([1.72, 1.8, 1.65])
    assert back["city"].tolist() == ["Lyon", "Oslo", "Lyon"]
    assert [bool(v) for v in back["member"]] == [True, False, True]
    assert not list(tmp_path.glob(".*tmp*"))  # the temporary file was renamed


@pytest.mark.parametrize("name,rows,cols,labels", [
    ("iris", 150, 5, {"setosa", "versicolor", "virginica"}),
    ("wine", 178, 14, {"class_0", "class_1", "class_2"}),
    ("breast_cancer", 569, 31, {"malignant", "benign"}),
    ("diabetes", 442, 11, None),
])
def test_bundled_datasets(name, rows, cols, labels):
    df = read_table(f"sklearn:{name}")
    assert df.shape == (rows, cols)
    assert df.attrs["target"] == "target" and df.columns[-1] == "target"
    assert all(c == identifier(c) for c in df.columns)
    if labels is None:
        assert pd.api.types.is_numeric_dtype(df["target"])
    else:
        assert set(df["target"]) == labels


def test_identifier():
    assert identifier("sepal length (cm)") == "sepal_length_cm"
    assert identifier("od280/od315_of_diluted_wines") == "od280_od315_of_diluted_wines"
    assert identifier("2nd value") == "c_2nd_value"


@pytest.mark.parametrize("spec,words", [
    ("sklearn:california_housing", "not a dataset bundled"),
    ("/nonexistent/table.csv", "no such file"),
    ("table.xlsx", "suffix '.xlsx'"),
])
def test_bad_specs_are_one_line(spec, words):
    with pytest.raises(TableError) as e:
        read_table(spec)
    assert words in str(e.value) and "fix:" in str(e.value) and "\n" not in str(e.value)


def test_unreadable_file(tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(TableError, match="cannot be read as parquet"):
        read_table(bad)
