"""Schema samplers: distribution shapes by seed, conditional columns, constraints, faker persons, spec errors."""

from __future__ import annotations

import statistics
from collections import Counter

import pytest

pytest.importorskip("faker")

from synthloom.tabular.errors import TableError  # noqa: E402
from synthloom.tabular.samplers import SpecError, parse_spec  # noqa: E402

N = 3000


def draw(columns, constraints=None, n=N, seed=0, **kw):
    spec = parse_spec(columns, constraints, **kw)
    return [spec.draw_row(i, seed) for i in range(n)]


def test_category_weights_within_tolerance():
    rows = draw([{"name": "c", "sampler": "category", "values": ["a", "b", "c"], "weights": [6, 3, 1]}])
    shares = {k: v / N for k, v in Counter(r["c"] for r in rows).items()}
    assert shares == pytest.approx({"a": 0.6, "b": 0.3, "c": 0.1}, abs=0.03)
    even = draw([{"name": "c", "sampler": "category", "values": [1, 2]}])
    assert sum(r["c"] == 1 for r in even) / N == pytest.approx(0.5, abs=0.03)


def test_numbers_dates_booleans():
    rows = draw([
        {"name": "u", "sampler": "uniform", "low": 1, "high": 6},
        {"name": "f", "sampler": "uniform", "low": 0.0, "high": 1.0, "decimals": 2},
        {"name": "g", "sampler": "normal", "mean": 50, "std": 10, "min": 40, "max": 80},
        {"name": "h", "sampler": "normal", "mean": 0, "std": 1},
        {"name": "b", "sampler": "bernoulli", "p": 0.2},
        {"name": "d", "sampler": "datetime", "start": "2024-01-01", "end": "2024-01-31"},
        {"name": "t", "sampler": "datetime", "start": "2024-01-01T08:00:00", "end": "2024-01-01T09:00:00"},
    ])
    assert {r["u"] for r in rows} == {1, 2, 3, 4, 5, 6} and all(isinstance(r["u"], int) for r in rows)
    assert all(r["f"] == round(r["f"], 2) for r in rows) and statistics.mean(r["f"] for r in rows) == pytest.approx(0.5, abs=0.03)
    assert min(r["g"] for r in rows) == 40 and max(r["g"] for r in rows) <= 80  # clipped below at 40
    assert sum(r["g"] == 40 for r in rows) / N == pytest.approx(0.1587, abs=0.03)  # P(z < -1)
    assert statistics.mean(r["h"] for r in rows) == pytest.approx(0, abs=0.06)
    assert statistics.stdev(r["h"] for r in rows) == pytest.approx(1, abs=0.06)
    assert sum(r["b"] for r in rows) / N == pytest.approx(0.2, abs=0.03)
    days = Counter(r["d"] for r in rows)
    assert min(days) == "2024-01-01" and max(days) == "2024-01-31" and len(days) == 31
    assert all("2024-01-01T08:00:00" <= r["t"] <= "2024-01-01T09:00:00" and len(r["t"]) == 19 for r in rows)


def test_deterministic_by_seed_and_row_index():
    cols = [{"name": "c", "sampler": "category", "values": ["a", "b"]},
            {"name": "n", "sampler": "normal", "mean": 0, "std": 1},
            {"name": "who", "sampler": "person", "field": "name"}]
    assert draw(cols, n=50, seed=1) == draw(cols, n=50, seed=1)
    assert draw(cols, n=50, seed=1) != draw(cols, n=50, seed=2)
    spec = parse_spec(cols)
    assert spec.draw_row(30, 1) == draw(cols, n=50, seed=1)[30]  # a row does not depend on the rows before it


def test_conditional_columns():
    rows = draw([
        {"name": "role", "sampler": "category", "values": ["engineer", "manager"], "weights": [0.7, 0.3]},
        {"name": "salary", "sampler": "normal", "mean": 70000, "std": 5000,
         "conditional": {"on": "role", "cases": {"manager": {"mean": 110000}}}},
        {"name": "team", "sampler": "category", "values": ["x", "y"], "weights": [1, 1],
         "conditional": {"on": "role", "cases": {"manager": {"weights": [0, 1]}}}},
    ])
    by_role = {role: [r for r in rows if r["role"] == role] for role in ("engineer", "manager")}
    assert statistics.mean(r["salary"] for r in by_role["engineer"]) == pytest.approx(70000, rel=0.02)
    assert statistics.mean(r["salary"] for r in by_role["manager"]) == pytest.approx(110000, rel=0.02)
    assert {r["team"] for r in by_role["manager"]} == {"y"}
    assert {r["team"] for r in by_role["engineer"]} == {"x", "y"}


def test_constraints_always_hold_and_condition_the_distribution():
    rows = draw([
        {"name": "role", "sampler": "category", "values": ["engineer", "manager"]},
        {"name": "age", "sampler": "uniform", "low": 16, "high": 65},
        {"name": "start", "sampler": "datetime", "start": "2024-01-01", "end": "2024-12-31"},
        {"name": "end", "sampler": "datetime", "start": "2024-01-01", "end": "2024-12-31"},
    ], ["end > start", "age >= 30 if role == 'manager'", {"check": "age >= 18"}], n=1000)
    assert all(r["end"] > r["start"] for r in rows)
    assert all(r["age"] >= 30 for r in rows if r["role"] == "manager")
    assert min(r["age"] for r in rows if r["role"] == "engineer") == 18
    assert min(r["age"] for r in rows) >= 18


def test_unreachable_constraint_stops_with_its_name():
    spec = parse_spec([{"name": "a", "sampler": "uniform", "low": 0, "high": 10}], ["a > 10"], max_redraws=20)
    with pytest.raises(TableError, match=r"constraint 'a > 10' failed in all 20 draws"):
        spec.draw_row(0, 0)


def test_derived_columns_and_nulls():
    rows = draw([
        {"name": "a", "sampler": "uniform", "low": 1, "high": 9},
        {"name": "b", "sampler": "uniform", "low": 1, "high": 9, "null_share": 0.25},
        {"name": "total", "expression": "a * 10 + (0 if is_null(b) else b)"},
    ], n=1000)
    assert all(r["total"] == r["a"] * 10 + (r["b"] or 0) for r in rows)
    assert sum(r["b"] is None for r in rows) / 1000 == pytest.approx(0.25, abs=0.04)


def test_person_fields_coherent_and_deterministic():
    cols = [{"name": "first", "sampler": "person", "field": "first_name"},
            {"name": "email", "sampler": "person", "field": "email"},
            {"name": "boss", "sampler": "person", "field": "name", "person": "boss"},
            {"name": "nom", "sampler": "person", "field": "name", "locale": "fr_FR"},
            {"name": "age", "sampler": "person", "field": "age"}]
    rows = draw(cols, n=40, seed=5)
    assert rows == draw(cols, n=40, seed=5)
    assert all(r["email"].split("@")[0].startswith(r["first"].lower()[:2]) for r in rows if r["first"].isascii())
    assert sum(r["boss"].split()[0] == r["first"] for r in rows) < 10  # another person
    assert len({r["nom"] for r in rows}) > 30 and all(18 <= r["age"] <= 85 for r in rows)


@pytest.mark.parametrize("columns,constraints,path,words", [
    ([{"name": "c", "sampler": "category", "values": ["a"], "weights": [1, 2]}], None, ("columns", 0, "weights"), "weights must be 1"),
    ([{"name": "c", "sampler": "gamma"}], None, ("columns", 0, "sampler"), "sampler must be one of"),
    ([{"name": "c", "sampler": "uniform", "low": 1, "high": 2, "mean": 3}], None, ("columns", 0, "mean"), "takes no option 'mean'"),
    ([{"name": "c", "sampler": "uniform", "low": 5, "high": 2}], None, ("columns", 0, "low"), "low 5 is above high 2"),
    ([{"name": "d", "expression": "c + 1"}, {"name": "c", "sampler": "uniform", "low": 1, "high": 2}], None,
     ("columns", 0, "expression"), "not sampled columns declared above it"),
    ([{"name": "c", "sampler": "uniform", "low": 1, "high": 2}], ["c > z"], ("constraints", 0), "reads ['z']"),
    ([{"name": "c", "sampler": "uniform", "low": 1, "high": 2}], ["open('x')"], ("constraints", 0), "calls 'open'"),
    ([{"name": "c", "sampler": "category", "values": ["a"], "conditional": {"on": "nope", "cases": {}}}], None,
     ("columns", 0, "conditional", "on"), "not a sampled column declared above it"),
    ([{"name": "c", "sampler": "person", "field": "shoe_size"}], None, ("columns", 0, "field"), "person field must be one of"),
    ([{"name": "c", "sampler": "datetime", "start": "2024-02-30", "end": "2024-03-01"}], None, ("columns", 0, "start"), "not an ISO date"),
    ([{"name": "id", "sampler": "bernoulli", "p": 0.5}], None, ("columns", 0, "name"), "reserved"),
])
def test_spec_errors_name_the_place(columns, constraints, path, words):
    with pytest.raises(SpecError) as e:
        parse_spec(columns, constraints)
    assert words in str(e.value) and e.value.path == path
