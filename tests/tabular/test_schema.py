"""Schema inference on constructed frames, the YAML round trip, file:line errors, JSON schema and row checks."""

from __future__ import annotations

import json

import pytest

pd = pytest.importorskip("pandas")

from synthloom.tabular.errors import SchemaError  # noqa: E402
from synthloom.tabular.schema import ColumnSchema, TableSchema, infer_schema  # noqa: E402
from synthloom.tabular.table_io import read_table  # noqa: E402


def mixed_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "age": [31, 45, None, 27, 60, 38],
        "score": [1.25, 2.5, 3.0, 4.0, 0.5, 2.0],
        "colour": ["red", "blue", "red", "red", "green", "red"],
        "member": [True, False, True, None, False, True],
        "joined": ["2024-01-05", "2023-12-31", None, "2024-03-01", "2024-02-29", "2024-01-01"],
        "seen": ["2024-01-05T10:00:00", "2024-01-06T11:30:00", "2024-01-07T00:00:00", "2024-01-08T09:15:00",
                 "2024-01-09T23:59:00", "2024-01-10T08:00:00"],
        "note": ["a long note", "b", "cc", "ddd", "eeee", "fffff"],
    })


def test_inferred_types_ranges_categories_nulls():
    s = infer_schema(mixed_frame(), target="colour")
    by = {c.name: c for c in s.columns}
    assert [c.type for c in s.columns] == ["integer", "number", "categorical", "boolean", "datetime", "datetime", "text"]
    assert (by["age"].min, by["age"].max, by["age"].nullable, by["age"].null_share) == (27, 60, True, round(1 / 6, 4))
    assert (by["score"].min, by["score"].max, by["score"].decimals) == (0.5, 4.0, 2)
    assert by["colour"].categories == {"red": pytest.approx(4 / 6, abs=1e-4), "blue": pytest.approx(1 / 6, abs=1e-4),
                                       "green": pytest.approx(1 / 6, abs=1e-4)}
    assert list(by["colour"].categories) == ["red", "blue", "green"]  # most frequent first
    assert s.target == "colour" and not by["score"].nullable
    assert by["member"].nullable and by["member"].null_share == round(1 / 6, 4)
    assert (by["joined"].format, by["joined"].min, by["joined"].max) == ("date", "2023-12-31", "2024-03-01")
    assert (by["seen"].format, by["seen"].min) == ("date-time", "2024-01-05T10:00:00")
    assert by["note"].max_length == 11


def test_max_categories_turns_text_into_text():
    df = pd.DataFrame({"c": [f"v{i % 5}" for i in range(40)]})
    assert infer_schema(df).columns[0].type == "categorical"
    assert infer_schema(df, max_categories=4).columns[0].type == "text"
    unique = pd.DataFrame({"name": [f"person {i}" for i in range(10)]})
    assert infer_schema(unique).columns[0].type == "text"  # nothing repeats: not a category


def test_iris_schema_marks_target():
    s = infer_schema(read_table("sklearn:iris"))
    assert s.target == "target" and s.column("target").type == "categorical"
    assert s.column("sepal_length_cm").min == 4.3 and s.column("sepal_length_cm").decimals == 1


def test_yaml_round_trip(tmp_path):
    s = infer_schema(mixed_frame(), target="colour", source="mixed.csv")
    path = tmp_path / "schema.yaml"
    text = s.to_yaml(path)
    assert text.startswith("# table schema of mixed.csv")
    assert TableSchema.from_yaml(path) == s


def test_yaml_edit_takes_effect(tmp_path):
    path = tmp_path / "schema.yaml"
    infer_schema(mixed_frame()).to_yaml(path)
    path.write_text(path.read_text().replace("max: 60", "max: 120"))
    assert TableSchema.from_yaml(path).column("age").max == 120


@pytest.mark.parametrize("old,new,words,marker", [
    ("type: integer", "type: integr", "unknown type 'integr'", "type: integr"),
    ("max: 60", "maxx: 60", "unknown key 'maxx'", "maxx: 60"),
    ("max: 60", "max: 10", "min 27 is above max 10", "min: 27"),
    ("max_length: 11", "max_length: long", "wrong kind of value", "max_length: long"),
    ("format: date\n", "format: day\n", "format must be date or date-time", "format: day"),
])
def test_bad_edit_is_a_file_line_error(tmp_path, old, new, words, marker):
    path = tmp_path / "schema.yaml"
    text = infer_schema(mixed_frame()).to_yaml()
    assert old in text
    edited = text.replace(old, new, 1)
    path.write_text(edited)
    line = next(i for i, ln in enumerate(edited.splitlines(), 1) if ln.strip() == marker)
    with pytest.raises(SchemaError) as e:
        TableSchema.from_yaml(path)
    message = str(e.value)
    assert words in message and "\n" not in message
    assert message.startswith(f"{path}:{line}:"), message


def test_broken_yaml_syntax_names_the_line(tmp_path):
    path = tmp_path / "schema.yaml"
    path.write_text("columns:\n  a:\n    type: integer\n   min: [1\n")
    with pytest.raises(SchemaError, match=rf"{path}:\d+: not valid YAML"):
        TableSchema.from_yaml(path)
    path.write_text("- a\n- b\n")
    with pytest.raises(SchemaError, match="a schema is a mapping with `columns:`"):
        TableSchema.from_yaml(path)


def test_json_schema_accepts_good_and_rejects_bad_rows():
    jsonschema = pytest.importorskip("jsonschema")
    s = infer_schema(mixed_frame())
    schema = s.json_schema()
    json.dumps(schema)  # plain JSON
    good = {"age": 40, "score": 2.0, "colour": "blue", "member": None, "joined": "2024-01-02",
            "seen": "2024-01-06T11:30:00", "note": "hi"}
    jsonschema.validate(good, schema)
    assert s.validate_row(good) == []
    assert s.validate_row({**good, "id": "x", "_lineage": []}) == []  # record bookkeeping is not a column
    bad = {**good, "colour": "purple", "score": 9.5}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    assert sorted(s.validate_row(bad)) == ["colour: 'purple' is not one of the categories ['red', 'blue', 'green']",
                                           "score: 9.5 is above the maximum 4.0"]
    missing = {k: v for k, v in good.items() if k != "age"} | {"extra": 1}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(missing, schema)
    assert s.validate_row(missing) == ["age: missing", "extra: not a column of the schema"]


@pytest.mark.parametrize("column,value,problem", [
    (ColumnSchema("n", "integer", min=0, max=10), 3.5, "not a whole number"),
    (ColumnSchema("n", "integer", min=0, max=10), -1, "below the minimum"),
    (ColumnSchema("n", "number"), "7", "not a number"),
    (ColumnSchema("n", "number"), None, "null in a column that is not nullable"),
    (ColumnSchema("b", "boolean"), 1, "not true or false"),
    (ColumnSchema("d", "datetime", min="2024-01-01", format="date"), "2023-06-01", "before the minimum"),
    (ColumnSchema("d", "datetime", format="date"), "June 1st", "not an ISO date"),
    (ColumnSchema("t", "text", max_length=3), "abcd", "longer than max_length 3"),
])
def test_validate_rejects(column, value, problem):
    assert problem in TableSchema([column]).validate_row({column.name: value})[0]


def test_coerce_row():
    s = TableSchema([ColumnSchema("i", "integer"), ColumnSchema("x", "number", decimals=1),
                     ColumnSchema("b", "boolean"), ColumnSchema("c", "categorical", categories={"Red": 0.5, "Blue": 0.5}),
                     ColumnSchema("d", "datetime", format="date")])
    import datetime as dt
    row = s.coerce_row({"i": 3.0, "x": "5.14", "b": "yes", "c": "red", "d": dt.date(2024, 5, 1), "other": 1})
    assert row == {"i": 3, "x": 5.1, "b": True, "c": "Red", "d": "2024-05-01", "other": 1}
    assert s.validate_row({k: v for k, v in row.items() if k != "other"}) == []
    assert s.coerce_row({"i": "three"})["i"] == "three"  # not coercible: left for validation to report
